#include "server/convert.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/ops/op_util.h"
#include "engine/status_macros.h"
#include "server/status.h"

namespace tensord::server {

absl::Status CheckShape(const google::protobuf::RepeatedField<int64_t>& shape,
                        const ServerOptions& limits) {
  return CheckShape(std::span<const int64_t>(shape.data(), static_cast<size_t>(shape.size())),
                    limits);
}

absl::Status CheckShape(std::span<const int64_t> shape, const ServerOptions& limits) {
  if (static_cast<int64_t>(shape.size()) > limits.max_rank) {
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
  TD_RETURN_IF_ERROR(FromProto(data.dtype()).status());
  TD_RETURN_IF_ERROR(CheckShape(data.shape(), limits));
  return wire::Decode(data, requires_grad);
}

void ToProto(const Tensor& t, pb::TensorData* out) { wire::Encode(t, out); }

void FillInfo(uint64_t id, const Tensor& t, pb::TensorInfo* out) {
  out->set_id(id);
  out->set_dtype(ToProto(t.dtype()));
  out->clear_shape();
  for (int64_t d : t.shape()) out->add_shape(d);
  out->set_requires_grad(t.requires_grad());
  absl::StatusOr<std::shared_ptr<Node>> grad_fn = t.grad_fn_or_error();
  if (grad_fn.ok()) {
    out->set_is_leaf(*grad_fn == nullptr);
    out->set_grad_fn(*grad_fn ? (*grad_fn)->name() : "");
    out->clear_grad_fn_error();
  } else {
    out->set_is_leaf(false);
    out->set_grad_fn("");
    out->set_grad_fn_error(WireMessage(grad_fn.status().message()));
  }
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
