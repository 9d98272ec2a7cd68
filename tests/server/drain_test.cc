// The real tensord binary as a subprocess: SIGTERM drains in-flight calls and exits 0 within the
// drain deadline; --help; startup failures exit cleanly.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tensord/v1/tensord.grpc.pb.h"
#include "tests/server/tensord_process.h"
#include "tests/support/test_util.h"

#ifndef TENSORD_BINARY
#error "TENSORD_BINARY (the path of the tensord binary) must be defined by the build"
#endif

namespace tensord::testing {
namespace {

namespace pb = ::tensord::v1;
namespace health = ::grpc::health::v1;
using process_test::Clock;
using process_test::FreePort;
using process_test::Joiner;
using process_test::ReadAll;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

class Drain : public process_test::TensordProcessTest {
 protected:
  // A session with two n x n float32 matrices, handles 1 and 2.
  std::string MatrixSession(int64_t n) {
    pb::CreateSessionRequest req;
    req.set_seed(3);
    pb::CreateSessionResponse resp;
    grpc::Status s = stub_->CreateSession(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (uint64_t id : {1, 2}) {
      pb::FactoryRequest f;
      f.set_session_id(resp.session_id());
      f.set_id(id);
      f.set_name("randn");
      f.add_shape(n);
      f.add_shape(n);
      pb::TensorsResponse r;
      s = stub_->Factory(Ctx(resp.session_id()).get(), f, &r);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp.session_id();
  }

  // k x (out = mm(1, 2); release out).
  static pb::ExecuteRequest MatmulBatch(const std::string& sid, int k) {
    pb::ExecuteRequest batch;
    batch.set_session_id(sid);
    for (int i = 0; i < k; ++i) {
      auto* mm = batch.add_commands()->mutable_apply_op();
      mm->set_op("mm");
      mm->add_inputs(1);
      mm->add_inputs(2);
      mm->add_outputs(10);
      batch.add_commands()->mutable_release()->add_ids(10);
    }
    return batch;
  }

  // How many matmul pairs make a batch of about `target` (at least: the fastest of three probes
  // sets the rate, so a busy machine makes the batch longer, not shorter).
  int CalibrateBatch(const std::string& sid, milliseconds target) {
    constexpr int kProbe = 32;
    pb::ExecuteRequest probe = MatmulBatch(sid, kProbe);
    pb::ExecuteResponse resp;
    stub_->Execute(Ctx(sid).get(), probe, &resp);  // warm-up
    double per = 1e9;
    for (int i = 0; i < 3; ++i) {
      const auto t0 = Clock::now();
      grpc::Status s = stub_->Execute(Ctx(sid).get(), probe, &resp);
      EXPECT_TRUE(s.ok() && resp.failed_index() == -1) << s.error_message();
      per = std::min(per,
                     std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / kProbe);
    }
    return std::clamp(static_cast<int>(std::ceil(target.count() / std::max(per, 0.01))), kProbe,
                      50000);
  }

  uint64_t CommandsServed() {
    pb::ServerInfoResponse si;
    grpc::Status s =
        stub_->ServerInfo(Ctx("", milliseconds(1000)).get(), pb::ServerInfoRequest(), &si);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return si.commands_served();
  }
};

TEST_F(Drain, Sigterm_DuringInFlightCall_DrainsItAndExitsZero) {
  StartServer({"--drain_timeout", "5s", "--workers", "2"});
  ASSERT_FALSE(HasFatalFailure());
  const std::string sid = MatrixSession(256);
  const int k = CalibrateBatch(sid, milliseconds(800));
  const pb::ExecuteRequest batch = MatmulBatch(sid, k);

  // The in-flight call.
  grpc::Status call_status;
  pb::ExecuteResponse call_resp;
  std::atomic<bool> call_done{false};
  Clock::time_point call_done_at;
  const uint64_t served_before = CommandsServed();
  std::thread caller([&] {
    call_status = stub_->Execute(Ctx(sid).get(), batch, &call_resp);
    call_done_at = Clock::now();
    call_done = true;
  });
  Joiner joiner{caller};
  // Wait until the server is running the batch's commands.
  const auto start_deadline = Clock::now() + std::chrono::seconds(5);
  while (CommandsServed() == served_before && Clock::now() < start_deadline)
    std::this_thread::sleep_for(milliseconds(5));
  ASSERT_FALSE(call_done) << "the batch finished before SIGTERM could be sent; make it longer";

  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  const auto term_at = Clock::now();

  // Health turns NOT_SERVING, or new calls are refused, while the call is still being drained.
  // Readiness (the service's name) turns NOT_SERVING too.
  bool not_serving_seen = false;
  bool ready_not_serving_seen = false;
  bool refused_seen = false;
  while (!call_done && Clock::now() - term_at < std::chrono::seconds(5) &&
         !(not_serving_seen && ready_not_serving_seen && refused_seen)) {
    health::HealthCheckResponse h;
    grpc::Status hs = Check(&h);
    if (!hs.ok() || h.status() == health::HealthCheckResponse::NOT_SERVING) not_serving_seen = true;
    if (!hs.ok()) refused_seen = true;
    hs = Check(&h, "tensord.v1.Tensord");
    if (!hs.ok() || h.status() == health::HealthCheckResponse::NOT_SERVING)
      ready_not_serving_seen = true;
    pb::ServerInfoResponse si;
    if (!stub_->ServerInfo(Ctx("", milliseconds(500)).get(), pb::ServerInfoRequest(), &si).ok())
      refused_seen = true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  const bool drained_after_signals = !call_done;
  caller.join();
  EXPECT_TRUE(not_serving_seen) << "health never turned NOT_SERVING while the call was draining";
  EXPECT_TRUE(ready_not_serving_seen)
      << "readiness (tensord.v1.Tensord) never turned NOT_SERVING while the call was draining";
  EXPECT_TRUE(refused_seen) << "the server kept accepting new calls while draining";
  EXPECT_TRUE(drained_after_signals)
      << "the in-flight call ended before the draining server was observed";

  // The in-flight call completed, every command of it.
  EXPECT_TRUE(call_status.ok()) << static_cast<int>(call_status.error_code()) << ": "
                                << call_status.error_message();
  EXPECT_EQ(call_resp.failed_index(), -1);
  EXPECT_EQ(call_resp.results_size(), batch.commands_size());
  for (const pb::CommandResult& r : call_resp.results()) {
    if (r.code() != 0) {
      ADD_FAILURE() << "command " << r.tag() << ": " << r.message();
      break;
    }
  }
  EXPECT_GT(call_done_at, term_at);
  // This client is done: it closes its connection (an idle open connection holds the shutdown
  // up by itself; see Sigterm_WithIdleClientConnected_ExitsZeroPromptly).
  stub_.reset();
  health_.reset();
  channel_.reset();

  // And the process exits 0 within the 5 s drain deadline.
  const std::optional<int> status = WaitExit(
      milliseconds(5000) - std::chrono::duration_cast<milliseconds>(Clock::now() - term_at));
  ASSERT_TRUE(status.has_value()) << "tensord still running 5 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  const std::string log = ReadAll(log_path_);
  EXPECT_THAT(log, HasSubstr("received SIGTERM: draining"));
  EXPECT_THAT(log, HasSubstr("tensord stopped"));
}

// Nothing is in flight, so there is nothing to drain: the process should not wait out the whole
// drain deadline just because a client still holds an idle connection.
TEST_F(Drain, Sigterm_WithIdleClientConnected_ExitsZeroPromptly) {
  StartServer({"--drain_timeout", "5s"});
  ASSERT_FALSE(HasFatalFailure());
  const std::string sid = MatrixSession(8);  // a live session does not hold the drain up
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  const std::optional<int> status = WaitExit(milliseconds(2000));
  ASSERT_TRUE(status.has_value())
      << "an idle tensord (one idle client connected) still running 2 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST_F(Drain, Sigterm_CallLongerThanDrainTimeout_IsCutOffAndExitsZero) {
  StartServer({"--drain_timeout", "300ms", "--workers", "2"});
  ASSERT_FALSE(HasFatalFailure());
  const std::string sid = MatrixSession(256);
  const int k = CalibrateBatch(sid, milliseconds(6000));
  const pb::ExecuteRequest batch = MatmulBatch(sid, k);
  grpc::Status call_status;
  pb::ExecuteResponse call_resp;
  std::atomic<bool> call_done{false};
  const uint64_t served_before = CommandsServed();
  std::thread caller([&] {
    call_status = stub_->Execute(Ctx(sid).get(), batch, &call_resp);
    call_done = true;
  });
  Joiner joiner{caller};
  const auto start_deadline = Clock::now() + std::chrono::seconds(5);
  while (CommandsServed() == served_before && Clock::now() < start_deadline)
    std::this_thread::sleep_for(milliseconds(5));
  ASSERT_FALSE(call_done) << "the batch finished before SIGTERM could be sent; make it longer";
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  const auto term_at = Clock::now();
  // Well before the ~6 s batch could finish: the 300 ms drain plus one command and slack.
  const std::optional<int> status = WaitExit(milliseconds(2000));
  caller.join();
  ASSERT_TRUE(status.has_value())
      << "tensord still running 2 s after SIGTERM with --drain_timeout 300ms";
  EXPECT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_LT(Clock::now() - term_at, std::chrono::seconds(2));
  // The call did not run to completion.
  EXPECT_FALSE(call_status.ok() && call_resp.failed_index() == -1)
      << "the whole batch (" << batch.commands_size()
      << " commands) ran despite the 300 ms drain deadline";
}

TEST_F(Drain, Help_ExitsZeroAndListsTheFlags) {
  Spawn({"--help"});
  ASSERT_FALSE(HasFatalFailure());
  const std::optional<int> status = WaitExit(milliseconds(5000));
  ASSERT_TRUE(status.has_value()) << "tensord --help did not exit";
  const std::string out = ReadAll(log_path_);
  EXPECT_THAT(out, HasSubstr("--listen"));
  EXPECT_THAT(out, HasSubstr("--max_session_bytes"));
  EXPECT_THAT(out, HasSubstr("--drain_timeout"));
  EXPECT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0) << "tensord --help should exit 0";
}

TEST_F(Drain, Startup_PortInUse_ExitsOneWithAMessage) {
  // Hold a listening socket on the port.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string listen_on = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  Spawn({"--listen", listen_on});
  ASSERT_FALSE(HasFatalFailure());
  const std::optional<int> status = WaitExit(milliseconds(5000));
  close(fd);
  ASSERT_TRUE(status.has_value()) << "tensord did not exit although it cannot listen";
  EXPECT_FALSE(WIFSIGNALED(*status)) << "tensord died of signal " << WTERMSIG(*status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << "wait status " << *status;
  EXPECT_THAT(ReadAll(log_path_), HasSubstr("cannot listen on " + listen_on));
}

}  // namespace
}  // namespace tensord::testing
