// End-to-end: a real tensord on loopback, driven through the generated C++ stubs.
#include <cmath>
#include <thread>

#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/op_def.h"
#include "server/convert.h"
#include "tests/server/server_test_util.h"
#include "tests/support/op_samples.h"

namespace tensord::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class Service : public ServerTest {};

TEST_F(Service, Tutorial_SumBackwardGivesOnes_Remotely) {
  const std::string sid = NewSession();
  Create(sid, 1, {1, 2, 3}, {3}, true);
  Create(sid, 2, {4, 5, 6}, {3}, true);
  EXPECT_EQ(MustOp(sid, "add", {1, 2}, 3).grad_fn(), "AddBackward0");
  pb::TensorInfo s = MustOp(sid, "sum", {3}, 4);
  EXPECT_EQ(s.grad_fn(), "SumBackward0");
  EXPECT_FALSE(s.is_leaf());
  ASSERT_TRUE(Backward(sid, {4}).ok());
  pb::GetTensorResponse a = Get(sid, 1, true);
  EXPECT_THAT(FloatsOf(a.grad()), ElementsAre(1, 1, 1));
  EXPECT_TRUE(a.info().is_leaf());
  EXPECT_TRUE(a.info().has_grad());
}

TEST_F(Service, Tutorial_XSquaredExpX_GradMatchesHandDerivative) {
  const std::string sid = NewSession();
  const std::vector<float> xs = {-1.5f, 0.f, 0.5f, 2.f};
  Create(sid, 1, xs, {4}, true);
  MustOp(sid, "pow_scalar", {1}, 2, {{"exponent", I(2)}});
  MustOp(sid, "exp", {1}, 3);
  EXPECT_EQ(MustOp(sid, "mul", {2, 3}, 4).grad_fn(), "MulBackward0");
  pb::TensorsResponse ones;
  pb::FactoryRequest f;
  f.set_session_id(sid);
  f.set_id(5);
  f.set_name("ones_like");
  f.set_like(4);
  ASSERT_TRUE(stub_->Factory(Ctx(sid).get(), f, &ones).ok());
  ASSERT_TRUE(Backward(sid, {4}, {5}).ok());
  std::vector<float> g = FloatsOf(Get(sid, 1, true).grad());
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x = xs[i];
    EXPECT_NEAR(g[i], 2 * x * std::exp(x) + x * x * std::exp(x), 1e-4);
  }
}

TEST_F(Service, Tutorial_GraphInspection_ShowsGradFnAndNextFunctions) {
  const std::string sid = NewSession();
  Create(sid, 1, {1, 1, 1, 1, 1}, {5});                        // x
  Create(sid, 2, std::vector<float>(15, 0.1f), {5, 3}, true);  // w
  Create(sid, 3, {0.1f, 0.2f, 0.3f}, {3}, true);               // b
  MustOp(sid, "matmul", {1, 2}, 4);
  pb::TensorInfo z = MustOp(sid, "add", {4, 3}, 5);
  EXPECT_EQ(z.grad_fn(), "AddBackward0");
  pb::GetGraphRequest req;
  req.set_session_id(sid);
  req.set_id(5);
  pb::GraphResponse g;
  ASSERT_TRUE(stub_->GetGraph(Ctx(sid).get(), req, &g).ok());
  ASSERT_EQ(g.root(), 0);
  const pb::GraphNode& add = g.nodes(0);
  EXPECT_EQ(add.name(), "AddBackward0");
  ASSERT_EQ(add.next_size(), 2);
  EXPECT_EQ(g.nodes(add.next(0).node()).name(), "SqueezeBackward3");
  const pb::GraphNode& acc = g.nodes(add.next(1).node());
  EXPECT_EQ(acc.name(), "torch::autograd::AccumulateGrad");
  EXPECT_EQ(acc.variable(), 3u);
  const pb::GraphNode& mm = g.nodes(g.nodes(add.next(0).node()).next(0).node());
  EXPECT_EQ(mm.name(), "MmBackward0");
  EXPECT_EQ(mm.next(0).node(), -1);  // x does not require grad: None
  EXPECT_EQ(g.nodes(mm.next(1).node()).variable(), 2u);
  // As in PyTorch, only what the needed gradient uses: x, for w's gradient.
  ASSERT_EQ(mm.saved_size(), 1);
  EXPECT_EQ(mm.saved(0).name(), "self");
  EXPECT_FALSE(mm.saved(0).freed());
  MustOp(sid, "sum", {5}, 6);
  ASSERT_TRUE(Backward(sid, {6}).ok());
  ASSERT_TRUE(stub_->GetGraph(Ctx(sid).get(), req, &g).ok());
  EXPECT_TRUE(g.nodes(g.nodes(g.nodes(0).next(0).node()).next(0).node()).saved(0).freed());
}

TEST_F(Service, Tutorial_RetainGraphAccumulatesThenSecondBackwardFails) {
  const std::string sid = NewSession();
  Create(sid, 1, {1, 2}, {2}, true);
  MustOp(sid, "mul", {1, 1}, 2);
  MustOp(sid, "sum", {2}, 3);
  ASSERT_TRUE(Backward(sid, {3}, {}, true).ok());
  EXPECT_THAT(FloatsOf(Get(sid, 1, true).grad()), ElementsAre(2, 4));
  ASSERT_TRUE(Backward(sid, {3}).ok());
  EXPECT_THAT(FloatsOf(Get(sid, 1, true).grad()), ElementsAre(4, 8));
  grpc::Status s = Backward(sid, {3});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("Trying to backward through the graph a second time"));
  EXPECT_THAT(FloatsOf(Get(sid, 1, true).grad()), ElementsAre(4, 8));
  pb::TensorRequest zero;
  zero.set_session_id(sid);
  zero.set_id(1);
  pb::TensorsResponse r;
  ASSERT_TRUE(stub_->ZeroGrad(Ctx(sid).get(), zero, &r).ok());
  EXPECT_THAT(FloatsOf(Get(sid, 1, true).grad()), ElementsAre(0, 0));
}

TEST_F(Service, NoGrad_PerRequestAndPerSession) {
  const std::string sid = NewSession();
  Create(sid, 1, {1, 2}, {2}, true);
  pb::ApplyOpRequest req;
  req.set_session_id(sid);
  req.set_op("mul");
  req.add_inputs(1);
  req.add_inputs(1);
  req.add_outputs(2);
  req.set_grad_enabled(false);
  pb::TensorsResponse resp;
  ASSERT_TRUE(stub_->ApplyOp(Ctx(sid).get(), req, &resp).ok());
  EXPECT_FALSE(resp.tensors(0).requires_grad());
  EXPECT_TRUE(MustOp(sid, "mul", {1, 1}, 3).requires_grad());  // the session is still in grad mode
  pb::SetGradModeRequest mode;
  mode.set_session_id(sid);
  mode.set_enabled(false);
  pb::GradModeResponse mr;
  ASSERT_TRUE(stub_->SetGradMode(Ctx(sid).get(), mode, &mr).ok());
  EXPECT_FALSE(MustOp(sid, "mul", {1, 1}, 4).requires_grad());
}

TEST_F(Service, DataWrites_AreNotSeenByAutograd) {
  const std::string sid = NewSession();
  Create(sid, 1, {1, 2}, {2}, true);
  pb::AliasRequest data;
  data.set_session_id(sid);
  data.set_id(1);
  data.set_out(2);
  pb::TensorsResponse r;
  ASSERT_TRUE(stub_->Data(Ctx(sid).get(), data, &r).ok());
  EXPECT_FALSE(r.tensors(0).requires_grad());
  Create(sid, 3, {10, 10}, {2});
  pb::TensorsResponse ip;
  ASSERT_TRUE(Op(sid, "sub_", {2, 3}, {}, &ip).ok());  // w.data.sub_(...)
  EXPECT_EQ(ip.tensors(0).id(), 2u);
  pb::GetTensorResponse w = Get(sid, 1);
  EXPECT_THAT(FloatsOf(w.value()), ElementsAre(-9, -8));
  EXPECT_EQ(w.info().version(), 0u);  // .data has its own version counter
  // In-place on the leaf itself is refused with PyTorch's message.
  grpc::Status s = Op(sid, "add_", {1, 3}, {}, &ip);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("a leaf Variable that requires grad"));
}

TEST_F(Service, Execute_ForwardReferencesAndStopsAtFirstFailure) {
  const std::string sid = NewSession();
  pb::ExecuteRequest batch;
  batch.set_session_id(sid);
  auto* c0 = batch.add_commands()->mutable_create_tensor();
  c0->set_id(1);
  *c0->mutable_data() = Floats({1, 2, 3}, {3});
  c0->set_requires_grad(true);
  auto* c1 = batch.add_commands()->mutable_apply_op();
  c1->set_op("mul");
  c1->add_inputs(1);
  c1->add_inputs(1);
  c1->add_outputs(2);
  auto* bad = batch.add_commands()->mutable_apply_op();  // shape mismatch: fails
  bad->set_op("mm");
  bad->add_inputs(2);
  bad->add_inputs(2);
  bad->add_outputs(3);
  auto* never = batch.add_commands()->mutable_apply_op();
  never->set_op("neg");
  never->add_inputs(2);
  never->add_outputs(4);
  pb::ExecuteResponse resp;
  ASSERT_TRUE(stub_->Execute(Ctx(sid).get(), batch, &resp).ok());
  EXPECT_EQ(resp.failed_index(), 2);
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(1).tensors().tensors(0).grad_fn(), "MulBackward0");
  EXPECT_EQ(resp.results(2).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(resp.results(2).message(), "self must be a matrix");
  EXPECT_THAT(FloatsOf(Get(sid, 2).value()), ElementsAre(1, 4, 9));  // earlier results kept
  pb::TensorRequest info;
  info.set_session_id(sid);
  info.set_id(4);
  pb::TensorsResponse ir;
  EXPECT_EQ(stub_->GetInfo(Ctx(sid).get(), info, &ir).error_code(), grpc::StatusCode::NOT_FOUND);
  info.set_id(3);
  EXPECT_EQ(stub_->GetInfo(Ctx(sid).get(), info, &ir).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(Service, Stream_PipelinesDependentOpsInOrder) {
  const std::string sid = NewSession();
  constexpr uint64_t kOne = 999999;
  Create(sid, 1, {0}, {1});
  Create(sid, kOne, {1}, {1});
  auto ctx = Ctx(sid);
  auto stream = stub_->Stream(ctx.get());
  pb::StreamRequest first;
  first.set_session_id(sid);
  ASSERT_TRUE(stream->Write(first));
  constexpr int kOps = 1000;
  // x_{k+1} = x_k + 1, each command naming the previous result before its reply has arrived;
  // every other step also releases the value two steps back.
  std::thread writer([&] {
    for (int k = 0; k < kOps; ++k) {
      pb::StreamRequest req;
      auto* op = req.mutable_command()->mutable_apply_op();
      op->set_op("add");
      op->add_inputs(1 + k);
      op->add_inputs(kOne);
      op->add_outputs(2 + k);
      req.mutable_command()->set_tag(k);
      if (!stream->Write(req)) return;
      if (k % 2 == 1) {
        pb::StreamRequest rel;
        rel.mutable_command()->mutable_release()->add_ids(k);
        rel.mutable_command()->set_tag(100000 + k);
        if (!stream->Write(rel)) return;
      }
    }
    stream->WritesDone();
  });
  pb::CommandResult r;
  int ops_seen = 0;
  int64_t last_tag = -1;
  while (stream->Read(&r)) {
    EXPECT_EQ(r.code(), 0) << r.message();
    if (r.tag() < 100000) {
      EXPECT_GT(static_cast<int64_t>(r.tag()), last_tag);  // results come in command order
      last_tag = static_cast<int64_t>(r.tag());
      ++ops_seen;
    }
  }
  writer.join();
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(ops_seen, kOps);
  EXPECT_THAT(FloatsOf(Get(sid, 1 + kOps).value()), ElementsAre(static_cast<float>(kOps)));
  pb::SessionRequest sreq;
  sreq.set_session_id(sid);
  pb::SessionInfo info;
  ASSERT_TRUE(stub_->DescribeSession(Ctx(sid).get(), sreq, &info).ok());
  EXPECT_LT(info.tensors(), kOps / 2 + 10);  // the releases ran too
}

TEST_F(Service, UploadDownload_64MiBRoundTripIsByteExact) {
  const std::string sid = NewSession();
  constexpr int64_t kFloats = 16 << 20;  // 64 MiB
  std::string bytes(static_cast<size_t>(kFloats) * 4, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
  {
    auto ctx = Ctx(sid);
    pb::TensorsResponse resp;
    auto writer = stub_->Upload(ctx.get(), &resp);
    constexpr size_t kChunk = 1 << 20;
    for (size_t off = 0; off < bytes.size(); off += kChunk) {
      pb::UploadChunk chunk;
      if (off == 0) {
        chunk.set_session_id(sid);
        chunk.set_id(7);
        chunk.set_dtype(pb::DTYPE_FLOAT32);
        chunk.add_shape(kFloats / 1024);
        chunk.add_shape(1024);
      }
      chunk.set_data(bytes.substr(off, kChunk));
      ASSERT_TRUE(writer->Write(chunk));
    }
    ASSERT_TRUE(writer->WritesDone());
    grpc::Status s = writer->Finish();
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.tensors(0).id(), 7u);
  }
  pb::DownloadRequest req;
  req.set_session_id(sid);
  req.set_id(7);
  auto ctx = Ctx(sid);
  auto reader = stub_->Download(ctx.get(), req);
  pb::DownloadChunk chunk;
  std::string got;
  int chunks = 0;
  while (reader->Read(&chunk)) {
    if (chunks++ == 0) {
      EXPECT_EQ(chunk.info().shape(0), kFloats / 1024);
    }
    EXPECT_EQ(chunk.offset(), static_cast<int64_t>(got.size()));
    got += chunk.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GT(chunks, 1);
  ASSERT_EQ(got.size(), bytes.size());
  EXPECT_TRUE(got == bytes);
}

// Every op that ListOps reports, applied once remotely on its first sample, gives the same
// values as the engine in-process: each in a fresh session and context of the same seed, so the
// random factories draw the same numbers.
TEST_F(Service, ListOps_EveryOpAppliesRemotely) {
  pb::ListOpsResponse ops;
  ASSERT_TRUE(stub_->ListOps(Ctx().get(), pb::ListOpsRequest(), &ops).ok());
  ASSERT_EQ(static_cast<size_t>(ops.ops_size()), OpTable().size());
  uint64_t next_id = 1;
  for (const pb::OpInfo& op : ops.ops()) {
    auto samples = SamplesFor(op.name());
    ASSERT_FALSE(samples.empty()) << op.name();
    const OpSample& sample = samples[0];
    const std::string sid = NewSession(/*seed=*/7);
    ContextOptions seeded;
    seeded.seed = 7;
    Context local(seeded);
    ContextGuard guard(local);
    std::vector<Tensor> inputs = Must(MakeInputs(sample, DType::kFloat32, 11));
    pb::ApplyOpRequest req;
    req.set_session_id(sid);
    req.set_op(op.name());
    for (const Tensor& t : inputs) {
      pb::CreateTensorRequest c;
      c.set_session_id(sid);
      c.set_id(next_id);
      server::ToProto(t, c.mutable_data());
      pb::TensorsResponse cr;
      ASSERT_TRUE(stub_->CreateTensor(Ctx(sid).get(), c, &cr).ok()) << op.name();
      req.add_inputs(next_id++);
    }
    for (const auto& [name, value] : sample.attrs.entries())
      server::ToProto(value, &(*req.mutable_attrs())[name]);
    pb::TensorsResponse resp;
    grpc::Status s = stub_->ApplyOp(Ctx(sid).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << op.name() << ": " << s.error_message();
    std::vector<Tensor> expected = Must(Apply(op.name(), inputs, sample.attrs));
    ASSERT_EQ(static_cast<size_t>(resp.tensors_size()), expected.size()) << op.name();
    for (size_t i = 0; i < expected.size(); ++i) {
      pb::TensorData want;
      server::ToProto(expected[i], &want);
      pb::GetTensorResponse got = Get(sid, resp.tensors(static_cast<int>(i)).id());
      EXPECT_EQ(got.value().data(), want.data()) << op.name() << " output " << i;
      EXPECT_EQ(got.value().dtype(), want.dtype()) << op.name();
    }
  }
}

TEST_F(Service, SessionsAreListedDescribedAndClosed) {
  const std::string a = NewSession();
  const std::string b = NewSession();
  EXPECT_NE(a, b);
  EXPECT_GE(a.size(), 32u);
  Create(a, 1, std::vector<float>(256, 1.f), {256});
  pb::SessionRequest req;
  req.set_session_id(a);
  pb::SessionInfo info;
  ASSERT_TRUE(stub_->DescribeSession(Ctx(a).get(), req, &info).ok());
  EXPECT_EQ(info.tensors(), 1);
  EXPECT_EQ(info.bytes(), 1024);
  pb::ListSessionsResponse list;
  ASSERT_TRUE(stub_->ListSessions(Ctx().get(), pb::ListSessionsRequest(), &list).ok());
  EXPECT_EQ(list.sessions_size(), 2);
  pb::KeepAliveResponse ka;
  ASSERT_TRUE(stub_->KeepAlive(Ctx(a).get(), req, &ka).ok());
  EXPECT_GT(ka.expires_in_seconds(), 0);
  ASSERT_TRUE(stub_->CloseSession(Ctx(a).get(), req, &info).ok());
  EXPECT_EQ(stub_->DescribeSession(Ctx(a).get(), req, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
  pb::ServerInfoResponse si;
  ASSERT_TRUE(stub_->ServerInfo(Ctx().get(), pb::ServerInfoRequest(), &si).ok());
  EXPECT_EQ(si.sessions(), 1);
  EXPECT_EQ(si.bytes(), 0);
  EXPECT_GE(si.ops_served(), 0u);
}

}  // namespace
}  // namespace tensord::testing
