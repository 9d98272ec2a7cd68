// Ops a binary adds to the op table beyond the engine's families: for a test build whose table
// has an op no client was built with (tests/support/extra_op.cc). A separate header so that the
// hook is visible only where it is meant to be used.
#pragma once

#include <vector>

#include "engine/op_def.h"

namespace tensord {

// `add` runs after the engine's families when the table is first built (OpTable()), like them
// appending OpDefs that DeriveFromSchema then completes. Call it from a static initialiser, before
// the table exists: returns false and adds nothing once it does.
bool AddTableExtension(void (*add)(std::vector<OpDef>& table));

}  // namespace tensord
