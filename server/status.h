// The one conversion from the engine's absl::Status to the wire's grpc::Status, and the rules for
// what of a client's input an error message (or a log line) may repeat.
#pragma once

#include <grpcpp/support/status.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tensord::server {

// Longest message a status carries to the client. Messages travel in the call's trailers, which
// clients cap (gRPC's default: 8 KiB of metadata); a longer one is cut and marked.
inline constexpr size_t kMaxStatusMessageBytes = 1024;
// Longest piece of client input (an op name, a session id, a header) quoted in a message.
inline constexpr size_t kMaxQuotedBytes = 128;

// absl and gRPC share the canonical code numbering; the message passes through unchanged (but
// for the length cap), so PyTorch's texts reach the client as the engine wrote them.
grpc::Status ToGrpcStatus(const absl::Status& status);
// The message as it goes on the wire: at most kMaxStatusMessageBytes, never splitting a UTF-8
// character, with "... [N bytes cut]" marking a cut. Also used for per-command results.
std::string WireMessage(absl::string_view message);
// Client input as an error message may quote it: at most `max` bytes, never splitting a UTF-8
// character, with "...(N bytes)" marking a cut.
std::string Clip(absl::string_view input, size_t max = kMaxQuotedBytes);
// A session id as logs print it: a prefix, never the whole id (ids are bearer secrets for anyone
// who holds the same token).
std::string LogId(absl::string_view session_id);

}  // namespace tensord::server
