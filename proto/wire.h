// The wire vocabulary, declared once for every C++ program that speaks tensord.v1: the server,
// the client library, tensorctl, tensord-load and the benchmarks. What the .proto files cannot
// say themselves lives here: the metadata header names, the dtype mapping (derived from the
// engine's dtype table) and the TensorData byte layout.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "engine/dtype.h"
#include "engine/tensor.h"
#include "tensord/v1/tensord.pb.h"

namespace tensord::wire {

namespace pb = ::tensord::v1;

// The session a call is for, sent as metadata on every session call (CreateSession included,
// when the client proposes the id), so that a proxy can route by it (deploy/haproxy.cfg).
inline constexpr char kSessionHeader[] = "x-tensord-session";
// "x-tensord-peek: 1" on a read (GetInfo, GetTensor, GetGraph): an operator's look that does not
// reset the session's idle TTL. INVALID_ARGUMENT on any other call.
inline constexpr char kPeekHeader[] = "x-tensord-peek";
// Bearer tokens: "authorization: Bearer <token>".
inline constexpr char kAuthorizationHeader[] = "authorization";
inline constexpr char kBearerPrefix[] = "Bearer ";

// The wire's DType enum lists the engine's dtypes in TENSORD_FORALL_DTYPES order, after
// DTYPE_UNSPECIFIED (checked by wire_test against the enum's names). Unknown values are an
// INVALID_ARGUMENT naming the valid ones.
absl::StatusOr<DType> FromProto(pb::DType dtype);
pb::DType ToProto(DType dtype);

// TensorData carries values as raw little-endian row-major bytes of the dtype's item size (bool:
// one byte, 0 or 1). Decode checks the shape (no negative size, no overflowing element count) and
// that the byte length matches; the tensor is allocated in the current context. It applies no
// server limits: the server checks those first (server/convert.h).
absl::StatusOr<Tensor> Decode(const pb::TensorData& data, bool requires_grad = false);
// Any layout (a strided view is gathered straight into the message: one copy).
void Encode(const Tensor& t, pb::TensorData* out);

}  // namespace tensord::wire
