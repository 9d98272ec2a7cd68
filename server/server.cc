#include "server/server.h"

#include <malloc.h>

#include <fstream>
#include <sstream>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "engine/op_def.h"
#include "engine/storage.h"
#include "server/status.h"
#include "spdlog/spdlog.h"

namespace tensord::server {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TensordServer::TensordServer(ServerOptions options)
    : options_(std::move(options)),
      sessions_(options_),
      service_(options_, sessions_, executor_, stats_),
      executor_(options_.workers) {
  // Build the op table (every schema parsed, attributes derived) at start-up, so that the first
  // request does not pay for it.
  (void)OpTable();
}

absl::StatusOr<std::unique_ptr<TensordServer>> TensordServer::Start(ServerOptions options) {
  std::unique_ptr<TensordServer> s(new TensordServer(std::move(options)));
  const ServerOptions& o = s->options_;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
      return absl::InvalidArgumentError("TLS needs both a certificate and a key file");
    }
    auto cert = ReadFile(o.tls_cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(o.tls_key_file);
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  if (!o.state_dir.empty()) {
    // Sessions of an earlier process come back before anything is served.
    s->state_ = std::make_unique<StateStore>(o.state_dir, s->options_, s->sessions_, s->executor_);
    const RestoreStats r = s->state_->Restore();
    spdlog::info(
        "restored {} sessions ({} bytes) from {} in {}; {} corrupt file(s) skipped, {} of "
        "unknown owners left",
        r.sessions, r.bytes, o.state_dir, absl::FormatDuration(r.took), r.corrupt, r.orphaned);
  }
  builder.AddListeningPort(o.listen, creds, &s->port_);
  builder.RegisterService(&s->service_);
  builder.SetMaxReceiveMessageSize(o.max_message_bytes);
  builder.SetMaxSendMessageSize(o.max_message_bytes);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", o.listen));
  }
  s->server_->GetHealthCheckService()->SetServingStatus(true);
  s->reaper_ = std::thread([ptr = s.get()] { ptr->ReapLoop(); });
  if (s->state_ != nullptr && o.snapshot_interval > absl::ZeroDuration()) {
    s->snapshotter_ = std::thread([ptr = s.get()] { ptr->SnapshotLoop(); });
  }
  return s;
}

TensordServer::~TensordServer() { Shutdown(absl::ZeroDuration()); }

void TensordServer::ReapLoop() {
  while (!stop_reaper_.WaitForNotificationWithTimeout(options_.reap_interval)) {
    const std::vector<std::string> expired = sessions_.Reap(absl::Now());
    for (const std::string& id : expired) {
      spdlog::info("session {} expired (idle past its TTL)", LogId(id));
    }
    // Memory let go in bulk (sessions closed or expired, streams that buffered much ended) goes
    // back to the OS: the engine's block cache first, then glibc's free lists (glibc keeps freed
    // memory in its arenas otherwise, and RSS would stay at its peak).
    if (!expired.empty() || stats_.trim_requested.exchange(false, std::memory_order_relaxed)) {
      ReleaseCachedStorage();
      malloc_trim(0);
    }
  }
}

void TensordServer::SnapshotLoop() {
  while (!stop_snapshots_.WaitForNotificationWithTimeout(options_.snapshot_interval)) {
    absl::StatusOr<SnapshotStats> st = state_->Snapshot();
    if (st.ok() && st->sessions_written > 0) {
      spdlog::debug("snapshot: {} sessions ({} bytes) in {}", st->sessions_written, st->bytes,
                    absl::FormatDuration(st->took));
    }
  }
}

void TensordServer::Wait() { server_->Wait(); }

void TensordServer::Shutdown(absl::Duration drain) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  if (server_ != nullptr) {
    // Refuse new calls, let the ones in flight finish (up to `drain`), then stop at once: gRPC's
    // own deadline would also wait for idle client connections to go away.
    server_->GetHealthCheckService()->SetServingStatus(false);
    service_.StartDraining();
    service_.WaitForCalls(drain);
    server_->Shutdown(std::chrono::system_clock::now());
  }
  stop_reaper_.Notify();
  if (reaper_.joinable()) reaper_.join();
  stop_snapshots_.Notify();
  if (snapshotter_.joinable()) snapshotter_.join();
  if (state_ != nullptr) {
    // Every call has ended (or had its drain time): the sessions as they are now survive.
    absl::StatusOr<SnapshotStats> st = state_->Snapshot();
    if (st.ok()) {
      spdlog::info("saved {} sessions ({} bytes, {} unchanged) to {} in {}", st->sessions_written,
                   st->bytes, st->sessions_unchanged, options_.state_dir,
                   absl::FormatDuration(st->took));
    } else {
      spdlog::error("saving the sessions to {} failed: {}", options_.state_dir,
                    st.status().ToString());
    }
  }
  sessions_.CloseAll();
  ReleaseCachedStorage();
}

}  // namespace tensord::server
