// Upload and Download: tensors larger than one message, in chunks (the assembly itself is in
// server/transfer.{h,cc}, free of gRPC).
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

namespace {
constexpr int64_t kDefaultChunk = 1 << 20;
}  // namespace

namespace {

// Upload: the header allocates the tensor (charged to the session), chunks are copied straight
// into it, and the handle is bound only when every byte has arrived.
class UploadReactor final : public grpc::ServerReadReactor<pb::UploadChunk> {
 public:
  UploadReactor(TensordService* service, grpc::CallbackServerContext* ctx,
                pb::TensorsResponse* resp)
      : service_(service), ctx_(ctx), resp_(resp), token_(service), upload_(service->options()) {
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Complete();
      return;
    }
    absl::Status s = Consume();
    if (!s.ok()) {
      upload_.Reset();  // give the bytes back before the client hears of the failure
      Finish(ToGrpcStatus(s));
      return;
    }
    StartRead(&chunk_);
  }

  void OnDone() override { delete this; }

 private:
  // The chunk assembly itself is UploadAssembler's (server/transfer.h).
  absl::Status Consume() {
    if (!session_) {
      TD_ASSIGN_OR_RETURN(session_, service_->ResolveSession(ctx_, chunk_.session_id()));
      return upload_.Start(*session_, chunk_);
    }
    return upload_.Append(chunk_.data());
  }

  void Complete() {
    absl::StatusOr<Tensor> assembled = upload_.Finish();
    if (!assembled.ok()) {
      Finish(ToGrpcStatus(assembled.status()));
      return;
    }
    tensor_ = *std::move(assembled);
    id_ = upload_.id();
    std::shared_ptr<Session> s = session_;
    service_->executor().Submit(s->strand(), [this, s] {
      absl::Status st = s->closed()
                            ? absl::NotFoundError("the session was closed during the upload")
                            : s->CheckFree(id_);
      if (st.ok()) {
        s->Touch();
        FillInfo(s->Put(id_, tensor_), tensor_, resp_->add_tensors());
      }
      tensor_ = Tensor();
      Finish(ToGrpcStatus(st));
    });
  }

  TensordService* service_;
  grpc::CallbackServerContext* ctx_;
  pb::TensorsResponse* resp_;
  TensordService::CallToken token_;
  pb::UploadChunk chunk_;
  std::shared_ptr<Session> session_;
  UploadAssembler upload_;
  Tensor tensor_;  // the assembled tensor, until the strand binds it
  uint64_t id_ = 0;
};

// Download: a consistent snapshot is taken on the session's strand, then streamed in chunks.
class DownloadReactor final : public grpc::ServerWriteReactor<pb::DownloadChunk> {
 public:
  DownloadReactor(TensordService* service, grpc::CallbackServerContext* ctx,
                  const pb::DownloadRequest* req)
      : service_(service), token_(service) {
    auto session = service->ResolveSession(ctx, req->session_id());
    if (!session.ok()) {
      Finish(ToGrpcStatus(session.status()));
      return;
    }
    auto peek = service->IsPeek(ctx, TensordService::Access::kRead);  // a read: may peek
    if (!peek.ok()) {
      Finish(ToGrpcStatus(peek.status()));
      return;
    }
    peek_ = *peek;
    chunk_bytes_ = req->chunk_bytes() > 0 ? req->chunk_bytes() : kDefaultChunk;
    chunk_bytes_ = std::min<int64_t>(chunk_bytes_, service->options().max_message_bytes / 2);
    std::shared_ptr<Session> s = *session;
    const uint64_t id = req->id();
    const bool grad = req->grad();
    service->executor().Submit(s->strand(), [this, s, id, grad] {
      absl::Status st = GuardCommand(
          *s, service_->options(), absl::InfiniteFuture(), [] { return false; },
          [&] { return Snapshot(*s, id, grad); });
      if (!st.ok()) {
        Finish(ToGrpcStatus(st));
        return;
      }
      WriteNext();
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(ToGrpcStatus(absl::CancelledError("download interrupted")));
      return;
    }
    WriteNext();
  }

  void OnDone() override { delete this; }

 private:
  absl::Status Snapshot(Session& s, uint64_t id, bool grad) {
    if (s.closed()) return absl::NotFoundError("the session was closed");
    ContextGuard guard(s.context());
    if (!peek_) s.Touch();
    TD_ASSIGN_OR_RETURN(Tensor t, s.Get(id));
    FillInfo(id, t, &info_);
    Tensor src = t;
    if (grad) {
      if (!t.grad().defined())
        return absl::FailedPreconditionError(absl::StrCat("tensor ", id, " has no .grad"));
      src = t.grad();
    }
    // A private contiguous copy, so later in-place ops cannot tear the transfer. It is transport
    // memory, not the session's: it is not charged to the session's quota.
    TD_ASSIGN_OR_RETURN(auto storage,
                        Storage::Allocate(src.nbytes(), std::make_shared<MemoryAccount>()));
    snapshot_ = Tensor(std::make_shared<TensorImpl>(std::move(storage), src.shape(),
                                                    ContiguousStrides(src.shape()), 0, src.dtype(),
                                                    std::make_shared<VersionCounter>()));
    kernels::CopyInto(snapshot_, src);
    return absl::OkStatus();
  }

  void WriteNext() {
    const int64_t total = snapshot_.nbytes();
    if (offset_ >= total && offset_ > 0) {
      snapshot_ = Tensor();
      Finish(grpc::Status::OK);
      return;
    }
    chunk_.Clear();
    if (offset_ == 0) *chunk_.mutable_info() = info_;
    const int64_t n = std::min(chunk_bytes_, total - offset_);
    chunk_.set_offset(offset_);
    chunk_.set_data(snapshot_.raw_data() + offset_, static_cast<size_t>(n));
    offset_ += n;
    if (total == 0) offset_ = 1;  // an empty tensor: one chunk with the info, then done
    StartWrite(&chunk_);
  }

  TensordService* service_;
  TensordService::CallToken token_;
  pb::TensorInfo info_;
  Tensor snapshot_;
  pb::DownloadChunk chunk_;
  int64_t chunk_bytes_ = kDefaultChunk;
  bool peek_ = false;  // x-tensord-peek: the snapshot does not reset the idle TTL
  int64_t offset_ = 0;
};

}  // namespace
grpc::ServerReadReactor<pb::UploadChunk>* TensordService::Upload(grpc::CallbackServerContext* ctx,
                                                                 pb::TensorsResponse* resp) {
  return new UploadReactor(this, ctx, resp);
}

grpc::ServerWriteReactor<pb::DownloadChunk>* TensordService::Download(
    grpc::CallbackServerContext* ctx, const pb::DownloadRequest* req) {
  return new DownloadReactor(this, ctx, req);
}

}  // namespace tensord::server
