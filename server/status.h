// The one conversion from the engine's absl::Status to the wire's grpc::Status.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace tensord::server {

// absl and gRPC share the canonical code numbering; the message passes through unchanged, so
// PyTorch's texts reach the client as the engine wrote them.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace tensord::server
