// Session lifecycle: idle sessions expire after their TTL and give their memory back; KeepAlive
// and commands keep a session alive; TTLs are capped; closing frees at once.
#include <chrono>
#include <thread>

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

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int64_t kMiB = 1 << 20;

class Lifecycle : public ServerTest {
 protected:
  Lifecycle() {
    spdlog::set_level(spdlog::level::warn);
    options_.default_ttl = absl::Milliseconds(300);
    options_.reap_interval = absl::Milliseconds(50);
    options_.max_ttl = absl::Seconds(2);
  }

  pb::ServerInfoResponse Info() {
    pb::ServerInfoResponse si;
    grpc::Status s = stub_->ServerInfo(Ctx().get(), pb::ServerInfoRequest(), &si);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return si;
  }

  grpc::Status Describe(const std::string& sid, pb::SessionInfo* info = nullptr) {
    pb::SessionRequest req;
    req.set_session_id(sid);
    pb::SessionInfo ignored;
    return stub_->DescribeSession(Ctx(sid).get(), req, info ? info : &ignored);
  }

  grpc::Status KeepAlive(const std::string& sid, pb::KeepAliveResponse* resp = nullptr) {
    pb::SessionRequest req;
    req.set_session_id(sid);
    pb::KeepAliveResponse ignored;
    return stub_->KeepAlive(Ctx(sid).get(), req, resp ? resp : &ignored);
  }

  // A session (default TTL) holding one 1 MiB float32 tensor as handle 1.
  std::string SessionWith1MiB() {
    const std::string sid = NewSession();
    std::vector<float> v(kMiB / 4);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 1000);
    Create(sid, 1, v, {static_cast<int64_t>(v.size())});
    return sid;
  }

  // Waits (polling ServerInfo, which does not touch sessions) until the server holds `sessions`
  // sessions or `limit` passes; returns how long it took.
  milliseconds WaitForSessionCount(int64_t sessions, milliseconds limit) {
    const auto start = Clock::now();
    while (Info().sessions() != sessions && Clock::now() - start < limit) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  }
};

TEST_F(Lifecycle, IdleSession_ExpiresAfterItsTtlAndFreesItsMemory) {
  const std::string sid = SessionWith1MiB();
  const auto idle_since = Clock::now();
  pb::ServerInfoResponse si = Info();
  EXPECT_EQ(si.sessions(), 1);
  EXPECT_EQ(si.tensors(), 1);
  EXPECT_EQ(si.bytes(), kMiB);
  EXPECT_EQ(si.sessions_expired(), 0);
  pb::SessionInfo info;
  ASSERT_TRUE(Describe(sid, &info).ok());
  EXPECT_EQ(info.bytes(), kMiB);

  WaitForSessionCount(0, milliseconds(2000));
  const auto idle = std::chrono::duration_cast<milliseconds>(Clock::now() - idle_since);
  EXPECT_GE(idle.count(), 250) << "expired before its 300 ms TTL";
  EXPECT_LE(idle.count(), 2000) << "not reaped within 2 s of a 300 ms TTL (reaper every 50 ms)";

  EXPECT_THAT(Describe(sid),
              ::testing::Property(&grpc::Status::error_code, grpc::StatusCode::NOT_FOUND));
  EXPECT_THAT(Describe(sid).error_message(), HasSubstr("unknown session '" + sid + "'"));
  EXPECT_EQ(KeepAlive(sid).error_code(), grpc::StatusCode::NOT_FOUND);
  pb::TensorsResponse r;
  EXPECT_EQ(Op(sid, "neg", {1}, {2}, &r).error_code(), grpc::StatusCode::NOT_FOUND);
  si = Info();
  EXPECT_EQ(si.sessions(), 0);
  EXPECT_EQ(si.tensors(), 0);
  EXPECT_EQ(si.bytes(), 0);
  EXPECT_EQ(si.sessions_expired(), 1);
  pb::ListSessionsResponse list;
  ASSERT_TRUE(stub_->ListSessions(Ctx().get(), pb::ListSessionsRequest(), &list).ok());
  EXPECT_EQ(list.sessions_size(), 0);
  // The server goes on serving new sessions.
  const std::string next = NewSession();
  Create(next, 1, {1, 2}, {2});
  EXPECT_THAT(FloatsOf(Get(next, MustOp(next, "neg", {1}, 2).id()).value()), ElementsAre(-1, -2));
}

TEST_F(Lifecycle, KeepAlive_ExtendsAnIdleSession) {
  const std::string sid = SessionWith1MiB();
  const std::string unkept = NewSession();
  // 600 ms -- twice the TTL -- of KeepAlive every 100 ms.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    pb::KeepAliveResponse ka;
    grpc::Status s = KeepAlive(sid, &ka);
    ASSERT_TRUE(s.ok()) << "after " << (i + 1) * 100 << " ms: " << s.error_message();
    EXPECT_GE(ka.expires_in_seconds(), 0);
  }
  pb::SessionInfo info;
  ASSERT_TRUE(Describe(sid, &info).ok());
  EXPECT_EQ(info.tensors(), 1);
  EXPECT_EQ(info.bytes(), kMiB);
  EXPECT_EQ(Get(sid, 1).value().data().size(), static_cast<size_t>(kMiB));
  // The session that was not kept alive is gone.
  EXPECT_EQ(Describe(unkept).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Info().sessions_expired(), 1);
  // Once KeepAlive stops, it expires too.
  WaitForSessionCount(0, milliseconds(2000));
  EXPECT_EQ(Describe(sid).error_code(), grpc::StatusCode::NOT_FOUND);
  pb::ServerInfoResponse si = Info();
  EXPECT_EQ(si.bytes(), 0);
  EXPECT_EQ(si.sessions_expired(), 2);
}

TEST_F(Lifecycle, Commands_KeepASessionAlive) {
  const std::string sid = NewSession();
  Create(sid, 1, {1}, {1});
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    pb::TensorsResponse r;
    grpc::Status s = Op(sid, "add", {1, 1}, {}, &r);
    ASSERT_TRUE(s.ok()) << "after " << (i + 1) * 100 << " ms: " << s.error_message();
  }
  pb::SessionInfo info;
  ASSERT_TRUE(Describe(sid, &info).ok());
  EXPECT_EQ(info.tensors(), 7);
  EXPECT_EQ(Info().sessions_expired(), 0);
}

// session.h: SessionManager::Get is "NOT_FOUND for unknown, closed or expired sessions". A session
// idle past its TTL is expired whether or not the reaper has run yet.
class LifecycleSlowReaper : public Lifecycle {
 protected:
  LifecycleSlowReaper() { options_.reap_interval = absl::Seconds(30); }
};

TEST_F(LifecycleSlowReaper, IdlePastTtl_IsNotFoundEvenBeforeTheReaperRuns) {
  const std::string sid = NewSession();
  Create(sid, 1, {1, 2}, {2});
  std::this_thread::sleep_for(milliseconds(450));  // 1.5 x the 300 ms TTL
  EXPECT_EQ(Describe(sid).error_code(), grpc::StatusCode::NOT_FOUND);
  pb::TensorsResponse r;
  grpc::Status s = Op(sid, "neg", {1}, {2}, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND)
      << "an expired session still ran a command";
  EXPECT_THAT(s.error_message(), HasSubstr("unknown session"));
}

TEST_F(Lifecycle, RequestedTtl_IsCappedByTheServerMaximum) {
  pb::CreateSessionRequest req;
  req.set_ttl_seconds(3600);
  pb::CreateSessionResponse resp;
  ASSERT_TRUE(stub_->CreateSession(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.ttl_seconds(), 2);
  pb::KeepAliveResponse ka;
  ASSERT_TRUE(KeepAlive(resp.session_id(), &ka).ok());
  EXPECT_EQ(ka.expires_in_seconds(), 2);
  pb::SessionInfo info;
  ASSERT_TRUE(Describe(resp.session_id(), &info).ok());
  EXPECT_EQ(info.ttl_seconds(), 2);
  // A TTL of its own (1 s) outlives the 300 ms default.
  req.set_ttl_seconds(1);
  ASSERT_TRUE(stub_->CreateSession(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.ttl_seconds(), 1);
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_TRUE(Describe(resp.session_id()).ok());
}

TEST_F(Lifecycle, CloseSession_FreesAtOnceAndIsNotCountedAsExpired) {
  const std::string sid = SessionWith1MiB();
  EXPECT_EQ(Info().bytes(), kMiB);
  pb::SessionRequest req;
  req.set_session_id(sid);
  pb::SessionInfo last;
  ASSERT_TRUE(stub_->CloseSession(Ctx(sid).get(), req, &last).ok());
  EXPECT_EQ(last.session_id(), sid);
  EXPECT_EQ(last.tensors(), 1);
  EXPECT_EQ(last.bytes(), kMiB);
  pb::ServerInfoResponse si = Info();
  EXPECT_EQ(si.sessions(), 0);
  EXPECT_EQ(si.bytes(), 0);
  EXPECT_EQ(si.sessions_expired(), 0);
  EXPECT_EQ(Describe(sid).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace tensord::testing
