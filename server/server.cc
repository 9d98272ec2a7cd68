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

// The name under which grpc.health.v1 answers readiness; "" answers liveness.
constexpr char kReadinessService[] = "tensord.v1.Tensord";

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
  stats_.metrics = &metrics_;
  service_.SetSessionsChanged([this] { UpdateReadiness(); });
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
  // Every call is counted (metrics) and logged (the access line, at debug level).
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(s->metrics_.InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.SetMaxReceiveMessageSize(o.max_message_bytes);
  builder.SetMaxSendMessageSize(o.max_message_bytes);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", o.listen));
  }
  s->server_->GetHealthCheckService()->SetServingStatus(true);
  s->health_.store(s->server_->GetHealthCheckService(), std::memory_order_release);
  s->UpdateReadiness();
  if (!o.metrics_listen.empty()) {
    auto http =
        MetricsHttpServer::Start(o.metrics_listen, [ptr = s.get()] { return ptr->MetricsText(); });
    if (!http.ok()) return http.status();
    s->metrics_http_ = *std::move(http);
  }
  s->reaper_ = std::thread([ptr = s.get()] { ptr->ReapLoop(); });
  if (s->state_ != nullptr && o.snapshot_interval > absl::ZeroDuration()) {
    s->snapshotter_ = std::thread([ptr = s.get()] { ptr->SnapshotLoop(); });
  }
  return s;
}

TensordServer::~TensordServer() { Shutdown(absl::ZeroDuration()); }

bool TensordServer::UpdateReadiness() {
  bool ready = !service_.draining() && sessions_.size() < options_.max_sessions;
  if (ready && options_.readiness_max_bytes > 0) {
    int64_t bytes = 0;
    for (const auto& s : sessions_.List("", /*all=*/true)) bytes += s->context().memory().used();
    ready = bytes < options_.readiness_max_bytes;
  }
  grpc::HealthCheckServiceInterface* health = health_.load(std::memory_order_acquire);
  if (health == nullptr) return ready;
  absl::MutexLock lock(&readiness_mu_);
  // Once draining, only Shutdown sets health (to NOT_SERVING for every name).
  if (readiness_ != static_cast<int>(ready) && !service_.draining()) {
    health->SetServingStatus(kReadinessService, ready);
    readiness_ = static_cast<int>(ready);
  }
  return ready;
}

void TensordServer::ReapLoop() {
  while (!stop_reaper_.WaitForNotificationWithTimeout(options_.reap_interval)) {
    UpdateReadiness();
    const std::vector<std::string> expired = sessions_.Reap(absl::Now());
    if (!expired.empty()) UpdateReadiness();
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

int TensordServer::metrics_port() const {
  return metrics_http_ == nullptr ? 0 : metrics_http_->port();
}

std::string TensordServer::MetricsText() {
  Metrics::State st;
  for (const auto& session : sessions_.List("", /*all=*/true)) {
    st.session_bytes.push_back(session->context().memory().used());
    st.tensors += session->num_tensors();
  }
  st.sessions_expired = sessions_.expired_total();
  st.max_sessions = options_.max_sessions;
  st.commands = stats_.commands.load(std::memory_order_relaxed);
  st.queue_depth = executor_.queued();
  st.workers = executor_.threads();
  st.draining = service_.draining();
  {
    absl::MutexLock lock(&readiness_mu_);
    st.ready = readiness_ == 1 && !st.draining;
  }
  st.start_time_seconds = absl::ToDoubleSeconds(stats_.started - absl::UnixEpoch());
  st.version = TENSORD_VERSION;
  st.build_type = TENSORD_BUILD_TYPE;
  st.replica = options_.replica;
  return metrics_.Exposition(st);
}

void TensordServer::SetTokens(std::vector<std::string> tokens,
                              std::vector<std::string> operator_tokens) {
  service_.SetTokens(std::move(tokens), std::move(operator_tokens));
}

void TensordServer::Shutdown(absl::Duration drain) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  if (server_ != nullptr) {
    // Refuse new calls, let the ones in flight finish (up to `drain`), then stop at once: gRPC's
    // own deadline would also wait for idle client connections to go away.
    {
      absl::MutexLock lock(&readiness_mu_);
      service_.StartDraining();
      server_->GetHealthCheckService()->SetServingStatus(false);
    }
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
  metrics_http_.reset();
  sessions_.CloseAll();
  ReleaseCachedStorage();
}

}  // namespace tensord::server
