#include "proto/wire.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/factory.h"
#include "engine/kernels/loop.h"

namespace tensord::wire {
namespace {

// DTYPE_UNSPECIFIED is 0; the engine's dtypes follow in table order.
constexpr int kFirstWireDType = 1;

std::string ValidNames() {
  std::string names;
  for (int i = 0; i < kNumDTypes; ++i) {
    absl::StrAppend(&names, i == 0 ? "" : (i + 1 == kNumDTypes ? " or " : ", "),
                    pb::DType_Name(static_cast<pb::DType>(kFirstWireDType + i)));
  }
  return names;
}

}  // namespace

absl::StatusOr<DType> FromProto(pb::DType dtype) {
  const int index = static_cast<int>(dtype) - kFirstWireDType;
  if (index < 0 || index >= kNumDTypes) {
    return absl::InvalidArgumentError(absl::StrCat("unknown dtype value ", static_cast<int>(dtype),
                                                   " (expected ", ValidNames(), ")"));
  }
  return static_cast<DType>(index);
}

pb::DType ToProto(DType dtype) {
  return static_cast<pb::DType>(kFirstWireDType + static_cast<int>(dtype));
}

absl::StatusOr<Tensor> Decode(const pb::TensorData& data, bool requires_grad) {
  absl::StatusOr<DType> dtype = FromProto(data.dtype());
  if (!dtype.ok()) return dtype.status();
  return factory::from_bytes(data.data().data(), data.data().size(),
                             Shape(data.shape().begin(), data.shape().end()), *dtype,
                             requires_grad);
}

void Encode(const Tensor& t, pb::TensorData* out) {
  out->set_dtype(ToProto(t.dtype()));
  out->clear_shape();
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

}  // namespace tensord::wire
