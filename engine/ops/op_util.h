// Helpers shared by op definitions: type promotion, broadcasting, dim wrapping, allocation.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/kernels/loop.h"
#include "engine/op_def.h"
#include "engine/tensor.h"

namespace tensord::op_util {

// PyTorch's result_type: dimensioned tensors > zero-dim tensors > wrapped numbers, with a
// lower tier winning only when it is of a higher category (bool < integer < floating).
DType ResultType(std::span<const Tensor> tensors);
// Floating result for ops like exp or div: integers and bool go to the default dtype.
DType ToFloating(DType t);

// Broadcast shape of a and b, or PyTorch's "The size of tensor a (3) must match ..." error.
absl::StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);
// True when `from` broadcasts to `to`.
bool IsExpandableTo(const Shape& from, const Shape& to);

// Normalises a possibly negative dim for a tensor of rank `ndim` (0-d counts as 1), or
// "Dimension out of range (expected to be in range of [-2, 1], but got 5)".
absl::StatusOr<int64_t> WrapDim(int64_t dim, int64_t ndim);

absl::StatusOr<Tensor> Alloc(const TensorMeta& meta);
absl::StatusOr<Tensor> Zeros(const TensorMeta& meta);
// Contiguous copy without autograd history.
absl::StatusOr<Tensor> RawClone(const Tensor& t);
// `t` itself when it already has `dtype`, else a converted contiguous copy (no history).
absl::StatusOr<Tensor> RawTo(const Tensor& t, DType dtype);
// Contiguous `t` (itself if already contiguous), no history.
absl::StatusOr<Tensor> RawContiguous(const Tensor& t);

// Calls f(value) for each stored element of `t` (element type T), in row-major order, visiting a
// dimension an expand made (stride 0) once: a check over the values of an expanded index costs
// its real elements, not its size. Polls for cancellation (Apply catches it, shape rules too).
template <typename T, typename F>
void ForEachStoredElement(const Tensor& t, F&& f) {
  if (t.numel() == 0) return;
  Shape shape = t.shape();
  for (size_t d = 0; d < shape.size(); ++d)
    if (t.strides()[d] == 0) shape[d] = 1;
  kernels::StridedLoop<1>(shape, {t.raw_data()}, {t.strides()}, {static_cast<int64_t>(sizeof(T))},
                          [&](char** p, const int64_t* s, int64_t n) {
                            for (int64_t i = 0; i < n; ++i)
                              f(*reinterpret_cast<const T*>(p[0] + i * s[0]));
                          });
}

// The number of true elements of the bool tensor `mask` broadcast to `shape` (which it must
// broadcast to), counting each stored element once and multiplying by its repetitions.
int64_t CountTrueBroadcast(const Tensor& mask, const Shape& shape);

// Runs a table op by name and returns its first output. Backward rules use it for ops that have
// no in-process convenience function; it records the graph like any other call.
absl::StatusOr<Tensor> Call(absl::string_view name, std::vector<Tensor> inputs,
                            const Attrs& attrs = {});

// ATen's `int reduction` (0 none, 1 mean, 2 sum) as the name the loss kernels switch on; any
// other value comes back as its number, which CheckReduction-style checks refuse.
std::string ReductionName(const Attrs& attrs);
// Unimplemented unless every input from `first` on (`Tensor? weight`, `pos_weight`) is None.
absl::Status RefuseOptionalInputs(absl::string_view op, std::span<const Tensor> inputs,
                                  size_t first, absl::string_view what);
// "none" -> 0, "mean" -> 1, "sum" -> 2, anything else -> -1.
int64_t ReductionEnum(absl::string_view name);

// x[..., index, ...] on `dim` and x[..., start:start+length, ...] on `dim`, as views (no checks:
// for kernels and shape rules that validated dim and range).
Tensor SelectView(const Tensor& x, int64_t dim, int64_t index);
Tensor NarrowView(const Tensor& x, int64_t dim, int64_t start, int64_t length);

// One output's metadata, as a shape rule returns it.
inline absl::StatusOr<std::vector<TensorMeta>> One(Shape shape, DType dtype) {
  return std::vector<TensorMeta>{{std::move(shape), dtype}};
}
// Another op's shape rule, for composites that check what the ops they call would check.
absl::StatusOr<std::vector<TensorMeta>> InferOf(absl::string_view name, std::vector<Tensor> inputs,
                                                const Attrs& attrs = {});
// PyTorch's "\"KERNEL\" not implemented for 'Bool'".
absl::Status NotImplementedFor(absl::string_view kernel, DType dtype);

// The one table-entry builder every family file uses: what an OpDef needs besides its schema
// (which supplies inputs and attributes; `attrs` and `num_inputs` are for internal ops, which have
// none) — wire name, grad_fn name, doc, kind, shape rule, forward, backward, and which inputs
// (bit i: input i) and whether the outputs the backward saves. The rarer fields (in-place
// kernel, cost, save_input_for, nondiff_inputs, ...) are set on the result.
OpDef Def(absl::string_view name, absl::string_view grad_fn, absl::string_view doc, OpKind kind,
          InferFn infer, ForwardFn forward, BackwardFn backward, std::vector<AttrSpec> attrs = {},
          int num_inputs = 1, uint32_t save_inputs = 0, bool save_outputs = false);

}  // namespace tensord::op_util
