// The scenarios: what one request is. echo, create and op talk to the generated stubs directly
// (so a request is exactly the RPCs named); tutorial, train and mlp use the C++ client library
// (tensord/client.h), pipelined or one RPC per command, as an application would.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/load/load.h"
#include "proto/wire.h"
#include "tensord/client.h"
#include "tensord/v1/tensord.grpc.pb.h"

namespace tensord::load {

namespace pb = ::tensord::v1;
namespace td = ::tensord::client;

namespace {

using wire::kSessionHeader;
constexpr int64_t kUploadThreshold = 1 << 20;  // bytes: larger tensors go through Upload ...
constexpr int64_t kChunkBytes = 1 << 20;       // ... in chunks of this size
constexpr size_t kReleaseEvery = 64;           // op: release the results every 64 of them

using SysClock = std::chrono::system_clock;

// Setting up (sessions, input tensors) is not measured: give it at least 10 s, whatever --deadline.
SysClock::time_point SetupDeadline(const Config& c) {
  return SysClock::now() + absl::ToChronoNanoseconds(std::max(c.deadline, absl::Seconds(10)));
}

absl::Status ToStatus(int code, const std::string& message) {
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

Outcome FromGrpc(const grpc::Status& s, const char* what) {
  if (s.ok()) return {};
  return {static_cast<int>(s.error_code()), absl::StrCat(what, ": ", s.error_message())};
}

// 128 random bits as 32 hex digits: a session id the client proposes (as the library does).
std::string RandomSessionId() {
  std::random_device rd;
  std::string id;
  for (int i = 0; i < 4; ++i) absl::StrAppend(&id, absl::Hex(rd(), absl::kZeroPad8));
  return id;
}

// `n` float32 values in [-1, 1), as little-endian bytes.
std::string RandomFloatBytes(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::string bytes(static_cast<size_t>(n) * sizeof(float), '\0');
  for (int64_t i = 0; i < n; ++i) {
    const float f = dist(gen);
    std::memcpy(bytes.data() + i * sizeof(float), &f, sizeof(float));
  }
  return bytes;
}

// ---- the generated stubs
// -------------------------------------------------------------------------

// The pipelined Stream of one session, shared by the workers on it: commands are written in
// order under a lock and the results, which come back in the same order, are matched by a reader
// thread.
class CommandStream {
 public:
  struct Slot {
    bool ready = false;
    int code = 0;
    std::string message;
  };

  CommandStream(pb::Tensord::Stub* stub, std::unique_ptr<grpc::ClientContext> ctx,
                std::string session_id)
      : stub_(stub), ctx_(std::move(ctx)), session_id_(std::move(session_id)) {}

  ~CommandStream() { Close(); }

  absl::Status Open() {
    stream_ = stub_->Stream(ctx_.get());
    pb::StreamRequest hello;
    hello.set_session_id(session_id_);
    if (!stream_->Write(hello)) {
      const grpc::Status s = stream_->Finish();
      broken_ = true;
      return ToStatus(
          s.ok() ? grpc::StatusCode::UNAVAILABLE : s.error_code(),
          absl::StrCat("Stream: ", s.ok() ? "the stream closed at once" : s.error_message()));
    }
    reader_ = std::thread([this] { ReaderLoop(); });
    return absl::OkStatus();
  }

  // Writes the commands back to back (no other writer in between) and returns their slots.
  std::vector<std::shared_ptr<Slot>> Send(std::vector<pb::Command> commands) {
    std::vector<std::shared_ptr<Slot>> slots;
    std::lock_guard<std::mutex> write_lock(write_mu_);
    for (pb::Command& c : commands) {
      auto slot = std::make_shared<Slot>();
      slots.push_back(slot);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (broken_) {
          FailLocked(*slot);
          continue;
        }
        pending_.push_back(slot);
      }
      pb::StreamRequest req;
      *req.mutable_command() = std::move(c);
      if (!stream_->Write(req)) {
        std::lock_guard<std::mutex> lock(mu_);
        // The reader thread fails every pending slot (this one included) when Read ends.
        write_failed_ = true;
      }
    }
    return slots;
  }

  // Waits for `slot`'s answer until `deadline`; false when the deadline passed first.
  bool Wait(const std::shared_ptr<Slot>& slot, std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return slot->ready; });
  }

  // The slot's result (call after Wait returned true).
  Outcome Result(const Slot& slot) {
    std::lock_guard<std::mutex> lock(mu_);
    return {slot.code, slot.message};
  }

  void Close() {
    {
      std::lock_guard<std::mutex> write_lock(write_mu_);
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_ || !stream_) return;
      closing_ = true;
      if (!broken_ && !write_failed_) stream_->WritesDone();
    }
    if (reader_.joinable()) reader_.join();
  }

 private:
  void ReaderLoop() {
    pb::CommandResult result;
    while (stream_->Read(&result)) {
      std::lock_guard<std::mutex> lock(mu_);
      if (pending_.empty()) continue;  // cannot happen: one result per command, in order
      std::shared_ptr<Slot> slot = std::move(pending_.front());
      pending_.pop_front();
      slot->ready = true;
      slot->code = result.code();
      if (result.code() != 0) slot->message = result.message();
      cv_.notify_all();
    }
    // The stream ended: learn why (no writer can be inside Write while we hold write_mu_... one
    // may be blocked in Write, which fails now that the call is over, and then waits for us).
    grpc::Status status;
    {
      std::lock_guard<std::mutex> write_lock(write_mu_);
      {
        std::lock_guard<std::mutex> lock(mu_);
        broken_ = true;
      }
      status = stream_->Finish();
    }
    std::lock_guard<std::mutex> lock(mu_);
    end_code_ = status.ok() ? grpc::StatusCode::UNAVAILABLE : status.error_code();
    end_message_ = absl::StrCat(
        "Stream: ", status.ok() ? "the stream to the server ended" : status.error_message());
    for (auto& slot : pending_) FailLocked(*slot);
    pending_.clear();
    cv_.notify_all();
  }

  void FailLocked(Slot& slot) {
    slot.ready = true;
    slot.code = end_code_;
    slot.message = end_message_;
  }

  pb::Tensord::Stub* stub_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::string session_id_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::StreamRequest, pb::CommandResult>> stream_;
  std::thread reader_;
  std::mutex write_mu_;  // one writer at a time
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Slot>> pending_;
  bool broken_ = false;
  bool write_failed_ = false;
  bool closing_ = false;
  int end_code_ = grpc::StatusCode::UNAVAILABLE;
  std::string end_message_ = "Stream: the stream to the server ended";
};

// One session slot over the generated stubs (echo: a channel, no session).
struct Conn {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Tensord::Stub> stub;
  std::string session_id;
  std::unique_ptr<CommandStream> stream;  // op --pipelined
};

class StubScenario : public Scenario {
 public:
  explicit StubScenario(const Config& c) : config_(c) {}

  absl::Status Setup() override {
    channels_ = MakeChannels(config_);
    const int n = config_.sessions > 0 ? config_.sessions : config_.concurrency;
    for (int i = 0; i < n; ++i) {
      auto conn = std::make_unique<Conn>();
      conn->channel = channels_[static_cast<size_t>(i % config_.connections)];
      conn->stub = pb::Tensord::NewStub(conn->channel);
      conns_.push_back(std::move(conn));
      if (config_.scenario == "echo") continue;
      Conn& c = *conns_.back();
      pb::CreateSessionRequest req;
      const std::string proposed = RandomSessionId();
      req.set_session_id(proposed);
      (*req.mutable_labels())["client"] = "tensord-load";
      (*req.mutable_labels())["scenario"] = config_.scenario;
      pb::CreateSessionResponse resp;
      auto ctx = Context(proposed, SetupDeadline(config_));
      const grpc::Status s = c.stub->CreateSession(ctx.get(), req, &resp);
      if (!s.ok())
        return ToStatus(s.error_code(), absl::StrCat("CreateSession: ", s.error_message()));
      c.session_id = resp.session_id();
      if (config_.scenario == "op" && config_.pipelined) {
        c.stream = std::make_unique<CommandStream>(
            c.stub.get(), Context(c.session_id, std::nullopt), c.session_id);
        if (absl::Status st = c.stream->Open(); !st.ok()) return st;
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Worker>> MakeWorker(int index) override;

  void Teardown() override {
    for (auto& c : conns_) {
      if (c->stream) c->stream->Close();
      if (c->session_id.empty()) continue;
      pb::SessionRequest req;
      req.set_session_id(c->session_id);
      pb::SessionInfo info;
      auto ctx = Context(c->session_id, SysClock::now() + std::chrono::seconds(5));
      (void)c->stub->CloseSession(ctx.get(), req, &info);
    }
    conns_.clear();
    channels_.clear();
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& session_id,
                                               std::optional<SysClock::time_point> deadline) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!session_id.empty()) ctx->AddMetadata(kSessionHeader, session_id);
    if (!config_.token.empty())
      ctx->AddMetadata(wire::kAuthorizationHeader, wire::kBearerPrefix + config_.token);
    if (deadline) ctx->set_deadline(*deadline);
    return ctx;
  }

  const Config& config() const { return config_; }

 private:
  const Config config_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<Conn>> conns_;
};

class EchoWorker : public Worker {
 public:
  EchoWorker(const StubScenario& s, Conn& c) : s_(s), c_(c) {
    req_.set_payload(std::string(s.config().payload_bytes, 'x'));
  }

  Outcome Run(SysClock::time_point deadline) override {
    auto ctx = s_.Context("", deadline);
    pb::EchoResponse resp;
    const grpc::Status st = c_.stub->Echo(ctx.get(), req_, &resp);
    if (!st.ok()) return FromGrpc(st, "Echo");
    if (resp.payload().size() != req_.payload().size()) {
      return {grpc::StatusCode::DATA_LOSS,
              absl::StrCat("Echo: sent ", req_.payload().size(), " bytes, got ",
                           resp.payload().size(), " back")};
    }
    return {};
  }

 private:
  const StubScenario& s_;
  Conn& c_;
  pb::EchoRequest req_;
};

// Uploads a float32 tensor: CreateTensor when it fits in kUploadThreshold bytes, else Upload.
Outcome PutTensor(const StubScenario& s, Conn& c, uint64_t id, int64_t elements,
                  const std::string& bytes, SysClock::time_point deadline) {
  auto ctx = s.Context(c.session_id, deadline);
  pb::TensorsResponse resp;
  if (static_cast<int64_t>(bytes.size()) <= kUploadThreshold) {
    pb::CreateTensorRequest req;
    req.set_session_id(c.session_id);
    req.set_id(id);
    req.mutable_data()->set_dtype(pb::DTYPE_FLOAT32);
    req.mutable_data()->add_shape(elements);
    req.mutable_data()->set_data(bytes);
    return FromGrpc(c.stub->CreateTensor(ctx.get(), req, &resp), "CreateTensor");
  }
  auto writer = c.stub->Upload(ctx.get(), &resp);
  bool ok = true;
  for (int64_t off = 0; ok && off < static_cast<int64_t>(bytes.size()); off += kChunkBytes) {
    pb::UploadChunk chunk;
    if (off == 0) {
      chunk.set_session_id(c.session_id);
      chunk.set_id(id);
      chunk.set_dtype(pb::DTYPE_FLOAT32);
      chunk.add_shape(elements);
    }
    chunk.set_data(bytes.substr(static_cast<size_t>(off), static_cast<size_t>(kChunkBytes)));
    ok = writer->Write(chunk);
  }
  if (ok) writer->WritesDone();
  return FromGrpc(writer->Finish(), "Upload");
}

Outcome Release(const StubScenario& s, Conn& c, const std::vector<uint64_t>& ids,
                SysClock::time_point deadline) {
  auto ctx = s.Context(c.session_id, deadline);
  pb::ReleaseRequest req;
  req.set_session_id(c.session_id);
  for (uint64_t id : ids) req.add_ids(id);
  pb::ReleaseResponse resp;
  return FromGrpc(c.stub->Release(ctx.get(), req, &resp), "Release");
}

// Handles of worker i: ((i + 1) << 40) + n, unique in a session shared by several workers.
uint64_t IdBase(int index) { return static_cast<uint64_t>(index + 1) << 40; }

class CreateWorker : public Worker {
 public:
  CreateWorker(const StubScenario& s, Conn& c, int index)
      : s_(s),
        c_(c),
        next_id_(IdBase(index)),
        bytes_(RandomFloatBytes(s.config().size, static_cast<uint32_t>(index))) {}

  Outcome Run(SysClock::time_point deadline) override {
    const uint64_t id = ++next_id_;
    Outcome o = PutTensor(s_, c_, id, s_.config().size, bytes_, deadline);
    if (o.code != 0) return o;
    return Release(s_, c_, {id}, deadline);
  }

 private:
  const StubScenario& s_;
  Conn& c_;
  uint64_t next_id_;
  const std::string bytes_;
};

class OpWorker : public Worker {
 public:
  OpWorker(const StubScenario& s, Conn& c, int index)
      : s_(s), c_(c), input_(IdBase(index) + 1), next_id_(input_) {}

  absl::Status Init(int index) {
    const std::string bytes = RandomFloatBytes(s_.config().size, static_cast<uint32_t>(index));
    const Outcome o =
        PutTensor(s_, c_, input_, s_.config().size, bytes, SetupDeadline(s_.config()));
    return o.code == 0 ? absl::OkStatus() : ToStatus(o.code, o.message);
  }

  Outcome Run(SysClock::time_point deadline) override {
    const int n = s_.config().ops_per_request;
    if (!c_.stream) {
      for (int k = 0; k < n; ++k) {
        auto ctx = s_.Context(c_.session_id, deadline);
        pb::ApplyOpRequest req;
        FillOp(&req);
        pb::TensorsResponse resp;
        const grpc::Status st = c_.stub->ApplyOp(ctx.get(), req, &resp);
        if (!st.ok()) return FromGrpc(st, "ApplyOp");
        outputs_.push_back(req.outputs(0));
      }
      return {};
    }
    std::vector<pb::Command> commands(static_cast<size_t>(n));
    for (pb::Command& c : commands) FillOp(c.mutable_apply_op());
    std::vector<uint64_t> ids;
    for (const pb::Command& c : commands) ids.push_back(c.apply_op().outputs(0));
    const auto slots = c_.stream->Send(std::move(commands));
    // Results come back in order: the last one answered means all of them are.
    const auto steady_deadline = std::chrono::steady_clock::now() + (deadline - SysClock::now());
    if (!c_.stream->Wait(slots.back(), steady_deadline)) {
      return {
          grpc::StatusCode::DEADLINE_EXCEEDED,
          absl::StrCat("Stream: no answer within ", absl::FormatDuration(s_.config().deadline))};
    }
    Outcome first_error;
    for (size_t i = 0; i < slots.size(); ++i) {
      Outcome o = c_.stream->Result(*slots[i]);
      if (o.code == 0) {
        outputs_.push_back(ids[i]);
      } else if (first_error.code == 0) {
        first_error = {o.code, absl::StrCat("ApplyOp ", s_.config().op, ": ", o.message)};
      }
    }
    return first_error;
  }

  // Untimed: gives the results back every kReleaseEvery of them, so the session does not grow.
  void Housekeeping() override {
    if (outputs_.size() < kReleaseEvery) return;
    if (!c_.stream) {
      (void)Release(s_, c_, outputs_,
                    SysClock::now() + absl::ToChronoNanoseconds(s_.config().deadline));
    } else {
      std::vector<pb::Command> release(1);
      for (uint64_t id : outputs_) release[0].mutable_release()->add_ids(id);
      (void)c_.stream->Send(std::move(release));  // its answer is not waited for
    }
    outputs_.clear();
  }

 private:
  void FillOp(pb::ApplyOpRequest* req) {
    req->set_session_id(c_.session_id);
    req->set_op(s_.config().op);
    req->add_inputs(input_);
    req->add_outputs(++next_id_);
  }

  const StubScenario& s_;
  Conn& c_;
  const uint64_t input_;
  uint64_t next_id_;
  std::vector<uint64_t> outputs_;
};

absl::StatusOr<std::unique_ptr<Worker>> StubScenario::MakeWorker(int index) {
  Conn& c = *conns_[static_cast<size_t>(index) % conns_.size()];
  if (config_.scenario == "echo") return std::make_unique<EchoWorker>(*this, c);
  if (config_.scenario == "create") return std::make_unique<CreateWorker>(*this, c, index);
  auto w = std::make_unique<OpWorker>(*this, c, index);
  if (absl::Status st = w->Init(index); !st.ok()) return st;
  return w;
}

// ---- the client library
// --------------------------------------------------------------------------

Outcome FromError(const td::Error& e) { return {e.code(), e.what()}; }

class LibraryScenario : public Scenario {
 public:
  explicit LibraryScenario(const Config& c) : config_(c) {}

  absl::Status Setup() override {
    const int n = config_.sessions > 0 ? config_.sessions : config_.concurrency;
    for (int i = 0; i < n; ++i) {
      td::ConnectOptions o;
      o.address = config_.address;
      o.token = config_.token;
      o.tls = config_.tls;
      o.root_certificates = config_.root_certificates;
      o.deadline_seconds = absl::ToDoubleSeconds(config_.deadline);
      o.seed = static_cast<uint64_t>(i) + 1;
      o.pipelined = config_.pipelined;
      try {
        sessions_.push_back(td::Session::Connect(o));
      } catch (const td::Error& e) {
        return ToStatus(e.code(), e.what());
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Worker>> MakeWorker(int index) override;

  std::pair<uint64_t, uint64_t> Counters() const override {
    uint64_t commands = 0, round_trips = 0;
    for (const td::Session& s : sessions_) {
      commands += s.commands_sent();
      round_trips += s.round_trips();
    }
    return {commands, round_trips};
  }

  void Teardown() override {
    for (td::Session& s : sessions_) {
      try {
        s.Close();
      } catch (const td::Error&) {  // the server reclaims it on TTL
      }
    }
    sessions_.clear();
  }

 private:
  const Config config_;
  std::vector<td::Session> sessions_;
};

// Every library worker: Run() turns the library's exceptions into outcomes. The library bounds
// each blocking wait by --deadline (ConnectOptions.deadline_seconds); `deadline` is not used.
class LibraryWorker : public Worker {
 public:
  explicit LibraryWorker(td::Session s) : s_(std::move(s)) {}
  Outcome Run(SysClock::time_point) override {
    try {
      return Step();
    } catch (const td::Error& e) {
      return FromError(e);
    } catch (const std::exception& e) {
      return {grpc::StatusCode::UNKNOWN, e.what()};
    }
  }

 protected:
  virtual Outcome Step() = 0;
  td::Session s_;
};

// The autograd tutorial: f(x) = x^2 * e^x, backward, x.grad fetched.
class TutorialWorker : public LibraryWorker {
 public:
  TutorialWorker(td::Session s, int64_t size) : LibraryWorker(std::move(s)) {
    for (int64_t i = 0; i < size; ++i)
      values_.push_back(-1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(size));
  }

 protected:
  Outcome Step() override {
    td::Tensor x = s_.tensor(values_, {}, td::requires_grad());
    td::Tensor y = (x.pow(2) * x.exp()).sum();
    y.backward();
    td::Tensor g = x.grad();
    if (!g.defined()) return {grpc::StatusCode::INTERNAL, "x.grad is None after y.backward()"};
    const std::vector<float> v = g.to_vector<float>();
    if (v.size() != values_.size()) {
      return {grpc::StatusCode::INTERNAL,
              absl::StrCat("x.grad has ", v.size(), " values, want ", values_.size())};
    }
    return {};
  }

 private:
  std::vector<double> values_;
};

// examples/linear_regression.cc's step. No NoGradGuard: .data() and .grad() do not require grad,
// so nothing is recorded anyway, and the grad mode is the session's, shared by the workers on it.
class TrainWorker : public LibraryWorker {
 public:
  explicit TrainWorker(td::Session s) : LibraryWorker(std::move(s)) {
    x_ = s_.linspace(-1, 1, 100).unsqueeze(1);
    y_ = x_ * 2.0 + 3.0 + s_.normal(0, 0.1, {100, 1});
    w_ = s_.zeros({1}, td::requires_grad());
    b_ = s_.zeros({1}, td::requires_grad());
    s_.Flush();
  }

 protected:
  Outcome Step() override {
    constexpr double kLr = 0.1;
    td::Tensor loss = td::mse_loss(x_ * w_ + b_, y_);
    loss.backward();
    w_.data().sub_(w_.grad() * kLr);
    b_.data().sub_(b_.grad() * kLr);
    w_.grad().zero_();
    b_.grad().zero_();
    const double l = loss.item<double>();
    if (!std::isfinite(l)) return {grpc::StatusCode::INTERNAL, absl::StrCat("the loss is ", l)};
    return {};
  }

 private:
  td::Tensor x_, y_, w_, b_;
};

// One SGD step of a 784-256-10 MLP on a batch of 64 (ReLU, cross_entropy).
class MlpWorker : public LibraryWorker {
 public:
  explicit MlpWorker(td::Session s) : LibraryWorker(std::move(s)) {
    w1_ = s_.normal(0, 1 / std::sqrt(784.0), {784, 256}, td::requires_grad());
    b1_ = s_.zeros({256}, td::requires_grad());
    w2_ = s_.normal(0, 1 / std::sqrt(256.0), {256, 10}, td::requires_grad());
    b2_ = s_.zeros({10}, td::requires_grad());
    x_ = s_.randn({64, 784});
    y_ = s_.randint(0, 10, {64});
    s_.Flush();
  }

 protected:
  Outcome Step() override {
    constexpr double kLr = 0.01;
    td::Tensor h = (x_.mm(w1_) + b1_).relu();
    td::Tensor logits = h.mm(w2_) + b2_;
    td::Tensor loss = td::cross_entropy(logits, y_);
    loss.backward();
    for (td::Tensor* p : {&w1_, &b1_, &w2_, &b2_}) {
      td::Tensor g = p->grad();
      p->data().sub_(g * kLr);
      g.zero_();
    }
    const double l = loss.item<double>();
    if (!std::isfinite(l)) return {grpc::StatusCode::INTERNAL, absl::StrCat("the loss is ", l)};
    return {};
  }

 private:
  td::Tensor w1_, b1_, w2_, b2_, x_, y_;
};

absl::StatusOr<std::unique_ptr<Worker>> LibraryScenario::MakeWorker(int index) {
  td::Session s = sessions_[static_cast<size_t>(index) % sessions_.size()];
  try {
    if (config_.scenario == "tutorial") return std::make_unique<TutorialWorker>(s, config_.size);
    if (config_.scenario == "train") return std::make_unique<TrainWorker>(s);
    return std::make_unique<MlpWorker>(s);
  } catch (const td::Error& e) {
    return ToStatus(e.code(), e.what());
  }
}

}  // namespace

const std::vector<std::string>& ScenarioNames() {
  static const auto* names =
      new std::vector<std::string>{"echo", "create", "op", "tutorial", "train", "mlp"};
  return *names;
}

std::string DescribeRequest(const Config& c) {
  const std::string lib =
      c.pipelined ? "client library, pipelined stream" : "client library, one RPC per command";
  if (!c.call.empty()) {
    return absl::StrCat(
        "one ", c.call, " call, request ", c.data.empty() ? "{}" : c.data,
        c.data.find("{{.SessionID}}") != std::string::npos ? " (a session per worker)" : "");
  }
  if (c.scenario == "echo")
    return absl::StrCat("one Echo RPC, ", c.payload_bytes, "-byte payload (no session)");
  if (c.scenario == "create") {
    const int64_t bytes = c.size * 4;
    return absl::StrCat(bytes > kUploadThreshold ? "Upload (1 MiB chunks)" : "CreateTensor",
                        " of float32[", c.size, "] (", bytes, " bytes), then Release: 2 RPCs");
  }
  if (c.scenario == "op") {
    const std::string ops = c.ops_per_request == 1 ? "one" : absl::StrCat(c.ops_per_request);
    const std::string what = absl::StrCat("'", c.op, "'(x), x float32[", c.size, "]");
    if (c.pipelined) {
      return absl::StrCat(ops, " ApplyOp command", c.ops_per_request == 1 ? "" : "s", " ", what,
                          " on the session's Stream, done when the last answers");
    }
    return absl::StrCat(ops, " ApplyOp RPC", c.ops_per_request == 1 ? "" : "s", " ", what);
  }
  if (c.scenario == "tutorial") {
    return absl::StrCat("x = tensor(", c.size,
                        " values, requires_grad); (x.pow(2) * x.exp()).sum().backward(); ",
                        "x.grad() fetched (", lib, ")");
  }
  if (c.scenario == "train") {
    return absl::StrCat(
        "one linear-regression step on 100 points: mse_loss, backward, w/b.data().sub_(grad * "
        "lr), ",
        "grad().zero_(), loss.item() (", lib, ")");
  }
  if (c.scenario == "mlp") {
    return absl::StrCat(
        "one SGD step of a 784-256-10 MLP, batch 64: mm, relu, cross_entropy, backward, ",
        "4 parameter updates, loss.item() (", lib, ")");
  }
  return "?";
}

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const Config& config) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (config.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = config.root_certificates;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  // Channels with equal arguments share one connection (gRPC's global subchannel pool): a
  // distinct argument per channel gives each its own.
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int k = 0; k < config.connections; ++k) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetInt("tensord_load.connection", k);
    channels.push_back(grpc::CreateCustomChannel(config.address, creds, args));
  }
  return channels;
}

std::unique_ptr<Scenario> MakeScenario(const Config& config) {
  if (!config.call.empty()) return MakeCallScenario(config);
  if (config.scenario == "echo" || config.scenario == "create" || config.scenario == "op") {
    return std::make_unique<StubScenario>(config);
  }
  return std::make_unique<LibraryScenario>(config);
}

}  // namespace tensord::load
