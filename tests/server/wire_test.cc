// proto/wire.h: the dtype mapping against the wire enum's own names, and TensorData's byte
// layout (little-endian, row-major, bool as one byte 0/1) both ways.
#include "proto/wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/context.h"
#include "engine/factory.h"
#include "tests/support/test_util.h"

namespace tensord {
namespace {

namespace pb = ::tensord::v1;
using ::testing::HasSubstr;
using testing::Must;
using testing::StatusIs;
using testing::Values;

TEST(WireDType, EveryEngineDType_MapsToTheEnumValueNamedAfterIt_AndBack) {
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto dtype = static_cast<DType>(i);
    const pb::DType wire = wire::ToProto(dtype);
    // DTYPE_FLOAT32 for float32: the proto's names, not our table, decide.
    EXPECT_EQ(pb::DType_Name(wire),
              absl::StrCat("DTYPE_", absl::AsciiStrToUpper(DTypeName(dtype))));
    ASSERT_OK_AND_ASSIGN(DType back, wire::FromProto(wire));
    EXPECT_EQ(back, dtype);
  }
  // Every named wire value but UNSPECIFIED is an engine dtype.
  EXPECT_EQ(pb::DType_ARRAYSIZE, kNumDTypes + 1);
}

TEST(WireDType, UnspecifiedAndUnknownValues_AreInvalidArgumentNamingTheValidOnes) {
  for (int v : {0, -1, kNumDTypes + 1, 1000}) {
    EXPECT_THAT(wire::FromProto(static_cast<pb::DType>(v)),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(absl::StrCat("unknown dtype value ", v,
                                                " (expected DTYPE_FLOAT32, DTYPE_FLOAT64, "
                                                "DTYPE_INT64 or DTYPE_BOOL)"))));
  }
}

TEST(WireTensorData, EncodesLittleEndianRowMajor_AndAStridedViewAsItsValues) {
  Context ctx;
  ContextGuard guard(ctx);
  Tensor x = Must(factory::from_values({1, 2, 3, 4, 5, 6}, {2, 3},
                                       factory::TensorOptions().with_dtype(DType::kInt64)));
  pb::TensorData data;
  wire::Encode(x, &data);
  EXPECT_EQ(data.dtype(), pb::DTYPE_INT64);
  EXPECT_EQ(std::vector<int64_t>(data.shape().begin(), data.shape().end()),
            (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(data.data().size(), 6 * sizeof(int64_t));
  std::string expected;
  for (int64_t v : {1, 2, 3, 4, 5, 6}) {
    for (int b = 0; b < 8; ++b) expected.push_back(static_cast<char>((v >> (8 * b)) & 0xff));
  }
  EXPECT_EQ(data.data(), expected);

  Tensor xt = Must(ops::transpose(x, 0, 1));  // [3, 2], not contiguous
  wire::Encode(xt, &data);
  ASSERT_OK_AND_ASSIGN(Tensor back, wire::Decode(data));
  EXPECT_EQ(back.shape(), (Shape{3, 2}));
  EXPECT_EQ(Values(back), (std::vector<double>{1, 4, 2, 5, 3, 6}));
}

TEST(WireTensorData, DecodeNormalisesBools_AndRefusesBadLengthsAndShapes) {
  Context ctx;
  ContextGuard guard(ctx);
  pb::TensorData data;
  data.set_dtype(pb::DTYPE_BOOL);
  data.add_shape(3);
  data.set_data(std::string("\x00\x07\xff", 3));
  ASSERT_OK_AND_ASSIGN(Tensor b, wire::Decode(data));
  EXPECT_EQ(Values(b), (std::vector<double>{0, 1, 1}));
  pb::TensorData again;
  wire::Encode(b, &again);
  EXPECT_EQ(again.data(), std::string("\x00\x01\x01", 3));

  data.set_data(std::string("\x01\x01", 2));
  EXPECT_THAT(wire::Decode(data), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("tensor data has 2 bytes but shape [3]")));
  data.set_shape(0, -3);
  EXPECT_THAT(wire::Decode(data), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  data.set_dtype(static_cast<pb::DType>(9));
  EXPECT_THAT(wire::Decode(data),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown dtype value 9")));
  EXPECT_EQ(ctx.memory().used(), static_cast<int64_t>(b.nbytes()));  // failures allocate nothing
}

}  // namespace
}  // namespace tensord
