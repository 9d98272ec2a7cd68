#include "engine/dtype.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace tensord {

size_t ItemSize(DType t) {
  switch (t) {
#define TENSORD_CASE_(e, ty, n, l, p) \
  case DType::e:                      \
    return sizeof(ty);
    TENSORD_FORALL_DTYPES(TENSORD_CASE_)
#undef TENSORD_CASE_
  }
  return 0;
}

absl::string_view DTypeName(DType t) {
  switch (t) {
#define TENSORD_CASE_(e, ty, n, l, p) \
  case DType::e:                      \
    return n;
    TENSORD_FORALL_DTYPES(TENSORD_CASE_)
#undef TENSORD_CASE_
  }
  return "?";
}

absl::string_view TorchDTypeName(DType t) {
  switch (t) {
#define TENSORD_CASE_(e, ty, n, l, p) \
  case DType::e:                      \
    return p;
    TENSORD_FORALL_DTYPES(TENSORD_CASE_)
#undef TENSORD_CASE_
  }
  return "?";
}

absl::string_view LegacyTypeName(DType t) {
  switch (t) {
#define TENSORD_CASE_(e, ty, n, l, p) \
  case DType::e:                      \
    return l;
    TENSORD_FORALL_DTYPES(TENSORD_CASE_)
#undef TENSORD_CASE_
  }
  return "?";
}

absl::string_view ScalarTypeName(DType t) {
  switch (t) {
    case DType::kFloat32:
      return "Float";
    case DType::kFloat64:
      return "Double";
    case DType::kInt64:
      return "Long";
    case DType::kBool:
      return "Bool";
  }
  return "?";
}

absl::StatusOr<DType> ParseDType(absl::string_view name) {
  if (name.substr(0, 6) == "torch.") name.remove_prefix(6);
  if (name == "float32" || name == "float") return DType::kFloat32;
  if (name == "float64" || name == "double") return DType::kFloat64;
  if (name == "int64" || name == "long") return DType::kInt64;
  if (name == "bool") return DType::kBool;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype '", name, "' (expected float32, float64, int64 or bool)"));
}

bool IsFloating(DType t) { return t == DType::kFloat32 || t == DType::kFloat64; }

bool IsIntegral(DType t, bool include_bool) {
  return t == DType::kInt64 || (include_bool && t == DType::kBool);
}

DType PromoteTypes(DType a, DType b) {
  if (a == b) return a;
  // bool < int64 < float32 < float64 is a total order for this dtype set.
  auto rank = [](DType t) {
    switch (t) {
      case DType::kBool:
        return 0;
      case DType::kInt64:
        return 1;
      case DType::kFloat32:
        return 2;
      case DType::kFloat64:
        return 3;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace tensord
