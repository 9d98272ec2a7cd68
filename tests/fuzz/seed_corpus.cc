// Writes the hand-made seeds of tests/fuzz/corpus/ (`fuzz_seed_corpus OUT_DIR`; the make target
// `fuzz-seeds` runs it into tests/fuzz/corpus). Each is a small meaningful input in a harness's
// raw-protobuf mode: the tutorial's autograd programs, in-place ops, int64 edges, losses, shape
// ops for fuzz_commands; tensors of each dtype for fuzz_tensor_data; chunked uploads for
// fuzz_upload. The rest of the corpus is what the fuzzers found, minimised (`-merge=1`).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "tensord/v1/tensord.pb.h"

namespace pb = ::tensord::v1;

namespace {

std::filesystem::path out_dir;

void Write(const std::string& harness, const std::string& name, const std::string& bytes) {
  const auto dir = out_dir / harness;
  std::filesystem::create_directories(dir);
  std::ofstream f(dir / ("seed-" + name), std::ios::binary);
  f << bytes;
}

template <typename T>
std::string Bytes(std::initializer_list<T> values) {
  std::string s;
  for (T v : values) s.append(reinterpret_cast<const char*>(&v), sizeof v);
  return s;
}

class Batch {
 public:
  pb::Command& Add() { return *req_.add_commands(); }

  void Tensor(uint64_t id, pb::DType dtype, std::initializer_list<int64_t> shape,
              const std::string& data, bool requires_grad = false, bool wrapped = false) {
    auto* c = Add().mutable_create_tensor();
    c->set_id(id);
    c->mutable_data()->set_dtype(dtype);
    for (int64_t d : shape) c->mutable_data()->add_shape(d);
    c->mutable_data()->set_data(data);
    c->set_requires_grad(requires_grad);
    c->set_wrapped_number(wrapped);
  }
  void Floats(uint64_t id, std::initializer_list<int64_t> shape, std::initializer_list<float> v,
              bool requires_grad = false) {
    Tensor(id, pb::DTYPE_FLOAT32, shape, Bytes(v), requires_grad);
  }
  void Factory(uint64_t id, const std::string& name, std::initializer_list<int64_t> shape,
               bool requires_grad = false, uint64_t like = 0) {
    auto* f = Add().mutable_factory();
    f->set_id(id);
    f->set_name(name);
    for (int64_t d : shape) f->add_shape(d);
    f->set_requires_grad(requires_grad);
    f->set_like(like);
  }
  pb::ApplyOpRequest& Op(const std::string& op, std::initializer_list<uint64_t> inputs,
                         std::initializer_list<uint64_t> outputs) {
    auto* a = Add().mutable_apply_op();
    a->set_op(op);
    for (uint64_t i : inputs) a->add_inputs(i);
    for (uint64_t o : outputs) a->add_outputs(o);
    return *a;
  }
  void Backward(std::initializer_list<uint64_t> tensors, bool create_graph = false) {
    auto* b = Add().mutable_backward();
    for (uint64_t t : tensors) b->add_tensors(t);
    b->set_create_graph(create_graph);
  }
  void Get(uint64_t id, bool grad = true) {
    auto* g = Add().mutable_get_tensor();
    g->set_id(id);
    g->set_include_grad(grad);
  }
  void Graph(uint64_t id) { Add().mutable_get_graph()->set_id(id); }

  // fuzz_commands' raw mode: a first byte below 48, then the ExecuteRequest.
  void Save(const std::string& name) {
    Write("commands", name, std::string(1, '\0') + req_.SerializeAsString());
  }

 private:
  pb::ExecuteRequest req_;
};

void Int(pb::ApplyOpRequest& a, const std::string& name, int64_t v) {
  (*a.mutable_attrs())[name].set_i(v);
}
void Ints(pb::ApplyOpRequest& a, const std::string& name, std::initializer_list<int64_t> v) {
  for (int64_t x : v) (*a.mutable_attrs())[name].mutable_ints()->add_values(x);
}
void Float(pb::ApplyOpRequest& a, const std::string& name, double v) {
  (*a.mutable_attrs())[name].set_f(v);
}
void Str(pb::ApplyOpRequest& a, const std::string& name, const std::string& v) {
  (*a.mutable_attrs())[name].set_s(v);
}

void CommandSeeds() {
  {  // The README's first program: (x * x + 2).sum().backward(), x.grad.
    Batch b;
    b.Floats(1, {3}, {1, 2, 3}, true);
    b.Op("mul", {1, 1}, {2});
    b.Tensor(3, pb::DTYPE_INT64, {}, Bytes<int64_t>({2}), false, true);
    b.Op("add", {2, 3}, {4});
    b.Op("sum", {4}, {5});
    b.Backward({5});
    b.Get(1);
    b.Graph(5);
    b.Save("tutorial");
  }
  {  // Matrices: autograd.grad of a matmul chain, then a second-order backward.
    Batch b;
    b.Factory(1, "randn", {2, 3}, true);
    b.Factory(2, "randn", {3, 2}, true);
    b.Op("matmul", {1, 2}, {3});
    b.Op("tanh", {3}, {4});
    b.Op("mean", {4}, {5});
    auto* g = b.Add().mutable_grad();
    g->add_outputs(5);
    g->add_inputs(1);
    g->add_inputs(2);
    g->set_create_graph(true);
    g->add_results(6);
    g->add_results(7);
    b.Op("sum", {6}, {8});
    b.Backward({8});
    b.Get(2);
    b.Save("matmul_double_backward");
  }
  {  // In place, versions, views, detach / data, release.
    Batch b;
    b.Factory(1, "zeros", {2, 3});
    b.Factory(2, "ones", {3});
    b.Op("add_", {1, 2}, {});
    b.Op("transpose", {1}, {3});
    b.Op("mul_", {3, 3}, {});
    b.Add().mutable_detach()->set_id(1);
    auto* d = b.Add().mutable_data();
    d->set_id(1);
    d->set_out(9);
    auto& f = b.Op("fill_", {9}, {});
    Float(f, "value", 5.0);
    b.Add().mutable_release()->add_ids(2);
    b.Get(1, false);
    b.Save("inplace_views");
  }
  {  // A saved tensor modified in place: backward must refuse; then retain_grad, set_grad.
    Batch b;
    b.Floats(1, {3}, {0.5f, -1, 2}, true);
    b.Op("exp", {1}, {2});
    b.Add().mutable_retain_grad()->set_id(2);
    b.Op("sum", {2}, {3});
    b.Backward({3});
    b.Get(2);
    b.Add().mutable_zero_grad()->set_id(1);
    auto* s = b.Add().mutable_set_grad();
    s->set_id(1);
    s->set_grad(2);
    auto* bg = b.Add().mutable_bind_grad();
    bg->set_id(1);
    bg->set_out(10);
    b.Add().mutable_set_grad_mode()->set_enabled(false);
    b.Op("mul_", {2, 2}, {});
    b.Save("retain_grad");
  }
  {  // int64 edges: INT64_MIN / -1, % 0, abs, neg, sum overflow, pow.
    Batch b;
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    b.Tensor(1, pb::DTYPE_INT64, {4}, Bytes<int64_t>({kMin, kMax, -1, 0}));
    b.Tensor(2, pb::DTYPE_INT64, {4}, Bytes<int64_t>({-1, -1, 0, 3}));
    for (const char* op : {"div", "remainder", "fmod", "mul", "add", "sub", "pow", "maximum"})
      b.Op(op, {1, 2}, {});
    for (const char* op : {"abs", "neg", "sum", "prod", "cumsum", "sign", "argmax"})
      b.Op(op, {1}, {});
    b.Save("int64_edges");
  }
  {  // Floats at the edges: NaN, infinities, denormals through pointwise ops and reductions.
    Batch b;
    const float inf = std::numeric_limits<float>::infinity();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    b.Floats(1, {2, 3}, {nan, inf, -inf, 1e-45f, -0.0f, 3.4e38f}, true);
    for (const char* op : {"log", "sqrt", "rsqrt", "reciprocal", "sigmoid", "gelu", "round",
                           "softmax", "log_softmax", "logsumexp", "norm", "std", "max", "sort"})
      b.Op(op, {1}, {});
    b.Op("sum", {1}, {5});
    b.Backward({5});
    b.Save("float_edges");
  }
  {  // Losses with class targets.
    Batch b;
    b.Factory(1, "randn", {3, 4}, true);
    b.Tensor(2, pb::DTYPE_INT64, {3}, Bytes<int64_t>({0, 3, -100}));
    auto& ce = b.Op("cross_entropy", {1, 2}, {3});
    Int(ce, "reduction", 1);  // ATen's enum: mean
    Int(ce, "ignore_index", -100);
    b.Op("log_softmax", {1}, {4});
    b.Op("nll_loss", {4, 2}, {5});
    b.Factory(6, "rand", {3, 4});
    b.Op("sigmoid", {1}, {7});
    b.Op("binary_cross_entropy", {7, 6}, {8});
    b.Backward({3});
    b.Save("losses");
  }
  {  // Shape ops: views, cat / stack / split / unbind, gather / scatter, index_select.
    Batch b;
    b.Factory(1, "arange", {});
    auto& ar = *b.Add().mutable_factory();
    ar.set_id(2);
    ar.set_name("arange");
    (*ar.mutable_attrs())["end"].set_i(6);
    auto& v = b.Op("view", {2}, {3});
    Ints(v, "size", {2, 3});
    auto& p = b.Op("permute", {3}, {4});
    Ints(p, "dims", {1, 0});
    auto& e = b.Op("expand", {3}, {});
    Ints(e, "size", {4, 2, 3});
    b.Op("cat", {3, 3}, {5});
    b.Op("stack", {3, 3}, {6});
    auto& s = b.Op("split", {5}, {});
    Int(s, "split_size", 2);
    b.Op("unbind", {3}, {});
    b.Tensor(7, pb::DTYPE_INT64, {2, 1}, Bytes<int64_t>({2, 0}));
    auto& g = b.Op("gather", {3, 7}, {8});
    Int(g, "dim", 1);
    auto& n = b.Op("narrow", {3}, {});
    Int(n, "dim", 1);
    Int(n, "start", -1);
    Int(n, "length", 1);
    auto& sl = b.Op("slice", {3}, {});
    Int(sl, "dim", 1);
    Int(sl, "start", 0);
    Int(sl, "end", std::numeric_limits<int64_t>::max());
    Int(sl, "step", 2);
    b.Save("shape_ops");
  }
  {  // Factories with edge attributes, and the *_like forms.
    Batch b;
    auto factory = [&b](uint64_t id, const std::string& name,
                        std::initializer_list<std::pair<const char*, double>> attrs) {
      auto* f = b.Add().mutable_factory();
      f->set_id(id);
      f->set_name(name);
      for (const auto& [k, v] : attrs) (*f->mutable_attrs())[k].set_f(v);
    };
    factory(1, "linspace", {{"start", 0}, {"end", 1}, {"steps", 5}});
    factory(2, "eye", {{"n", 3}});
    factory(3, "arange", {{"start", 1}, {"end", 0}, {"step", -0.25}});
    factory(4, "randperm", {{"n", 6}});
    factory(5, "randint", {{"low", -3}, {"high", 3}});
    factory(6, "full", {{"value", std::numeric_limits<double>::infinity()}});
    b.Factory(7, "ones_like", {}, false, 2);
    b.Factory(8, "randn_like", {}, true, 1);
    b.Save("factories");
  }
}

void TensorDataSeeds() {
  auto save = [](const std::string& name, pb::DType dtype, std::initializer_list<int64_t> shape,
                 const std::string& data) {
    pb::TensorData t;
    t.set_dtype(dtype);
    for (int64_t d : shape) t.add_shape(d);
    t.set_data(data);
    Write("tensor_data", name, std::string(1, '\0') + t.SerializeAsString());
  };
  save("f32_2x3", pb::DTYPE_FLOAT32, {2, 3}, Bytes<float>({1, -2, 3.5f, 1e30f, -0.0f, 7}));
  save("f64_scalar", pb::DTYPE_FLOAT64, {}, Bytes<double>({3.141592653589793}));
  save("i64_edges", pb::DTYPE_INT64, {2, 2},
       Bytes<int64_t>(
           {std::numeric_limits<int64_t>::min(), -1, 0, std::numeric_limits<int64_t>::max()}));
  save("bool_bytes", pb::DTYPE_BOOL, {4}, std::string("\x00\x01\x02\xff", 4));
  save("empty", pb::DTYPE_FLOAT32, {0, 3}, "");
  save("wrong_length", pb::DTYPE_FLOAT64, {2}, "12345");
  save("overflow_shape", pb::DTYPE_INT64, {int64_t{1} << 62, 4}, "");
  save("zero_times_huge", pb::DTYPE_FLOAT32, {0, int64_t{1} << 62, int64_t{1} << 62}, "");
}

void UploadSeeds() {
  // fuzz_upload reads decisions, not messages (fuzz_upload.cc): a byte < 230 keeps the full
  // quota, a byte < 60 makes the first chunk raw bytes (a one-byte length, then an UploadChunk);
  // then the number of later chunks and each chunk's decisions, then < 250: end the stream.
  auto save = [](const std::string& name, const pb::UploadChunk& first,
                 const std::string& chunk_decisions) {
    const std::string header = first.SerializeAsString();
    std::string in;
    in += static_cast<char>(0);  // the full quota
    in += static_cast<char>(0);  // the first chunk is raw bytes
    in += static_cast<char>(header.size());
    in += header;
    in += chunk_decisions;
    Write("upload", name, in);
  };
  pb::UploadChunk h;
  h.set_session_id("fuzz-session-0123456789");
  h.set_id(2);
  h.set_dtype(pb::DTYPE_FLOAT32);
  h.add_shape(2);
  h.add_shape(2);
  h.set_data(Bytes<float>({1, 2}));
  // One more chunk (count 1) of exactly what is missing (kind 0, all of it: 0), its bytes, end.
  save("f32_two_chunks", h,
       std::string("\x01\x00\x00", 3) + Bytes<float>({3, 4}) + std::string(1, '\0'));
  h.set_dtype(pb::DTYPE_BOOL);
  h.clear_shape();
  h.add_shape(3);
  h.set_data(std::string("\x00\x07\x01", 3));
  save("bool_one_chunk", h, std::string("\x00\x00", 2));
  h.set_id(1);  // taken
  save("taken_id", h, std::string("\x00\x00", 2));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  CommandSeeds();
  TensorDataSeeds();
  UploadSeeds();
  return 0;
}
