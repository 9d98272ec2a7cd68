#include <gtest/gtest.h>
#include "engine/ops.h"
TEST(Smoke, Builds) { SUCCEED(); }
