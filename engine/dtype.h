// The one table of element types. The order of entries is part of the wire format
// (the service's DType enum mirrors it); append only.
#pragma once

#include <cstdint>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace tensord {

//        enum      C++ type  torch name        legacy tensor type    python repr suffix
#define TENSORD_FORALL_DTYPES(_)                                        \
  _(kFloat32, float, "float32", "torch.FloatTensor", "torch.float32")   \
  _(kFloat64, double, "float64", "torch.DoubleTensor", "torch.float64") \
  _(kInt64, int64_t, "int64", "torch.LongTensor", "torch.int64")        \
  _(kBool, bool, "bool", "torch.BoolTensor", "torch.bool")

enum class DType : uint8_t {
#define TENSORD_DTYPE_ENUM_(e, t, n, l, p) e,
  TENSORD_FORALL_DTYPES(TENSORD_DTYPE_ENUM_)
#undef TENSORD_DTYPE_ENUM_
};

inline constexpr int kNumDTypes = 4;

template <typename T>
struct TypeTag {
  using type = T;
};

template <typename T>
constexpr DType DTypeOf();
#define TENSORD_DTYPE_OF_(e, t, n, l, p) \
  template <>                            \
  constexpr DType DTypeOf<t>() {         \
    return DType::e;                     \
  }
TENSORD_FORALL_DTYPES(TENSORD_DTYPE_OF_)
#undef TENSORD_DTYPE_OF_

size_t ItemSize(DType t);
// "float32", "float64", "int64", "bool".
absl::string_view DTypeName(DType t);
// "torch.float32" etc., as PyTorch prints a dtype.
absl::string_view TorchDTypeName(DType t);
// "torch.FloatTensor" etc., as PyTorch names a tensor type in error messages.
absl::string_view LegacyTypeName(DType t);
// "Float", "Double", "Long", "Bool": PyTorch's ScalarType names, as its error texts print them.
absl::string_view ScalarTypeName(DType t);
// Parses "float32"/"float"/"torch.float32"/"float64"/"double"/"int64"/"long"/"bool".
absl::StatusOr<DType> ParseDType(absl::string_view name);

bool IsFloating(DType t);
bool IsIntegral(DType t, bool include_bool);
// PyTorch's promote_types for the supported dtypes.
DType PromoteTypes(DType a, DType b);

// Calls f(TypeTag<T>{}) with T the C++ type of `t`.
template <typename F>
decltype(auto) DispatchDType(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32:
      return f(TypeTag<float>{});
    case DType::kFloat64:
      return f(TypeTag<double>{});
    case DType::kInt64:
      return f(TypeTag<int64_t>{});
    case DType::kBool:
      return f(TypeTag<bool>{});
  }
  return f(TypeTag<float>{});
}

// Calls f(TypeTag<T>{}) for the floating dtypes only (callers have checked).
template <typename F>
decltype(auto) DispatchFloating(DType t, F&& f) {
  if (t == DType::kFloat64) return f(TypeTag<double>{});
  return f(TypeTag<float>{});
}

}  // namespace tensord
