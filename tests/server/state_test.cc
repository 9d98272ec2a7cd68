// Sessions that outlive their server (--state_dir): drain writes them, a new server restores
// them under the same ids; a corrupted or half-written state file is reported and skipped; with
// --snapshot_interval a kill -9 loses at most the interval.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/server/server_test_util.h"
#include "tests/server/tensord_process.h"

namespace tensord::testing {
namespace {

std::string MakeTempDir(const std::string& what) {
  std::string tmpl = ::testing::TempDir() + what + "_XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out.push_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A server that can be stopped (drained) and started again on the same state directory.
class StateTest : public ServerTest {
 protected:
  StateTest() {
    state_dir_ = MakeTempDir("state");
    options_.state_dir = state_dir_;
  }
  void Restart() {
    server_->Shutdown(absl::Seconds(5));
    server_.reset();
    SetUp();
  }
  std::string NewSessionWithId(const std::string& id, uint64_t seed,
                               std::map<std::string, std::string> labels = {}) {
    pb::CreateSessionRequest req;
    req.set_seed(seed);
    req.set_session_id(id);
    req.set_ttl_seconds(3600);
    req.set_default_dtype(pb::DTYPE_FLOAT64);
    for (auto& [k, v] : labels) (*req.mutable_labels())[k] = v;
    pb::CreateSessionResponse resp;
    grpc::Status s = stub_->CreateSession(Ctx(id).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.session_id();
  }
  pb::TensorData Rand(const std::string& sid, uint64_t id) {
    pb::FactoryRequest req;
    req.set_session_id(sid);
    req.set_id(id);
    req.set_name("rand");
    req.add_shape(4);
    pb::TensorsResponse resp;
    EXPECT_TRUE(stub_->Factory(Ctx(sid).get(), req, &resp).ok());
    return Get(sid, id).value();
  }
  pb::SessionInfo Describe(const std::string& sid) {
    pb::SessionRequest req;
    req.set_session_id(sid);
    pb::SessionInfo info;
    grpc::Status s = stub_->DescribeSession(Ctx(sid).get(), req, &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return info;
  }
  pb::TensorInfo Info(const std::string& sid, uint64_t id) {
    pb::TensorRequest req;
    req.set_session_id(sid);
    req.set_id(id);
    pb::TensorsResponse resp;
    EXPECT_TRUE(stub_->GetInfo(Ctx(sid).get(), req, &resp).ok());
    return resp.tensors_size() ? resp.tensors(0) : pb::TensorInfo();
  }

  std::string state_dir_;
};

TEST_F(StateTest, DrainSavesSessionsAndARestartRestoresThemUnderTheSameIds) {
  const std::string id = "state-test-session-0001";
  const std::string sid = NewSessionWithId(id, 42, {{"team", "ml"}});
  ASSERT_EQ(sid, id);
  Create(sid, 1, {1, 2, 3}, {3}, /*requires_grad=*/true);
  MustOp(sid, "mul", {1, 1}, 2);  // a non-leaf
  MustOp(sid, "sum", {2}, 3);
  ASSERT_TRUE(Backward(sid, {3}, {}, true).ok());
  // w.grad bound to a handle of its own: after the restart it is still w's .grad.
  pb::AliasRequest bind;
  bind.set_session_id(sid);
  bind.set_id(1);
  bind.set_out(4);
  pb::TensorsResponse bound;
  ASSERT_TRUE(stub_->BindGrad(Ctx(sid).get(), bind, &bound).ok());
  const pb::TensorData r1 = Rand(sid, 5);  // advances the generator
  pb::SetGradModeRequest mode;
  mode.set_session_id(sid);
  mode.set_enabled(false);
  pb::GradModeResponse mr;
  ASSERT_TRUE(stub_->SetGradMode(Ctx(sid).get(), mode, &mr).ok());

  Restart();

  pb::SessionInfo info = Describe(sid);
  EXPECT_EQ(info.labels().at("team"), "ml");
  EXPECT_EQ(info.ttl_seconds(), 3600);
  EXPECT_FALSE(info.grad_enabled());
  EXPECT_EQ(info.tensors(), 5);
  EXPECT_EQ(FloatsOf(Get(sid, 1).value()), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(FloatsOf(Get(sid, 1, true).grad()), (std::vector<float>{2, 4, 6}));
  EXPECT_EQ(FloatsOf(Get(sid, 2).value()), (std::vector<float>{1, 4, 9}));
  const pb::TensorInfo w = Info(sid, 1), y = Info(sid, 2);
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
  EXPECT_TRUE(y.is_leaf());  // graphs are not kept: y has no grad_fn any more
  EXPECT_EQ(y.grad_fn(), "");
  EXPECT_TRUE(y.requires_grad());
  // Handle 4 is w.grad itself: zeroing it in place zeroes w.grad.
  pb::ApplyOpRequest zero;
  zero.set_session_id(sid);
  zero.set_op("zero_");
  zero.add_inputs(4);
  pb::TensorsResponse zr;
  ASSERT_TRUE(stub_->ApplyOp(Ctx(sid).get(), zero, &zr).ok());
  EXPECT_EQ(FloatsOf(Get(sid, 1, true).grad()), (std::vector<float>{0, 0, 0}));
  // The generator continues where it was: the same draw as an uninterrupted session's second.
  const std::string ref = NewSessionWithId("state-test-reference-01", 42);
  Rand(ref, 1);
  EXPECT_EQ(Rand(sid, 6).data(), Rand(ref, 2).data());
  EXPECT_NE(Rand(sid, 7).data(), r1.data());
}

TEST_F(StateTest, ClosedSessionsDoNotComeBackAndUnchangedOnesAreNotRewritten) {
  const std::string a = NewSessionWithId("state-test-closed-0001", 1);
  const std::string b = NewSessionWithId("state-test-kept-000001", 1);
  Create(b, 1, {5}, {1});
  ASSERT_EQ(server_->state()->Snapshot()->sessions_written, 2);
  EXPECT_EQ(server_->state()->Snapshot()->sessions_unchanged, 2);
  pb::SessionRequest close;
  close.set_session_id(a);
  pb::SessionInfo closed;
  ASSERT_TRUE(stub_->CloseSession(Ctx(a).get(), close, &closed).ok());
  Restart();
  EXPECT_EQ(Files(state_dir_).size(), 1u);
  pb::SessionRequest req;
  req.set_session_id(a);
  pb::SessionInfo info;
  EXPECT_EQ(stub_->DescribeSession(Ctx(a).get(), req, &info).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(FloatsOf(Get(b, 1).value()), (std::vector<float>{5}));
}

TEST_F(StateTest, CorruptedAndHalfWrittenFilesAreReportedAndTheValidOnesRestored) {
  const std::string good = NewSessionWithId("state-test-good-000001", 1);
  const std::string flipped = NewSessionWithId("state-test-flipped-001", 1);
  const std::string cut = NewSessionWithId("state-test-cut-0000001", 1);
  for (const std::string& s : {good, flipped, cut}) Create(s, 1, {1, 2, 3, 4}, {4});
  server_->Shutdown(absl::Seconds(5));
  server_.reset();
  for (const std::string& f : Files(state_dir_)) {
    const std::string path = state_dir_ + "/" + f;
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string bytes = ss.str();
    if (absl::StrContains(f, "flipped")) {
      bytes[bytes.size() - 3] ^= 0x40;  // one bit of the data: only the checksum can tell
    } else if (absl::StrContains(f, "cut")) {
      bytes.resize(bytes.size() - 5);  // a write that stopped half-way
    } else {
      continue;
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  // A stray temporary file of an interrupted snapshot is not a session.
  std::ofstream(state_dir_ + "/.session-x.safetensors.tmp-1234") << "partial";
  SetUp();
  EXPECT_EQ(FloatsOf(Get(good, 1).value()), (std::vector<float>{1, 2, 3, 4}));
  pb::SessionRequest req;
  pb::SessionInfo info;
  for (const std::string& s : {flipped, cut}) {
    req.set_session_id(s);
    EXPECT_EQ(stub_->DescribeSession(Ctx(s).get(), req, &info).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  int corrupt = 0;
  for (const std::string& f : Files(state_dir_)) corrupt += absl::EndsWith(f, ".corrupt");
  EXPECT_EQ(corrupt, 2);
}

TEST_F(StateTest, ARepeatedBatchRunsOnceAndIsAnsweredFromItsFirstRunAlsoAfterARestart) {
  const std::string sid = NewSessionWithId("state-test-replay-00001", 1);
  Create(sid, 1, {1, 2}, {2});
  pb::ExecuteRequest batch;
  batch.set_session_id(sid);
  batch.set_request_id(77);
  pb::ApplyOpRequest* add = batch.add_commands()->mutable_apply_op();
  add->set_op("add_");  // not idempotent: running it twice would add twice
  add->add_inputs(1);
  add->add_inputs(1);
  pb::ExecuteResponse first, again, after_restart;
  ASSERT_TRUE(stub_->Execute(Ctx(sid).get(), batch, &first).ok());
  ASSERT_TRUE(stub_->Execute(Ctx(sid).get(), batch, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(FloatsOf(Get(sid, 1).value()), (std::vector<float>{2, 4}));
  Restart();
  ASSERT_TRUE(stub_->Execute(Ctx(sid).get(), batch, &after_restart).ok());
  EXPECT_EQ(after_restart.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(FloatsOf(Get(sid, 1).value()), (std::vector<float>{2, 4}));
  // Another id runs.
  batch.set_request_id(78);
  ASSERT_TRUE(stub_->Execute(Ctx(sid).get(), batch, &again).ok());
  EXPECT_EQ(FloatsOf(Get(sid, 1).value()), (std::vector<float>{4, 8}));
}

using process_test::TensordProcessTest;

TEST_F(TensordProcessTest, KillDashNineLosesAtMostTheSnapshotInterval) {
  const std::string dir = MakeTempDir("state_kill");
  const std::vector<std::string> flags = {"--state_dir=" + dir, "--snapshot_interval=100ms"};
  StartServer(flags);
  ASSERT_FALSE(HasFatalFailure());
  const std::string sid = "state-kill-session-0001";
  pb::CreateSessionRequest create;
  create.set_session_id(sid);
  pb::CreateSessionResponse created;
  ASSERT_TRUE(stub_->CreateSession(Ctx(sid).get(), create, &created).ok());
  pb::CreateTensorRequest req;
  req.set_session_id(sid);
  req.set_id(1);
  req.mutable_data()->set_dtype(pb::DTYPE_FLOAT32);
  req.mutable_data()->add_shape(1);
  const float v = 7;
  req.mutable_data()->set_data(std::string(reinterpret_cast<const char*>(&v), 4));
  pb::TensorsResponse resp;
  ASSERT_TRUE(stub_->CreateTensor(Ctx(sid).get(), req, &resp).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // a few intervals
  kill(pid_, SIGKILL);
  ASSERT_TRUE(WaitExit(std::chrono::seconds(5)).has_value());
  StartServer(flags);
  ASSERT_FALSE(HasFatalFailure());
  pb::GetTensorRequest get;
  get.set_session_id(sid);
  get.set_id(1);
  pb::GetTensorResponse got;
  grpc::Status s = stub_->GetTensor(Ctx(sid).get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  float back = 0;
  ASSERT_EQ(got.value().data().size(), 4u);
  std::memcpy(&back, got.value().data().data(), 4);
  EXPECT_EQ(back, 7);
}

}  // namespace
}  // namespace tensord::testing
