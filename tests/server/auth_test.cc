// Bearer tokens and TLS: every Tensord call needs a configured token, sessions belong to the
// token that created them, and a TLS server speaks only TLS.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "spdlog/spdlog.h"
#include "tests/server/server_test_util.h"

namespace grpc {
inline void PrintTo(const Status& s, std::ostream* os) {
  *os << "grpc::Status(" << static_cast<int>(s.error_code()) << ", \"" << s.error_message()
      << "\")";
}
}  // namespace grpc

namespace tensord::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A grpc::Status with this code and a message matching `message`.
class GrpcStatusMatcher : public ::testing::MatcherInterface<const grpc::Status&> {
 public:
  GrpcStatusMatcher(grpc::StatusCode code, ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)) {}
  bool MatchAndExplain(const grpc::Status& s,
                       ::testing::MatchResultListener* listener) const override {
    if (s.error_code() != code_) {
      *listener << "whose code is " << static_cast<int>(s.error_code());
      return false;
    }
    return message_.MatchAndExplain(s.error_message(), listener);
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "has code " << static_cast<int>(code_) << " and a message that ";
    message_.DescribeTo(os);
  }

 private:
  grpc::StatusCode code_;
  ::testing::Matcher<const std::string&> message_;
};
::testing::Matcher<const grpc::Status&> GrpcIs(grpc::StatusCode code,
                                               ::testing::Matcher<const std::string&> message) {
  return ::testing::MakeMatcher(new GrpcStatusMatcher(code, std::move(message)));
}

// One RPC of the Tensord service, sent with a given client context.
struct Call {
  std::string name;
  bool per_session;  // belongs to a session (NOT_FOUND for another token's session)
  std::function<grpc::Status(grpc::ClientContext*)> run;
};

class Auth : public ServerTest {
 protected:
  Auth() {
    spdlog::set_level(spdlog::level::warn);
    options_.tokens = {"alpha", "beta"};
    token_ = "alpha";
  }

  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    sid_ = NewSession();
    ASSERT_FALSE(sid_.empty());
    Create(sid_, 1, {1, 2, 3}, {3}, /*requires_grad=*/true);
    MustOp(sid_, "sum", {1}, 2);
  }

  // A context with the session header and the given authorization header (none: nullopt).
  static std::unique_ptr<grpc::ClientContext> CtxWith(std::optional<std::string> authorization,
                                                      const std::string& session) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!session.empty()) ctx->AddMetadata("x-tensord-session", session);
    if (authorization) ctx->AddMetadata("authorization", *authorization);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }

  // Every RPC of the service, naming session `sid` (and its handles 1 and 2) where it takes one.
  std::vector<Call> AllCalls(const std::string& sid) {
    pb::Tensord::Stub* stub = stub_.get();
    std::vector<Call> calls;
    calls.push_back({"CreateSession", false, [stub](grpc::ClientContext* c) {
                       pb::CreateSessionResponse r;
                       return stub->CreateSession(c, pb::CreateSessionRequest(), &r);
                     }});
    calls.push_back({"ListSessions", false, [stub](grpc::ClientContext* c) {
                       pb::ListSessionsResponse r;
                       return stub->ListSessions(c, pb::ListSessionsRequest(), &r);
                     }});
    calls.push_back({"ListOps", false, [stub](grpc::ClientContext* c) {
                       pb::ListOpsResponse r;
                       return stub->ListOps(c, pb::ListOpsRequest(), &r);
                     }});
    calls.push_back({"ServerInfo", false, [stub](grpc::ClientContext* c) {
                       pb::ServerInfoResponse r;
                       return stub->ServerInfo(c, pb::ServerInfoRequest(), &r);
                     }});
    pb::SessionRequest sreq;
    sreq.set_session_id(sid);
    calls.push_back({"DescribeSession", true, [stub, sreq](grpc::ClientContext* c) {
                       pb::SessionInfo r;
                       return stub->DescribeSession(c, sreq, &r);
                     }});
    calls.push_back({"KeepAlive", true, [stub, sreq](grpc::ClientContext* c) {
                       pb::KeepAliveResponse r;
                       return stub->KeepAlive(c, sreq, &r);
                     }});
    pb::CreateTensorRequest create;
    create.set_session_id(sid);
    create.set_id(50);
    *create.mutable_data() = Floats({1}, {1});
    calls.push_back({"CreateTensor", true, [stub, create](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       return stub->CreateTensor(c, create, &r);
                     }});
    pb::FactoryRequest factory;
    factory.set_session_id(sid);
    factory.set_id(51);
    factory.set_name("zeros");
    factory.add_shape(2);
    calls.push_back({"Factory", true, [stub, factory](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       return stub->Factory(c, factory, &r);
                     }});
    pb::ApplyOpRequest op;
    op.set_session_id(sid);
    op.set_op("neg");
    op.add_inputs(1);
    op.add_outputs(52);
    calls.push_back({"ApplyOp", true, [stub, op](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       return stub->ApplyOp(c, op, &r);
                     }});
    pb::SetRequiresGradRequest srg;
    srg.set_session_id(sid);
    srg.set_id(1);
    srg.set_requires_grad(true);
    calls.push_back({"SetRequiresGrad", true, [stub, srg](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       return stub->SetRequiresGrad(c, srg, &r);
                     }});
    pb::AliasRequest alias;
    alias.set_session_id(sid);
    alias.set_id(1);
    calls.push_back({"Detach", true, [stub, alias](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       return stub->Detach(c, alias, &r);
                     }});
    calls.push_back({"Data", true, [stub, alias](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       return stub->Data(c, alias, &r);
                     }});
    pb::TensorRequest treq;
    treq.set_session_id(sid);
    treq.set_id(2);
    calls.push_back({"RetainGrad", true, [stub, treq](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       return stub->RetainGrad(c, treq, &r);
                     }});
    calls.push_back({"GetInfo", true, [stub, treq](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       return stub->GetInfo(c, treq, &r);
                     }});
    calls.push_back({"ZeroGrad", true, [stub, treq](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       return stub->ZeroGrad(c, treq, &r);
                     }});
    pb::GetTensorRequest get;
    get.set_session_id(sid);
    get.set_id(1);
    calls.push_back({"GetTensor", true, [stub, get](grpc::ClientContext* c) {
                       pb::GetTensorResponse r;
                       return stub->GetTensor(c, get, &r);
                     }});
    pb::SetGradRequest setgrad;
    setgrad.set_session_id(sid);
    setgrad.set_id(1);
    calls.push_back({"SetGrad", true, [stub, setgrad](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       return stub->SetGrad(c, setgrad, &r);
                     }});
    pb::GradRequest grad;
    grad.set_session_id(sid);
    grad.add_outputs(2);
    grad.add_inputs(1);
    grad.set_retain_graph(true);
    calls.push_back({"Grad", true, [stub, grad](grpc::ClientContext* c) {
                       pb::GradResponse r;
                       return stub->Grad(c, grad, &r);
                     }});
    pb::BackwardRequest backward;
    backward.set_session_id(sid);
    backward.add_tensors(2);
    backward.set_retain_graph(true);
    calls.push_back({"Backward", true, [stub, backward](grpc::ClientContext* c) {
                       pb::BackwardResponse r;
                       return stub->Backward(c, backward, &r);
                     }});
    pb::SetGradModeRequest mode;
    mode.set_session_id(sid);
    mode.set_enabled(false);
    calls.push_back({"SetGradMode", true, [stub, mode](grpc::ClientContext* c) {
                       pb::GradModeResponse r;
                       return stub->SetGradMode(c, mode, &r);
                     }});
    pb::GetGraphRequest graph;
    graph.set_session_id(sid);
    graph.set_id(2);
    calls.push_back({"GetGraph", true, [stub, graph](grpc::ClientContext* c) {
                       pb::GraphResponse r;
                       return stub->GetGraph(c, graph, &r);
                     }});
    pb::ExecuteRequest batch;
    batch.set_session_id(sid);
    *batch.add_commands()->mutable_apply_op() = op;
    calls.push_back({"Execute", true, [stub, batch](grpc::ClientContext* c) {
                       pb::ExecuteResponse r;
                       return stub->Execute(c, batch, &r);
                     }});
    calls.push_back({"Stream", true, [stub, sid, op](grpc::ClientContext* c) {
                       auto stream = stub->Stream(c);
                       pb::StreamRequest first;
                       first.set_session_id(sid);
                       *first.mutable_command()->mutable_apply_op() = op;
                       stream->Write(first);
                       stream->WritesDone();
                       pb::CommandResult r;
                       while (stream->Read(&r)) {
                       }
                       return stream->Finish();
                     }});
    calls.push_back({"Upload", true, [stub, sid](grpc::ClientContext* c) {
                       pb::TensorsResponse r;
                       auto writer = stub->Upload(c, &r);
                       pb::UploadChunk chunk;
                       chunk.set_session_id(sid);
                       chunk.set_id(53);
                       chunk.set_dtype(pb::DTYPE_FLOAT32);
                       chunk.add_shape(1);
                       chunk.set_data(std::string(4, '\0'));
                       writer->Write(chunk);
                       writer->WritesDone();
                       return writer->Finish();
                     }});
    calls.push_back({"Download", true, [stub, sid](grpc::ClientContext* c) {
                       pb::DownloadRequest req;
                       req.set_session_id(sid);
                       req.set_id(1);
                       auto reader = stub->Download(c, req);
                       pb::DownloadChunk chunk;
                       while (reader->Read(&chunk)) {
                       }
                       return reader->Finish();
                     }});
    pb::ReleaseRequest release;
    release.set_session_id(sid);
    release.add_ids(1);
    calls.push_back({"Release", true, [stub, release](grpc::ClientContext* c) {
                       pb::ReleaseResponse r;
                       return stub->Release(c, release, &r);
                     }});
    // Last: it ends the session.
    calls.push_back({"CloseSession", true, [stub, sreq](grpc::ClientContext* c) {
                       pb::SessionInfo r;
                       return stub->CloseSession(c, sreq, &r);
                     }});
    return calls;
  }

  // The session made in SetUp is as it was: two handles, the leaf's value, no grad, grad mode on.
  void ExpectSessionIntact() {
    pb::SessionRequest req;
    req.set_session_id(sid_);
    pb::SessionInfo info;
    grpc::Status s = stub_->DescribeSession(Ctx(sid_).get(), req, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(info.tensors(), 2);
    EXPECT_EQ(info.bytes(), 16);
    EXPECT_TRUE(info.grad_enabled());
    pb::GetTensorResponse x = Get(sid_, 1, true);
    EXPECT_THAT(FloatsOf(x.value()), ElementsAre(1, 2, 3));
    EXPECT_FALSE(x.info().has_grad());
    EXPECT_EQ(x.info().version(), 0u);
    EXPECT_EQ(Get(sid_, 2).info().grad_fn(), "SumBackward0");
    pb::ServerInfoResponse si;
    ASSERT_TRUE(stub_->ServerInfo(Ctx().get(), pb::ServerInfoRequest(), &si).ok());
    EXPECT_EQ(si.sessions(), 1);
  }

  // With the right token, the session still computes.
  void ExpectStillServes() {
    pb::TensorsResponse r;
    grpc::Status s = Op(sid_, "mul", {1, 1}, {}, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_THAT(FloatsOf(Get(sid_, r.tensors(0).id()).value()), ElementsAre(1, 4, 9));
  }

  std::string sid_;
};

TEST_F(Auth, MissingToken_IsUnauthenticatedOnEveryCall) {
  for (const Call& call : AllCalls(sid_)) {
    SCOPED_TRACE(call.name);
    EXPECT_THAT(call.run(CtxWith(std::nullopt, sid_).get()),
                GrpcIs(grpc::StatusCode::UNAUTHENTICATED, HasSubstr("missing bearer token")));
  }
  ExpectSessionIntact();
  ExpectStillServes();
}

TEST_F(Auth, InvalidToken_IsUnauthenticatedOnEveryCall) {
  for (const Call& call : AllCalls(sid_)) {
    SCOPED_TRACE(call.name);
    EXPECT_THAT(call.run(CtxWith("Bearer gamma", sid_).get()),
                GrpcIs(grpc::StatusCode::UNAUTHENTICATED, HasSubstr("invalid bearer token")));
  }
  ExpectSessionIntact();
  ExpectStillServes();
}

TEST_F(Auth, MalformedAuthorizationHeader_IsUnauthenticated) {
  std::vector<Call> calls = AllCalls(sid_);
  const Call& apply = calls[8];
  ASSERT_EQ(apply.name, "ApplyOp");
  EXPECT_THAT(apply.run(CtxWith("alpha", sid_).get()),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, HasSubstr("must be 'Bearer <token>'")));
  EXPECT_THAT(apply.run(CtxWith("Basic alpha", sid_).get()),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, HasSubstr("must be 'Bearer <token>'")));
  EXPECT_THAT(apply.run(CtxWith("Bearer ", sid_).get()),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, HasSubstr("invalid bearer token")));
  EXPECT_THAT(apply.run(CtxWith("Bearer alphabeta", sid_).get()),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, HasSubstr("invalid bearer token")));
  EXPECT_THAT(apply.run(CtxWith("Bearer alph", sid_).get()),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, HasSubstr("invalid bearer token")));
  ExpectSessionIntact();
  ExpectStillServes();
}

// The contract: "When a bearer-token file is configured, every call needs 'authorization: Bearer
// <token>'." Echo is a call of the service too.
TEST_F(Auth, Echo_WithoutOrWithInvalidToken_IsUnauthenticated) {
  pb::EchoRequest req;
  req.set_payload("ping");
  pb::EchoResponse resp;
  EXPECT_THAT(stub_->Echo(CtxWith(std::nullopt, "").get(), req, &resp),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, HasSubstr("missing bearer token")));
  EXPECT_THAT(stub_->Echo(CtxWith("Bearer gamma", "").get(), req, &resp),
              GrpcIs(grpc::StatusCode::UNAUTHENTICATED, HasSubstr("invalid bearer token")));
  ASSERT_TRUE(stub_->Echo(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.payload(), "ping");
}

TEST_F(Auth, SessionOfAlpha_IsNotFoundForBeta) {
  for (const Call& call : AllCalls(sid_)) {
    if (!call.per_session) continue;
    SCOPED_TRACE(call.name);
    EXPECT_THAT(call.run(CtxWith("Bearer beta", sid_).get()),
                GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session '" + sid_ + "'")));
  }
  ExpectSessionIntact();
  ExpectStillServes();
  // Beta's listing does not show alpha's session; beta's own sessions are beta's alone.
  pb::ListSessionsResponse list;
  ASSERT_TRUE(
      stub_->ListSessions(CtxWith("Bearer beta", "").get(), pb::ListSessionsRequest(), &list).ok());
  EXPECT_EQ(list.sessions_size(), 0);
  pb::CreateSessionResponse created;
  ASSERT_TRUE(
      stub_->CreateSession(CtxWith("Bearer beta", "").get(), pb::CreateSessionRequest(), &created)
          .ok());
  const std::string beta_sid = created.session_id();
  ASSERT_TRUE(
      stub_->ListSessions(CtxWith("Bearer beta", "").get(), pb::ListSessionsRequest(), &list).ok());
  ASSERT_EQ(list.sessions_size(), 1);
  EXPECT_EQ(list.sessions(0).session_id(), beta_sid);
  ASSERT_TRUE(stub_->ListSessions(Ctx().get(), pb::ListSessionsRequest(), &list).ok());
  ASSERT_EQ(list.sessions_size(), 1);
  EXPECT_EQ(list.sessions(0).session_id(), sid_);
  // And alpha cannot reach beta's.
  pb::SessionRequest req;
  req.set_session_id(beta_sid);
  pb::SessionInfo info;
  EXPECT_THAT(stub_->DescribeSession(Ctx(beta_sid).get(), req, &info),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session '" + beta_sid + "'")));
  ASSERT_TRUE(stub_->DescribeSession(CtxWith("Bearer beta", beta_sid).get(), req, &info).ok());
}

TEST_F(Auth, RightToken_Works) {
  token_ = "beta";
  const std::string sid = NewSession();
  ASSERT_FALSE(sid.empty());
  Create(sid, 1, {1, 2}, {2});
  EXPECT_THAT(FloatsOf(Get(sid, MustOp(sid, "add", {1, 1}, 2).id()).value()), ElementsAre(2, 4));
  pb::ListOpsResponse ops;
  ASSERT_TRUE(stub_->ListOps(Ctx().get(), pb::ListOpsRequest(), &ops).ok());
  EXPECT_GT(ops.ops_size(), 10);
  // A stream with the token.
  auto ctx = Ctx(sid);
  auto stream = stub_->Stream(ctx.get());
  pb::StreamRequest first;
  first.set_session_id(sid);
  ASSERT_TRUE(stream->Write(first));
  pb::StreamRequest cmd;
  auto* neg = cmd.mutable_command()->mutable_apply_op();
  neg->set_op("neg");
  neg->add_inputs(2);
  neg->add_outputs(3);
  ASSERT_TRUE(stream->Write(cmd));
  ASSERT_TRUE(stream->WritesDone());
  pb::CommandResult r;
  int results = 0;
  while (stream->Read(&r)) {
    ++results;
    EXPECT_EQ(r.code(), 0) << r.message();
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(results, 1);
  EXPECT_THAT(FloatsOf(Get(sid, 3).value()), ElementsAre(-2, -4));
  // Every call succeeds with the owner's token (the last one closes the session).
  for (const Call& call : AllCalls(sid_)) {
    SCOPED_TRACE(call.name);
    grpc::Status s = call.run(CtxWith("Bearer alpha", sid_).get());
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
}

// ---- the session header ------------------------------------------------------------------------

// The contract says every session call carries x-tensord-session (a proxy routes on it): a call
// without it is refused with a message naming the key, and changes nothing.
TEST_F(Auth, MissingSessionHeader_IsInvalidArgumentOnEverySessionCall) {
  for (const Call& call : AllCalls(sid_)) {
    // CreateSession needs the header only when it proposes an id (tested in service_test);
    // without one it would make a second session here.
    if (call.name == "CreateSession") continue;
    SCOPED_TRACE(call.name);
    const grpc::Status s = call.run(CtxWith("Bearer alpha", "").get());
    if (call.per_session) {
      EXPECT_THAT(s, GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                            AllOf(HasSubstr("missing metadata 'x-tensord-session'"),
                                  HasSubstr("the same value as the request's session_id"))));
    } else {
      EXPECT_TRUE(s.ok()) << call.name << ": " << s.error_message();  // not a session call
    }
  }
  ExpectSessionIntact();
  ExpectStillServes();
}

class RelaxedSessionHeader : public Auth {
 protected:
  RelaxedSessionHeader() { options_.require_session_header = false; }
};

// --require_session_header=false (one replica, no proxy): every call works without the header,
// and a header that disagrees with the body is still refused.
TEST_F(RelaxedSessionHeader, EverySessionCallWorksWithoutTheHeader) {
  for (const Call& call : AllCalls(sid_)) {
    SCOPED_TRACE(call.name);
    grpc::Status s = call.run(CtxWith("Bearer alpha", "").get());
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  const std::string sid = NewSession();
  pb::SessionRequest req;
  req.set_session_id(sid);
  pb::SessionInfo info;
  EXPECT_THAT(
      stub_->DescribeSession(CtxWith("Bearer alpha", "other-session-id-0123").get(), req, &info),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("does not match")));
}

// ---- TLS ---------------------------------------------------------------------------------------

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool HaveOpenssl() { return std::system("which openssl > /dev/null 2>&1") == 0; }

// A self-signed certificate for localhost / 127.0.0.1 in `dir` (cert.pem, key.pem).
bool MakeCert(const std::string& dir) {
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 1 -keyout " +
      dir + "/key.pem -out " + dir + "/cert.pem > " + dir + "/openssl.log 2>&1";
  return std::system(cmd.c_str()) == 0;
}

class Tls : public ServerTest {
 protected:
  Tls() { spdlog::set_level(spdlog::level::warn); }

  void SetUp() override {
    if (!HaveOpenssl()) {
      GTEST_SKIP() << "the openssl binary is not installed: cannot make a test certificate";
    }
    std::string tmpl = ::testing::TempDir() + "tensord_tls_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MakeCert(dir_)) << ReadAll(dir_ + "/openssl.log");
    options_.tls_cert_file = dir_ + "/cert.pem";
    options_.tls_key_file = dir_ + "/key.pem";
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    target_ = absl::StrCat("127.0.0.1:", server_->port());
    // Replace the fixture's insecure channel with a TLS one trusting the certificate.
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadAll(options_.tls_cert_file);
    channel_ = grpc::CreateChannel(target_, grpc::SslCredentials(ssl));
    stub_ = pb::Tensord::NewStub(channel_);
  }

  void TearDown() override {
    ServerTest::TearDown();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  static std::unique_ptr<grpc::ClientContext> ShortCtx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    return ctx;
  }

  std::string dir_;
  std::string target_;
};

TEST_F(Tls, SslChannelTrustingTheCert_ServerInfoWorks) {
  pb::ServerInfoResponse si;
  grpc::Status s = stub_->ServerInfo(ShortCtx().get(), pb::ServerInfoRequest(), &si);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(si.version(), TENSORD_VERSION);
  // And a session works over it.
  const std::string sid = NewSession();
  Create(sid, 1, {1, 2}, {2});
  EXPECT_THAT(FloatsOf(Get(sid, MustOp(sid, "mul", {1, 1}, 2).id()).value()), ElementsAre(1, 4));
}

TEST_F(Tls, InsecureChannel_Fails) {
  auto insecure =
      pb::Tensord::NewStub(grpc::CreateChannel(target_, grpc::InsecureChannelCredentials()));
  pb::ServerInfoResponse si;
  EXPECT_THAT(insecure->ServerInfo(ShortCtx().get(), pb::ServerInfoRequest(), &si),
              GrpcIs(grpc::StatusCode::UNAVAILABLE, ::testing::_));
  // The TLS channel is unaffected.
  EXPECT_TRUE(stub_->ServerInfo(ShortCtx().get(), pb::ServerInfoRequest(), &si).ok());
}

TEST_F(Tls, SslChannelNotTrustingTheCert_Fails) {
  const std::string other = dir_ + "/other";
  std::filesystem::create_directory(other);
  ASSERT_TRUE(MakeCert(other)) << ReadAll(other + "/openssl.log");
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadAll(other + "/cert.pem");
  auto untrusting = pb::Tensord::NewStub(grpc::CreateChannel(target_, grpc::SslCredentials(ssl)));
  pb::ServerInfoResponse si;
  EXPECT_THAT(untrusting->ServerInfo(ShortCtx().get(), pb::ServerInfoRequest(), &si),
              GrpcIs(grpc::StatusCode::UNAVAILABLE, ::testing::_));
}

// Start() runs in a child process (a death test), so that a crash there fails this test only.
void ExpectStartFails(const server::ServerOptions& o, absl::StatusCode code,
                      const std::string& substr) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto s = server::TensordServer::Start(o);
        std::fprintf(stderr, "Start returned: %s\n", s.status().ToString().c_str());
        const bool expected =
            !s.ok() && s.status().code() == code && absl::StrContains(s.status().message(), substr);
        std::_Exit(expected ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "Start returned")
      << "expected Start() to return " << absl::StatusCodeToString(code) << " containing '"
      << substr << "'";
}

TEST(TlsConfig, CertWithoutKey_StartReturnsInvalidArgument) {
  server::ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = "/nonexistent/cert.pem";
  ExpectStartFails(o, absl::StatusCode::kInvalidArgument,
                   "TLS needs both a certificate and a key file");
  o.tls_cert_file.clear();
  o.tls_key_file = "/nonexistent/key.pem";
  ExpectStartFails(o, absl::StatusCode::kInvalidArgument,
                   "TLS needs both a certificate and a key file");
}

TEST(TlsConfig, UnreadableCertFile_StartReturnsNotFound) {
  server::ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = "/nonexistent/cert.pem";
  o.tls_key_file = "/nonexistent/key.pem";
  ExpectStartFails(o, absl::StatusCode::kNotFound, "cannot read /nonexistent/cert.pem");
}

}  // namespace
}  // namespace tensord::testing
