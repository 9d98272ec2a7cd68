// The single path by which ops run and the graph is recorded.
#pragma once

#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "engine/op_def.h"

namespace tensord {

// Runs `def` on `inputs`: checks arity and attributes, runs the shape rule, the forward and,
// when grad mode is on and an input requires grad, records a node. On error nothing changes.
absl::StatusOr<std::vector<Tensor>> Apply(const OpDef& def, std::vector<Tensor> inputs,
                                          const Attrs& attrs = {});
// Same, by name. An in-place name ("add_") runs ApplyInplace on inputs[0].
absl::StatusOr<std::vector<Tensor>> Apply(absl::string_view name, std::vector<Tensor> inputs,
                                          const Attrs& attrs = {});
// Apply with output metadata the caller vouches for (no shape rule), recording a node even when
// no input requires grad: a view's regenerated history, whose edges may lead nowhere, as
// PyTorch's do, and whose base may have had its data replaced (x.data = y) since.
absl::StatusOr<std::vector<Tensor>> ApplyRecording(const OpDef& def, std::vector<Tensor> inputs,
                                                   const Attrs& attrs,
                                                   const std::vector<TensorMeta>& metas);
// Apply with the output metadata given instead of computed by the shape rule: how a
// metadata-only context (ContextOptions::meta) runs an op whose checks read tensor values
// (OpDef::value_dependent_checks), with the metadata of the results a server computed.
absl::StatusOr<std::vector<Tensor>> ApplyWithMetas(const OpDef& def, std::vector<Tensor> inputs,
                                                   const Attrs& attrs,
                                                   const std::vector<TensorMeta>& metas);
// Single-output convenience.
absl::StatusOr<Tensor> Apply1(const OpDef& def, std::vector<Tensor> inputs,
                              const Attrs& attrs = {});

// self.op_(others...): computes op(self, others...) and writes it into self, bumping its
// version and rebasing its history. Refuses a leaf that requires grad (outside no_grad).
absl::Status ApplyInplace(const OpDef& def, const Tensor& self, std::vector<Tensor> others,
                          const Attrs& attrs = {});

// Applies the table's defaults to `given` and checks names and types.
absl::StatusOr<Attrs> ResolveAttrs(const OpDef& def, const Attrs& given);

}  // namespace tensord
