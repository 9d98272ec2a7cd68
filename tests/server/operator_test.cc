// What an operator sees of a running tensord (the real binary as a subprocess): readiness apart
// from liveness in grpc.health.v1, the session inventory and peeks, --version, SIGHUP, JSON logs,
// and the Prometheus metrics (scraped by Debian's real prometheus when it is installed).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/server/tensord_process.h"

namespace tensord::testing {
namespace {

namespace pb = ::tensord::v1;
namespace health = ::grpc::health::v1;
using process_test::Clock;
using process_test::ReadAll;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr char kReadiness[] = "tensord.v1.Tensord";

class Operator : public process_test::TensordProcessTest {
 protected:
  // The health answer for `service` (UNKNOWN when the call fails; the test then says why).
  health::HealthCheckResponse::ServingStatus Health(const std::string& service) {
    health::HealthCheckResponse resp;
    const grpc::Status s = Check(&resp, service);
    EXPECT_TRUE(s.ok()) << "health check '" << service << "': " << s.error_message();
    return s.ok() ? resp.status() : health::HealthCheckResponse::UNKNOWN;
  }

  // Polls readiness until it answers `want` (the server re-checks memory every second).
  bool ReadinessBecomes(health::HealthCheckResponse::ServingStatus want, milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      health::HealthCheckResponse resp;
      if (Check(&resp, kReadiness).ok() && resp.status() == want) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  std::string NewSession() {
    pb::CreateSessionResponse resp;
    const grpc::Status s = stub_->CreateSession(Ctx().get(), pb::CreateSessionRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.session_id();
  }

  grpc::Status CloseSession(const std::string& sid) {
    pb::SessionRequest req;
    req.set_session_id(sid);
    pb::SessionInfo info;
    return stub_->CloseSession(Ctx(sid).get(), req, &info);
  }

  // A context for session `sid` that marks the call a peek (x-tensord-peek: 1).
  static std::unique_ptr<grpc::ClientContext> PeekCtx(const std::string& sid) {
    auto ctx = Ctx(sid);
    ctx->AddMetadata("x-tensord-peek", "1");
    return ctx;
  }

  // A float32 tensor of `n` zeros at handle `id`.
  grpc::Status Zeros(const std::string& sid, uint64_t id, int64_t n) {
    pb::FactoryRequest f;
    f.set_session_id(sid);
    f.set_id(id);
    f.set_name("zeros");
    f.add_shape(n);
    pb::TensorsResponse r;
    return stub_->Factory(Ctx(sid).get(), f, &r);
  }
};

// ---- readiness vs liveness
// -----------------------------------------------------------------------

TEST_F(Operator, Readiness_AtMaxSessions_IsNotServingWhileLivenessStaysServing) {
  StartServer({"--max_sessions", "2"});
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(Health(kReadiness), health::HealthCheckResponse::SERVING);
  const std::string a = NewSession();
  EXPECT_EQ(Health(kReadiness), health::HealthCheckResponse::SERVING);
  const std::string b = NewSession();
  // At capacity: a load balancer should send new sessions elsewhere, but the process is alive
  // and still serves the sessions it holds.
  EXPECT_EQ(Health(kReadiness), health::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(""), health::HealthCheckResponse::SERVING);
  EXPECT_TRUE(Zeros(a, 1, 4).ok());
  pb::CreateSessionResponse refused;
  EXPECT_EQ(stub_->CreateSession(Ctx().get(), pb::CreateSessionRequest(), &refused).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(CloseSession(b).ok());
  EXPECT_EQ(Health(kReadiness), health::HealthCheckResponse::SERVING);
}

TEST_F(Operator, Readiness_AtReadinessMaxBytes_IsNotServingUntilMemoryIsReleased) {
  StartServer({"--readiness_max_bytes", "4096"});
  ASSERT_FALSE(HasFatalFailure());
  const std::string sid = NewSession();
  ASSERT_TRUE(Zeros(sid, 1, 512).ok());  // 2 KiB: under the mark
  EXPECT_FALSE(ReadinessBecomes(health::HealthCheckResponse::NOT_SERVING, milliseconds(1500)));
  ASSERT_TRUE(Zeros(sid, 2, 512).ok());  // 4 KiB: at it
  EXPECT_TRUE(ReadinessBecomes(health::HealthCheckResponse::NOT_SERVING, milliseconds(5000)));
  EXPECT_EQ(Health(""), health::HealthCheckResponse::SERVING);
  pb::ReleaseRequest rel;
  rel.set_session_id(sid);
  rel.add_ids(2);
  pb::ReleaseResponse rr;
  ASSERT_TRUE(stub_->Release(Ctx(sid).get(), rel, &rr).ok());
  EXPECT_TRUE(ReadinessBecomes(health::HealthCheckResponse::SERVING, milliseconds(5000)));
}

TEST_F(Operator, Health_UnknownServiceName_IsNotFound) {
  StartServer({});
  ASSERT_FALSE(HasFatalFailure());
  health::HealthCheckResponse resp;
  EXPECT_EQ(Check(&resp, "tensord.v1.Nope").error_code(), grpc::StatusCode::NOT_FOUND);
}

// ---- inventory ---------------------------------------------------------------------------------

TEST_F(Operator, ListTensors_PagesInHandleOrderWithEachTensorsState) {
  StartServer({});
  ASSERT_FALSE(HasFatalFailure());
  const std::string sid = NewSession();
  for (uint64_t id : {5, 1, 4, 2}) ASSERT_TRUE(Zeros(sid, id, static_cast<int64_t>(id)).ok());
  pb::ApplyOpRequest mul;
  mul.set_session_id(sid);
  mul.set_op("mul");
  mul.add_inputs(2);
  mul.add_inputs(2);
  mul.add_outputs(3);
  pb::TensorsResponse tr;
  ASSERT_TRUE(stub_->ApplyOp(Ctx(sid).get(), mul, &tr).ok());

  pb::ListTensorsRequest req;
  req.set_session_id(sid);
  req.set_page_size(2);
  std::vector<uint64_t> ids;
  int pages = 0;
  do {
    pb::ListTensorsResponse resp;
    const grpc::Status s = stub_->ListTensors(Ctx(sid).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.total(), 5);
    EXPECT_LE(resp.tensors_size(), 2);
    for (const pb::ListedTensor& t : resp.tensors()) {
      ids.push_back(t.info().id());
      EXPECT_EQ(t.bytes(), 4 * (t.info().id() == 3 ? 2 : static_cast<int64_t>(t.info().id())));
      EXPECT_EQ(t.info().shape(0), t.info().id() == 3 ? 2 : static_cast<int64_t>(t.info().id()));
      EXPECT_EQ(t.info().dtype(), pb::DTYPE_FLOAT32);
      EXPECT_TRUE(t.info().is_leaf());
      EXPECT_FALSE(t.info().requires_grad());
    }
    req.set_page_token(resp.next_page_token());
    ++pages;
  } while (!req.page_token().empty() && pages < 10);
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(pages, 3);

  pb::ListTensorsResponse resp;
  req.set_page_token("");
  req.set_page_size(1001);
  EXPECT_EQ(stub_->ListTensors(Ctx(sid).get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.set_page_size(0);
  req.set_page_token("not-a-token");
  EXPECT_EQ(stub_->ListTensors(Ctx(sid).get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// ListTensors and peeks (x-tensord-peek on GetInfo, GetTensor, GetGraph, Download) do not reset
// the idle TTL: a session only looked at expires on time; one a client reads stays.
TEST_F(Operator, ListTensorsAndPeeks_DoNotKeepASessionAlive) {
  StartServer({"--default_ttl", "2s"});
  ASSERT_FALSE(HasFatalFailure());
  const std::string watched = NewSession();
  const std::string used = NewSession();
  ASSERT_TRUE(Zeros(watched, 1, 4).ok());
  ASSERT_TRUE(Zeros(used, 1, 4).ok());
  pb::ListTensorsRequest list;
  list.set_session_id(watched);
  pb::TensorRequest info_watched, info_used;
  info_watched.set_session_id(watched);
  info_watched.set_id(1);
  info_used.set_session_id(used);
  info_used.set_id(1);
  pb::GetGraphRequest graph;
  graph.set_session_id(watched);
  graph.set_id(1);
  pb::GetTensorRequest get;
  get.set_session_id(watched);
  get.set_id(1);
  const auto start = Clock::now();
  int watched_ok = 0;
  grpc::Status last;
  while (Clock::now() - start < milliseconds(3200)) {
    pb::ListTensorsResponse lr;
    pb::TensorsResponse ir;
    pb::GraphResponse gr;
    pb::GetTensorResponse vr;
    last = stub_->ListTensors(Ctx(watched).get(), list, &lr);
    if (last.ok()) last = stub_->GetInfo(PeekCtx(watched).get(), info_watched, &ir);
    if (last.ok()) last = stub_->GetGraph(PeekCtx(watched).get(), graph, &gr);
    if (last.ok()) last = stub_->GetTensor(PeekCtx(watched).get(), get, &vr);
    if (last.ok()) ++watched_ok;
    const grpc::Status u = stub_->GetInfo(Ctx(used).get(), info_used, &ir);
    ASSERT_TRUE(u.ok()) << "a session a client reads expired: " << u.error_message();
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_GT(watched_ok, 0);
  EXPECT_EQ(last.error_code(), grpc::StatusCode::NOT_FOUND)
      << "a session that was only peeked at outlived its 2 s TTL: " << last.error_message();
}

TEST_F(Operator, PeekHeader_OnACommandThatChangesTheSession_IsInvalidArgument) {
  StartServer({});
  ASSERT_FALSE(HasFatalFailure());
  const std::string sid = NewSession();
  pb::FactoryRequest f;
  f.set_session_id(sid);
  f.set_id(1);
  f.set_name("zeros");
  f.add_shape(2);
  pb::TensorsResponse r;
  const grpc::Status s = stub_->Factory(PeekCtx(sid).get(), f, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("x-tensord-peek is for reads only"));
  // Nothing was made.
  pb::TensorRequest info;
  info.set_session_id(sid);
  info.set_id(1);
  EXPECT_EQ(stub_->GetInfo(Ctx(sid).get(), info, &r).error_code(), grpc::StatusCode::NOT_FOUND);
}

// ---- version, SIGHUP, logs ----------------------------------------------------------------------

TEST_F(Operator, Version_PrintsTheProjectVersionAndBuildTypeAndExitsZero) {
  Spawn({"--version"});
  ASSERT_FALSE(HasFatalFailure());
  const std::optional<int> status = WaitExit(milliseconds(5000));
  ASSERT_TRUE(status.has_value()) << "tensord --version did not exit";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
  // CMake's project version and build type (the build passes both to this test too).
  EXPECT_THAT(ReadAll(log_path_),
              ::testing::StartsWith(absl::StrCat(
                  "tensord ", TENSORD_VERSION, " (",
                  *TENSORD_BUILD_TYPE ? TENSORD_BUILD_TYPE : "unspecified", " build; gRPC ")));
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "tensord_op_", getpid(), "_", name);
}

grpc::Status ServerInfoWith(pb::Tensord::Stub& stub, const std::string& token) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(2000));
  pb::ServerInfoResponse r;
  return stub.ServerInfo(&ctx, pb::ServerInfoRequest(), &r);
}

// SIGHUP re-reads --token_file (new tokens work, removed ones stop working) and reopens
// --log_file (after logrotate renamed it, a new file starts at the path); the server keeps
// serving. A token file that became unreadable keeps the tokens in force.
TEST_F(Operator, Sighup_ReloadsTokensAndReopensTheLogAndNeverStops) {
  const std::string tokens = TempPath("tokens");
  const std::string logfile = TempPath("log");
  std::ofstream(tokens) << "alpha\n";
  StartServer({"--token_file", tokens, "--log_file", logfile}, logfile);
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(ServerInfoWith(*stub_, "alpha").ok());
  EXPECT_EQ(ServerInfoWith(*stub_, "beta").error_code(), grpc::StatusCode::UNAUTHENTICATED);

  std::ofstream(tokens) << "# rotated\nbeta\n";
  std::filesystem::rename(logfile, logfile + ".1");  // what logrotate does
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!ServerInfoWith(*stub_, "beta").ok() && Clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_TRUE(ServerInfoWith(*stub_, "beta").ok()) << "the new token was not loaded";
  EXPECT_EQ(ServerInfoWith(*stub_, "alpha").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(WaitExit(milliseconds(100)).has_value()) << "SIGHUP stopped the server";
  EXPECT_THAT(ReadAll(logfile), HasSubstr("SIGHUP: log reopened; tokens reloaded (1 tokens"));
  EXPECT_THAT(ReadAll(logfile + ".1"), HasSubstr("listening on"));

  // An unreadable token file: the tokens in force stay, the error is logged.
  std::filesystem::remove(tokens);
  ASSERT_EQ(kill(pid_, SIGHUP), 0);
  const auto logged = Clock::now() + std::chrono::seconds(5);
  while (ReadAll(logfile).find("tokens in force are kept") == std::string::npos &&
         Clock::now() < logged)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_THAT(ReadAll(logfile), HasSubstr("cannot read token file"));
  EXPECT_TRUE(ServerInfoWith(*stub_, "beta").ok());
  std::filesystem::remove(logfile);
  std::filesystem::remove(logfile + ".1");
}

// --log_format=json: every line is one JSON object with time, level and msg; the per-call lines
// (at debug) add rpc, code, latency_ms and a prefix of the session id, never the whole id.
TEST_F(Operator, JsonLogs_OneObjectPerLineWithTheCallsFields) {
  StartServer({"--log_format", "json", "--log_level", "debug"});
  ASSERT_FALSE(HasFatalFailure());
  const std::string sid = NewSession();
  ASSERT_TRUE(Zeros(sid, 1, 3).ok());
  pb::TensorRequest missing;
  missing.set_session_id(sid);
  missing.set_id(99);
  pb::TensorsResponse r;
  EXPECT_EQ(stub_->GetInfo(Ctx(sid).get(), missing, &r).error_code(), grpc::StatusCode::NOT_FOUND);
  std::this_thread::sleep_for(milliseconds(100));  // the access line follows the reply

  const std::string log = ReadAll(log_path_);
  EXPECT_EQ(log.find(sid), std::string::npos) << "a whole session id was logged";
  int lines = 0;
  bool factory_ok = false, get_info_not_found = false;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    ++lines;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << line << " (" << e.what() << ")";
      continue;
    }
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_TRUE(j["time"].is_string() && j["level"].is_string() && j["msg"].is_string()) << line;
    EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")))
        << line;
    if (!j.contains("rpc")) continue;
    EXPECT_TRUE(j["latency_ms"].is_number()) << line;
    EXPECT_GE(j["latency_ms"].get<double>(), 0) << line;
    const std::string rpc = j["rpc"], code = j["code"];
    if (rpc == "tensord.v1.Tensord/Factory" && code == "OK") {
      factory_ok = true;
      ASSERT_TRUE(j["session"].is_string()) << line;
      const std::string prefix = j["session"];
      ASSERT_GE(prefix.size(), 4u);
      EXPECT_EQ(sid.rfind(prefix.substr(0, prefix.size() - 3), 0), 0u) << line;  // "…" is 3 bytes
    }
    if (rpc == "tensord.v1.Tensord/GetInfo" && code == "NOT_FOUND") get_info_not_found = true;
  }
  EXPECT_GT(lines, 3);
  EXPECT_TRUE(factory_ok) << log;
  EXPECT_TRUE(get_info_not_found) << log;
}

TEST_F(Operator, BadLogFormat_ExitsTwoWithAMessage) {
  Spawn({"--log_format", "yaml"});
  ASSERT_FALSE(HasFatalFailure());
  const std::optional<int> status = WaitExit(milliseconds(5000));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << "wait status " << *status;
  EXPECT_THAT(ReadAll(log_path_), HasSubstr("--log_format must be text or json, not 'yaml'"));
}

// ---- Prometheus metrics ------------------------------------------------------------------------

class Metrics : public Operator {
 protected:
  void StartWithMetrics(std::vector<std::string> extra = {}) {
    metrics_port_ = process_test::FreePort();
    ASSERT_GT(metrics_port_, 0);
    extra.push_back("--metrics_listen");
    extra.push_back(absl::StrCat("127.0.0.1:", metrics_port_));
    StartServer(extra);
  }

  // GET http://127.0.0.1:<port><path>; the body, or "" (with a test failure).
  static std::string HttpGet(int port, const std::string& path) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(5, 0);
    auto res = client.Get(path.c_str());
    if (!res) {
      ADD_FAILURE() << "GET " << path << " on port " << port << " failed";
      return "";
    }
    EXPECT_EQ(res->status, 200) << path;
    return res->body;
  }

  // Some traffic: a session, three adds, one unknown op.
  void Traffic() {
    const std::string sid = NewSession();
    ASSERT_TRUE(Zeros(sid, 1, 256).ok());
    for (int i = 0; i < 3; ++i) {
      pb::ApplyOpRequest add;
      add.set_session_id(sid);
      add.set_op("add");
      add.add_inputs(1);
      add.add_inputs(1);
      add.add_outputs(10 + i);
      pb::TensorsResponse r;
      ASSERT_TRUE(stub_->ApplyOp(Ctx(sid).get(), add, &r).ok());
    }
    pb::ApplyOpRequest nope;
    nope.set_session_id(sid);
    nope.set_op("no_such_op");
    pb::TensorsResponse r;
    ASSERT_EQ(stub_->ApplyOp(Ctx(sid).get(), nope, &r).error_code(), grpc::StatusCode::NOT_FOUND);
  }

  int metrics_port_ = 0;
};

TEST_F(Metrics, Exposition_CountsCallsByCodeOpsSessionsAndState) {
  StartWithMetrics({"--max_sessions", "7"});
  ASSERT_FALSE(HasFatalFailure());
  Traffic();
  const std::string m = HttpGet(metrics_port_, "/metrics");
  const std::string apply = R"(grpc_service="tensord.v1.Tensord",grpc_method="ApplyOp",grpc_code=)";
  EXPECT_THAT(m, HasSubstr(absl::StrCat("tensord_rpc_handled_total{", apply, "\"OK\"} 3\n")));
  EXPECT_THAT(m,
              HasSubstr(absl::StrCat("tensord_rpc_handled_total{", apply, "\"NOT_FOUND\"} 1\n")));
  EXPECT_THAT(m,
              HasSubstr(absl::StrCat("tensord_rpc_duration_seconds_count{", apply, "\"OK\"} 3\n")));
  EXPECT_THAT(m, HasSubstr(absl::StrCat("tensord_rpc_duration_seconds_bucket{", apply,
                                        "\"OK\",le=\"+Inf\"} 3\n")));
  EXPECT_THAT(m, HasSubstr("# TYPE tensord_rpc_duration_seconds histogram\n"));
  EXPECT_THAT(m, HasSubstr("tensord_ops_total{op=\"add\"} 3\n"));
  EXPECT_THAT(m, HasSubstr("tensord_sessions 1\n"));
  EXPECT_THAT(m, HasSubstr("tensord_max_sessions 7\n"));
  EXPECT_THAT(m, HasSubstr("tensord_sessions_created_total 1\n"));
  EXPECT_THAT(m, HasSubstr("tensord_sessions_ended_total{reason=\"expired\"} 0\n"));
  EXPECT_THAT(m, HasSubstr("tensord_sessions_ended_total{reason=\"closed\"} 0\n"));
  EXPECT_THAT(m, HasSubstr("tensord_tensors 4\n"));
  // The session holds 4 x 1 KiB: in the 4096 bucket.
  EXPECT_THAT(m, HasSubstr("tensord_session_bytes_bucket{le=\"4096\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("tensord_session_bytes_sum 4096\n"));
  EXPECT_THAT(m, HasSubstr("tensord_worker_queue_depth 0\n"));
  EXPECT_THAT(m, HasSubstr("tensord_draining 0\n"));
  EXPECT_THAT(m, HasSubstr("tensord_ready 1\n"));
  EXPECT_THAT(m, HasSubstr(absl::StrCat("tensord_build_info{version=\"", TENSORD_VERSION, "\"")));
  // No series names a session id.
  EXPECT_EQ(m.find("session_id"), std::string::npos);
}

// promtool (Debian's prometheus package) accepts the exposition.
TEST_F(Metrics, Exposition_PassesPromtoolCheckMetrics) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "SKIP: promtool not installed (Debian package prometheus; "
                    "scripts/install-deps.sh installs it)";
  StartWithMetrics();
  ASSERT_FALSE(HasFatalFailure());
  Traffic();
  const std::string path = TempPath("metrics.txt");
  std::ofstream(path) << HttpGet(metrics_port_, "/metrics");
  const std::string out = TempPath("promtool.out");
  const int rc = std::system(("promtool check metrics < " + path + " > " + out + " 2>&1").c_str());
  EXPECT_EQ(rc, 0) << "promtool check metrics:\n" << ReadAll(out);
  std::filesystem::remove(path);
  std::filesystem::remove(out);
}

// Debian's real prometheus scrapes the live server; its HTTP API then answers a query for one of
// tensord's series with the value the server counted.
TEST_F(Metrics, RealPrometheus_ScrapesAndAnswersAQuery) {
  if (std::system("command -v prometheus >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "SKIP: prometheus not installed (Debian package prometheus; "
                    "scripts/install-deps.sh installs it)";
  StartWithMetrics();
  ASSERT_FALSE(HasFatalFailure());
  Traffic();
  const std::string dir = TempPath("prometheus");
  std::filesystem::create_directories(dir + "/data");
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
      << "scrape_configs:\n  - job_name: tensord\n    static_configs:\n"
      << "      - targets: ['127.0.0.1:" << metrics_port_ << "']\n";
  const int port = process_test::FreePort();
  const std::string log = dir + "/prometheus.log";
  const pid_t prom = fork();
  ASSERT_GE(prom, 0);
  if (prom == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    const std::string config = "--config.file=" + dir + "/prometheus.yml";
    const std::string data = "--storage.tsdb.path=" + dir + "/data";
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port);
    execlp("prometheus", "prometheus", config.c_str(), data.c_str(), listen.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  struct Reap {
    pid_t pid;
    ~Reap() {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  } reap{prom};
  const std::string query =
      "/api/v1/query?query=tensord_rpc_handled_total%7Bgrpc_method%3D%22ApplyOp%22%2C"
      "grpc_code%3D%22OK%22%7D";
  std::string value;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (value.empty() && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(250));
    httplib::Client client("127.0.0.1", port);
    auto res = client.Get(query.c_str());
    if (!res || res->status != 200) continue;
    const nlohmann::json j = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || j["status"] != "success") continue;
    const auto& result = j["data"]["result"];
    if (result.is_array() && !result.empty()) value = result[0]["value"][1].get<std::string>();
  }
  EXPECT_EQ(value, "3") << "prometheus log:\n" << ReadAll(log);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tensord::testing
