// Samples of the shape ops added after the core set.
#include "tests/support/op_samples_parts.h"

namespace tensord::testing {
namespace {

// An int64 index tensor with fixed values (not differentiable).
InputSpec Idx(Shape shape, std::vector<double> values) {
  InputSpec s = In(std::move(shape), Domain::kFixed);
  s.floating = false;
  s.dtype = DType::kInt64;
  s.values = std::move(values);
  s.differentiable = false;
  return s;
}

using Ints = std::vector<int64_t>;

}  // namespace

void AddShapeSamples(std::vector<OpSample>& v) {
  // flatten: reshape's view case, its copy case, self itself (start == end), and 0-d.
  v.push_back(S("flatten", "all", {In({2, 3, 4})}));
  v.push_back(S("flatten", "middle", {In({2, 3, 2, 2})},
                Attrs{{"start_dim", int64_t{1}}, {"end_dim", int64_t{2}}}));
  v.push_back(S("flatten", "negative_dims", {In({2, 3, 4})},
                Attrs{{"start_dim", int64_t{-2}}, {"end_dim", int64_t{-1}}}));
  v.push_back(S("flatten", "noncontiguous_copy", {Nc({3, 4})}));
  v.push_back(S("flatten", "same_dim_is_self", {In({2, 3})},
                Attrs{{"start_dim", int64_t{1}}, {"end_dim", int64_t{1}}}));
  v.push_back(S("flatten", "scalar", {In({})}));

  v.push_back(S("permute", "3d", {In({2, 3, 4})}, Attrs{{"dims", Ints{2, 0, 1}}}));
  v.push_back(S("permute", "negative_nc", {Nc({3, 4})}, Attrs{{"dims", Ints{-1, 0}}}));
  v.push_back(S("permute", "4d", {In({2, 1, 3, 2})}, Attrs{{"dims", Ints{3, 1, 0, 2}}}));

  v.push_back(S("repeat", "same_rank", {In({2, 3})}, Attrs{{"repeats", Ints{2, 1}}}));
  v.push_back(S("repeat", "new_dims", {In({2, 3})}, Attrs{{"repeats", Ints{2, 1, 3}}}));
  v.push_back(S("repeat", "noncontiguous", {Nc({3, 2})}, Attrs{{"repeats", Ints{1, 2}}}));
  v.push_back(S("repeat", "scalar", {In({})}, Attrs{{"repeats", Ints{3, 2}}}));
  v.push_back(S("repeat", "3d", {In({2, 1, 2})}, Attrs{{"repeats", Ints{1, 3, 2}}}));

  v.push_back(S("stack", "dim0", {In({2, 3}), In({2, 3})}));
  v.push_back(S("stack", "last_three_nc", {In({2, 3}), Nc({2, 3}), In({2, 3})},
                Attrs{{"dim", int64_t{-1}}}));
  v.push_back(S("stack", "middle", {In({3, 2}), In({3, 2})}, Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("stack", "scalars", {In({}), In({}), In({})}));
  // Type promotion as in cat: an int64 tensor stacked with a floating one.
  v.push_back(S("stack", "promotes_int", {In({3}), Idx({3}, {1, -2, 3})}));
  v.push_back(S("stack", "one_no_grad", {In({4}), NoGrad(In({4}))}, Attrs{{"dim", int64_t{1}}}));

  v.push_back(S("split", "even", {In({4, 3})}, Attrs{{"split_size", int64_t{2}}}));
  v.push_back(S("split", "uneven_negative_dim", {In({2, 5})},
                Attrs{{"split_size", int64_t{2}}, {"dim", int64_t{-1}}}));
  v.push_back(S("split", "noncontiguous", {Nc({4, 3})}, Attrs{{"split_size", int64_t{3}}}));
  v.push_back(S("split", "single_piece", {In({3, 4})},
                Attrs{{"split_size", int64_t{5}}, {"dim", int64_t{1}}}));
  v.push_back(
      S("split_sizes", "uneven", {In({5, 3})}, Attrs{{"split_size", std::vector<int64_t>{2, 3}}}));
  v.push_back(S("split_sizes", "three_pieces_negative_dim", {In({2, 4})},
                Attrs{{"split_size", std::vector<int64_t>{1, 2, 1}}, {"dim", int64_t{-1}}}));

  v.push_back(S("chunk", "even", {In({4, 3})}, Attrs{{"chunks", int64_t{2}}}));
  v.push_back(
      S("chunk", "uneven", {In({2, 5})}, Attrs{{"chunks", int64_t{3}}, {"dim", int64_t{1}}}));
  v.push_back(S("chunk", "fewer_than_asked", {In({2, 4})},
                Attrs{{"chunks", int64_t{3}}, {"dim", int64_t{-1}}}));
  v.push_back(S("chunk", "noncontiguous", {Nc({3, 4})},
                Attrs{{"chunks", int64_t{2}}, {"dim", int64_t{1}}}));

  v.push_back(S("narrow", "dim0", {In({5, 3})},
                Attrs{{"dim", int64_t{0}}, {"start", int64_t{1}}, {"length", int64_t{3}}}));
  v.push_back(S("narrow", "negative_nc", {Nc({4, 5})},
                Attrs{{"dim", int64_t{-1}}, {"start", int64_t{-3}}, {"length", int64_t{2}}}));
  v.push_back(S("narrow", "3d", {In({2, 4, 3})},
                Attrs{{"dim", int64_t{1}}, {"start", int64_t{0}}, {"length", int64_t{2}}}));

  // Index tensors: int64 with fixed values; repeated indices are fine for index_select/gather.
  v.push_back(
      S("index_select", "dim0", {In({4, 3}), Idx({3}, {3, 0, 2})}, Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("index_select", "dim1_repeated", {In({2, 4}), Idx({5}, {1, 1, 3, 0, 1})},
                Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("index_select", "negative_dim_nc", {Nc({3, 4}), Idx({2}, {2, 0})},
                Attrs{{"dim", int64_t{-1}}}));
  v.push_back(
      S("index_select", "scalar_index", {In({3, 4}), Idx({}, {2})}, Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("index_select", "int_self", {Idx({3}, {7, 8, 9}), Idx({4}, {2, 2, 0, 1})},
                Attrs{{"dim", int64_t{0}}}));
  v.push_back(
      S("index_select", "3d", {In({2, 3, 2}), Idx({2}, {2, 1})}, Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("_index_select_backward", "dim0", {In({3, 4}), Idx({3}, {2, 0, 2})},
                Attrs{{"input_size", Ints{4, 4}}, {"dim", int64_t{0}}}));
  v.push_back(S("_index_select_backward", "dim1", {In({2, 3}), Idx({3}, {1, 1, 0})},
                Attrs{{"input_size", Ints{2, 2}}, {"dim", int64_t{1}}}));

  v.push_back(S("gather", "dim1", {In({3, 4}), Idx({3, 2}, {0, 3, 1, 1, 2, 0})},
                Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("gather", "dim0", {In({3, 4}), Idx({2, 4}, {2, 0, 1, 2, 0, 0, 2, 1})},
                Attrs{{"dim", int64_t{0}}}));
  v.push_back(
      S("gather", "longer_than_self_nc",
        {Nc({4, 3}), Idx({4, 5}, {0, 1, 2, 2, 1, 1, 0, 0, 2, 1, 2, 2, 2, 0, 0, 1, 0, 1, 0, 1})},
        Attrs{{"dim", int64_t{-1}}}));
  v.push_back(S("gather", "3d", {In({2, 3, 2}), Idx({2, 2, 2}, {2, 0, 1, 1, 0, 2, 2, 2})},
                Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("gather", "int_self", {Idx({2, 3}, {4, 5, 6, 7, 8, 9}), Idx({2, 2}, {2, 0, 1, 1})},
                Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("_gather_backward", "dim1", {In({3, 2}), Idx({3, 2}, {0, 3, 1, 1, 2, 0})},
                Attrs{{"input_size", Ints{3, 4}}, {"dim", int64_t{1}}}));
  v.push_back(S("_gather_backward", "dim0", {In({2, 3}), Idx({2, 3}, {1, 0, 1, 1, 2, 0})},
                Attrs{{"input_size", Ints{3, 3}}, {"dim", int64_t{0}}}));

  // scatter: indices distinct along dim (with duplicates the result depends on write order).
  v.push_back(S("scatter", "dim1", {In({3, 4}), Idx({3, 2}, {0, 3, 1, 2, 2, 0}), In({3, 2})},
                Attrs{{"dim", int64_t{1}}}));
  v.push_back(S("scatter", "dim0", {In({3, 4}), Idx({2, 4}, {2, 0, 1, 2, 0, 1, 2, 1}), In({2, 4})},
                Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("scatter", "negative_dim_nc",
                {Nc({4, 3}), Idx({4, 2}, {2, 0, 1, 2, 0, 1, 1, 0}), Nc({4, 2})},
                Attrs{{"dim", int64_t{-1}}}));
  v.push_back(S("scatter", "src_no_grad", {In({2, 3}), Idx({1, 3}, {1, 0, 1}), NoGrad(In({1, 3}))},
                Attrs{{"dim", int64_t{0}}}));
  v.push_back(S("scatter_value", "dim1_float", {In({3, 4}), Idx({3, 2}, {0, 3, 1, 2, 2, 0})},
                Attrs{{"dim", int64_t{1}}, {"value", 2.5}}));
  v.push_back(S("scatter_value", "dim0_int_value_nc", {Nc({4, 3}), Idx({2, 3}, {3, 0, 1, 2, 1, 0})},
                Attrs{{"dim", int64_t{0}}, {"value", int64_t{-2}}}));

  v.push_back(S("masked_fill", "same_shape",
                {In({3, 4}), Mask({3, 4}, {1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1})},
                Attrs{{"value", 1.5}}));
  v.push_back(S("masked_fill", "broadcast_mask_int_value", {In({3, 4}), Mask({4}, {0, 1, 1, 0})},
                Attrs{{"value", int64_t{2}}}));
  v.push_back(S("masked_fill", "broadcast_self",
                {In({3, 1}), Mask({2, 3, 4}, {1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1,
                                              0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0})},
                Attrs{{"value", -1.0}}));
  v.push_back(S("masked_fill", "noncontiguous",
                {Nc({4, 3}), Mask({4, 3}, {1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1})},
                Attrs{{"value", 0.0}}));

  // An int64 self keeps its dtype; a float value is truncated toward zero.
  v.push_back(S("masked_fill", "int_self_float_value",
                {Idx({4}, {1, -2, 3, 4}), Mask({4}, {1, 1, 0, 0})}, Attrs{{"value", -1.7}}));
  v.push_back(S("masked_select", "int_self", {Idx({4}, {1, -2, 3, 4}), Mask({4}, {0, 1, 1, 0})}));
  v.push_back(S("masked_select", "same_shape",
                {In({3, 4}), Mask({3, 4}, {1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1})}));
  // Not with a non-contiguous self: PyTorch 1.13's masked_select backward writes the gradient in
  // the memory order of self (zeros_like(..., Preserve).masked_scatter_), so for a transposed
  // self it is wrong (torch.autograd.gradcheck fails on it); the engine's is row-major.
  v.push_back(S("masked_select", "broadcast_mask", {In({4, 3}), Mask({3}, {1, 0, 1})}));
  v.push_back(S("masked_select", "broadcast_self",
                {In({3, 1}), Mask({2, 3, 4}, {1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1,
                                              0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0})}));
  v.push_back(S("_masked_select_backward", "same_shape",
                {In({7}), Mask({3, 4}, {1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1})},
                Attrs{{"input_size", Ints{3, 4}}}));
  v.push_back(S("_masked_select_backward", "broadcast_mask", {In({6}), Mask({4}, {0, 1, 1, 0})},
                Attrs{{"input_size", Ints{3, 4}}}));

  // as_strided (storage positions; a view can overlap itself) and its gradient ops, also with
  // a non-contiguous base layout.
  v.push_back(
      S("as_strided", "window", {In({3, 4})},
        Attrs{{"size", Ints{2, 2}}, {"stride", Ints{4, 1}}, {"storage_offset", int64_t{1}}}));
  v.push_back(S("as_strided", "overlapping", {In({6})},
                Attrs{{"size", Ints{3, 3}}, {"stride", Ints{1, 1}}}));
  v.push_back(
      S("as_strided", "noncontiguous", {Nc({4, 3})},
        Attrs{{"size", Ints{2, 3}}, {"stride", Ints{1, 4}}, {"storage_offset", int64_t{1}}}));
  v.push_back(S("_as_strided_backward", "window", {In({2, 2})},
                Attrs{{"input_size", Ints{3, 4}},
                      {"input_stride", Ints{4, 1}},
                      {"input_offset", int64_t{0}},
                      {"size", Ints{2, 2}},
                      {"stride", Ints{4, 1}},
                      {"storage_offset", int64_t{1}}}));
  v.push_back(S("_as_strided_backward", "overlapping_nc_base", {In({3, 3})},
                Attrs{{"input_size", Ints{4, 3}},
                      {"input_stride", Ints{1, 4}},
                      {"input_offset", int64_t{0}},
                      {"size", Ints{3, 3}},
                      {"stride", Ints{1, 1}},
                      {"storage_offset", int64_t{2}}}));
  v.push_back(S("_as_strided_copy", "window", {In({3, 4})},
                Attrs{{"input_stride", Ints{4, 1}},
                      {"input_offset", int64_t{0}},
                      {"size", Ints{2, 2}},
                      {"stride", Ints{1, 4}},
                      {"storage_offset", int64_t{2}}}));
  v.push_back(S("_as_strided_copy", "overlapping_nc_base", {Nc({4, 3})},
                Attrs{{"input_stride", Ints{1, 4}},
                      {"input_offset", int64_t{0}},
                      {"size", Ints{3, 3}},
                      {"stride", Ints{1, 1}},
                      {"storage_offset", int64_t{2}}}));
}

}  // namespace tensord::testing
