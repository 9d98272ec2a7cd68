// What the harnesses of tests/fuzz share: small server limits (so that no input can exhaust the
// machine: every tensor is at most kMaxElements elements and a session at most kSessionBytes),
// an in-process session, the check that aborts on a broken invariant, and generators of shapes
// and raw tensor bytes with edge values.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include <google/protobuf/stubs/common.h>

#include "absl/time/time.h"
#include "engine/context.h"
#include "server/convert.h"
#include "server/options.h"
#include "server/session.h"
#include "spdlog/spdlog.h"
#include "tests/fuzz/fuzz_input.h"

namespace tensord::fuzz {

namespace pb = ::tensord::v1;

inline constexpr int64_t kMaxElements = int64_t{1} << 12;
inline constexpr int64_t kSessionBytes = int64_t{4} << 20;
inline constexpr char kSessionId[] = "fuzz-session-0123456789";

// A broken invariant: a crash for the fuzzer (the input is saved) and for the replay test.
#define TENSORD_FUZZ_CHECK(cond, ...)                                                        \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                     \
      std::fprintf(stderr, "\n");                                                            \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

inline const server::ServerOptions& FuzzOptions() {
  static const server::ServerOptions* const options = [] {
    auto* o = new server::ServerOptions;
    o->max_session_bytes = kSessionBytes;
    o->max_tensor_elements = kMaxElements;
    o->max_rank = 6;
    o->max_message_bytes = 1 << 20;
    // A command that runs long is stopped (DEADLINE_EXCEEDED) well before libFuzzer's timeout.
    o->max_command_time = absl::Seconds(2);
    // No noise: commands that throw log, and protobuf logs strings that are not UTF-8.
    spdlog::set_level(spdlog::level::off);
    google::protobuf::SetLogHandler(nullptr);
    return o;
  }();
  return *options;
}

inline std::unique_ptr<server::Session> NewSession(int64_t memory_limit = kSessionBytes) {
  ContextOptions copts;
  copts.seed = 1;
  copts.memory_limit_bytes = memory_limit;
  return std::make_unique<server::Session>(kSessionId, "", copts, absl::Minutes(10),
                                           std::map<std::string, std::string>{});
}

// Wire dtypes, valid ones mostly (DTYPE_UNSPECIFIED and an unknown number sometimes).
inline pb::DType EdgeDType(FuzzInput& in) {
  const uint8_t b = in.Byte();
  if (b < 240) return static_cast<pb::DType>(1 + b % 4);
  return static_cast<pb::DType>(b % 2 == 0 ? 0 : 5 + b % 7);
}

inline size_t WireItemSize(pb::DType d) {
  switch (d) {
    case pb::DTYPE_FLOAT32:
      return 4;
    case pb::DTYPE_FLOAT64:
    case pb::DTYPE_INT64:
      return 8;
    case pb::DTYPE_BOOL:
      return 1;
    default:
      return 1;
  }
}

// A shape: mostly rank 0-3 with sizes 0-3 (so that ops meet compatible operands), sometimes
// larger ranks, sizes and the edges of int64.
template <typename AddDim>
void EdgeShape(FuzzInput& in, AddDim add) {
  const uint8_t r = in.Byte();
  const int rank = r < 230 ? r % 4 : r % 10;
  for (int i = 0; i < rank; ++i) {
    const uint8_t k = in.Byte();
    if (k < 200) {
      add(static_cast<int64_t>(1 + k % 3));
    } else if (k < 225) {
      add(0);
    } else if (k < 240) {
      add(static_cast<int64_t>(k % 64));
    } else {
      add(in.EdgeInt());
    }
  }
}

// Element count of a wire shape, saturating at INT64_MAX, negative sizes as 0.
template <typename Shape>
int64_t WireNumel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0) return 0;
    if (n > std::numeric_limits<int64_t>::max() / d) return std::numeric_limits<int64_t>::max();
    n *= d;
  }
  return n;
}

// A double as float32 without the undefined behaviour of an out-of-range cast.
inline float ToFloat(double d) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (d > kMax) return std::numeric_limits<float>::infinity();
  if (d < -kMax) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(d);
}

// The raw bytes of `numel` elements: edge values mostly, raw bytes sometimes.
inline std::string EdgeValues(FuzzInput& in, pb::DType dtype, int64_t numel) {
  std::string out;
  const size_t item = WireItemSize(dtype);
  out.reserve(static_cast<size_t>(numel) * item);
  for (int64_t i = 0; i < numel; ++i) {
    char buf[8] = {};
    switch (dtype) {
      case pb::DTYPE_FLOAT32: {
        const float f = ToFloat(in.EdgeDouble());
        std::memcpy(buf, &f, 4);
        break;
      }
      case pb::DTYPE_FLOAT64: {
        const double d = in.EdgeDouble();
        std::memcpy(buf, &d, 8);
        break;
      }
      case pb::DTYPE_INT64: {
        const int64_t v = in.EdgeInt();
        std::memcpy(buf, &v, 8);
        break;
      }
      default:
        buf[0] = static_cast<char>(in.Chance(200) ? in.Byte() % 2 : in.Byte());
        break;
    }
    out.append(buf, item);
  }
  return out;
}

}  // namespace tensord::fuzz
