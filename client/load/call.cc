// --call: any unary RPC of tensord.v1.Tensord with a JSON request (ghz's -d / -D), templated per
// request. The JSON is parsed into the method's request message with protobuf's JSON mapping
// (field names as in the .proto or in lowerCamelCase; 64-bit numbers as strings or numbers; enums
// by name) and sent as bytes through a generic unary call, so every RPC works without code here.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/client_unary_call.h>
#include <grpcpp/impl/codegen/rpc_method.h>
#include <grpcpp/support/byte_buffer.h>

#include <atomic>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/load/load.h"
#include "proto/wire.h"
#include "tensord/v1/tensord.grpc.pb.h"

namespace tensord::load {
namespace {

namespace pb = ::tensord::v1;
namespace protobuf = ::google::protobuf;
using SysClock = std::chrono::system_clock;

constexpr char kService[] = "tensord.v1.Tensord";

std::string RandomHex128() {
  static thread_local std::mt19937_64 gen{std::random_device{}()};
  return absl::StrCat(absl::Hex(gen(), absl::kZeroPad16), absl::Hex(gen(), absl::kZeroPad16));
}

// The RPC --call names: "tensord.v1.Tensord/ApplyOp", "tensord.v1.Tensord.ApplyOp" or "ApplyOp".
absl::StatusOr<const protobuf::MethodDescriptor*> FindMethod(const std::string& call) {
  std::string name = call;
  absl::StrReplaceAll({{"/", "."}}, &name);
  name = std::string(absl::StripPrefix(name, "."));
  if (name.find('.') == std::string::npos) name = absl::StrCat(kService, ".", name);
  const protobuf::MethodDescriptor* m =
      protobuf::DescriptorPool::generated_pool()->FindMethodByName(name);
  if (m == nullptr || m->service()->full_name() != kService) {
    const protobuf::ServiceDescriptor* svc =
        protobuf::DescriptorPool::generated_pool()->FindServiceByName(kService);
    std::vector<std::string> names;
    for (int i = 0; i < svc->method_count(); ++i) names.push_back(svc->method(i)->name());
    return absl::InvalidArgumentError(
        absl::StrCat("--call: unknown method '", call, "' (", kService,
                     "/METHOD; methods: ", absl::StrJoin(names, ", "), ")"));
  }
  if (m->client_streaming() || m->server_streaming()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--call: ", m->full_name(), " is a streaming RPC; --call runs unary RPCs"));
  }
  return m;
}

}  // namespace

std::string ExpandTemplate(const std::string& text, const TemplateValues& v) {
  if (text.find("{{") == std::string::npos) return text;
  return absl::StrReplaceAll(
      text, {{"{{.RequestNumber}}", absl::StrCat(v.request_number)},
             {"{{.WorkerID}}", absl::StrCat(v.worker)},
             {"{{.SessionID}}", v.session_id},
             {"{{.UUID}}", text.find("{{.UUID}}") != std::string::npos ? RandomHex128() : ""},
             {"{{.TimestampUnixNano}}", absl::StrCat(absl::ToUnixNanos(absl::Now()))}});
}

absl::Status ValidateCall(const Config& c) {
  auto m = FindMethod(c.call);
  if (!m.ok()) return m.status();
  const TemplateValues sample{0, 0, "0123456789abcdef0123456789abcdef"};
  std::unique_ptr<protobuf::Message> msg(
      protobuf::MessageFactory::generated_factory()->GetPrototype((*m)->input_type())->New());
  const std::string json = ExpandTemplate(c.data.empty() ? "{}" : c.data, sample);
  auto st = protobuf::util::JsonStringToMessage(json, msg.get());
  if (!st.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("-d/--data is not a ",
                                                   (*m)->input_type()->full_name(),
                                                   " in JSON: ", std::string(st.message())));
  }
  if (!c.metadata.empty()) {
    protobuf::Struct md;
    if (!protobuf::util::JsonStringToMessage(ExpandTemplate(c.metadata, sample), &md).ok()) {
      return absl::InvalidArgumentError(
          "--metadata must be a JSON object of strings: {\"key\": \"value\", ...}");
    }
    for (const auto& [k, v] : md.fields()) {
      if (v.kind_case() != protobuf::Value::kStringValue)
        return absl::InvalidArgumentError(
            absl::StrCat("--metadata: the value of '", k, "' must be a string"));
    }
  }
  return absl::OkStatus();
}

namespace {

class CallWorker;

class CallScenario : public Scenario {
 public:
  explicit CallScenario(const Config& c) : config_(c) {}

  absl::Status Setup() override {
    auto m = FindMethod(config_.call);
    if (!m.ok()) return m.status();
    method_ = *m;
    path_ = absl::StrCat("/", method_->service()->full_name(), "/", method_->name());
    channels_ = MakeChannels(config_);
    stub_ = pb::Tensord::NewStub(channels_[0]);
    // A fresh session per worker group when the request names one ({{.SessionID}}); every call
    // then carries it in x-tensord-session.
    if (config_.data.find("{{.SessionID}}") != std::string::npos ||
        config_.metadata.find("{{.SessionID}}") != std::string::npos) {
      const int n = config_.sessions > 0 ? config_.sessions : config_.concurrency;
      for (int i = 0; i < n; ++i) {
        pb::CreateSessionRequest req;
        req.set_session_id(RandomHex128());
        (*req.mutable_labels())["client"] = "tensord-load";
        (*req.mutable_labels())["call"] = method_->name();
        pb::CreateSessionResponse resp;
        grpc::ClientContext ctx;
        Decorate(&ctx, req.session_id());
        ctx.set_deadline(SysClock::now() + std::chrono::seconds(10));
        const grpc::Status s = stub_->CreateSession(&ctx, req, &resp);
        if (!s.ok()) {
          return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                              absl::StrCat("CreateSession: ", s.error_message()));
        }
        sessions_.push_back(resp.session_id());
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Worker>> MakeWorker(int index) override;

  void Teardown() override {
    for (const std::string& sid : sessions_) {
      pb::SessionRequest req;
      req.set_session_id(sid);
      pb::SessionInfo info;
      grpc::ClientContext ctx;
      Decorate(&ctx, sid);
      ctx.set_deadline(SysClock::now() + std::chrono::seconds(5));
      (void)stub_->CloseSession(&ctx, req, &info);
    }
    sessions_.clear();
  }

  void Decorate(grpc::ClientContext* ctx, const std::string& session) const {
    if (!session.empty()) ctx->AddMetadata(wire::kSessionHeader, session);
    if (!config_.token.empty())
      ctx->AddMetadata(wire::kAuthorizationHeader, wire::kBearerPrefix + config_.token);
  }

  const Config& config() const { return config_; }
  const protobuf::MethodDescriptor* method() const { return method_; }
  const std::string& path() const { return path_; }
  std::atomic<int64_t>& request_number() { return request_number_; }

 private:
  friend class CallWorker;
  const Config config_;
  const protobuf::MethodDescriptor* method_ = nullptr;
  std::string path_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::unique_ptr<pb::Tensord::Stub> stub_;
  std::vector<std::string> sessions_;
  std::atomic<int64_t> request_number_{0};
};

class CallWorker : public Worker {
 public:
  CallWorker(CallScenario& s, int index, std::shared_ptr<grpc::Channel> channel,
             std::string session)
      : s_(s),
        index_(index),
        channel_(std::move(channel)),
        session_(std::move(session)),
        method_(s.path().c_str(), grpc::internal::RpcMethod::NORMAL_RPC),
        request_(protobuf::MessageFactory::generated_factory()
                     ->GetPrototype(s.method()->input_type())
                     ->New()) {}

  Outcome Run(SysClock::time_point deadline) override {
    const TemplateValues v{s_.request_number().fetch_add(1, std::memory_order_relaxed), index_,
                           session_};
    const Config& c = s_.config();
    request_->Clear();
    const std::string json = ExpandTemplate(c.data.empty() ? "{}" : c.data, v);
    auto parsed = protobuf::util::JsonStringToMessage(json, request_.get());
    if (!parsed.ok()) {
      return {static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT),
              absl::StrCat("the templated data is not valid JSON for the request: ",
                           std::string(parsed.message()))};
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline);
    s_.Decorate(&ctx, session_);
    if (!c.metadata.empty()) {
      protobuf::Struct md;
      if (protobuf::util::JsonStringToMessage(ExpandTemplate(c.metadata, v), &md).ok()) {
        for (const auto& [k, val] : md.fields()) ctx.AddMetadata(k, val.string_value());
      }
    }
    std::string bytes;
    request_->SerializeToString(&bytes);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer req(&slice, 1), resp;
    const grpc::Status st = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
        channel_.get(), method_, &ctx, req, &resp);
    if (st.ok()) return {};
    return {static_cast<int>(st.error_code()),
            absl::StrCat(s_.method()->name(), ": ", st.error_message())};
  }

 private:
  CallScenario& s_;
  const int index_;
  std::shared_ptr<grpc::Channel> channel_;
  const std::string session_;
  grpc::internal::RpcMethod method_;
  std::unique_ptr<protobuf::Message> request_;
};

absl::StatusOr<std::unique_ptr<Worker>> CallScenario::MakeWorker(int index) {
  const std::string session =
      sessions_.empty() ? "" : sessions_[static_cast<size_t>(index) % sessions_.size()];
  return std::make_unique<CallWorker>(
      *this, index, channels_[static_cast<size_t>(index) % channels_.size()], session);
}

}  // namespace

std::unique_ptr<Scenario> MakeCallScenario(const Config& config) {
  return std::make_unique<CallScenario>(config);
}

}  // namespace tensord::load
