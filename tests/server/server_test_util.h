// A real tensord on a loopback port and a real gRPC client, for integration tests.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "server/server.h"
#include "tensord/v1/tensord.grpc.pb.h"
#include "tests/support/test_util.h"

namespace tensord::testing {

namespace pb = ::tensord::v1;

class ServerTest : public ::testing::Test {
 protected:
  // Tests may adjust options_ in their constructor before SetUp starts the server.
  void SetUp() override {
    options_.listen = "127.0.0.1:0";
    auto server = server::TensordServer::Start(options_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = pb::Tensord::NewStub(channel_);
  }
  void TearDown() override { server_.reset(); }

  // A client context carrying the session header (and a token when set).
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& session = "") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!session.empty()) ctx->AddMetadata("x-tensord-session", session);
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return ctx;
  }

  std::string NewSession(uint64_t seed = 1) {
    pb::CreateSessionRequest req;
    req.set_seed(seed);
    pb::CreateSessionResponse resp;
    grpc::Status s = stub_->CreateSession(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.session_id();
  }

  static pb::TensorData Floats(const std::vector<float>& v, const std::vector<int64_t>& shape) {
    pb::TensorData d;
    d.set_dtype(pb::DTYPE_FLOAT32);
    for (int64_t s : shape) d.add_shape(s);
    d.set_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    return d;
  }
  static std::vector<float> FloatsOf(const pb::TensorData& d) {
    std::vector<float> v(d.data().size() / sizeof(float));
    std::memcpy(v.data(), d.data().data(), d.data().size());
    return v;
  }

  // Unary helpers that fail the test on error.
  pb::TensorInfo Create(const std::string& sid, uint64_t id, const std::vector<float>& v,
                        const std::vector<int64_t>& shape, bool requires_grad = false) {
    pb::CreateTensorRequest req;
    req.set_session_id(sid);
    req.set_id(id);
    *req.mutable_data() = Floats(v, shape);
    req.set_requires_grad(requires_grad);
    pb::TensorsResponse resp;
    grpc::Status s = stub_->CreateTensor(Ctx(sid).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tensors_size() ? resp.tensors(0) : pb::TensorInfo();
  }

  grpc::Status Op(const std::string& sid, const std::string& op, std::vector<uint64_t> inputs,
                  std::vector<uint64_t> outputs, pb::TensorsResponse* resp,
                  std::vector<std::pair<std::string, pb::AttrValue>> attrs = {}) {
    pb::ApplyOpRequest req;
    req.set_session_id(sid);
    req.set_op(op);
    for (uint64_t i : inputs) req.add_inputs(i);
    for (uint64_t o : outputs) req.add_outputs(o);
    for (auto& [k, v] : attrs) (*req.mutable_attrs())[k] = v;
    return stub_->ApplyOp(Ctx(sid).get(), req, resp);
  }

  pb::TensorInfo MustOp(const std::string& sid, const std::string& op, std::vector<uint64_t> inputs,
                        uint64_t output,
                        std::vector<std::pair<std::string, pb::AttrValue>> attrs = {}) {
    pb::TensorsResponse resp;
    grpc::Status s = Op(sid, op, inputs, {output}, &resp, attrs);
    EXPECT_TRUE(s.ok()) << op << ": " << s.error_message();
    return resp.tensors_size() ? resp.tensors(0) : pb::TensorInfo();
  }

  pb::GetTensorResponse Get(const std::string& sid, uint64_t id, bool grad = false) {
    pb::GetTensorRequest req;
    req.set_session_id(sid);
    req.set_id(id);
    req.set_include_grad(grad);
    pb::GetTensorResponse resp;
    grpc::Status s = stub_->GetTensor(Ctx(sid).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  grpc::Status Backward(const std::string& sid, std::vector<uint64_t> tensors,
                        std::vector<uint64_t> grads = {},
                        std::optional<bool> retain = std::nullopt) {
    pb::BackwardRequest req;
    req.set_session_id(sid);
    for (uint64_t t : tensors) req.add_tensors(t);
    for (uint64_t g : grads) req.add_grad_tensors(g);
    if (retain) req.set_retain_graph(*retain);
    pb::BackwardResponse resp;
    return stub_->Backward(Ctx(sid).get(), req, &resp);
  }

  static pb::AttrValue I(int64_t v) {
    pb::AttrValue a;
    a.set_i(v);
    return a;
  }
  static pb::AttrValue F(double v) {
    pb::AttrValue a;
    a.set_f(v);
    return a;
  }
  static pb::AttrValue Ints(std::vector<int64_t> v) {
    pb::AttrValue a;
    for (int64_t x : v) a.mutable_ints()->add_values(x);
    return a;
  }

  server::ServerOptions options_;
  std::string token_;
  std::unique_ptr<server::TensordServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Tensord::Stub> stub_;
};

}  // namespace tensord::testing
