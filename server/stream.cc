// The pipelined streams (Stream, StreamBatches): commands read as the client sends them, run in
// order on the session's strand, results written back in order, with bounded buffers.
#include "server/service.h"

#include <deque>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/context.h"
#include "engine/factory.h"
#include "engine/kernels/loop.h"
#include "engine/status_macros.h"
#include "engine/storage.h"
#include "proto/wire.h"
#include "server/rpc_util.h"
#include "server/status.h"
#include "server/transfer.h"
#include "spdlog/spdlog.h"

namespace tensord::server {

// ---- the pipelined stream ----------------------------------------------------------------------

namespace {

// How a pipelined stream's messages carry commands and results: one per message (Stream) or
// many (StreamBatches).
struct OneCommandPerMessage {
  using Request = pb::StreamRequest;
  using Response = pb::CommandResult;
  static std::vector<pb::Command> Take(Request& r) {
    std::vector<pb::Command> out;
    if (r.has_command()) out.push_back(std::move(*r.mutable_command()));
    return out;
  }
  static void Put(Response& out, pb::CommandResult&& r) { out = std::move(r); }
};

struct CommandsInBatches {
  using Request = pb::CommandBatch;
  using Response = pb::ResultBatch;
  static std::vector<pb::Command> Take(Request& r) {
    std::vector<pb::Command> out;
    out.reserve(static_cast<size_t>(r.commands_size()));
    for (pb::Command& c : *r.mutable_commands()) out.push_back(std::move(c));
    return out;
  }
  static void Put(Response& out, pb::CommandResult&& r) { *out.add_results() = std::move(r); }
};

// Reads commands as the client sends them, runs each message's commands on the session's strand
// in arrival order, and writes the results back in the same order. Memory is bounded: the stream
// stops reading while it holds too many commands it has not run, and stops running them while
// its unsent results exceed its budget (--max_stream_buffer_bytes) or its session's
// (--max_session_stream_buffer_bytes). A client that does not read its results slows only itself.
template <typename Shape>
class PipelineReactor final
    : public grpc::ServerBidiReactor<typename Shape::Request, typename Shape::Response> {
  using Request = typename Shape::Request;
  using Response = typename Shape::Response;

 public:
  PipelineReactor(TensordService* service, grpc::CallbackServerContext* ctx)
      : service_(service), ctx_(ctx), token_(service), deadline_(CallDeadline(ctx)) {
    {
      absl::MutexLock lock(&mu_);
      read_outstanding_ = true;
    }
    this->StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      return Update([](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        r->read_outstanding_ = false;
        r->reading_done_ = true;
      });
    }
    grpc::Status error;
    if (!session_) {
      auto session = service_->ResolveSession(ctx_, request_.session_id());
      if (session.ok()) {
        session_ = *std::move(session);
      } else {
        error = ToGrpcStatus(session.status());
      }
    } else if (!request_.session_id().empty() && request_.session_id() != session_->id()) {
      error = ToGrpcStatus(absl::InvalidArgumentError("a stream serves one session"));
    }
    if (error.ok()) {
      if (absl::Status admit = service_->Admit(); !admit.ok()) {
        // Draining: commands already queued finish; new ones are refused and the stream ends.
        error = ToGrpcStatus(admit);
      }
    }
    if (!error.ok()) {
      return Update([error](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        r->finish_status_ = error;
        r->read_outstanding_ = false;
        r->reading_done_ = true;
      });
    }
    Batch batch{{}, static_cast<int64_t>(request_.ByteSizeLong())};
    batch.commands = Shape::Take(request_);
    request_.Clear();
    Update([&batch](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
      r->read_outstanding_ = false;
      if (!batch.commands.empty()) {
        r->queued_bytes_ += batch.bytes;
        r->queue_.push_back(std::move(batch));
      }
    });
  }

  void OnWriteDone(bool ok) override {
    Update([ok](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
      r->Release(r->writes_.front().bytes);
      r->writes_.pop_front();
      r->writing_ = false;
      if (!ok) r->write_failed_ = true;
    });
  }

  void OnCancel() override {
    cancelled_.store(true, std::memory_order_relaxed);
    Update([](PipelineReactor*) {});
  }

  void OnDone() override {
    int64_t peak;
    {
      absl::MutexLock lock(&mu_);
      while (!writes_.empty()) {  // never sent: give the session's budget back
        Release(writes_.front().bytes);
        writes_.pop_front();
      }
      peak = peak_pending_;
    }
    if (peak >= kTrimAfterBytes)
      service_->stats().trim_requested.store(true, std::memory_order_relaxed);
    delete this;
  }

 private:
  // Messages read but not yet run, at most; their bytes are bounded by the stream's budget.
  static constexpr size_t kMaxQueued = 4096;
  // Messages one strand task runs before yielding the worker to other sessions.
  static constexpr int kPumpBurst = 64;
  // A stream that held this much unsent asks for free memory to go back to the OS when it ends.
  static constexpr int64_t kTrimAfterBytes = int64_t{8} << 20;

  struct Batch {
    std::vector<pb::Command> commands;
    int64_t bytes = 0;  // the request's size
  };
  struct Pending {
    Response message;
    int64_t bytes = 0;
  };

  void Release(int64_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    pending_bytes_ -= bytes;
    session_->stream_buffered_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  }

  // Whether the next message's commands may run: while this stream's unsent results are under
  // its budget and the session's under the session's; a stream with nothing unsent may always
  // run one more (so it never waits on another stream's client).
  bool MayRun() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_bytes_ == 0) return true;
    const ServerOptions& o = service_->options();
    if (pending_bytes_ >= o.max_stream_buffer_bytes) return false;
    return session_->stream_buffered_bytes.load(std::memory_order_relaxed) <
           o.max_session_stream_buffer_bytes;
  }

  // Changes state under the lock, then starts whatever I/O and work the new state calls for,
  // outside it (gRPC may run a reaction inline).
  template <typename F>
  void Update(F change) {
    const Response* to_write = nullptr;
    bool read = false, finish = false, pump = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      change(this);
      const bool cancelled = cancelled_.load(std::memory_order_relaxed);
      if (cancelled || write_failed_) {
        // Nobody will read the results: drop what has not run.
        queue_.clear();
        queued_bytes_ = 0;
        if (!read_outstanding_) reading_done_ = true;
      }
      if (!reading_done_ && !read_outstanding_ && queue_.size() < kMaxQueued &&
          queued_bytes_ < service_->options().max_stream_buffer_bytes) {
        read_outstanding_ = true;
        read = true;
      }
      if (!pump_scheduled_ && !queue_.empty() && MayRun()) {
        pump_scheduled_ = true;
        pump = true;
      }
      if (!writing_ && !writes_.empty() && !write_failed_) {
        writing_ = true;
        to_write = &writes_.front().message;
      }
      if (!finished_ && reading_done_ && queue_.empty() && !pump_scheduled_ && !writing_ &&
          (writes_.empty() || write_failed_)) {
        finished_ = true;
        finish = true;
        status = finish_status_;
      }
    }
    if (to_write != nullptr) this->StartWrite(to_write);
    if (read) this->StartRead(&request_);
    if (pump) SchedulePump();
    if (finish) this->Finish(status);
  }

  void SchedulePump() {
    std::shared_ptr<Session> s = session_;
    service_->executor().Submit(s->strand(), [this, s] { Pump(*s); });
  }

  // Runs queued messages on the session's strand while the budgets allow.
  void Pump(Session& s) {
    for (int n = 0;; ++n) {
      Batch batch;
      bool stop = false, yield = false;
      {
        absl::MutexLock lock(&mu_);
        stop = queue_.empty() || cancelled_.load(std::memory_order_relaxed) || write_failed_ ||
               !MayRun();
        yield = !stop && n == kPumpBurst;
        if (stop) {
          pump_scheduled_ = false;
        } else if (!yield) {
          batch = std::move(queue_.front());
          queue_.pop_front();
          queued_bytes_ -= batch.bytes;
        }
      }
      if (yield) {
        SchedulePump();  // still scheduled: let other sessions have the worker, continue later
        return;
      }
      if (stop) {
        Update([](PipelineReactor*) {});  // reading may resume, or the stream may finish
        return;
      }
      Response response = RunBatch(s, batch.commands);
      const int64_t bytes = static_cast<int64_t>(response.ByteSizeLong());
      Update([&response, bytes](PipelineReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        r->pending_bytes_ += bytes;
        r->peak_pending_ = std::max(r->peak_pending_, r->pending_bytes_);
        r->session_->stream_buffered_bytes.fetch_add(bytes, std::memory_order_relaxed);
        r->writes_.push_back({std::move(response), bytes});
      });
    }
  }

  Response RunBatch(Session& s, const std::vector<pb::Command>& commands) {
    Response response;
    const bool cancelled = cancelled_.load(std::memory_order_relaxed);
    std::optional<ContextGuard> guard;
    std::optional<CommandRunner> runner;
    if (!cancelled && !s.closed()) {
      guard.emplace(s.context());
      s.Touch();
      runner.emplace(s, service_->options(), service_->stats());
    }
    const size_t max_bytes = static_cast<size_t>(service_->options().max_message_bytes) - 1024;
    size_t bytes = 0;
    for (const pb::Command& command : commands) {
      pb::CommandResult result;
      if (cancelled) {
        result.set_tag(command.tag());
        SetError(absl::CancelledError("the stream was cancelled before this command ran"), &result);
      } else if (!runner) {
        result.set_tag(command.tag());
        SetError(UnknownSessionError(s.id()), &result);
      } else {
        (void)runner->RunGuarded(command, &result, deadline_,
                                 [this] { return cancelled_.load(std::memory_order_relaxed); });
      }
      // A reply gRPC could not send would end the stream: this result fails instead.
      if (bytes + ResultWireBytes(result) > max_bytes) {
        SetError(absl::FailedPreconditionError(absl::StrCat(
                     "this command's result would make the reply exceed the ", max_bytes,
                     "-byte message limit; use Download for large tensors")),
                 &result);
      }
      bytes += ResultWireBytes(result);
      Shape::Put(response, std::move(result));
    }
    return response;
  }

  TensordService* service_;
  grpc::CallbackServerContext* ctx_;
  TensordService::CallToken token_;
  const absl::Time deadline_;
  Request request_;
  std::shared_ptr<Session> session_;
  std::atomic<bool> cancelled_{false};

  absl::Mutex mu_;
  std::deque<Batch> queue_ ABSL_GUARDED_BY(mu_);
  int64_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Pending> writes_ ABSL_GUARDED_BY(mu_);
  int64_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t peak_pending_ ABSL_GUARDED_BY(mu_) = 0;
  bool pump_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_outstanding_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerBidiReactor<pb::StreamRequest, pb::CommandResult>* TensordService::Stream(
    grpc::CallbackServerContext* ctx) {
  return new PipelineReactor<OneCommandPerMessage>(this, ctx);
}

grpc::ServerBidiReactor<pb::CommandBatch, pb::ResultBatch>* TensordService::StreamBatches(
    grpc::CallbackServerContext* ctx) {
  return new PipelineReactor<CommandsInBatches>(this, ctx);
}

}  // namespace tensord::server
