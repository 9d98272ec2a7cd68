// Small helpers the service's RPC handlers share (server/service.cc, stream.cc, transfer_rpc.cc,
// auth.cc). Every error still goes through ToGrpcStatus (server/status.h).
#pragma once

#include <chrono>
#include <string>

#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/status.h"
#include "tensord/v1/tensord.pb.h"

namespace tensord::server {

namespace pb = ::tensord::v1;

// Finishes a unary call at once with `s`.
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx,
                                           const absl::Status& s) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

// Bytes a result adds to a repeated `results` field: tag, length prefix, message.
inline size_t ResultWireBytes(const pb::CommandResult& r) {
  const size_t n = r.ByteSizeLong();
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(n) + n;
}

inline std::string Metadata(grpc::CallbackServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// The call's deadline as absl::Time (InfiniteFuture when the client set none).
inline absl::Time CallDeadline(const grpc::CallbackServerContext* ctx) {
  const auto deadline = ctx->deadline();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365))
    return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

}  // namespace tensord::server
