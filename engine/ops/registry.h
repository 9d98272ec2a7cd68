// Each family file in engine/ops/ adds its part of the op table.
#pragma once

#include <vector>

#include "engine/op_def.h"

namespace tensord {

void RegisterPointwiseOps(std::vector<OpDef>& table);
void RegisterReductionOps(std::vector<OpDef>& table);  // reduce.cc
void RegisterScanOps(std::vector<OpDef>& table);
void RegisterSoftmaxOps(std::vector<OpDef>& table);
void RegisterLinalgOps(std::vector<OpDef>& table);
void RegisterLossOps(std::vector<OpDef>& table);
void RegisterViewOps(std::vector<OpDef>& table);
void RegisterIndexOps(std::vector<OpDef>& table);
void RegisterJoinOps(std::vector<OpDef>& table);
void RegisterCopyOps(std::vector<OpDef>& table);
// as_strided and the internal ops of views modified in place.
void RegisterAsStridedOps(std::vector<OpDef>& table);
void RegisterFactoryOps(std::vector<OpDef>& table);

}  // namespace tensord
