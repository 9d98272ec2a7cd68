// tensorctl end to end: a real tensord binary on a loopback port, sessions built over gRPC, and
// the tensorctl binary run as a subprocess; its stdout, stderr and exit code are checked.
//
// TENSORCTL_ARTIFACTS=DIR keeps the rendered graphs (tutorial.dot/.svg/.png, ...) in DIR.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tensord/v1/tensord.grpc.pb.h"

#ifndef TENSORD_BINARY
#error "TENSORD_BINARY must be defined by the build"
#endif
#ifndef TENSORCTL_BINARY
#error "TENSORCTL_BINARY must be defined by the build"
#endif

namespace {

namespace pb = ::tensord::v1;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TempPath(const std::string& stem) {
  std::string tmpl = ::testing::TempDir() + stem + "_XXXXXX";
  const int fd = mkstemp(tmpl.data());
  if (fd >= 0) close(fd);
  return tmpl;
}

std::string TempDir(const std::string& stem) {
  std::string tmpl = ::testing::TempDir() + stem + "_XXXXXX";
  return mkdtemp(tmpl.data()) ? tmpl : "";
}

bool HaveGraphviz() { return std::system("command -v dot >/dev/null 2>&1") == 0; }

// ---- a tensord subprocess ----------------------------------------------------------------------

class TensordProcess {
 public:
  bool Start(std::vector<std::string> args) {
    log_ = TempPath("tensorctl_tensord_log");
    std::vector<std::string> all = {"tensord", "--listen=127.0.0.1:0", "--workers=2"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execv(TENSORD_BINARY, argv.data());
      _exit(127);
    }
    // The server logs "(port N)" once it listens.
    for (int i = 0; i < 400; ++i) {
      const std::string log = ReadAll(log_);
      const size_t at = log.find("(port ");
      if (at != std::string::npos) {
        port_ = std::atoi(log.c_str() + at + 6);
        if (port_ > 0) return true;
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }

  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (!log_.empty()) unlink(log_.c_str());
  }

  ~TensordProcess() { Stop(); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::string log() const { return ReadAll(log_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

// ---- the tensorctl subprocess -------------------------------------------------------------------

struct Result {
  int rc = -1;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "exit " << r.rc << "\n--- stdout ---\n" << r.out << "--- stderr ---\n" << r.err;
}

// Runs tensorctl with `args`; `env` entries ("NAME=value", or "NAME=" to drop NAME) change its
// environment.
Result RunTensorctl(const std::vector<std::string>& args,
                    const std::vector<std::string>& env = {}) {
  const std::string out_path = TempPath("tensorctl_out"), err_path = TempPath("tensorctl_err");
  std::vector<std::string> all = {"tensorctl"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const std::string& kv : env) {
    const size_t eq = kv.find('=');
    if (eq + 1 == kv.size()) {
      vars.erase(kv.substr(0, eq));
    } else {
      vars[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : vars) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  Result r;
  const pid_t pid = fork();
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_TRUNC);
    const int err = open(err_path.c_str(), O_WRONLY | O_TRUNC);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(TENSORCTL_BINARY, argv.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadAll(out_path);
  r.err = ReadAll(err_path);
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  return r;
}

// ---- building sessions over gRPC ----------------------------------------------------------------

class Remote {
 public:
  explicit Remote(const std::string& address, std::string token = "") : token_(std::move(token)) {
    stub_ = pb::Tensord::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& session = "") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!session.empty()) ctx->AddMetadata("x-tensord-session", session);
    if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }

  std::string NewSession(const std::map<std::string, std::string>& labels) {
    pb::CreateSessionRequest req;
    req.set_seed(1);
    for (const auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
    pb::CreateSessionResponse resp;
    Check(stub_->CreateSession(Ctx().get(), req, &resp), "CreateSession");
    return resp.session_id();
  }

  void Floats(const std::string& s, uint64_t id, const std::vector<float>& v,
              const std::vector<int64_t>& shape, bool requires_grad = false) {
    pb::CreateTensorRequest req;
    req.set_session_id(s);
    req.set_id(id);
    req.set_requires_grad(requires_grad);
    req.mutable_data()->set_dtype(pb::DTYPE_FLOAT32);
    for (int64_t d : shape) req.mutable_data()->add_shape(d);
    req.mutable_data()->set_data(
        std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    pb::TensorsResponse resp;
    Check(stub_->CreateTensor(Ctx(s).get(), req, &resp), "CreateTensor");
  }

  void Longs(const std::string& s, uint64_t id, const std::vector<int64_t>& v) {
    pb::CreateTensorRequest req;
    req.set_session_id(s);
    req.set_id(id);
    req.mutable_data()->set_dtype(pb::DTYPE_INT64);
    req.mutable_data()->add_shape(static_cast<int64_t>(v.size()));
    req.mutable_data()->set_data(
        std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int64_t)));
    pb::TensorsResponse resp;
    Check(stub_->CreateTensor(Ctx(s).get(), req, &resp), "CreateTensor");
  }

  void Op(const std::string& s, const std::string& op, const std::vector<uint64_t>& inputs,
          const std::vector<uint64_t>& outputs) {
    pb::ApplyOpRequest req;
    req.set_session_id(s);
    req.set_op(op);
    for (uint64_t i : inputs) req.add_inputs(i);
    for (uint64_t o : outputs) req.add_outputs(o);
    pb::TensorsResponse resp;
    Check(stub_->ApplyOp(Ctx(s).get(), req, &resp), op);
  }

  void Arange(const std::string& s, uint64_t id, double end) {
    pb::FactoryRequest req;
    req.set_session_id(s);
    req.set_id(id);
    req.set_name("arange");
    (*req.mutable_attrs())["end"].set_f(end);
    req.set_dtype(pb::DTYPE_FLOAT32);
    pb::TensorsResponse resp;
    Check(stub_->Factory(Ctx(s).get(), req, &resp), "arange");
  }

  void Backward(const std::string& s, uint64_t id) {
    pb::BackwardRequest req;
    req.set_session_id(s);
    req.add_tensors(id);
    pb::BackwardResponse resp;
    Check(stub_->Backward(Ctx(s).get(), req, &resp), "Backward");
  }

  pb::SessionInfo Describe(const std::string& s) {
    pb::SessionRequest req;
    req.set_session_id(s);
    pb::SessionInfo resp;
    Check(stub_->DescribeSession(Ctx(s).get(), req, &resp), "DescribeSession");
    return resp;
  }

  pb::ListOpsResponse Ops() {
    pb::ListOpsResponse resp;
    Check(stub_->ListOps(Ctx().get(), pb::ListOpsRequest(), &resp), "ListOps");
    return resp;
  }

 private:
  static void Check(const grpc::Status& s, const std::string& what) {
    ASSERT_TRUE(s.ok()) << what << ": " << s.error_code() << " " << s.error_message();
  }

  std::string token_;
  std::unique_ptr<pb::Tensord::Stub> stub_;
};

// ---- fixture ------------------------------------------------------------------------------------

// Handles of the tutorial session: x = ones(5), y = zeros(3), w (5, 3) and b (3) requiring grad,
// z = matmul(x, w) + b, loss = binary_cross_entropy_with_logits(z, y).
enum : uint64_t { kX = 1, kY = 2, kW = 3, kB = 4, kXw = 5, kZ = 6, kLoss = 7 };
// Handles of the small session: a, b leaves requiring grad, c = a * b, d = c.sum().
enum : uint64_t { kA = 1, kBb = 2, kC = 3, kD = 4 };

class Tensorctl : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TensordProcess();
    ASSERT_TRUE(server_->Start({})) << "tensord did not start:\n" << server_->log();
    remote_ = new Remote(server_->address());
  }
  static void TearDownTestSuite() {
    delete remote_;
    delete server_;
    remote_ = nullptr;
    server_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(server_, nullptr); }

  // tensorctl ARGS --address=<the test server>.
  static Result Ctl(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.push_back("--address=" + server_->address());
    return RunTensorctl(args, env);
  }

  static std::string TutorialSession() {
    Remote& r = *remote_;
    const std::string s = r.NewSession({{"owner", "tensorctl-test"}, {"purpose", "tutorial"}});
    r.Floats(s, kX, {1, 1, 1, 1, 1}, {5});
    r.Floats(s, kY, {0, 0, 0}, {3});
    std::vector<float> w;
    for (int k = 0; k < 15; ++k) w.push_back(0.25f * static_cast<float>(k % 5) - 0.5f);
    r.Floats(s, kW, w, {5, 3}, true);
    r.Floats(s, kB, {0.5f, -0.25f, 0.125f}, {3}, true);
    r.Op(s, "matmul", {kX, kW}, {kXw});
    r.Op(s, "add", {kXw, kB}, {kZ});
    r.Op(s, "binary_cross_entropy_with_logits", {kZ, kY}, {kLoss});
    return s;
  }

  static std::string SmallSession() {
    Remote& r = *remote_;
    const std::string s = r.NewSession({{"owner", "tensorctl-test"}, {"purpose", "small"}});
    r.Floats(s, kA, {2, 3}, {2}, true);
    r.Floats(s, kBb, {6, 4}, {2}, true);
    r.Op(s, "mul", {kA, kBb}, {kC});
    r.Op(s, "sum", {kC}, {kD});
    return s;
  }

  static void KeepArtifact(const std::string& name, const std::string& contents) {
    const char* dir = std::getenv("TENSORCTL_ARTIFACTS");
    if (dir == nullptr || *dir == '\0') return;
    std::ofstream(absl::StrCat(dir, "/", name), std::ios::binary) << contents;
  }

  static TensordProcess* server_;
  static Remote* remote_;
};

TensordProcess* Tensorctl::server_ = nullptr;
Remote* Tensorctl::remote_ = nullptr;

// The table row of `session` in `sessions` output, split on runs of spaces.
std::vector<std::string> RowOf(const std::string& table, const std::string& session) {
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    if (absl::StartsWith(line, session)) {
      std::vector<std::string> cells;
      for (absl::string_view c : absl::StrSplit(line, "  ", absl::SkipWhitespace())) {
        cells.emplace_back(absl::StripAsciiWhitespace(c));
      }
      return cells;
    }
  }
  return {};
}

// ---- sessions -----------------------------------------------------------------------------------

TEST_F(Tensorctl, SessionsListsTensorCountAndExactBytes) {
  Remote& r = *remote_;
  const std::string s = r.NewSession({{"owner", "tensorctl-test"}, {"purpose", "bytes"}});
  std::vector<float> thousand(1000, 0.5f);
  r.Floats(s, 1, thousand, {1000});            // 4000 bytes
  r.Longs(s, 2, std::vector<int64_t>(10, 7));  // 80 bytes
  Result res = Ctl({"sessions"});
  ASSERT_EQ(res.rc, 0) << res;
  EXPECT_THAT(res.out, StartsWith("SESSION"));
  EXPECT_THAT(res.out,
              AllOf(HasSubstr("LABELS"), HasSubstr("TENSORS"), HasSubstr("BYTES"),
                    HasSubstr("PEAK"), HasSubstr("TTL"), HasSubstr("IDLE"), HasSubstr("COMMANDS")));
  const std::vector<std::string> row = RowOf(res.out, s);
  ASSERT_EQ(row.size(), 8u) << res;
  EXPECT_EQ(row[1], "owner=tensorctl-test,purpose=bytes");
  EXPECT_EQ(row[2], "2");
  EXPECT_EQ(row[3], "4.0 KiB (4080)");
  EXPECT_EQ(row[4], "4.0 KiB");
  EXPECT_EQ(row[5], "10m");  // the server's default TTL
  EXPECT_EQ(row[7], "2");    // two CreateTensor commands

  // The JSON form carries the same facts as numbers.
  Result json = Ctl({"sessions", "--format", "json"});
  ASSERT_EQ(json.rc, 0) << json;
  EXPECT_THAT(json.out, StartsWith("["));
  EXPECT_THAT(json.out, HasSubstr(absl::StrCat(
                            "{\"session_id\":\"", s,
                            "\",\"labels\":{\"owner\":\"tensorctl-test\",\"purpose\":\"bytes\"},"
                            "\"tensors\":2,\"bytes\":4080,\"peak_bytes\":4080,")));
}

TEST_F(Tensorctl, SessionsMatchesDescribeSessionForAGraph) {
  const std::string s = TutorialSession();
  const pb::SessionInfo info = remote_->Describe(s);
  EXPECT_EQ(info.tensors(), 7);
  Result res = Ctl({"sessions"});
  ASSERT_EQ(res.rc, 0) << res;
  const std::vector<std::string> row = RowOf(res.out, s);
  ASSERT_EQ(row.size(), 8u) << res;
  EXPECT_EQ(row[2], "7");
  // Tensors (x 20, y 12, w 60, b 12, xw 12, z 12, loss 4 bytes) and what the graph saved.
  EXPECT_GE(info.bytes(), 132);
  EXPECT_EQ(row[3], info.bytes() < 1024
                        ? absl::StrCat(info.bytes(), " B")
                        : absl::StrFormat("%.1f KiB (%d)", info.bytes() / 1024.0, info.bytes()));
}

// ---- tensors
// -------------------------------------------------------------------------------------

// The row of handle `h` in `tensors` output (rows start with the right-aligned handle).
std::vector<std::string> TensorRow(const std::string& table, uint64_t h) {
  for (absl::string_view line : absl::StrSplit(table, '\n')) {
    std::vector<std::string> cells;
    for (absl::string_view c : absl::StrSplit(line, "  ", absl::SkipWhitespace()))
      cells.emplace_back(absl::StripAsciiWhitespace(c));
    if (!cells.empty() && cells[0] == std::to_string(h)) return cells;
  }
  return {};
}

TEST_F(Tensorctl, TensorsListsEveryHandleWithItsAutogradState) {
  const std::string s = SmallSession();
  remote_->Backward(s, kD);
  Result res = Ctl({"tensors", s});
  ASSERT_EQ(res.rc, 0) << res;
  EXPECT_THAT(res.out, StartsWith("HANDLE"));
  using V = std::vector<std::string>;
  EXPECT_EQ(TensorRow(res.out, kA),
            (V{"1", "(2)", "float32", "True", "True", "None", "8 B", "False", "True"}));
  EXPECT_EQ(TensorRow(res.out, kC),
            (V{"3", "(2)", "float32", "True", "False", "MulBackward0", "8 B", "False", "False"}));
  EXPECT_EQ(TensorRow(res.out, kD),
            (V{"4", "()", "float32", "True", "False", "SumBackward0", "4 B", "False", "False"}));
  Result json = Ctl({"tensors", s, "--format", "json"});
  ASSERT_EQ(json.rc, 0) << json;
  EXPECT_THAT(json.out, HasSubstr("{\"handle\": 3, \"shape\": [2], \"dtype\": \"float32\", "
                                  "\"requires_grad\": true, \"is_leaf\": false, \"grad_fn\": "
                                  "\"MulBackward0\", \"bytes\": 8, \"retains_grad\": false, "
                                  "\"has_grad\": false, \"version\": 0}"));
  EXPECT_THAT(json.out, HasSubstr("\"grad_fn\": null, \"bytes\": 8, \"retains_grad\": false, "
                                  "\"has_grad\": true"));
}

TEST_F(Tensorctl, TensorsPagesThroughMoreThanOnePage) {
  Remote& r = *remote_;
  const std::string s = r.NewSession({{"purpose", "pages"}});
  for (uint64_t id = 1; id <= 1205; ++id) r.Floats(s, id, {1}, {1});
  Result res = Ctl({"tensors", s, "--format", "json"});
  ASSERT_EQ(res.rc, 0) << res;
  int rows = 0;
  for (size_t at = res.out.find("\"handle\": "); at != std::string::npos;
       at = res.out.find("\"handle\": ", at + 1))
    ++rows;
  EXPECT_EQ(rows, 1205);
  EXPECT_THAT(res.out, HasSubstr("{\"handle\": 1205, "));
}

// Operators' reads are peeks: show, graph and tensors leave the session's idle time alone.
TEST_F(Tensorctl, ShowGraphAndTensorsDoNotResetTheIdleTime) {
  const std::string s = SmallSession();
  const int64_t before = remote_->Describe(s).last_used_unix_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"show", s, "3", "--grad"}, {"graph", s, "4"}, {"tensors", s}}) {
    Result res = Ctl(args);
    ASSERT_EQ(res.rc, 0) << res;
  }
  EXPECT_EQ(remote_->Describe(s).last_used_unix_ms(), before);
  // A client's own read does reset it.
  remote_->Op(s, "neg", {kA}, {9});
  EXPECT_GT(remote_->Describe(s).last_used_unix_ms(), before);
}

// ---- show ---------------------------------------------------------------------------------------

TEST_F(Tensorctl, ShowPrintsMetadataAndPyTorchRepr) {
  const std::string s = SmallSession();
  Result c = Ctl({"show", s, "3"});
  ASSERT_EQ(c.rc, 0) << c;
  EXPECT_EQ(c.out, absl::StrCat("session:       ", s,
                                "\n"
                                "handle:        3\n"
                                "shape:         torch.Size([2])\n"
                                "dtype:         torch.float32\n"
                                "requires_grad: True\n"
                                "is_leaf:       False\n"
                                "grad_fn:       MulBackward0\n"
                                "version:       0\n"
                                "retains_grad:  False\n"
                                "has grad:      False\n"
                                "tensor([12., 12.], grad_fn=<MulBackward0>)\n"));

  Result d = Ctl({"show", s, "4"});
  ASSERT_EQ(d.rc, 0) << d;
  EXPECT_THAT(d.out, HasSubstr("shape:         torch.Size([])\n"));
  EXPECT_THAT(d.out, HasSubstr("\ntensor(24., grad_fn=<SumBackward0>)\n"));

  // Before backward, .grad is None; after it, --grad prints it as PyTorch would.
  Result before = Ctl({"show", s, "1", "--grad"});
  ASSERT_EQ(before.rc, 0) << before;
  EXPECT_THAT(before.out, HasSubstr("is_leaf:       True\ngrad_fn:       None\n"));
  EXPECT_THAT(before.out, HasSubstr("tensor([2., 3.], requires_grad=True)\ngrad:\nNone\n"));
  remote_->Backward(s, kD);
  Result after = Ctl({"show", s, "1", "--grad"});
  ASSERT_EQ(after.rc, 0) << after;
  EXPECT_THAT(after.out, HasSubstr("has grad:      True\n"));
  EXPECT_THAT(after.out,
              HasSubstr("tensor([2., 3.], requires_grad=True)\ngrad:\ntensor([6., 4.])\n"));
}

TEST_F(Tensorctl, ShowOfTheTutorialMatchesPyTorch) {
  const std::string s = TutorialSession();
  Result z = Ctl({"show", s, std::to_string(kZ)});
  ASSERT_EQ(z.rc, 0) << z;
  EXPECT_THAT(z.out, HasSubstr("\ntensor([ 0.5000, -0.2500,  0.1250], grad_fn=<AddBackward0>)\n"));
  Result loss = Ctl({"show", s, std::to_string(kLoss)});
  ASSERT_EQ(loss.rc, 0) << loss;
  EXPECT_THAT(loss.out, HasSubstr("grad_fn:       BinaryCrossEntropyWithLogitsBackward0\n"));
  EXPECT_THAT(loss.out,
              HasSubstr("\ntensor(0.7692, grad_fn=<BinaryCrossEntropyWithLogitsBackward0>)\n"));
  remote_->Backward(s, kLoss);
  Result w = Ctl({"show", s, std::to_string(kW), "--grad"});
  ASSERT_EQ(w.rc, 0) << w;
  EXPECT_THAT(w.out, HasSubstr("tensor([[-0.5000, -0.2500,  0.0000],\n"
                               "        [ 0.2500,  0.5000, -0.5000],\n"
                               "        [-0.2500,  0.0000,  0.2500],\n"
                               "        [ 0.5000, -0.5000, -0.2500],\n"
                               "        [ 0.0000,  0.2500,  0.5000]], requires_grad=True)\n"
                               "grad:\n"
                               "tensor([[0.2075, 0.1459, 0.1771],\n"
                               "        [0.2075, 0.1459, 0.1771],\n"
                               "        [0.2075, 0.1459, 0.1771],\n"
                               "        [0.2075, 0.1459, 0.1771],\n"
                               "        [0.2075, 0.1459, 0.1771]])\n"));
}

TEST_F(Tensorctl, ShowSummarizesLargeTensorsLikePyTorch) {
  const std::string s = remote_->NewSession({{"owner", "tensorctl-test"}, {"purpose", "large"}});
  remote_->Arange(s, 1, 2000);
  Result r = Ctl({"show", s, "1"});
  ASSERT_EQ(r.rc, 0) << r;
  // repr(torch.arange(2000.)) in PyTorch 1.13.
  EXPECT_THAT(
      r.out,
      HasSubstr("\ntensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
                "        1.9990e+03])\n"));
}

TEST_F(Tensorctl, ShowOfATensorLargerThanOneMessageUsesDownload) {
  const std::string s = remote_->NewSession({{"owner", "tensorctl-test"}, {"purpose", "huge"}});
  remote_->Arange(s, 1, 5 << 20);  // 20 MiB: more than the server's 16 MiB message limit
  Result r = Ctl({"show", s, "1"});
  ASSERT_EQ(r.rc, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("shape:         torch.Size([5242880])\n"));
  EXPECT_THAT(
      r.out, HasSubstr("tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 5.2429e+06, 5.2429e+06,\n"
                       "        5.2429e+06])\n"));
}

// ---- graph --------------------------------------------------------------------------------------

TEST_F(Tensorctl, GraphDotHasNodesEdgesSavedTensorsAndFreedAfterBackward) {
  const std::string s = SmallSession();
  Result r = Ctl({"graph", s, "4"});
  ASSERT_EQ(r.rc, 0) << r;
  const std::string& dot = r.out;
  KeepArtifact("small.dot", dot);
  EXPECT_THAT(dot, HasSubstr("digraph"));
  // The root tensor (handle 4, 0-dim) on top, then SumBackward0 -> MulBackward0 -> two
  // AccumulateGrads
  // -> the leaves 1 and 2 with their shapes.
  EXPECT_THAT(
      dot, HasSubstr("root [shape=ellipse, fillcolor=darkolivegreen1, label=\"tensor 4\\n()\"];"));
  EXPECT_THAT(dot, HasSubstr("root -> n0;"));
  EXPECT_THAT(dot, HasSubstr("n0 [label=\"SumBackward0\"];"));
  EXPECT_THAT(dot, HasSubstr("n0 -> n1;"));
  EXPECT_THAT(dot, HasSubstr("MulBackward0"));
  EXPECT_THAT(dot, HasSubstr("n1 -> n2;"));
  EXPECT_THAT(dot, HasSubstr("n1 -> n3;"));
  EXPECT_THAT(dot, HasSubstr("n2 [label=\"AccumulateGrad\"];"));
  EXPECT_THAT(dot, HasSubstr("t1 [shape=ellipse, fillcolor=lightblue, label=\"tensor 1\\n(2)\"];"));
  EXPECT_THAT(dot, HasSubstr("t2 [shape=ellipse, fillcolor=lightblue, label=\"tensor 2\\n(2)\"];"));
  EXPECT_THAT(dot, HasSubstr("n2 -> t1;"));
  EXPECT_THAT(dot, HasSubstr("n3 -> t2;"));
  // MulBackward0 saved both factors.
  EXPECT_THAT(dot, HasSubstr("self: (2)"));
  EXPECT_THAT(dot, HasSubstr("other: (2)"));
  EXPECT_THAT(dot, Not(HasSubstr("freed")));
  EXPECT_THAT(dot, Not(HasSubstr("torch::autograd")));

  remote_->Backward(s, kD);
  Result after = Ctl({"graph", s, "4", "--format=dot"});
  ASSERT_EQ(after.rc, 0) << after;
  KeepArtifact("small_after_backward.dot", after.out);
  EXPECT_THAT(after.out, HasSubstr("self: (2) freed"));
  EXPECT_THAT(after.out, HasSubstr("other: (2) freed"));
}

TEST_F(Tensorctl, GraphOfTheTutorialLeavesOutNoneEdges) {
  const std::string s = TutorialSession();
  Result r = Ctl({"graph", s, std::to_string(kLoss)});
  ASSERT_EQ(r.rc, 0) << r;
  KeepArtifact("tutorial.dot", r.out);
  const std::string& dot = r.out;
  for (const char* name : {"BinaryCrossEntropyWithLogitsBackward0", "AddBackward0",
                           "SqueezeBackward3", "MmBackward0", "AccumulateGrad"}) {
    EXPECT_THAT(dot, HasSubstr(name));
  }
  EXPECT_THAT(dot, HasSubstr("label=\"tensor 7\\n()\""));
  EXPECT_THAT(dot, HasSubstr("label=\"tensor 3\\n(5, 3)\""));  // w
  EXPECT_THAT(dot, HasSubstr("label=\"tensor 4\\n(3)\""));     // b
  // x and y do not require grad: no nodes for them, and their None edges are not drawn.
  EXPECT_THAT(dot, Not(HasSubstr("tensor 1\\n")));
  EXPECT_THAT(dot, Not(HasSubstr("tensor 2\\n")));
  EXPECT_THAT(dot, Not(HasSubstr("-1")));

  // The file written with -o is the same text.
  const std::string dir = TempDir("tensorctl_graph");
  Result to_file = Ctl({"graph", s, "7", "-o", dir + "/loss.dot"});
  ASSERT_EQ(to_file.rc, 0) << to_file;
  EXPECT_EQ(to_file.out, "");
  EXPECT_EQ(ReadAll(dir + "/loss.dot"), dot);

  if (!HaveGraphviz()) GTEST_SKIP() << "graphviz's dot is not installed: svg/png not checked";
  Result svg = Ctl({"graph", s, "7", "--format", "svg", "-o", dir + "/loss.svg"});
  ASSERT_EQ(svg.rc, 0) << svg;
  const std::string svg_text = ReadAll(dir + "/loss.svg");
  EXPECT_TRUE(absl::StartsWith(svg_text, "<?xml") || absl::StartsWith(svg_text, "<svg"))
      << svg_text.substr(0, 80);
  EXPECT_THAT(svg_text, HasSubstr("BinaryCrossEntropyWithLogitsBackward0"));
  EXPECT_THAT(svg_text, HasSubstr("</svg>"));
  KeepArtifact("tutorial.svg", svg_text);

  Result png = Ctl({"graph", s, "7", "--format=png", "--output=" + dir + "/loss.png"});
  ASSERT_EQ(png.rc, 0) << png;
  const std::string png_bytes = ReadAll(dir + "/loss.png");
  ASSERT_GT(png_bytes.size(), 8u);
  EXPECT_EQ(png_bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  KeepArtifact("tutorial.png", png_bytes);

  // svg on stdout (no -o).
  Result svg_out = Ctl({"graph", s, "7", "--format", "svg"});
  ASSERT_EQ(svg_out.rc, 0) << svg_out;
  EXPECT_THAT(svg_out.out, HasSubstr("<svg"));

  // After backward the graph's saved tensors are marked freed in the picture too.
  remote_->Backward(s, kLoss);
  Result freed = Ctl({"graph", s, "7", "--format", "svg"});
  ASSERT_EQ(freed.rc, 0) << freed;
  EXPECT_THAT(freed.out, HasSubstr("freed"));
  Result freed_png = Ctl({"graph", s, "7", "--format", "png", "-o", dir + "/loss_after.png"});
  ASSERT_EQ(freed_png.rc, 0) << freed_png;
  KeepArtifact("tutorial_after_backward.png", ReadAll(dir + "/loss_after.png"));
}

TEST_F(Tensorctl, GraphOfALeafAndOfATensorWithoutGrad) {
  const std::string s = TutorialSession();
  Result leaf = Ctl({"graph", s, std::to_string(kW)});
  ASSERT_EQ(leaf.rc, 0) << leaf;
  EXPECT_THAT(leaf.out,
              HasSubstr("root [shape=ellipse, fillcolor=lightblue, label=\"tensor 3\\n(5, 3)\"];"));
  EXPECT_THAT(leaf.out, HasSubstr("root -> n0;"));
  EXPECT_THAT(leaf.out, HasSubstr("n0 [label=\"AccumulateGrad\"];"));
  EXPECT_THAT(leaf.out, Not(HasSubstr("t3 ")));

  Result none = Ctl({"graph", s, std::to_string(kX)});
  ASSERT_EQ(none.rc, 0) << none;
  EXPECT_THAT(none.out, HasSubstr("label=\"tensor 1\\n(5)\\nno grad_fn\""));
  EXPECT_THAT(none.out, Not(HasSubstr("->")));
}

TEST_F(Tensorctl, GraphWithoutGraphvizFailsClearly) {
  const std::string s = SmallSession();
  const std::string empty_dir = TempDir("tensorctl_nopath");
  Result r =
      Ctl({"graph", s, "4", "--format", "png", "-o", empty_dir + "/g.png"}, {"PATH=" + empty_dir});
  EXPECT_EQ(r.rc, 3) << r;
  EXPECT_THAT(r.err, HasSubstr("'dot' program was not found on PATH"));
  EXPECT_THAT(r.err, HasSubstr("--format dot"));
  // dot output needs no graphviz.
  Result dot = Ctl({"graph", s, "4"}, {"PATH=" + empty_dir});
  EXPECT_EQ(dot.rc, 0) << dot;
}

// ---- ops, stats, health -------------------------------------------------------------------------

TEST_F(Tensorctl, OpsListsEveryOpOfTheTable) {
  const pb::ListOpsResponse ops = remote_->Ops();
  ASSERT_GT(ops.ops_size(), 10);
  Result r = Ctl({"ops"});
  ASSERT_EQ(r.rc, 0) << r;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), static_cast<size_t>(ops.ops_size()) + 1) << r.out;
  EXPECT_THAT(lines[0], AllOf(StartsWith("OP"), HasSubstr("INPUTS"), HasSubstr("GRAD_FN"),
                              HasSubstr("SCHEMA")));
  for (int i = 0; i < ops.ops_size(); ++i) {
    EXPECT_THAT(lines[i + 1], StartsWith(ops.ops(i).name() + " ")) << "row " << i + 1;
    if (!ops.ops(i).grad_fn().empty()) {
      EXPECT_THAT(lines[i + 1], HasSubstr(" " + ops.ops(i).grad_fn() + " "));
    }
  }
  EXPECT_THAT(r.out,
              HasSubstr(" add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"));
  EXPECT_THAT(r.out, HasSubstr(" mse_loss(Tensor self, Tensor target, int reduction=1) -> Tensor"));
  EXPECT_THAT(r.out, HasSubstr("input_size: int[]"));  // an internal op: its attributes

  Result json = Ctl({"ops", "--format=json"});
  ASSERT_EQ(json.rc, 0) << json;
  for (const pb::OpInfo& op : ops.ops())
    EXPECT_THAT(json.out, HasSubstr("{\"name\":\"" + op.name() + "\","));
  EXPECT_THAT(json.out, HasSubstr("\"schema\":\"sum.dim_IntList(Tensor self, int[1]? dim, bool "
                                  "keepdim=False, *, ScalarType? dtype=None) -> Tensor\","
                                  "\"overload_group\":\"sum\",\"overload_name\":\"dim_IntList\""));
}

TEST_F(Tensorctl, StatsReportsTheServer) {
  SmallSession();
  Result r = Ctl({"stats"});
  ASSERT_EQ(r.rc, 0) << r;
  for (const char* key :
       {"version:", "replica:", "uptime:", "workers:           2\n", "sessions:",
        "sessions expired:", "tensors:", "bytes:", "ops served:", "commands served:"}) {
    EXPECT_THAT(r.out, HasSubstr(key));
  }
  Result json = Ctl({"stats", "--format", "json"});
  ASSERT_EQ(json.rc, 0) << json;
  EXPECT_THAT(json.out, AllOf(StartsWith("{\"version\":\""), HasSubstr("\"workers\":2,"),
                              HasSubstr("\"sessions\":"), HasSubstr("\"ops_served\":"),
                              HasSubstr("\"commands_served\":")));
}

TEST_F(Tensorctl, HealthIsServing) {
  Result r = Ctl({"health"});
  EXPECT_EQ(r.rc, 0) << r;
  EXPECT_EQ(r.out, "SERVING\n");
}

TEST_F(Tensorctl, HealthOfAnUnreachableServerExits1) {
  TensordProcess gone;
  ASSERT_TRUE(gone.Start({})) << gone.log();
  const std::string address = gone.address();
  gone.Stop();
  Result r = RunTensorctl({"health", "--address=" + address, "--timeout=2s"});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("UNAVAILABLE"));
  EXPECT_EQ(r.out, "");
}

// ---- errors and usage ---------------------------------------------------------------------------

TEST_F(Tensorctl, UnknownSessionExits1WithNotFound) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"show", "no-such-session", "1"},
                                             {"tensors", "no-such-session"},
                                             {"graph", "no-such-session", "1"},
                                             {"close", "no-such-session"}}) {
    Result r = Ctl(args);
    EXPECT_EQ(r.rc, 1) << r;
    EXPECT_THAT(r.err, HasSubstr("NOT_FOUND: unknown session 'no-such-session'")) << r;
    EXPECT_EQ(r.out, "");
  }
  const std::string s = SmallSession();
  Result r = Ctl({"show", s, "99"});
  EXPECT_EQ(r.rc, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
}

TEST_F(Tensorctl, BadUsageExits2WithHelp) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "no command given"},
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"show", "abc"}, "'show' takes ID HANDLE"},
      {{"show", "abc", "x1"}, "HANDLE must be a tensor handle"},
      {{"show", "abc", "0"}, "HANDLE must be a tensor handle"},
      {{"sessions", "extra"}, "'sessions' takes no arguments"},
      {{"graph", "abc", "1", "--format=gif"}, "--format must be dot, svg or png"},
      {{"sessions", "--format=yaml"}, "--format must be table or json"},
      {{"sessions", "--grad"}, "--grad does not apply to 'sessions'"},
      {{"close", "abc", "--format=json"}, "--format does not apply to 'close'"},
      {{"stats", "--bogus"}, "unknown flag --bogus"},
      {{"stats", "--timeout=soon"}, "bad value for --timeout"},
      {{"stats", "--timeout"}, "flag --timeout needs a value"},
      {{"help", "frobnicate"}, "no help for 'frobnicate'"},
  };
  for (const Case& c : cases) {
    Result r = Ctl(c.args);
    EXPECT_EQ(r.rc, 2) << r;
    EXPECT_THAT(r.err, HasSubstr("tensorctl: " + c.message)) << r;
    EXPECT_THAT(r.err, HasSubstr("Usage: tensorctl")) << r;
    EXPECT_EQ(r.out, "") << r;
  }
}

TEST_F(Tensorctl, HelpForTheToolAndEveryCommand) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"}, {"help"}, {"-h"}}) {
    Result r = RunTensorctl(args);
    EXPECT_EQ(r.rc, 0) << r;
    EXPECT_THAT(r.out, HasSubstr("Usage: tensorctl [global flags] COMMAND"));
    for (const char* cmd :
         {"sessions", "close ID", "show ID HANDLE", "graph ID HANDLE", "ops", "stats", "health"}) {
      EXPECT_THAT(r.out, HasSubstr(std::string("\n  ") + cmd + " "));
    }
    EXPECT_THAT(r.out,
                AllOf(HasSubstr("--address"), HasSubstr("--token"), HasSubstr("--tls"),
                      HasSubstr("--ca_cert"), HasSubstr("--timeout"), HasSubstr("Exit codes")));
  }
  for (const char* cmd : {"sessions", "close", "show", "graph", "ops", "stats", "health"}) {
    Result a = RunTensorctl({"help", cmd});
    Result b = RunTensorctl({cmd, "--help"});
    EXPECT_EQ(a.rc, 0) << a;
    EXPECT_EQ(b.rc, 0) << b;
    EXPECT_EQ(a.out, b.out);
    EXPECT_THAT(a.out, HasSubstr(std::string("Usage: tensorctl ") + cmd));
    EXPECT_THAT(a.out, HasSubstr("Examples:"));
  }
  Result graph = RunTensorctl({"help", "graph"});
  EXPECT_THAT(graph.out, AllOf(HasSubstr("--format=dot|svg|png"), HasSubstr("-o, --output=FILE")));
  Result show = RunTensorctl({"help", "show"});
  EXPECT_THAT(show.out, HasSubstr("[--grad]"));
}

// ---- close --------------------------------------------------------------------------------------

TEST_F(Tensorctl, CloseFreesTheSessionAndReportsWhatItHeld) {
  const std::string s = SmallSession();
  Result r = Ctl({"close", s});
  ASSERT_EQ(r.rc, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("closed session " + s + "\n"));
  EXPECT_THAT(r.out, HasSubstr("labels:   owner=tensorctl-test,purpose=small\n"));
  EXPECT_THAT(r.out, HasSubstr("held:     4 tensors, "));
  EXPECT_THAT(r.out, HasSubstr("commands: 4\n"));
  Result list = Ctl({"sessions"});
  EXPECT_EQ(list.rc, 0) << list;
  EXPECT_THAT(list.out, Not(HasSubstr(s)));
  Result again = Ctl({"close", s});
  EXPECT_EQ(again.rc, 1) << again;
  EXPECT_THAT(again.err, HasSubstr("NOT_FOUND"));
}

// ---- a server that wants a bearer token ---------------------------------------------------------

TEST(TensorctlAuth, TokenFromFlagOrEnvironment) {
  const std::string tokens = TempPath("tensorctl_tokens");
  std::ofstream(tokens) << "sesame\n";
  TensordProcess server;
  ASSERT_TRUE(server.Start({"--token_file=" + tokens})) << server.log();
  const std::string address = "--address=" + server.address();

  Result none = RunTensorctl({"stats", address}, {"TENSORD_TOKEN="});
  EXPECT_EQ(none.rc, 1) << none;
  EXPECT_THAT(none.err, HasSubstr("UNAUTHENTICATED: missing bearer token"));

  Result wrong = RunTensorctl({"sessions", address, "--token=nope"}, {"TENSORD_TOKEN="});
  EXPECT_EQ(wrong.rc, 1) << wrong;
  EXPECT_THAT(wrong.err, HasSubstr("UNAUTHENTICATED: invalid bearer token"));

  Remote remote(server.address(), "sesame");
  const std::string s = remote.NewSession({{"who", "sesame"}});
  Result flag = RunTensorctl({"sessions", address, "--token", "sesame"}, {"TENSORD_TOKEN="});
  EXPECT_EQ(flag.rc, 0) << flag;
  EXPECT_THAT(flag.out, HasSubstr(s));
  Result env = RunTensorctl({"sessions", address}, {"TENSORD_TOKEN=sesame"});
  EXPECT_EQ(env.rc, 0) << env;
  EXPECT_THAT(env.out, HasSubstr(s));
  unlink(tokens.c_str());
}

// ---- a server that speaks TLS -------------------------------------------------------------------

TEST(TensorctlTls, CaCertImpliesTls) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "the openssl binary is not installed: cannot make a test certificate";
  }
  const std::string dir = TempDir("tensorctl_tls");
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 1 -keyout " +
      dir + "/key.pem -out " + dir + "/cert.pem > " + dir + "/openssl.log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadAll(dir + "/openssl.log");
  TensordProcess server;
  ASSERT_TRUE(server.Start({"--tls_cert=" + dir + "/cert.pem", "--tls_key=" + dir + "/key.pem"}))
      << server.log();
  const std::string address = "--address=" + server.address();

  Result ok = RunTensorctl({"health", address, "--ca_cert=" + dir + "/cert.pem"});
  EXPECT_EQ(ok.rc, 0) << ok;
  EXPECT_EQ(ok.out, "SERVING\n");
  Result stats = RunTensorctl({"stats", address, "--tls", "--ca_cert", dir + "/cert.pem"});
  EXPECT_EQ(stats.rc, 0) << stats;
  // Plaintext against a TLS server, and TLS without trusting its certificate, fail as RPC errors.
  Result plain = RunTensorctl({"health", address, "--timeout=3s"});
  EXPECT_EQ(plain.rc, 1) << plain;
  EXPECT_THAT(plain.err, HasSubstr("UNAVAILABLE"));
  Result untrusted = RunTensorctl({"health", address, "--tls", "--timeout=3s"});
  EXPECT_EQ(untrusted.rc, 1) << untrusted;
  // An unreadable CA file is a usage error.
  Result missing = RunTensorctl({"health", address, "--ca_cert=" + dir + "/nope.pem"});
  EXPECT_EQ(missing.rc, 2) << missing;
  EXPECT_THAT(missing.err, HasSubstr("cannot read --ca_cert"));
}

}  // namespace
