// The bad-input corpus: every malformed or impossible request gets its exact status code and a
// meaningful message, changes nothing in its session, and leaves the server serving others.
#include <google/protobuf/util/message_differencer.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <thread>

#include "spdlog/spdlog.h"
#include "tests/server/server_test_util.h"

namespace grpc {
// Readable statuses in failure messages.
inline void PrintTo(const Status& s, std::ostream* os) {
  *os << "grpc::Status(" << static_cast<int>(s.error_code()) << ", \"" << s.error_message()
      << "\")";
}
}  // namespace grpc
namespace tensord::v1 {
inline void PrintTo(const CommandResult& r, std::ostream* os) { *os << r.ShortDebugString(); }
}  // namespace tensord::v1

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

// A CommandResult with this code and a message matching `message`.
MATCHER_P2(ResultIs, code, message, "") {
  if (arg.code() != static_cast<int>(code)) {
    *result_listener << "code " << arg.code() << " (" << arg.message() << ")";
    return false;
  }
  return ::testing::ExplainMatchResult(message, arg.message(), result_listener);
}

constexpr uint64_t kServerIdBit = uint64_t{1} << 62;

// What a client can observe of a session: its counters and, for the given handles, the full
// GetTensor answer (info with version and grad state, value, grad).
struct SessionState {
  int64_t tensors = -1;
  int64_t bytes = -1;
  bool grad_enabled = false;
  std::map<uint64_t, pb::GetTensorResponse> values;
};

class BadInput : public ServerTest {
 protected:
  BadInput() {
    spdlog::set_level(spdlog::level::warn);
    options_.max_rank = 4;
  }

  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    // Sessions live for a minute whatever the fixture's default TTL.
    bystander_ = NewSessionTtl(60);
    Create(bystander_, 1, {1, 2, 3}, {3});
    Create(bystander_, 5, {7, 8}, {2});
    sid_ = NewSessionTtl(60);
    Create(sid_, 1, {1, 2, 3}, {3}, /*requires_grad=*/true);
    Create(sid_, 2, {4, 5, 6}, {3});
  }

  std::string NewSessionTtl(int64_t ttl_seconds) {
    pb::CreateSessionRequest req;
    req.set_seed(1);
    req.set_ttl_seconds(ttl_seconds);
    pb::CreateSessionResponse resp;
    grpc::Status s = stub_->CreateSession(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.session_id();
  }

  SessionState State(const std::string& sid, const std::vector<uint64_t>& ids) {
    SessionState st;
    pb::SessionRequest req;
    req.set_session_id(sid);
    pb::SessionInfo info;
    grpc::Status s = stub_->DescribeSession(Ctx(sid).get(), req, &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    st.tensors = info.tensors();
    st.bytes = info.bytes();
    st.grad_enabled = info.grad_enabled();
    for (uint64_t id : ids) st.values[id] = Get(sid, id, /*grad=*/true);
    return st;
  }

  // The default snapshot of the session under test.
  SessionState State() { return State(sid_, {1, 2}); }

  void ExpectSameState(const std::string& sid, const SessionState& before) {
    std::vector<uint64_t> ids;
    for (const auto& [id, v] : before.values) ids.push_back(id);
    SessionState after = State(sid, ids);
    EXPECT_EQ(after.tensors, before.tensors) << "session " << sid << ": live handles changed";
    EXPECT_EQ(after.bytes, before.bytes) << "session " << sid << ": bytes held changed";
    EXPECT_EQ(after.grad_enabled, before.grad_enabled);
    for (const auto& [id, v] : before.values) {
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(v, after.values[id]))
          << "tensor " << id << " of session " << sid << " changed:\nbefore "
          << v.ShortDebugString() << "\nafter  " << after.values[id].ShortDebugString();
    }
  }

  // Another session still computes: 1 + 1 on the bystander, then released.
  void ExpectStillServes() {
    pb::TensorsResponse r;
    grpc::Status s = Op(bystander_, "add", {1, 1}, {}, &r);
    ASSERT_TRUE(s.ok()) << "the server stopped serving: " << s.error_message();
    ASSERT_EQ(r.tensors_size(), 1);
    const uint64_t id = r.tensors(0).id();
    EXPECT_GE(id, kServerIdBit);
    EXPECT_THAT(FloatsOf(Get(bystander_, id).value()), ElementsAre(2, 4, 6));
    pb::ReleaseRequest rel;
    rel.set_session_id(bystander_);
    rel.add_ids(id);
    pb::ReleaseResponse rr;
    ASSERT_TRUE(stub_->Release(Ctx(bystander_).get(), rel, &rr).ok());
    EXPECT_EQ(rr.released(), 1);
  }

  // After a bad request: the session under test is as `before`, the bystander is untouched and
  // still computes.
  void AfterBadRequest(const SessionState& before) {
    ExpectSameState(sid_, before);
    ExpectStillServes();
    ExpectSameState(bystander_, bystander_before_);
  }

  void SnapshotBystander() { bystander_before_ = State(bystander_, {1, 5}); }

  grpc::Status CreateRaw(const std::string& sid, uint64_t id, const pb::TensorData& data,
                         pb::TensorsResponse* resp = nullptr) {
    pb::CreateTensorRequest req;
    req.set_session_id(sid);
    req.set_id(id);
    *req.mutable_data() = data;
    pb::TensorsResponse ignored;
    return stub_->CreateTensor(Ctx(sid).get(), req, resp ? resp : &ignored);
  }

  static pb::TensorData Data(pb::DType dtype, std::vector<int64_t> shape, std::string bytes) {
    pb::TensorData d;
    d.set_dtype(dtype);
    for (int64_t s : shape) d.add_shape(s);
    d.set_data(std::move(bytes));
    return d;
  }

  grpc::Status Factory(const std::string& sid, const std::string& name, std::vector<int64_t> shape,
                       uint64_t id = 0,
                       std::vector<std::pair<std::string, pb::AttrValue>> attrs = {},
                       pb::DType dtype = pb::DTYPE_UNSPECIFIED, uint64_t like = 0) {
    pb::FactoryRequest req;
    req.set_session_id(sid);
    req.set_id(id);
    req.set_name(name);
    for (int64_t s : shape) req.add_shape(s);
    for (auto& [k, v] : attrs) (*req.mutable_attrs())[k] = v;
    req.set_dtype(dtype);
    req.set_like(like);
    pb::TensorsResponse resp;
    return stub_->Factory(Ctx(sid).get(), req, &resp);
  }

  // An upload: the header (with the first chunk's bytes), then the other chunks.
  grpc::Status Upload(const std::string& sid, uint64_t id, pb::DType dtype,
                      std::vector<int64_t> shape, std::vector<std::string> chunks,
                      pb::TensorsResponse* resp = nullptr) {
    auto ctx = Ctx(sid);
    pb::TensorsResponse ignored;
    auto writer = stub_->Upload(ctx.get(), resp ? resp : &ignored);
    pb::UploadChunk header;
    header.set_session_id(sid);
    header.set_id(id);
    header.set_dtype(dtype);
    for (int64_t s : shape) header.add_shape(s);
    if (!chunks.empty()) header.set_data(chunks[0]);
    bool ok = writer->Write(header);
    for (size_t i = 1; ok && i < chunks.size(); ++i) {
      pb::UploadChunk c;
      c.set_data(chunks[i]);
      ok = writer->Write(c);
    }
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status Download(const std::string& sid, uint64_t id, std::string* bytes,
                        bool grad = false) {
    pb::DownloadRequest req;
    req.set_session_id(sid);
    req.set_id(id);
    req.set_grad(grad);
    auto ctx = Ctx(sid);
    auto reader = stub_->Download(ctx.get(), req);
    pb::DownloadChunk chunk;
    bytes->clear();
    while (reader->Read(&chunk)) *bytes += chunk.data();
    return reader->Finish();
  }

  grpc::Status GetInfo(const std::string& sid, uint64_t id) {
    pb::TensorRequest req;
    req.set_session_id(sid);
    req.set_id(id);
    pb::TensorsResponse resp;
    return stub_->GetInfo(Ctx(sid).get(), req, &resp);
  }

  static std::string FloatBytes(std::vector<float> v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  }

  static pb::AttrValue S(std::string s) {
    pb::AttrValue a;
    a.set_s(std::move(s));
    return a;
  }

  std::string bystander_;
  std::string sid_;
  SessionState bystander_before_;
};

// ---- shapes, dtypes and byte lengths -----------------------------------------------------------

TEST_F(BadInput, CreateTensor_NegativeDim_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  EXPECT_THAT(CreateRaw(sid_, 3, Data(pb::DTYPE_FLOAT32, {2, -3}, "")),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("negative dimension -3")));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "zeros", {-1}, 3),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("negative dimension -1")));
  AfterBadRequest(before);
  EXPECT_THAT(Upload(sid_, 3, pb::DTYPE_FLOAT32, {4, -1}, {""}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("negative dimension -1")));
  AfterBadRequest(before);
}

TEST_F(BadInput, CreateTensor_ShapeProductOverflowsInt64_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  const int64_t big = int64_t{1} << 40;
  EXPECT_THAT(CreateRaw(sid_, 3, Data(pb::DTYPE_FLOAT32, {big, big}, "")),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("overflows int64")));
  AfterBadRequest(before);
  // The same with a product that wraps around to a small positive number: 2^32 * 2^32 = 2^64.
  EXPECT_THAT(
      CreateRaw(sid_, 3, Data(pb::DTYPE_FLOAT32, {int64_t{1} << 32, int64_t{1} << 32, 1}, "")),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("overflows int64")));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "ones", {big, big}, 3),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("overflows int64")));
  AfterBadRequest(before);
  EXPECT_THAT(Upload(sid_, 3, pb::DTYPE_FLOAT32, {big, big}, {""}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("overflows int64")));
  AfterBadRequest(before);
}

TEST_F(BadInput, CreateTensor_RankOverLimit_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  EXPECT_THAT(CreateRaw(sid_, 3, Data(pb::DTYPE_FLOAT32, {1, 1, 1, 1, 1}, FloatBytes({1}))),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("tensor rank 5 exceeds the server's limit of 4")));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "zeros", {1, 1, 1, 1, 1}, 3),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("tensor rank 5 exceeds the server's limit of 4")));
  AfterBadRequest(before);
  EXPECT_THAT(Upload(sid_, 3, pb::DTYPE_FLOAT32, {1, 1, 1, 1, 1}, {FloatBytes({1})}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("tensor rank 5 exceeds the server's limit of 4")));
  AfterBadRequest(before);
  // The limit itself is fine.
  pb::TensorsResponse ok;
  ASSERT_TRUE(CreateRaw(sid_, 3, Data(pb::DTYPE_FLOAT32, {1, 1, 1, 1}, FloatBytes({1})), &ok).ok());
  EXPECT_EQ(ok.tensors(0).shape_size(), 4);
}

// --max_rank is "the largest tensor rank a request may create"; an op is a request too.
TEST_F(BadInput, ApplyOp_ResultRankOverLimit_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  pb::TensorsResponse r;
  EXPECT_THAT(
      Op(sid_, "view", {2}, {3}, &r, {{"size", Ints({1, 1, 1, 1, 3})}}),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("exceeds the server's limit of 4")));
  AfterBadRequest(before);
}

// --max_tensor_elements is "the largest tensor (in elements) a request may create"; expand makes
// one without allocating, and a reduction over it would then run for hours.
TEST_F(BadInput, ApplyOp_ResultOverElementLimit_IsInvalidArgument) {
  SnapshotBystander();
  Create(sid_, 3, {1}, {1});
  const SessionState before = State(sid_, {1, 2, 3});
  pb::TensorsResponse r;
  EXPECT_THAT(Op(sid_, "expand", {3}, {4}, &r, {{"size", Ints({int64_t{1} << 32})}}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("exceeds the server's limit")));
  ExpectSameState(sid_, before);
  ExpectStillServes();
}

TEST_F(BadInput, CreateTensor_ByteLengthMismatch_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  EXPECT_THAT(CreateRaw(sid_, 3, Data(pb::DTYPE_FLOAT32, {4}, FloatBytes({1, 2, 3}))),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     AllOf(HasSubstr("12 bytes"), HasSubstr("needs 16"))));
  AfterBadRequest(before);
  EXPECT_THAT(CreateRaw(sid_, 3, Data(pb::DTYPE_FLOAT64, {2}, FloatBytes({1, 2, 3}))),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     AllOf(HasSubstr("12 bytes"), HasSubstr("needs 16"))));
  AfterBadRequest(before);
  // A scalar needs one element's bytes, an empty tensor none.
  EXPECT_THAT(CreateRaw(sid_, 3, Data(pb::DTYPE_INT64, {}, "")),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("needs 8")));
  AfterBadRequest(before);
  EXPECT_THAT(CreateRaw(sid_, 3, Data(pb::DTYPE_BOOL, {0, 5}, "x")),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("needs 0")));
  AfterBadRequest(before);
}

TEST_F(BadInput, UnknownDTypeEnumValue_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  const auto bad = static_cast<pb::DType>(42);
  EXPECT_THAT(CreateRaw(sid_, 3, Data(bad, {1}, "abcd")),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("unknown dtype value 42")));
  AfterBadRequest(before);
  EXPECT_THAT(CreateRaw(sid_, 3, Data(pb::DTYPE_UNSPECIFIED, {1}, "abcd")),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("unknown dtype value 0")));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "zeros", {2}, 3, {}, bad),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("unknown dtype value 42")));
  AfterBadRequest(before);
  EXPECT_THAT(Upload(sid_, 3, bad, {1}, {"abcd"}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("unknown dtype value 42")));
  AfterBadRequest(before);
  pb::AttrValue dtype;
  dtype.set_dtype(bad);
  pb::TensorsResponse r;
  EXPECT_THAT(Op(sid_, "to", {2}, {3}, &r, {{"dtype", dtype}}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("unknown dtype value 42")));
  AfterBadRequest(before);
}

TEST_F(BadInput, CreateTensor_OverElementLimit_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  const int64_t n = int64_t{1} << 16;  // 2^32 elements > the default 2^31
  EXPECT_THAT(
      CreateRaw(sid_, 3, Data(pb::DTYPE_BOOL, {n, n}, "")),
      GrpcIs(
          grpc::StatusCode::INVALID_ARGUMENT,
          HasSubstr(
              "tensor of 4294967296 elements exceeds the server's limit of 2147483648 elements")));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "zeros", {n, n}, 3),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("exceeds the server's limit of 2147483648")));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "eye", {}, 3, {{"n", I(100000)}}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("exceeds the server's limit of 2147483648")));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "arange", {}, 3, {{"end", F(1e12)}}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("exceeds the server's limit of 2147483648")));
  AfterBadRequest(before);
  EXPECT_THAT(Upload(sid_, 3, pb::DTYPE_BOOL, {n, n}, {"x"}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("exceeds the server's limit of 2147483648")));
  AfterBadRequest(before);
}

// ---- ops and attributes ------------------------------------------------------------------------

TEST_F(BadInput, ApplyOp_UnknownOp_IsNotFound) {
  SnapshotBystander();
  const SessionState before = State();
  pb::TensorsResponse r;
  EXPECT_THAT(Op(sid_, "frobnicate", {1, 2}, {3}, &r),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown op 'frobnicate'")));
  AfterBadRequest(before);
  EXPECT_THAT(Op(sid_, "", {1}, {3}, &r),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown op ''")));
  AfterBadRequest(before);
}

TEST_F(BadInput, ApplyOp_WrongArity_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  pb::TensorsResponse r;
  EXPECT_THAT(Op(sid_, "add", {1}, {3}, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("add() takes 2 tensor input(s) but 1 were given")));
  AfterBadRequest(before);
  EXPECT_THAT(Op(sid_, "neg", {1, 2}, {3}, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("neg() takes 1 tensor input(s) but 2 were given")));
  AfterBadRequest(before);
  EXPECT_THAT(Op(sid_, "mul", {}, {3}, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("mul() takes 2 tensor input(s) but 0 were given")));
  AfterBadRequest(before);
  // The in-place form too, and its target is not modified.
  EXPECT_THAT(Op(sid_, "add_", {2}, {}, &r), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                                    HasSubstr("tensor input(s) but 1 were given")));
  AfterBadRequest(before);
}

TEST_F(BadInput, ApplyOp_WrongAttributeType_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  pb::TensorsResponse r;
  EXPECT_THAT(Op(sid_, "add", {1, 2}, {3}, &r, {{"alpha", S("two")}}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("add(): attribute 'alpha' must be Scalar")));
  AfterBadRequest(before);
  EXPECT_THAT(Op(sid_, "sum_dim", {1}, {3}, &r, {{"dim", F(0.5)}}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("sum_dim(): attribute 'dim' must be int[]")));
  AfterBadRequest(before);
  // The in-place form: the target keeps its value and version.
  EXPECT_THAT(
      Op(sid_, "add_", {2, 2}, {}, &r, {{"alpha", S("two")}}),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("attribute 'alpha' must be Scalar")));
  AfterBadRequest(before);
}

TEST_F(BadInput, ApplyOp_AttributeForOpThatHasNone_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  pb::TensorsResponse r;
  EXPECT_THAT(Op(sid_, "neg", {1}, {3}, &r, {{"alpha", I(2)}}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("neg() got an unexpected attribute 'alpha'")));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "zeros", {2}, 3, {{"value", I(1)}}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("zeros() got an unexpected attribute 'value'")));
  AfterBadRequest(before);
}

TEST_F(BadInput, Factory_UnknownName_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  EXPECT_THAT(Factory(sid_, "zeroes", {2}, 3),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("unknown factory 'zeroes'")));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "eye_like", {}, 3, {}, pb::DTYPE_UNSPECIFIED, /*like=*/2),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("unknown factory 'eye_like'")));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "", {2}, 3),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("unknown factory ''")));
  AfterBadRequest(before);
}

// ---- handles and sessions ----------------------------------------------------------------------

TEST_F(BadInput, HandleFromAnotherSession_IsNotFound) {
  SnapshotBystander();
  const SessionState before = State();
  pb::TensorsResponse r;
  // Handle 5 exists only in the bystander session.
  EXPECT_THAT(
      Op(sid_, "neg", {5}, {3}, &r),
      GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 5 in session " + sid_)));
  AfterBadRequest(before);
  EXPECT_THAT(GetInfo(sid_, 5),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 5")));
  AfterBadRequest(before);
  pb::ReleaseRequest rel;
  rel.set_session_id(sid_);
  rel.add_ids(2);
  rel.add_ids(5);  // all or nothing: 2 is not released either
  pb::ReleaseResponse rr;
  EXPECT_THAT(stub_->Release(Ctx(sid_).get(), rel, &rr),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 5")));
  AfterBadRequest(before);
  EXPECT_THAT(Backward(sid_, {5}),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 5")));
  AfterBadRequest(before);
}

TEST_F(BadInput, UnknownSession_IsNotFound) {
  SnapshotBystander();
  const SessionState before = State();
  const std::string ghost = "0123456789abcdef0123456789abcdef";
  pb::TensorsResponse r;
  EXPECT_THAT(Op(ghost, "neg", {1}, {3}, &r),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session '" + ghost + "'")));
  AfterBadRequest(before);
  pb::SessionRequest req;
  req.set_session_id(ghost);
  pb::SessionInfo info;
  EXPECT_THAT(stub_->DescribeSession(Ctx(ghost).get(), req, &info),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session")));
  pb::KeepAliveResponse ka;
  EXPECT_THAT(stub_->KeepAlive(Ctx(ghost).get(), req, &ka),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session")));
  EXPECT_THAT(stub_->CloseSession(Ctx(ghost).get(), req, &info),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session")));
  AfterBadRequest(before);
  // No session id at all.
  EXPECT_THAT(Op("", "neg", {1}, {3}, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("session_id is required")));
  AfterBadRequest(before);
  pb::ServerInfoResponse si;
  ASSERT_TRUE(stub_->ServerInfo(Ctx().get(), pb::ServerInfoRequest(), &si).ok());
  EXPECT_EQ(si.sessions(), 2);
}

TEST_F(BadInput, ClosedSession_IsNotFound) {
  SnapshotBystander();
  const SessionState before = State();
  const std::string doomed = NewSessionTtl(60);
  Create(doomed, 1, {1}, {1});
  pb::SessionRequest req;
  req.set_session_id(doomed);
  pb::SessionInfo info;
  ASSERT_TRUE(stub_->CloseSession(Ctx(doomed).get(), req, &info).ok());
  EXPECT_EQ(info.tensors(), 1);
  pb::TensorsResponse r;
  EXPECT_THAT(Op(doomed, "neg", {1}, {2}, &r),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session '" + doomed + "'")));
  AfterBadRequest(before);
  EXPECT_THAT(stub_->CloseSession(Ctx(doomed).get(), req, &info),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session")));
  pb::KeepAliveResponse ka;
  EXPECT_THAT(stub_->KeepAlive(Ctx(doomed).get(), req, &ka),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session")));
  std::string bytes;
  EXPECT_THAT(Download(doomed, 1, &bytes),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session")));
  AfterBadRequest(before);
  pb::ListSessionsResponse list;
  ASSERT_TRUE(stub_->ListSessions(Ctx().get(), pb::ListSessionsRequest(), &list).ok());
  for (const pb::SessionInfo& s : list.sessions()) EXPECT_NE(s.session_id(), doomed);
}

class BadInputShortTtl : public BadInput {
 protected:
  BadInputShortTtl() {
    options_.default_ttl = absl::Milliseconds(150);
    options_.reap_interval = absl::Milliseconds(20);
  }
};

TEST_F(BadInputShortTtl, ExpiredSession_IsNotFound) {
  SnapshotBystander();
  const SessionState before = State();
  const std::string brief = NewSessionTtl(0);  // the server default: 150 ms
  Create(brief, 1, {1}, {1});
  pb::SessionRequest req;
  req.set_session_id(brief);
  pb::SessionInfo info;
  ASSERT_TRUE(stub_->DescribeSession(Ctx(brief).get(), req, &info).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  grpc::Status s;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    s = stub_->DescribeSession(Ctx(brief).get(), req, &info);
  } while (s.ok() && std::chrono::steady_clock::now() < deadline);
  EXPECT_THAT(s, GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session '" + brief + "'")));
  pb::TensorsResponse r;
  EXPECT_THAT(Op(brief, "neg", {1}, {2}, &r),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session")));
  pb::KeepAliveResponse ka;
  EXPECT_THAT(stub_->KeepAlive(Ctx(brief).get(), req, &ka),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session")));
  AfterBadRequest(before);
}

// ---- quotas ------------------------------------------------------------------------------------

class BadInputQuota : public BadInput {
 protected:
  BadInputQuota() { options_.max_session_bytes = 4096; }
};

TEST_F(BadInputQuota, OverSessionByteQuota_IsResourceExhaustedAndChangesNothing) {
  SnapshotBystander();
  pb::CreateSessionRequest creq;
  pb::CreateSessionResponse cresp;
  ASSERT_TRUE(stub_->CreateSession(Ctx().get(), creq, &cresp).ok());
  EXPECT_EQ(cresp.max_bytes(), 4096);
  const SessionState before = State();
  ASSERT_EQ(before.bytes, 24);  // two float32[3]
  // 8192 bytes on top of 24.
  EXPECT_THAT(CreateRaw(sid_, 3, Data(pb::DTYPE_FLOAT32, {2048}, std::string(8192, '\0'))),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     AllOf(HasSubstr("8192 bytes"), HasSubstr("8216 bytes"),
                           HasSubstr("limit of 4096 bytes"))));
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "ones", {64, 32}, 3),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     AllOf(HasSubstr("8192 bytes"), HasSubstr("4096"))));
  AfterBadRequest(before);
  EXPECT_THAT(Upload(sid_, 3, pb::DTYPE_FLOAT64, {1024}, {std::string(8192, '\0')}),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     AllOf(HasSubstr("8192 bytes"), HasSubstr("4096"))));
  AfterBadRequest(before);

  // An op whose result does not fit: 2400 + 24 fit, another 2400 do not.
  Create(sid_, 3, std::vector<float>(600, 1.f), {600});
  const SessionState with_big = State(sid_, {1, 2, 3});
  EXPECT_EQ(with_big.bytes, 2424);
  pb::TensorsResponse r;
  EXPECT_THAT(Op(sid_, "mul", {3, 3}, {4}, &r),
              GrpcIs(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     AllOf(HasSubstr("2400 bytes"), HasSubstr("4824 bytes"),
                           HasSubstr("limit of 4096 bytes"))));
  ExpectSameState(sid_, with_big);
  ExpectStillServes();
  // In a batch: the failing command reports the quota and changes nothing.
  pb::ExecuteRequest batch;
  batch.set_session_id(sid_);
  auto* c = batch.add_commands()->mutable_factory();
  c->set_name("zeros");
  c->add_shape(1024);
  c->set_id(4);
  pb::ExecuteResponse er;
  ASSERT_TRUE(stub_->Execute(Ctx(sid_).get(), batch, &er).ok());
  EXPECT_EQ(er.failed_index(), 0);
  ASSERT_EQ(er.results_size(), 1);
  EXPECT_THAT(er.results(0),
              ResultIs(grpc::StatusCode::RESOURCE_EXHAUSTED, HasSubstr("limit of 4096 bytes")));
  ExpectSameState(sid_, with_big);
  ExpectStillServes();
  // Room is made by releasing, and then the same request fits.
  pb::ReleaseRequest rel;
  rel.set_session_id(sid_);
  rel.add_ids(3);
  pb::ReleaseResponse rr;
  ASSERT_TRUE(stub_->Release(Ctx(sid_).get(), rel, &rr).ok());
  EXPECT_EQ(State().bytes, 24);
  EXPECT_TRUE(Factory(sid_, "zeros", {1000}, 4).ok());
}

// ---- autograd ----------------------------------------------------------------------------------

TEST_F(BadInput, Backward_NonScalarWithoutGradient_IsInvalidArgument) {
  SnapshotBystander();
  MustOp(sid_, "mul", {1, 1}, 3);
  const SessionState before = State(sid_, {1, 2, 3});
  EXPECT_THAT(Backward(sid_, {3}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("grad can be implicitly created only for scalar outputs")));
  AfterBadRequest(before);
  // The graph was not consumed: a correct backward still works.
  Create(sid_, 4, {1, 1, 1}, {3});
  ASSERT_TRUE(Backward(sid_, {3}, {4}).ok());
  EXPECT_THAT(FloatsOf(Get(sid_, 1, true).grad()), ElementsAre(2, 4, 6));
}

TEST_F(BadInput, Backward_GradientOfWrongShape_IsInvalidArgument) {
  SnapshotBystander();
  MustOp(sid_, "mul", {1, 1}, 3);
  Create(sid_, 4, {1, 1}, {2});
  const SessionState before = State(sid_, {1, 2, 3, 4});
  EXPECT_THAT(
      Backward(sid_, {3}, {4}),
      GrpcIs(
          grpc::StatusCode::INVALID_ARGUMENT,
          HasSubstr(
              "Mismatch in shape: grad_output[0] has a shape of torch.Size([2]) and output[0] has "
              "a shape of torch.Size([3])")));
  AfterBadRequest(before);
  // One gradient for two tensors.
  EXPECT_THAT(Backward(sid_, {3, 3}, {4}), GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                                  HasSubstr("got 1 gradients for 2 tensors")));
  AfterBadRequest(before);
}

TEST_F(BadInput, Backward_SecondTime_IsFailedPrecondition) {
  SnapshotBystander();
  MustOp(sid_, "mul", {1, 1}, 3);
  MustOp(sid_, "sum", {3}, 4);
  ASSERT_TRUE(Backward(sid_, {4}).ok());
  const SessionState before = State(sid_, {1, 2, 3, 4});
  EXPECT_EQ(before.values.at(1).grad().data(), FloatBytes({2, 4, 6}));
  EXPECT_THAT(Backward(sid_, {4}),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     HasSubstr("Trying to backward through the graph a second time")));
  AfterBadRequest(before);
  // Backward of a tensor that does not require grad.
  EXPECT_THAT(Backward(sid_, {2}),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     HasSubstr("does not require grad and does not have a grad_fn")));
  AfterBadRequest(before);
}

// ---- output ids --------------------------------------------------------------------------------

TEST_F(BadInput, OutputIdAlreadyInUse_IsAlreadyExists) {
  SnapshotBystander();
  const SessionState before = State();
  const auto in_use = [this](uint64_t id) {
    return GrpcIs(
        grpc::StatusCode::ALREADY_EXISTS,
        HasSubstr("tensor id " + std::to_string(id) + " is already in use in session " + sid_));
  };
  EXPECT_THAT(CreateRaw(sid_, 2, Data(pb::DTYPE_FLOAT32, {1}, FloatBytes({9}))), in_use(2));
  AfterBadRequest(before);
  pb::TensorsResponse r;
  EXPECT_THAT(Op(sid_, "neg", {1}, {2}, &r), in_use(2));
  AfterBadRequest(before);
  EXPECT_THAT(Op(sid_, "mul", {1, 1}, {1}, &r), in_use(1));  // even its own input
  AfterBadRequest(before);
  EXPECT_THAT(Factory(sid_, "ones", {3}, 1), in_use(1));
  AfterBadRequest(before);
  EXPECT_THAT(Upload(sid_, 2, pb::DTYPE_FLOAT32, {1}, {FloatBytes({9})}), in_use(2));
  AfterBadRequest(before);
  pb::AliasRequest alias;
  alias.set_session_id(sid_);
  alias.set_id(1);
  alias.set_out(2);
  EXPECT_THAT(stub_->Detach(Ctx(sid_).get(), alias, &r), in_use(2));
  AfterBadRequest(before);
  // Grad's result ids: checked before anything is computed.
  MustOp(sid_, "sum", {1}, 3);
  const SessionState with_sum = State(sid_, {1, 2, 3});
  pb::GradRequest g;
  g.set_session_id(sid_);
  g.add_outputs(3);
  g.add_inputs(1);
  g.add_results(2);
  pb::GradResponse gr;
  EXPECT_THAT(stub_->Grad(Ctx(sid_).get(), g, &gr), in_use(2));
  ExpectSameState(sid_, with_sum);
  ExpectStillServes();
  // Two outputs with the same id.
  EXPECT_THAT(Op(sid_, "unbind", {2}, {7, 7}, &r),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("output id 7 given twice")));
  ExpectSameState(sid_, with_sum);
}

TEST_F(BadInput, OutputIdAtOrAbove2Pow62_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  for (uint64_t id : {kServerIdBit, kServerIdBit + 1, std::numeric_limits<uint64_t>::max()}) {
    SCOPED_TRACE(id);
    const auto not_client = GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                                   HasSubstr("tensor id " + std::to_string(id) +
                                             " is not a client id (ids must be below 2^62)"));
    EXPECT_THAT(CreateRaw(sid_, id, Data(pb::DTYPE_FLOAT32, {1}, FloatBytes({9}))), not_client);
    AfterBadRequest(before);
    pb::TensorsResponse r;
    EXPECT_THAT(Op(sid_, "neg", {1}, {id}, &r), not_client);
    AfterBadRequest(before);
    EXPECT_THAT(Factory(sid_, "zeros", {1}, id), not_client);
    AfterBadRequest(before);
    EXPECT_THAT(Upload(sid_, id, pb::DTYPE_FLOAT32, {1}, {FloatBytes({9})}), not_client);
    AfterBadRequest(before);
  }
  // 2^62 - 1 is the largest client id.
  pb::TensorsResponse ok;
  ASSERT_TRUE(
      CreateRaw(sid_, kServerIdBit - 1, Data(pb::DTYPE_FLOAT32, {1}, FloatBytes({9})), &ok).ok());
  EXPECT_EQ(ok.tensors(0).id(), kServerIdBit - 1);
}

// ---- metadata ----------------------------------------------------------------------------------

TEST_F(BadInput, SessionMetadataDisagreeingWithBody_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  const auto mismatch =
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
             AllOf(HasSubstr("x-tensord-session '" + bystander_ + "'"),
                   HasSubstr("does not match the request's session_id '" + sid_ + "'")));
  pb::ApplyOpRequest op;
  op.set_session_id(sid_);
  op.set_op("neg");
  op.add_inputs(1);
  op.add_outputs(3);
  pb::TensorsResponse r;
  EXPECT_THAT(stub_->ApplyOp(Ctx(bystander_).get(), op, &r), mismatch);
  AfterBadRequest(before);
  pb::ExecuteRequest batch;
  batch.set_session_id(sid_);
  *batch.add_commands()->mutable_apply_op() = op;
  pb::ExecuteResponse er;
  EXPECT_THAT(stub_->Execute(Ctx(bystander_).get(), batch, &er), mismatch);
  AfterBadRequest(before);
  {
    auto ctx = Ctx(bystander_);
    auto stream = stub_->Stream(ctx.get());
    pb::StreamRequest first;
    first.set_session_id(sid_);
    stream->Write(first);
    pb::StreamRequest cmd;
    *cmd.mutable_command()->mutable_apply_op() = op;
    stream->Write(cmd);
    stream->WritesDone();
    pb::CommandResult ignored;
    while (stream->Read(&ignored)) {
    }
    EXPECT_THAT(stream->Finish(), mismatch);
  }
  AfterBadRequest(before);
  std::string bytes;
  {
    pb::DownloadRequest req;
    req.set_session_id(sid_);
    req.set_id(1);
    auto ctx = Ctx(bystander_);
    auto reader = stub_->Download(ctx.get(), req);
    pb::DownloadChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    EXPECT_THAT(reader->Finish(), mismatch);
  }
  AfterBadRequest(before);
  // A command of a batch naming another session than the batch's.
  batch.mutable_commands(0)->mutable_apply_op()->set_session_id(bystander_);
  ASSERT_TRUE(stub_->Execute(Ctx(sid_).get(), batch, &er).ok());
  EXPECT_EQ(er.failed_index(), 0);
  ASSERT_EQ(er.results_size(), 1);
  EXPECT_THAT(er.results(0), ResultIs(grpc::StatusCode::INVALID_ARGUMENT,
                                      HasSubstr("command names session '" + bystander_ + "'")));
  AfterBadRequest(before);
}

// ---- batches and streams -----------------------------------------------------------------------

TEST_F(BadInput, Execute_FailingMiddleCommand_KeepsEarlierSkipsLaterChangesNothing) {
  SnapshotBystander();
  pb::ExecuteRequest batch;
  batch.set_session_id(sid_);
  auto* c0 = batch.add_commands();
  c0->set_tag(100);
  auto* create = c0->mutable_create_tensor();
  create->set_id(10);
  *create->mutable_data() = Floats({1, 2}, {2});
  auto* c1 = batch.add_commands();
  c1->set_tag(101);
  auto* add = c1->mutable_apply_op();
  add->set_op("add");
  add->add_inputs(10);
  add->add_inputs(10);
  add->add_outputs(11);
  // Fails: releases 10 and 2 only if 99 exists too, and it does not.
  auto* c2 = batch.add_commands();
  c2->set_tag(102);
  c2->mutable_release()->add_ids(10);
  c2->mutable_release()->add_ids(2);
  c2->mutable_release()->add_ids(99);
  auto* c3 = batch.add_commands();
  c3->set_tag(103);
  auto* later = c3->mutable_apply_op();
  later->set_op("neg");
  later->add_inputs(11);
  later->add_outputs(12);
  pb::ExecuteResponse er;
  ASSERT_TRUE(stub_->Execute(Ctx(sid_).get(), batch, &er).ok());
  EXPECT_EQ(er.failed_index(), 2);
  ASSERT_EQ(er.results_size(), 3);
  EXPECT_EQ(er.results(0).tag(), 100u);
  EXPECT_EQ(er.results(0).code(), 0);
  EXPECT_EQ(er.results(1).tag(), 101u);
  EXPECT_EQ(er.results(1).code(), 0);
  EXPECT_EQ(er.results(2).tag(), 102u);
  EXPECT_THAT(er.results(2),
              ResultIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 99")));
  EXPECT_FALSE(er.results(2).has_release());
  // Earlier results kept, the failing release released nothing, the later command did not run.
  EXPECT_THAT(FloatsOf(Get(sid_, 10).value()), ElementsAre(1, 2));
  EXPECT_THAT(FloatsOf(Get(sid_, 11).value()), ElementsAre(2, 4));
  EXPECT_THAT(FloatsOf(Get(sid_, 2).value()), ElementsAre(4, 5, 6));
  EXPECT_THAT(GetInfo(sid_, 12),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 12")));
  EXPECT_EQ(State().tensors, 4);
  ExpectStillServes();
  ExpectSameState(bystander_, bystander_before_);
  // An empty command fails the same way.
  pb::ExecuteRequest empty;
  empty.set_session_id(sid_);
  empty.add_commands()->set_tag(7);
  const SessionState before = State(sid_, {1, 2, 10, 11});
  ASSERT_TRUE(stub_->Execute(Ctx(sid_).get(), empty, &er).ok());
  EXPECT_EQ(er.failed_index(), 0);
  ASSERT_EQ(er.results_size(), 1);
  EXPECT_EQ(er.results(0).tag(), 7u);
  EXPECT_THAT(er.results(0),
              ResultIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("empty command")));
  AfterBadRequest(before);
}

TEST_F(BadInput, Stream_FailingCommandDoesNotEndTheStream) {
  SnapshotBystander();
  auto ctx = Ctx(sid_);
  auto stream = stub_->Stream(ctx.get());
  pb::StreamRequest first;
  first.set_session_id(sid_);
  ASSERT_TRUE(stream->Write(first));
  const auto send_op = [&](uint64_t tag, const std::string& op, std::vector<uint64_t> in,
                           uint64_t out) {
    pb::StreamRequest req;
    req.mutable_command()->set_tag(tag);
    auto* a = req.mutable_command()->mutable_apply_op();
    a->set_op(op);
    for (uint64_t i : in) a->add_inputs(i);
    a->add_outputs(out);
    return stream->Write(req);
  };
  ASSERT_TRUE(send_op(1, "neg", {2}, 3));
  ASSERT_TRUE(send_op(2, "frobnicate", {2}, 4));  // NOT_FOUND
  ASSERT_TRUE(send_op(3, "neg", {2}, 3));         // ALREADY_EXISTS (3 was made by tag 1)
  ASSERT_TRUE(send_op(4, "add", {3, 2}, 5));      // still runs
  ASSERT_TRUE(stream->WritesDone());
  std::vector<pb::CommandResult> results;
  pb::CommandResult r;
  while (stream->Read(&r)) results.push_back(r);
  grpc::Status fin = stream->Finish();
  EXPECT_TRUE(fin.ok()) << fin.error_message();
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].tag(), 1u);
  EXPECT_EQ(results[0].code(), 0) << results[0].message();
  EXPECT_EQ(results[1].tag(), 2u);
  EXPECT_THAT(results[1],
              ResultIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown op 'frobnicate'")));
  EXPECT_EQ(results[2].tag(), 3u);
  EXPECT_THAT(results[2], ResultIs(grpc::StatusCode::ALREADY_EXISTS,
                                   HasSubstr("tensor id 3 is already in use")));
  EXPECT_EQ(results[3].tag(), 4u);
  EXPECT_EQ(results[3].code(), 0) << results[3].message();
  EXPECT_THAT(FloatsOf(Get(sid_, 3).value()), ElementsAre(-4, -5, -6));
  EXPECT_THAT(FloatsOf(Get(sid_, 5).value()), ElementsAre(0, 0, 0));
  EXPECT_THAT(GetInfo(sid_, 4),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 4")));
  ExpectStillServes();
  ExpectSameState(bystander_, bystander_before_);
}

TEST_F(BadInput, Stream_UnknownSession_EndsWithNotFound) {
  SnapshotBystander();
  const SessionState before = State();
  auto ctx = Ctx("nope");
  auto stream = stub_->Stream(ctx.get());
  pb::StreamRequest first;
  first.set_session_id("nope");
  stream->Write(first);
  stream->WritesDone();
  pb::CommandResult r;
  EXPECT_FALSE(stream->Read(&r));
  EXPECT_THAT(stream->Finish(),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown session 'nope'")));
  AfterBadRequest(before);
}

TEST_F(BadInput, Stream_MessageNamingAnotherSession_EndsTheStreamWithInvalidArgument) {
  SnapshotBystander();
  auto ctx = Ctx(sid_);
  auto stream = stub_->Stream(ctx.get());
  pb::StreamRequest first;
  first.set_session_id(sid_);
  auto* neg = first.mutable_command()->mutable_apply_op();
  neg->set_op("neg");
  neg->add_inputs(2);
  neg->add_outputs(3);
  first.mutable_command()->set_tag(1);
  ASSERT_TRUE(stream->Write(first));
  // Wait for the first result, so the switch is not racing it.
  pb::CommandResult r;
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.tag(), 1u);
  EXPECT_EQ(r.code(), 0) << r.message();
  const SessionState before = State(sid_, {1, 2, 3});
  pb::StreamRequest other;
  other.set_session_id(bystander_);
  auto* add = other.mutable_command()->mutable_apply_op();
  add->set_op("add");
  add->add_inputs(1);
  add->add_inputs(1);
  add->add_outputs(9);
  other.mutable_command()->set_tag(2);
  stream->Write(other);
  stream->WritesDone();
  int more = 0;
  while (stream->Read(&r)) ++more;
  EXPECT_EQ(more, 0) << "the command naming another session ran";
  EXPECT_THAT(stream->Finish(),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("a stream serves one session")));
  EXPECT_THAT(GetInfo(bystander_, 9),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 9")));
  AfterBadRequest(before);
}

// ---- chunked transfer --------------------------------------------------------------------------

TEST_F(BadInput, Upload_TooFewBytes_IsInvalidArgumentAndBindsNothing) {
  SnapshotBystander();
  const SessionState before = State();
  EXPECT_THAT(
      Upload(sid_, 3, pb::DTYPE_FLOAT32, {4}, {FloatBytes({1}), FloatBytes({2})}),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("upload ended after 8 of 16 bytes")));
  EXPECT_THAT(GetInfo(sid_, 3),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 3")));
  AfterBadRequest(before);
  // The header alone.
  EXPECT_THAT(
      Upload(sid_, 3, pb::DTYPE_FLOAT32, {4}, {}),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("upload ended after 0 of 16 bytes")));
  AfterBadRequest(before);
  // Nothing at all.
  {
    auto ctx = Ctx(sid_);
    pb::TensorsResponse resp;
    auto writer = stub_->Upload(ctx.get(), &resp);
    writer->WritesDone();
    EXPECT_THAT(writer->Finish(),
                GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("empty upload")));
  }
  AfterBadRequest(before);
}

TEST_F(BadInput, Upload_TooManyBytes_IsInvalidArgumentAndBindsNothing) {
  SnapshotBystander();
  const SessionState before = State();
  EXPECT_THAT(Upload(sid_, 3, pb::DTYPE_FLOAT32, {2}, {FloatBytes({1, 2}), FloatBytes({3})}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("upload sent more than the tensor's 8 bytes")));
  EXPECT_THAT(GetInfo(sid_, 3),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 3")));
  AfterBadRequest(before);
  EXPECT_THAT(Upload(sid_, 3, pb::DTYPE_FLOAT32, {2}, {FloatBytes({1, 2, 3})}),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("upload sent more than the tensor's 8 bytes")));
  AfterBadRequest(before);
  // And a correct one afterwards works.
  pb::TensorsResponse ok;
  ASSERT_TRUE(
      Upload(sid_, 3, pb::DTYPE_FLOAT32, {2}, {FloatBytes({1}), FloatBytes({2})}, &ok).ok());
  EXPECT_THAT(FloatsOf(Get(sid_, 3).value()), ElementsAre(1, 2));
}

TEST_F(BadInput, Download_UnknownHandle_IsNotFound) {
  SnapshotBystander();
  const SessionState before = State();
  std::string bytes;
  EXPECT_THAT(Download(sid_, 99, &bytes),
              GrpcIs(grpc::StatusCode::NOT_FOUND,
                     HasSubstr("unknown tensor handle 99 in session " + sid_)));
  EXPECT_TRUE(bytes.empty());
  AfterBadRequest(before);
  EXPECT_THAT(Download(sid_, 5, &bytes),
              GrpcIs(grpc::StatusCode::NOT_FOUND, HasSubstr("unknown tensor handle 5")));
  AfterBadRequest(before);
  // A grad that is None.
  EXPECT_THAT(Download(sid_, 1, &bytes, /*grad=*/true),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, HasSubstr("tensor 1 has no .grad")));
  AfterBadRequest(before);
}

class BadInputSmallMessages : public BadInput {
 protected:
  BadInputSmallMessages() { options_.max_message_bytes = 64 << 10; }
};

TEST_F(BadInputSmallMessages,
       GetTensor_BiggerThanMaxMessage_IsFailedPreconditionSayingUseDownload) {
  SnapshotBystander();
  ASSERT_TRUE(Factory(sid_, "ones", {32768}, 3).ok());  // 128 KiB
  const SessionState before = State();
  pb::GetTensorRequest req;
  req.set_session_id(sid_);
  req.set_id(3);
  pb::GetTensorResponse resp;
  EXPECT_THAT(stub_->GetTensor(Ctx(sid_).get(), req, &resp),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION,
                     AllOf(HasSubstr("tensor 3 has 131072 bytes"), HasSubstr("65536"),
                           HasSubstr("use Download"))));
  AfterBadRequest(before);
  // Download does carry it.
  std::string bytes;
  ASSERT_TRUE(Download(sid_, 3, &bytes).ok());
  ASSERT_EQ(bytes.size(), 131072u);
  EXPECT_EQ(bytes.substr(0, 8), FloatBytes({1, 1}));
}

// The size check must count the grad that include_grad adds: value and grad each fit, together
// they do not.
TEST_F(BadInputSmallMessages,
       GetTensor_ValuePlusGradOverMaxMessage_IsFailedPreconditionSayingUseDownload) {
  SnapshotBystander();
  ASSERT_TRUE(Factory(sid_, "ones", {10240}, 3, {}, pb::DTYPE_FLOAT32).ok());  // 40 KiB
  pb::SetRequiresGradRequest rg;
  rg.set_session_id(sid_);
  rg.set_id(3);
  rg.set_requires_grad(true);
  pb::TensorsResponse r;
  ASSERT_TRUE(stub_->SetRequiresGrad(Ctx(sid_).get(), rg, &r).ok());
  MustOp(sid_, "sum", {3}, 4);
  ASSERT_TRUE(Backward(sid_, {4}).ok());
  const SessionState before = State();
  pb::GetTensorRequest req;
  req.set_session_id(sid_);
  req.set_id(3);
  req.set_include_grad(true);
  pb::GetTensorResponse resp;
  EXPECT_THAT(stub_->GetTensor(Ctx(sid_).get(), req, &resp),
              GrpcIs(grpc::StatusCode::FAILED_PRECONDITION, HasSubstr("use Download")));
  AfterBadRequest(before);
  req.set_include_grad(false);
  EXPECT_TRUE(stub_->GetTensor(Ctx(sid_).get(), req, &resp).ok());
}

// A batch whose results together exceed the message limit must still be answered: today the
// commands run, then the reply cannot be sent and the client gets a transport error for a batch
// that changed the session. The batch should stop at the command whose result does not fit.
TEST_F(BadInputSmallMessages, Execute_ResultsOverMaxMessage_StopsAtTheCommandThatDoesNotFit) {
  SnapshotBystander();
  ASSERT_TRUE(Factory(sid_, "ones", {10240}, 3).ok());  // 40 KiB: one fits, two do not
  pb::ExecuteRequest batch;
  batch.set_session_id(sid_);
  auto* create = batch.add_commands()->mutable_create_tensor();
  create->set_id(20);
  *create->mutable_data() = Floats({1}, {1});
  for (int i = 0; i < 2; ++i) batch.add_commands()->mutable_get_tensor()->set_id(3);
  pb::ExecuteResponse er;
  grpc::Status s = stub_->Execute(Ctx(sid_).get(), batch, &er);
  ASSERT_TRUE(s.ok()) << "the batch's reply was lost (" << static_cast<int>(s.error_code()) << ": "
                      << s.error_message() << ") although its commands ran";
  EXPECT_EQ(er.failed_index(), 2);
  ASSERT_EQ(er.results_size(), 3);
  EXPECT_THAT(er.results(2),
              ResultIs(grpc::StatusCode::FAILED_PRECONDITION, HasSubstr("use Download")));
  EXPECT_TRUE(GetInfo(sid_, 20).ok());
  ExpectStillServes();
}

// ---- sessions ----------------------------------------------------------------------------------

TEST_F(BadInput, CreateSession_DefaultDtypeInt64_IsInvalidArgument) {
  SnapshotBystander();
  const SessionState before = State();
  pb::CreateSessionRequest req;
  req.set_default_dtype(pb::DTYPE_INT64);
  pb::CreateSessionResponse resp;
  EXPECT_THAT(stub_->CreateSession(Ctx().get(), req, &resp),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT,
                     HasSubstr("only floating-point types are supported as the default type")));
  EXPECT_TRUE(resp.session_id().empty());
  AfterBadRequest(before);
  req.set_default_dtype(pb::DTYPE_BOOL);
  EXPECT_THAT(stub_->CreateSession(Ctx().get(), req, &resp),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("only floating-point types")));
  req.set_default_dtype(static_cast<pb::DType>(42));
  EXPECT_THAT(stub_->CreateSession(Ctx().get(), req, &resp),
              GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("unknown dtype value 42")));
  req.set_default_dtype(pb::DTYPE_FLOAT64);
  req.set_ttl_seconds(-1);
  EXPECT_THAT(
      stub_->CreateSession(Ctx().get(), req, &resp),
      GrpcIs(grpc::StatusCode::INVALID_ARGUMENT, HasSubstr("ttl_seconds must not be negative")));
  AfterBadRequest(before);
  // None of them created a session.
  pb::ListSessionsResponse list;
  ASSERT_TRUE(stub_->ListSessions(Ctx().get(), pb::ListSessionsRequest(), &list).ok());
  EXPECT_EQ(list.sessions_size(), 2);
  // float64 is a valid default.
  req.set_ttl_seconds(0);
  ASSERT_TRUE(stub_->CreateSession(Ctx().get(), req, &resp).ok());
  ASSERT_TRUE(Factory(resp.session_id(), "zeros", {2}, 1).ok());
  pb::GetTensorResponse z = Get(resp.session_id(), 1);
  EXPECT_EQ(z.value().dtype(), pb::DTYPE_FLOAT64);
}

}  // namespace
}  // namespace tensord::testing
