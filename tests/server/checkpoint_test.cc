// Save / Load (server-side safetensors checkpoints): files checked with a reader written here from
// the format's specification, files written here loaded by the server, the bad-file corpus, and
// paths that try to leave --checkpoint_dir.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/server/server_test_util.h"

namespace tensord::testing {
namespace {

using Json = nlohmann::json;

std::string MakeTempDir(const std::string& what) {
  std::string tmpl = ::testing::TempDir() + what + "_XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The format, from its specification: u64 little-endian N, N bytes of JSON, the data.
std::string LittleEndian64(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out;
}

std::string SafetensorsFile(const std::string& header_json, const std::string& data) {
  return LittleEndian64(header_json.size()) + header_json + data;
}

template <typename T>
std::string Bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

struct Read {
  Json header;
  std::string data;
};

// An independent reader: the length, the JSON, and the data section.
Read ReadSafetensors(const std::string& file) {
  Read r;
  EXPECT_GE(file.size(), 8u);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<unsigned char>(file[i])} << (8 * i);
  EXPECT_LE(8 + n, file.size());
  r.header = Json::parse(file.substr(8, n));
  r.data = file.substr(8 + n);
  return r;
}

std::string EntryBytes(const Read& r, const std::string& name) {
  const Json& offs = r.header.at(name).at("data_offsets");
  const uint64_t b = offs[0].get<uint64_t>(), e = offs[1].get<uint64_t>();
  return r.data.substr(b, e - b);
}

class CheckpointTest : public ServerTest {
 protected:
  CheckpointTest() {
    dir_ = MakeTempDir("ckpt");
    options_.checkpoint_dir = dir_;
  }

  pb::TensorInfo CreateData(const std::string& sid, uint64_t id, pb::DType dtype,
                            std::vector<int64_t> shape, const std::string& bytes,
                            bool requires_grad = false) {
    pb::CreateTensorRequest req;
    req.set_session_id(sid);
    req.set_id(id);
    req.mutable_data()->set_dtype(dtype);
    for (int64_t d : shape) req.mutable_data()->add_shape(d);
    req.mutable_data()->set_data(bytes);
    req.set_requires_grad(requires_grad);
    pb::TensorsResponse resp;
    grpc::Status s = stub_->CreateTensor(Ctx(sid).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tensors_size() ? resp.tensors(0) : pb::TensorInfo();
  }

  grpc::Status Save(const std::string& sid, const std::string& path,
                    std::map<std::string, uint64_t> tensors, bool include_grad = false) {
    pb::SaveRequest req;
    req.set_session_id(sid);
    req.set_path(path);
    for (auto& [k, v] : tensors) (*req.mutable_tensors())[k] = v;
    req.set_include_grad(include_grad);
    pb::SaveResponse resp;
    return stub_->Save(Ctx(sid).get(), req, &resp);
  }

  grpc::Status Load(const std::string& sid, const std::string& path, pb::LoadResponse* resp,
                    std::map<std::string, uint64_t> ids = {}) {
    pb::LoadRequest req;
    req.set_session_id(sid);
    req.set_path(path);
    for (auto& [k, v] : ids) (*req.mutable_ids())[k] = v;
    return stub_->Load(Ctx(sid).get(), req, resp);
  }

  int64_t NumTensors(const std::string& sid) {
    pb::SessionRequest req;
    req.set_session_id(sid);
    pb::SessionInfo info;
    EXPECT_TRUE(stub_->DescribeSession(Ctx(sid).get(), req, &info).ok());
    return info.tensors();
  }

  std::string dir_;
};

TEST_F(CheckpointTest, SavedFileReadsWithAnIndependentReaderWithEveryDtypeAndTheGrad) {
  const std::string sid = NewSession();
  Create(sid, 1, {1, 2, 3, 4, 5, 6}, {2, 3}, /*requires_grad=*/true);
  CreateData(sid, 2, pb::DTYPE_FLOAT64, {}, Bytes(std::vector<double>{2.5}));
  CreateData(sid, 3, pb::DTYPE_INT64, {4}, Bytes(std::vector<int64_t>{-1, 0, 7, 1ll << 40}));
  CreateData(sid, 4, pb::DTYPE_BOOL, {3}, std::string("\1\0\1", 3));
  CreateData(sid, 5, pb::DTYPE_FLOAT32, {0, 2}, "");
  MustOp(sid, "sum", {1}, 10);
  ASSERT_TRUE(Backward(sid, {10}).ok());
  ASSERT_TRUE(Save(sid, "run/a.safetensors", {{"w", 1}, {"s", 2}, {"i", 3}, {"m", 4}, {"e", 5}},
                   /*include_grad=*/true)
                  .ok());
  Read r = ReadSafetensors(ReadFile(dir_ + "/run/a.safetensors"));
  EXPECT_EQ(r.header.at("w").at("dtype"), "F32");
  EXPECT_EQ(r.header.at("w").at("shape"), Json({2, 3}));
  EXPECT_EQ(EntryBytes(r, "w"), Bytes(std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r.header.at("s").at("dtype"), "F64");
  EXPECT_EQ(r.header.at("s").at("shape"), Json::array());
  EXPECT_EQ(EntryBytes(r, "s"), Bytes(std::vector<double>{2.5}));
  EXPECT_EQ(r.header.at("i").at("dtype"), "I64");
  EXPECT_EQ(EntryBytes(r, "i"), Bytes(std::vector<int64_t>{-1, 0, 7, 1ll << 40}));
  EXPECT_EQ(r.header.at("m").at("dtype"), "BOOL");
  EXPECT_EQ(EntryBytes(r, "m"), std::string("\1\0\1", 3));
  EXPECT_EQ(r.header.at("e").at("shape"), Json({0, 2}));
  EXPECT_EQ(EntryBytes(r, "e"), "");
  // .grad of w (ones) as its own entry, named in the metadata; requires_grad in the metadata.
  const Json& meta = r.header.at("__metadata__");
  EXPECT_EQ(meta.at("tensord.requires_grad.w"), "true");
  EXPECT_FALSE(meta.contains("tensord.requires_grad.s"));
  ASSERT_EQ(meta.at("tensord.grad.w"), "w.grad");
  EXPECT_EQ(EntryBytes(r, "w.grad"), Bytes(std::vector<float>(6, 1.0f)));
  // Every entry's data_offsets span its bytes; the data section is covered exactly.
  uint64_t total = 0;
  for (auto& [name, e] : r.header.items()) {
    if (name == "__metadata__") continue;
    total += e["data_offsets"][1].get<uint64_t>() - e["data_offsets"][0].get<uint64_t>();
  }
  EXPECT_EQ(total, r.data.size());
}

TEST_F(CheckpointTest, LoadsAFileWrittenByAnIndependentWriter) {
  const std::string data = Bytes(std::vector<float>{1.5f, -2}) + Bytes(std::vector<double>{3}) +
                           Bytes(std::vector<int64_t>{9, 8, 7}) + std::string("\0\1", 2) +
                           Bytes(std::vector<float>{0.25f, 0.5f});
  const std::string header =
      R"({"__metadata__":{"tensord.requires_grad.a":"true","tensord.grad.a":"ga","note":"hi"},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("d":{"dtype":"F64","shape":[],"data_offsets":[8,16]},)"
      R"("i":{"dtype":"I64","shape":[3],"data_offsets":[16,40]},)"
      R"("b":{"dtype":"BOOL","shape":[1,2],"data_offsets":[40,42]},)"
      R"("z":{"dtype":"I64","shape":[2,0],"data_offsets":[42,42]},)"
      R"("ga":{"dtype":"F32","shape":[2],"data_offsets":[42,50]}})";
  WriteFile(dir_ + "/in.safetensors", SafetensorsFile(header, data));
  const std::string sid = NewSession();
  pb::LoadResponse resp;
  ASSERT_TRUE(Load(sid, "in.safetensors", &resp, {{"a", 7}}).ok());
  std::map<std::string, pb::TensorInfo> by_name;
  for (int i = 0; i < resp.names_size(); ++i) by_name[resp.names(i)] = resp.tensors(i);
  ASSERT_EQ(by_name.size(), 5u);  // the grad is a's .grad, not a tensor of its own
  EXPECT_EQ(by_name["a"].id(), 7u);
  EXPECT_TRUE(by_name["a"].requires_grad());
  EXPECT_TRUE(by_name["a"].is_leaf());
  EXPECT_TRUE(by_name["a"].has_grad());
  EXPECT_EQ(FloatsOf(Get(sid, 7).value()), (std::vector<float>{1.5f, -2}));
  EXPECT_EQ(FloatsOf(Get(sid, 7, true).grad()), (std::vector<float>{0.25f, 0.5f}));
  EXPECT_EQ(Get(sid, by_name["d"].id()).value().data(), Bytes(std::vector<double>{3}));
  EXPECT_EQ(by_name["d"].shape_size(), 0);
  EXPECT_EQ(Get(sid, by_name["i"].id()).value().data(), Bytes(std::vector<int64_t>{9, 8, 7}));
  EXPECT_EQ(Get(sid, by_name["b"].id()).value().data(), std::string("\0\1", 2));
  EXPECT_EQ(by_name["z"].shape(1), 0);
  EXPECT_EQ(resp.metadata().at("note"), "hi");
  EXPECT_FALSE(resp.metadata().contains("tensord.grad.a"));
}

TEST_F(CheckpointTest, RoundTripOfALargeTensorKeepsEveryByte) {
  const std::string sid = NewSession();
  std::vector<float> big(1'500'000);  // 6 MB
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i) * 0.5f;
  pb::UploadChunk first;
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-tensord-session", sid);
  pb::TensorsResponse up;
  auto writer = stub_->Upload(&ctx, &up);
  const std::string bytes = Bytes(big);
  first.set_session_id(sid);
  first.set_id(1);
  first.set_dtype(pb::DTYPE_FLOAT32);
  first.add_shape(static_cast<int64_t>(big.size()));
  for (size_t off = 0; off < bytes.size(); off += 1 << 20) {
    pb::UploadChunk c = off == 0 ? first : pb::UploadChunk();
    c.set_data(bytes.substr(off, 1 << 20));
    ASSERT_TRUE(writer->Write(c));
  }
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  ASSERT_TRUE(Save(sid, "big.safetensors", {{"big", 1}}).ok());
  EXPECT_EQ(EntryBytes(ReadSafetensors(ReadFile(dir_ + "/big.safetensors")), "big"), bytes);
  pb::LoadResponse resp;
  ASSERT_TRUE(Load(sid, "big.safetensors", &resp, {{"big", 2}}).ok());
  pb::DownloadRequest dl;
  dl.set_session_id(sid);
  dl.set_id(2);
  grpc::ClientContext dctx;
  dctx.AddMetadata("x-tensord-session", sid);
  auto reader = stub_->Download(&dctx, dl);
  std::string got;
  pb::DownloadChunk chunk;
  while (reader->Read(&chunk)) got += chunk.data();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(got, bytes);
}

TEST_F(CheckpointTest, BadFilesAreInvalidArgumentAndBindNothing) {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string eight(8, 'x');
  const std::vector<std::pair<std::string, std::string>> corpus = {
      {"empty", ""},
      {"seven_bytes", std::string(7, '\0')},
      {"header_past_end", LittleEndian64(1000) + "{}"},
      {"huge_header", LittleEndian64(uint64_t{1} << 62) + "{}"},
      {"not_json", SafetensorsFile("{not json", "")},
      {"not_an_object", SafetensorsFile("[1,2]", "")},
      {"truncated_data", SafetensorsFile("{" + ok_entry + "}", "1234")},
      {"bytes_left_over", SafetensorsFile("{" + ok_entry + "}", eight + "zz")},
      {"span_not_shape",
       SafetensorsFile(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight)},
      {"dtype_lies",
       SafetensorsFile(R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", eight)},
      {"unknown_dtype",
       SafetensorsFile(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", eight)},
      {"negative_size",
       SafetensorsFile(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight)},
      {"float_size",
       SafetensorsFile(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", eight)},
      {"overlap", SafetensorsFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                  eight + "1234")},
      {"gap", SafetensorsFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight)},
      {"end_before_begin",
       SafetensorsFile(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", eight)},
      {"extra_field",
       SafetensorsFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", eight)},
      {"overflowing_shape",
       SafetensorsFile(
           R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", eight)},
      {"metadata_not_strings",
       SafetensorsFile(R"({"__metadata__":{"k":1},)" + ok_entry + "}", eight)},
      {"deep_nesting", SafetensorsFile(std::string(5000, '[') + std::string(5000, ']'), "")},
      {"grad_of_nothing",
       SafetensorsFile(R"({"__metadata__":{"tensord.grad.a":"nope"},)" + ok_entry + "}", eight)},
      {"grad_wrong_shape",
       SafetensorsFile(
           R"({"__metadata__":{"tensord.grad.a":"g","tensord.requires_grad.a":"true"},)" +
               ok_entry + R"(,"g":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
           eight + "1234")},
      {"int_requires_grad",
       SafetensorsFile(R"({"__metadata__":{"tensord.requires_grad.a":"true"},)"
                       R"("a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})",
                       eight)},
  };
  const std::string sid = NewSession();
  Create(sid, 1, {1}, {1});
  for (const auto& [name, bytes] : corpus) {
    SCOPED_TRACE(name);
    WriteFile(dir_ + "/" + name, bytes);
    pb::LoadResponse resp;
    grpc::Status s = Load(sid, name, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_EQ(NumTensors(sid), 1);
  }
}

TEST_F(CheckpointTest, PathsCannotLeaveTheCheckpointDirectory) {
  const std::string outside = MakeTempDir("outside");
  WriteFile(outside + "/secret.safetensors",
            SafetensorsFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                            std::string(8, '\0')));
  ASSERT_EQ(symlink(outside.c_str(), (dir_ + "/out").c_str()), 0);
  ASSERT_EQ(symlink((outside + "/secret.safetensors").c_str(), (dir_ + "/link").c_str()), 0);
  const std::string sid = NewSession();
  Create(sid, 1, {1, 2}, {2});
  for (const std::string& path : std::vector<std::string>{
           "../x.safetensors", "/tmp/x.safetensors", "a/../../x", "./x", "a//b", "",
           "out/secret.safetensors", "out/new.safetensors", "link", std::string("a\0b", 3)}) {
    SCOPED_TRACE(path);
    pb::LoadResponse resp;
    EXPECT_EQ(Load(sid, path, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    if (path != "link") {
      EXPECT_EQ(Save(sid, path, {{"a", 1}}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    }
  }
  // Saving over a symlink replaces the link itself; its target outside is untouched.
  const std::string before = ReadFile(outside + "/secret.safetensors");
  ASSERT_TRUE(Save(sid, "link", {{"a", 1}}).ok());
  EXPECT_EQ(ReadFile(outside + "/secret.safetensors"), before);
  struct stat st;
  ASSERT_EQ(lstat((dir_ + "/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(access((outside + "/new.safetensors").c_str(), F_OK), -1);
  EXPECT_EQ(NumTensors(sid), 1);
}

TEST_F(CheckpointTest, LoadRefusesTakenIdsAndUnknownNamesAndMissingFiles) {
  const std::string sid = NewSession();
  Create(sid, 1, {1, 2}, {2});
  ASSERT_TRUE(Save(sid, "a.safetensors", {{"a", 1}}).ok());
  pb::LoadResponse resp;
  EXPECT_EQ(Load(sid, "a.safetensors", &resp, {{"a", 1}}).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Load(sid, "a.safetensors", &resp, {{"nope", 5}}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Load(sid, "missing.safetensors", &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Save(sid, "b.safetensors", {{"a", 99}}).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(NumTensors(sid), 1);
}

class NoCheckpointDirTest : public ServerTest {};

TEST_F(NoCheckpointDirTest, SaveAndLoadAreFailedPrecondition) {
  const std::string sid = NewSession();
  Create(sid, 1, {1}, {1});
  pb::SaveRequest save;
  save.set_session_id(sid);
  save.set_path("a.safetensors");
  (*save.mutable_tensors())["a"] = 1;
  pb::SaveResponse sresp;
  EXPECT_EQ(stub_->Save(Ctx(sid).get(), save, &sresp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  pb::LoadRequest load;
  load.set_session_id(sid);
  load.set_path("a.safetensors");
  pb::LoadResponse lresp;
  EXPECT_EQ(stub_->Load(Ctx(sid).get(), load, &lresp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace tensord::testing
