// Each file in engine/ops/ adds its part of the op table.
#pragma once

#include <vector>

#include "engine/op_def.h"

namespace tensord {

void RegisterElementwiseOps(std::vector<OpDef>& table);
void RegisterReductionOps(std::vector<OpDef>& table);
void RegisterLinalgOps(std::vector<OpDef>& table);
void RegisterShapeOps(std::vector<OpDef>& table);
void RegisterLossOps(std::vector<OpDef>& table);
void RegisterFactoryOps(std::vector<OpDef>& table);
// The rest of the op surface, by area.
void RegisterMorePointwiseOps(std::vector<OpDef>& table);
void RegisterMoreReductionOps(std::vector<OpDef>& table);
void RegisterMoreShapeOps(std::vector<OpDef>& table);
void RegisterNNOps(std::vector<OpDef>& table);
// as_strided and the internal ops of views modified in place.
void RegisterAsStridedOps(std::vector<OpDef>& table);

}  // namespace tensord
