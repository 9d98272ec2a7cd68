// The real tensord binary as a subprocess on a free loopback port, with a gRPC stub and a health
// stub: for tests of process-level behaviour (signals, exit codes, memory use).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tensord/v1/tensord.grpc.pb.h"
#include "tests/support/test_util.h"

#ifndef TENSORD_BINARY
#error "TENSORD_BINARY (the path of the tensord binary) must be defined by the build"
#endif

namespace tensord::testing {

namespace process_test {
namespace pb = ::tensord::v1;
namespace health = ::grpc::health::v1;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A loopback port that was free a moment ago.
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Joins a thread when the scope ends, also when an assertion returns early.
struct Joiner {
  std::thread& t;
  ~Joiner() {
    if (t.joinable()) t.join();
  }
};

class TensordProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "tensord_proc_XXXXXX";
    const int fd = mkstemp(tmpl.data());
    ASSERT_GE(fd, 0);
    close(fd);
    log_path_ = tmpl;
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (HasFailure())
      std::cerr << "---- tensord output ----\n"
                << ReadAll(log_path_) << "------------------------\n";
    unlink(log_path_.c_str());
  }

  // Starts tensord with `args`, its stdout and stderr going to the log file.
  void Spawn(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"tensord"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const char* log = log_path_.c_str();
    pid_ = fork();
    ASSERT_GE(pid_, 0) << "fork failed";
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      const int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execv(TENSORD_BINARY, argv.data());
      _exit(127);
    }
  }

  // The child's wait status once it exits, or nullopt if it is still running after `limit`.
  std::optional<int> WaitExit(milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (true) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(milliseconds(5));
    }
  }

  // Starts `tensord --listen 127.0.0.1:<free port> <extra>`, waits for its "listening" log line
  // (in `log`: its output, or the --log_file it was given), then until its health check says
  // SERVING.
  void StartServer(const std::vector<std::string>& extra, std::string log = "") {
    if (log.empty()) log = log_path_;
    port_ = FreePort();
    ASSERT_GT(port_, 0);
    std::vector<std::string> args = {"--listen", "127.0.0.1:" + std::to_string(port_)};
    args.insert(args.end(), extra.begin(), extra.end());
    Spawn(args);
    if (HasFatalFailure()) return;
    // Connecting before the port is open would leave the channel in reconnect backoff.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (ReadAll(log).find("listening on") == std::string::npos) {
      int status = 0;
      ASSERT_EQ(waitpid(pid_, &status, WNOHANG), 0)
          << "tensord exited during startup (status " << status << ")";
      ASSERT_LT(Clock::now(), deadline) << "tensord did not log 'listening on' within 10 s";
      std::this_thread::sleep_for(milliseconds(5));
    }
    grpc::ChannelArguments ch;
    ch.SetMaxReceiveMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_),
                                         grpc::InsecureChannelCredentials(), ch);
    health_ = health::Health::NewStub(channel_);
    stub_ = pb::Tensord::NewStub(channel_);
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    health::HealthCheckResponse resp;
    grpc::Status s = health_->Check(&ctx, health::HealthCheckRequest(), &resp);
    ASSERT_TRUE(s.ok()) << "health check: " << s.error_message();
    ASSERT_EQ(resp.status(), health::HealthCheckResponse::SERVING);
  }

  // grpc.health.v1 Check for `service` ("": liveness; "tensord.v1.Tensord": readiness).
  grpc::Status Check(health::HealthCheckResponse* resp, const std::string& service = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(500));
    health::HealthCheckRequest req;
    req.set_service(service);
    return health_->Check(&ctx, req, resp);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& session = "",
                                                  milliseconds timeout = milliseconds(30000)) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!session.empty()) ctx->AddMetadata("x-tensord-session", session);
    ctx->set_deadline(std::chrono::system_clock::now() + timeout);
    return ctx;
  }

  // The server's resident set size in bytes (VmRSS), or -1.
  int64_t ServerRss() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
    }
    return -1;
  }

  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<health::Health::Stub> health_;
  std::unique_ptr<pb::Tensord::Stub> stub_;
};

}  // namespace process_test
}  // namespace tensord::testing
