#include "client/session_impl.h"

#include <chrono>
#include <random>

#include "absl/strings/str_cat.h"
#include "proto/wire.h"

namespace tensord::client::detail {

Handle::~Handle() {
  if (session) session->ReleaseLater(id);
}

SessionImpl::SessionImpl(const ConnectOptions& o, std::shared_ptr<grpc::Channel> ch)
    : options(o), channel(std::move(ch)), stub(pb::Tensord::NewStub(channel)) {}

std::unique_ptr<grpc::ClientContext> SessionImpl::Context(bool with_deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!session_id.empty()) ctx->AddMetadata(wire::kSessionHeader, session_id);
  if (!options.token.empty())
    ctx->AddMetadata(wire::kAuthorizationHeader, wire::kBearerPrefix + options.token);
  if (with_deadline) {
    ctx->set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(options.deadline_seconds * 1000)));
  }
  return ctx;
}

void SessionImpl::Open() {
  pb::CreateSessionRequest req;
  req.set_seed(options.seed);
  req.set_ttl_seconds(options.ttl_seconds);
  // The client picks the session id (128 random bits) and routes CreateSession with it, so that
  // a proxy hashing x-tensord-session sends this call and every later one to the same replica.
  std::random_device rd;
  std::string proposed;
  for (int i = 0; i < 4; ++i) absl::StrAppend(&proposed, absl::Hex(rd(), absl::kZeroPad8));
  req.set_session_id(proposed);
  session_id = proposed;  // Context() adds the header from here on
  pb::CreateSessionResponse resp;
  grpc::Status s = stub->CreateSession(Context(true).get(), req, &resp);
  if (!s.ok()) session_id.clear();
  if (!s.ok()) throw Error(s.error_code(), s.error_message(), "CreateSession");
  session_id = resp.session_id();
  if (!options.pipelined) return;
  stream_ctx_ = Context(false);
  stream_ = stub->StreamBatches(stream_ctx_.get());
  reader_ = std::thread([this] { ReaderLoop(); });
}

SessionImpl::~SessionImpl() {
  try {
    Close();
  } catch (...) {  // never throw from a destructor; the server reclaims the session on TTL
  }
}

void SessionImpl::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (stream_) {
    {
      std::lock_guard<std::mutex> lock(write_mu_);
      SendBuffered();
      stream_->WritesDone();
    }
    if (reader_.joinable()) reader_.join();
    if (!finished_) stream_->Finish();
  }
  if (!session_id.empty()) {
    pb::SessionRequest req;
    req.set_session_id(session_id);
    pb::SessionInfo info;
    stub->CloseSession(Context(true).get(), req, &info);
  }
}

void SessionImpl::ReaderLoop() {
  pb::ResultBatch batch;
  while (stream_->Read(&batch)) {
    std::lock_guard<std::mutex> lock(mu_);
    for (pb::CommandResult& result : *batch.mutable_results()) {
      if (in_flight_.empty()) break;  // cannot happen: the server answers every command in order
      std::shared_ptr<Pending> p = std::move(in_flight_.front());
      in_flight_.pop_front();
      p->result = std::move(result);
      p->ready = true;
      if (p->result.code() != 0 && !p->ignore_errors && !first_error_) {
        first_error_.emplace(p->result.code(), p->result.message(), p->what);
      }
    }
    cv_.notify_all();
  }
  // The stream is over: report the server's reason (e.g. UNAVAILABLE while it shuts down).
  const grpc::Status status = stream_->Finish();
  finished_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  FailAllLocked(status.ok()
                    ? std::string("the stream to the server ended")
                    : absl::StrCat("the stream to the server ended: ", status.error_message()));
}

void SessionImpl::SendBuffered() {
  if (buffer_.commands_size() == 0) return;
  buffer_.set_session_id(session_id);
  const bool ok = stream_->Write(buffer_);
  buffer_.Clear();
  if (!ok) {
    std::lock_guard<std::mutex> lock(mu_);
    FailAllLocked("the stream to the server ended");
  }
}

void SessionImpl::FailAllLocked(const std::string& why) {
  broken_ = true;
  for (auto& p : in_flight_) {
    p->result.set_code(grpc::StatusCode::UNAVAILABLE);
    p->result.set_message(why);
    p->ready = true;
    if (!first_error_ && !p->ignore_errors)
      first_error_.emplace(grpc::StatusCode::UNAVAILABLE, why, p->what);
  }
  in_flight_.clear();
  cv_.notify_all();
}

uint64_t SessionImpl::NewId() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_id_++;
}

void SessionImpl::ReleaseLater(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!closed_) to_release_.push_back(id);
}

Tensor SessionImpl::MakeTensor(uint64_t id, std::shared_ptr<Pending> created, int index) {
  return Tensor(std::make_shared<Handle>(shared_from_this(), id, std::move(created), index));
}

std::shared_ptr<Pending> SessionImpl::Send(pb::Command command, std::string what) {
  std::vector<uint64_t> releases;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) throw Error(grpc::StatusCode::FAILED_PRECONDITION, "the session is closed", what);
    releases.swap(to_release_);
  }
  auto p = std::make_shared<Pending>();
  p->what = std::move(what);
  if (!options.pipelined) {
    pb::ExecuteRequest req;
    req.set_session_id(session_id);
    if (!releases.empty()) {
      pb::Command* rel = req.add_commands();
      for (uint64_t id : releases) rel->mutable_release()->add_ids(id);
    }
    *req.add_commands() = std::move(command);
    pb::ExecuteResponse resp;
    grpc::Status s = stub->Execute(Context(true).get(), req, &resp);
    ++commands_sent;
    ++round_trips;
    if (!s.ok()) throw Error(s.error_code(), s.error_message(), p->what);
    p->result = resp.results(resp.results_size() - 1);
    p->ready = true;
    if (resp.failed_index() == req.commands_size() - 1)
      throw Error(p->result.code(), p->result.message(), p->what);
    return p;
  }
  std::lock_guard<std::mutex> write_lock(write_mu_);
  auto queue = [&](pb::Command c, std::shared_ptr<Pending> slot) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (broken_)
        throw Error(grpc::StatusCode::UNAVAILABLE, "the stream to the server ended", p->what);
      in_flight_.push_back(std::move(slot));
    }
    *buffer_.add_commands() = std::move(c);
    ++commands_sent;
  };
  if (!releases.empty()) {
    pb::Command rel;
    for (uint64_t id : releases) rel.mutable_release()->add_ids(id);
    auto slot = std::make_shared<Pending>();
    slot->ignore_errors = true;
    slot->what = "release";
    queue(std::move(rel), std::move(slot));
  }
  queue(std::move(command), p);
  if (buffer_.commands_size() >= kMaxBuffered) SendBuffered();
  return p;
}

const pb::CommandResult& SessionImpl::Wait(const std::shared_ptr<Pending>& p) {
  if (stream_) {
    std::lock_guard<std::mutex> write_lock(write_mu_);
    SendBuffered();
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (!p->ready) {
    ++round_trips;
    const auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(options.deadline_seconds * 1000));
    if (!cv_.wait_until(lock, deadline, [&] { return p->ready; })) {
      throw Error(grpc::StatusCode::DEADLINE_EXCEEDED,
                  absl::StrCat("no answer within ", options.deadline_seconds, " s"), p->what);
    }
  }
  if (first_error_) {
    Error e = *std::move(first_error_);
    first_error_.reset();
    throw e;
  }
  if (p->result.code() != 0 && !p->ignore_errors)
    throw Error(p->result.code(), p->result.message(), p->what);
  return p->result;
}

void SessionImpl::Flush() {
  std::shared_ptr<Pending> last;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!in_flight_.empty()) last = in_flight_.back();
    if (!last) {
      if (first_error_) {
        Error e = *std::move(first_error_);
        first_error_.reset();
        throw e;
      }
      return;
    }
  }
  Wait(last);
}

}  // namespace tensord::client::detail
