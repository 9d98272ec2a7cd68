#include "server/status.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace tensord::server {
namespace {

// The longest prefix of `s` of at most `max` bytes that ends on a UTF-8 character boundary.
size_t Utf8Prefix(absl::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace

std::string WireMessage(absl::string_view message) {
  if (message.size() <= kMaxStatusMessageBytes) return std::string(message);
  const size_t keep = Utf8Prefix(message, kMaxStatusMessageBytes - 40);
  return absl::StrCat(message.substr(0, keep), "... [", message.size() - keep, " bytes cut]");
}

std::string Clip(absl::string_view input, size_t max) {
  if (input.size() <= max) return std::string(input);
  const size_t keep = Utf8Prefix(input, max);
  return absl::StrCat(input.substr(0, keep), "...(", input.size(), " bytes)");
}

std::string LogId(absl::string_view session_id) {
  // Server-made ids are "<replica>.<32 hex>": keep the replica name and 6 characters of the rest.
  const size_t dot = session_id.rfind('.');
  const size_t head = dot == absl::string_view::npos ? 0 : dot + 1;
  const size_t keep = std::min(session_id.size(), head + 6);
  if (keep >= session_id.size() && session_id.size() <= 8) return std::string(session_id);
  return absl::StrCat(Clip(session_id.substr(0, keep), 64), "…");
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const int code = static_cast<int>(status.code());
  if (code <= 0 || code > static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) {
    return grpc::Status(grpc::StatusCode::UNKNOWN, WireMessage(status.message()));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(code), WireMessage(status.message()));
}

}  // namespace tensord::server
