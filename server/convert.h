// proto <-> engine conversions, all in one place.
#pragma once

#include <span>

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "engine/node.h"
#include "engine/op_def.h"
#include "engine/tensor.h"
#include "proto/wire.h"
#include "server/options.h"
#include "tensord/v1/tensord.pb.h"

namespace tensord::server {

namespace pb = ::tensord::v1;

// The dtype mapping (proto/wire.h), under the names the rest of the conversions use.
using wire::FromProto;
using wire::ToProto;

// Checks a shape from the wire: rank and element limits, negative dims, int64 overflow.
absl::Status CheckShape(const google::protobuf::RepeatedField<int64_t>& shape,
                        const ServerOptions& limits);
absl::Status CheckShape(std::span<const int64_t> shape, const ServerOptions& limits);
Shape ToShape(const google::protobuf::RepeatedField<int64_t>& shape);

// Decodes a TensorData into a new tensor (charged to the current context).
absl::StatusOr<Tensor> FromProto(const pb::TensorData& data, const ServerOptions& limits,
                                 bool requires_grad);
// Encodes values as raw little-endian row-major bytes.
void ToProto(const Tensor& t, pb::TensorData* out);
void FillInfo(uint64_t id, const Tensor& t, pb::TensorInfo* out);

absl::StatusOr<AttrValue> FromProto(const pb::AttrValue& value);
void ToProto(const AttrValue& value, pb::AttrValue* out);
absl::StatusOr<Attrs> FromProto(const google::protobuf::Map<std::string, pb::AttrValue>& attrs);

void ToProto(const OpDef& def, pb::OpInfo* out);

}  // namespace tensord::server
