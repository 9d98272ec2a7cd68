#include "server/convert.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/factory.h"
#include "engine/kernels/loop.h"
#include "engine/ops/op_util.h"
#include "engine/status_macros.h"

namespace tensord::server {

absl::StatusOr<DType> FromProto(pb::DType dtype) {
  switch (dtype) {
    case pb::DTYPE_FLOAT32:
      return DType::kFloat32;
    case pb::DTYPE_FLOAT64:
      return DType::kFloat64;
    case pb::DTYPE_INT64:
      return DType::kInt64;
    case pb::DTYPE_BOOL:
      return DType::kBool;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown dtype value ", static_cast<int>(dtype),
                       " (expected DTYPE_FLOAT32, DTYPE_FLOAT64, DTYPE_INT64 or DTYPE_BOOL)"));
  }
}

pb::DType ToProto(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return pb::DTYPE_FLOAT32;
    case DType::kFloat64:
      return pb::DTYPE_FLOAT64;
    case DType::kInt64:
      return pb::DTYPE_INT64;
    case DType::kBool:
      return pb::DTYPE_BOOL;
  }
  return pb::DTYPE_UNSPECIFIED;
}

absl::Status CheckShape(const google::protobuf::RepeatedField<int64_t>& shape,
                        const ServerOptions& limits) {
  if (shape.size() > limits.max_rank) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor rank ", shape.size(), " exceeds the server's limit of ", limits.max_rank));
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Trying to create tensor with negative dimension ", d, ": [",
                       absl::StrJoin(shape, ", "), "]"));
    }
    if (d != 0 && n > INT64_MAX / d) {
      return absl::InvalidArgumentError("the shape's element count overflows int64");
    }
    n *= d;
  }
  if (n > limits.max_tensor_elements) {
    return absl::InvalidArgumentError(absl::StrCat("tensor of ", n,
                                                   " elements exceeds the server's limit of ",
                                                   limits.max_tensor_elements, " elements"));
  }
  return absl::OkStatus();
}

Shape ToShape(const google::protobuf::RepeatedField<int64_t>& shape) {
  return Shape(shape.begin(), shape.end());
}

absl::StatusOr<Tensor> FromProto(const pb::TensorData& data, const ServerOptions& limits,
                                 bool requires_grad) {
  TD_ASSIGN_OR_RETURN(DType dtype, FromProto(data.dtype()));
  TD_RETURN_IF_ERROR(CheckShape(data.shape(), limits));
  return factory::from_bytes(data.data().data(), data.data().size(), ToShape(data.shape()), dtype,
                             requires_grad);
}

void ToProto(const Tensor& t, pb::TensorData* out) {
  out->set_dtype(ToProto(t.dtype()));
  for (int64_t d : t.shape()) out->add_shape(d);
  std::string* bytes = out->mutable_data();
  bytes->resize(static_cast<size_t>(t.nbytes()));
  if (t.numel() == 0) return;
  if (t.is_contiguous()) {
    std::memcpy(bytes->data(), t.raw_data(), bytes->size());
    return;
  }
  // Gather a strided tensor straight into the message buffer: one copy.
  const auto item = static_cast<int64_t>(ItemSize(t.dtype()));
  kernels::StridedLoop<2>(
      t.shape(), {bytes->data(), t.raw_data()}, {ContiguousStrides(t.shape()), t.strides()},
      {item, item}, [item](char** p, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n; ++i) {
          std::memcpy(p[0] + i * s[0], p[1] + i * s[1], static_cast<size_t>(item));
        }
      });
}

void FillInfo(uint64_t id, const Tensor& t, pb::TensorInfo* out) {
  out->set_id(id);
  out->set_dtype(ToProto(t.dtype()));
  out->clear_shape();
  for (int64_t d : t.shape()) out->add_shape(d);
  out->set_requires_grad(t.requires_grad());
  out->set_is_leaf(t.is_leaf());
  out->set_grad_fn(t.grad_fn() ? t.grad_fn()->name() : "");
  out->set_version(t.version());
  out->set_retains_grad(t.retains_grad());
  out->set_has_grad(t.grad().defined());
}

absl::StatusOr<AttrValue> FromProto(const pb::AttrValue& value) {
  switch (value.value_case()) {
    case pb::AttrValue::kB:
      return AttrValue(value.b());
    case pb::AttrValue::kI:
      return AttrValue(value.i());
    case pb::AttrValue::kF:
      return AttrValue(value.f());
    case pb::AttrValue::kInts:
      return AttrValue(
          std::vector<int64_t>(value.ints().values().begin(), value.ints().values().end()));
    case pb::AttrValue::kDtype: {
      TD_ASSIGN_OR_RETURN(DType d, FromProto(value.dtype()));
      return AttrValue(d);
    }
    case pb::AttrValue::kS:
      return AttrValue(value.s());
    case pb::AttrValue::kNone:
    case pb::AttrValue::VALUE_NOT_SET:
      return AttrValue(std::monostate{});
  }
  return AttrValue(std::monostate{});
}

void ToProto(const AttrValue& value, pb::AttrValue* out) {
  std::visit(
      [out](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::monostate>) {
          out->set_none(true);
        } else if constexpr (std::is_same_v<V, bool>) {
          out->set_b(v);
        } else if constexpr (std::is_same_v<V, int64_t>) {
          out->set_i(v);
        } else if constexpr (std::is_same_v<V, double>) {
          out->set_f(v);
        } else if constexpr (std::is_same_v<V, std::vector<int64_t>>) {
          for (int64_t x : v) out->mutable_ints()->add_values(x);
        } else if constexpr (std::is_same_v<V, DType>) {
          out->set_dtype(ToProto(v));
        } else {
          out->set_s(v);
        }
      },
      value);
}

absl::StatusOr<Attrs> FromProto(const google::protobuf::Map<std::string, pb::AttrValue>& attrs) {
  Attrs out;
  for (const auto& [name, value] : attrs) {
    TD_ASSIGN_OR_RETURN(AttrValue v, FromProto(value));
    out.Set(name, std::move(v));
  }
  return out;
}

void ToProto(const OpDef& def, pb::OpInfo* out) {
  out->set_name(std::string(def.name));
  out->set_num_inputs(def.num_inputs);
  for (const AttrSpec& spec : def.attrs) {
    pb::OpInfo::Attr* a = out->add_attrs();
    a->set_name(std::string(spec.name));
    a->set_type(std::string(AttrTypeName(spec.type)));
    // What the wire requires: an optional argument without default (`int[1]? dim`) may be left
    // out and is then None.
    a->set_required(spec.required && !spec.nullable);
    if (!spec.required && !std::holds_alternative<std::monostate>(spec.default_value)) {
      ToProto(spec.default_value, a->mutable_default_value());
    }
    a->set_doc(std::string(spec.doc));
  }
  out->set_grad_fn(std::string(def.grad_fn));
  out->set_inplace_name(std::string(def.inplace_name));
  out->set_doc(std::string(def.doc));
  out->set_kind(def.kind == OpKind::kView        ? "view"
                : def.kind == OpKind::kComposite ? "composite"
                                                 : "kernel");
  out->set_differentiable_outputs(def.differentiable_outputs);
  out->set_num_outputs(def.num_outputs);
  out->set_schema(std::string(def.schema));
  out->set_overload_group(std::string(def.overload_group()));
  out->set_overload_name(std::string(def.overload_name()));
  out->set_value_dependent_checks(def.value_dependent_checks);
}

}  // namespace tensord::server
