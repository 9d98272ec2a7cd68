#include "server/metrics.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "engine/op_def.h"
#include "proto/wire.h"
#include "server/logging.h"
#include "tensord/v1/tensord.grpc.pb.h"
#include "tensord/v1/tensord.pb.h"

namespace tensord::server {
namespace {

constexpr const char* kCodeNames[Metrics::kNumCodes] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

// Bytes held by one session: the histogram's upper bounds (and +Inf).
constexpr double kBytesBounds[] = {4096,     65536,     1 << 20,      16 << 20,
                                   64 << 20, 256 << 20, 1073741824.0, 4294967296.0};

// A label value in the exposition: backslash, double quote and newline escaped.
std::string Label(absl::string_view v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

std::string Num(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)))
    return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrFormat("%.15g", v);
}

void Header(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

class CallInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallInterceptor(grpc::experimental::ServerRpcInfo* info, Metrics* metrics)
      : info_(info), metrics_(metrics), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* md = methods->GetRecvInitialMetadata();
      if (md != nullptr) {
        auto it = md->find(wire::kSessionHeader);
        if (it != md->end()) session_.assign(it->second.data(), it->second.size());
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const int code = static_cast<int>(methods->GetSendStatus().error_code());
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      const absl::string_view method = info_->method() ? info_->method() : "";
      metrics_->RecordCall(method, code, seconds);
      LogCall(absl::StripPrefix(method, "/"), CodeName(code), seconds * 1e3, session_);
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  Metrics* metrics_;
  std::chrono::steady_clock::time_point start_;
  std::string session_;
};

class CallInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallInterceptor(info, metrics_);
  }

 private:
  Metrics* metrics_;
};

}  // namespace

absl::string_view CodeName(int code) {
  if (code < 0 || code >= Metrics::kNumCodes) return "UNKNOWN";
  return kCodeNames[code];
}

Metrics::Metrics() {
  auto add = [this](std::string service, std::string method) {
    method_index_[absl::StrCat("/", service, "/", method)] = static_cast<int>(methods_.size());
    auto m = std::make_unique<PerMethod>();
    m->service = std::move(service);
    m->method = std::move(method);
    methods_.push_back(std::move(m));
  };
  const google::protobuf::ServiceDescriptor* svc =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          ::tensord::v1::Tensord::service_full_name());
  for (int i = 0; i < svc->method_count(); ++i) add(svc->full_name(), svc->method(i)->name());
  add("grpc.health.v1.Health", "Check");
  add("grpc.health.v1.Health", "Watch");
  add("grpc.reflection.v1alpha.ServerReflection", "ServerReflectionInfo");
  add("other", "other");  // anything else (an unknown method)
  for (const OpDef& def : OpTable()) {
    op_index_[std::string(def.name)] = static_cast<int>(op_names_.size());
    op_names_.emplace_back(def.name);
  }
  op_counts_ = std::make_unique<std::atomic<uint64_t>[]>(op_names_.size());
}

void Metrics::RecordCall(absl::string_view method, int code, double seconds) {
  auto it = method_index_.find(method);
  PerMethod& m = *methods_[it == method_index_.end() ? methods_.size() - 1 : it->second];
  PerCode& c = m.codes[code >= 0 && code < kNumCodes ? code : 2];
  c.count.fetch_add(1, std::memory_order_relaxed);
  c.nanos.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
  int b = 0;
  while (b < kNumLatencyBuckets - 1 && seconds > kLatencyBounds[b]) ++b;
  c.buckets[b].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::RecordOp(absl::string_view op) {
  auto it = op_index_.find(op);
  if (it != op_index_.end()) op_counts_[it->second].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::Exposition(const State& s) const {
  std::string out;
  Header(&out, "tensord_build_info", "gauge",
         "The server's version and build type (the value is always 1).");
  absl::StrAppend(&out, "tensord_build_info{version=\"", Label(s.version), "\",build_type=\"",
                  Label(s.build_type), "\",grpc=\"", Label(grpc::Version()), "\",replica=\"",
                  Label(s.replica), "\"} 1\n");
  Header(&out, "tensord_start_time_seconds", "gauge", "When the server started (Unix seconds).");
  absl::StrAppend(&out, "tensord_start_time_seconds ", Num(s.start_time_seconds), "\n");

  Header(&out, "tensord_rpc_handled_total", "counter",
         "Calls finished, by gRPC service, method and status code.");
  for (const auto& m : methods_) {
    for (int code = 0; code < kNumCodes; ++code) {
      const uint64_t n = m->codes[code].count.load(std::memory_order_relaxed);
      if (n == 0) continue;
      absl::StrAppend(&out, "tensord_rpc_handled_total{grpc_service=\"", m->service,
                      "\",grpc_method=\"", m->method, "\",grpc_code=\"", kCodeNames[code], "\"} ",
                      n, "\n");
    }
  }
  Header(&out, "tensord_rpc_duration_seconds", "histogram",
         "Call latency in seconds (from the call's arrival to its status), by gRPC service, "
         "method and status code.");
  for (const auto& m : methods_) {
    for (int code = 0; code < kNumCodes; ++code) {
      const PerCode& c = m->codes[code];
      const uint64_t n = c.count.load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string labels = absl::StrCat("grpc_service=\"", m->service, "\",grpc_method=\"",
                                              m->method, "\",grpc_code=\"", kCodeNames[code], "\"");
      // Buckets are read one by one while calls go on: +Inf is their running sum, so the
      // series stays cumulative (monotonic) whatever races with the scrape.
      uint64_t cumulative = 0;
      for (int b = 0; b < kNumLatencyBuckets; ++b) {
        cumulative += c.buckets[b].load(std::memory_order_relaxed);
        absl::StrAppend(&out, "tensord_rpc_duration_seconds_bucket{", labels, ",le=\"",
                        b < kNumLatencyBuckets - 1 ? Num(kLatencyBounds[b]) : "+Inf", "\"} ",
                        cumulative, "\n");
      }
      absl::StrAppend(&out, "tensord_rpc_duration_seconds_sum{", labels, "} ",
                      Num(static_cast<double>(c.nanos.load(std::memory_order_relaxed)) / 1e9),
                      "\n");
      absl::StrAppend(&out, "tensord_rpc_duration_seconds_count{", labels, "} ", cumulative, "\n");
    }
  }

  Header(&out, "tensord_ops_total", "counter",
         "Ops applied (ApplyOp, unary or in a batch or stream), by the op table's name "
         "(in-place forms count under their op).");
  for (size_t i = 0; i < op_names_.size(); ++i) {
    const uint64_t n = op_counts_[i].load(std::memory_order_relaxed);
    if (n > 0) absl::StrAppend(&out, "tensord_ops_total{op=\"", op_names_[i], "\"} ", n, "\n");
  }
  Header(&out, "tensord_commands_total", "counter",
         "Session commands run (unary, and each command of a batch or stream).");
  absl::StrAppend(&out, "tensord_commands_total ", s.commands, "\n");

  Header(&out, "tensord_sessions", "gauge", "Live sessions.");
  absl::StrAppend(&out, "tensord_sessions ", s.session_bytes.size(), "\n");
  Header(&out, "tensord_max_sessions", "gauge", "The server's limit on live sessions.");
  absl::StrAppend(&out, "tensord_max_sessions ", s.max_sessions, "\n");
  Header(&out, "tensord_sessions_created_total", "counter", "Sessions created.");
  absl::StrAppend(&out, "tensord_sessions_created_total ",
                  sessions_created_.load(std::memory_order_relaxed), "\n");
  Header(&out, "tensord_sessions_ended_total", "counter",
         "Sessions ended, by reason: closed by their client, or expired (idle past their TTL).");
  absl::StrAppend(&out, "tensord_sessions_ended_total{reason=\"closed\"} ",
                  sessions_closed_.load(std::memory_order_relaxed), "\n");
  absl::StrAppend(&out, "tensord_sessions_ended_total{reason=\"expired\"} ", s.sessions_expired,
                  "\n");
  Header(&out, "tensord_tensors", "gauge", "Tensor handles held by all sessions.");
  absl::StrAppend(&out, "tensord_tensors ", s.tensors, "\n");
  Header(&out, "tensord_session_bytes", "histogram",
         "Bytes each live session holds (tensors and saved graph buffers), as a histogram over "
         "the sessions at scrape time.");
  int64_t total = 0;
  for (int64_t b : s.session_bytes) total += b;
  for (double bound : kBytesBounds) {
    int64_t n = 0;
    for (int64_t b : s.session_bytes) n += static_cast<double>(b) <= bound;
    absl::StrAppend(&out, "tensord_session_bytes_bucket{le=\"", Num(bound), "\"} ", n, "\n");
  }
  absl::StrAppend(&out, "tensord_session_bytes_bucket{le=\"+Inf\"} ", s.session_bytes.size(), "\n");
  absl::StrAppend(&out, "tensord_session_bytes_sum ", total, "\n");
  absl::StrAppend(&out, "tensord_session_bytes_count ", s.session_bytes.size(), "\n");

  Header(&out, "tensord_worker_queue_depth", "gauge", "Tasks waiting for an engine worker thread.");
  absl::StrAppend(&out, "tensord_worker_queue_depth ", s.queue_depth, "\n");
  Header(&out, "tensord_workers", "gauge", "Engine worker threads.");
  absl::StrAppend(&out, "tensord_workers ", s.workers, "\n");
  Header(&out, "tensord_draining", "gauge", "1 while the server drains (after SIGTERM/SIGINT).");
  absl::StrAppend(&out, "tensord_draining ", s.draining ? 1 : 0, "\n");
  Header(&out, "tensord_ready", "gauge",
         "1 while readiness (grpc.health.v1 'tensord.v1.Tensord') answers SERVING.");
  absl::StrAppend(&out, "tensord_ready ", s.ready ? 1 : 0, "\n");
  return out;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
Metrics::InterceptorFactory() {
  return std::make_unique<CallInterceptorFactory>(this);
}

}  // namespace tensord::server
