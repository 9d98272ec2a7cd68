// The fuzzer's bytes as a stream of decisions, for the structure-aware harnesses. Like LLVM's
// FuzzedDataProvider, but the same code under g++ (the corpus replay of the normal build) and
// clang (libFuzzer): an exhausted input reads as zeros, so every input is valid and short inputs
// make small programs. Edge values (0, ±1, INT64_MIN, INT64_MAX, 2^31, 2^62, NaN, ±inf, ...) are
// drawn often, because that is where the bugs are.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace tensord::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t remaining() const { return size_ - pos_; }
  bool empty() const { return pos_ >= size_; }

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  bool Bool() { return (Byte() & 1) != 0; }

  // `n` bytes, little-endian; missing bytes are zeros.
  uint64_t Bits(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t{Byte()} << (8 * i);
    return v;
  }
  // A number in [0, n), from as few bytes as n needs; 0 when n is 0.
  uint64_t Below(uint64_t n) {
    if (n <= 1) return 0;
    int bytes = 0;
    for (uint64_t m = n - 1; m != 0; m >>= 8) ++bytes;
    return Bits(bytes) % n;
  }
  // An integer in [lo, hi].
  int64_t Range(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    if (span == std::numeric_limits<uint64_t>::max()) return static_cast<int64_t>(Bits(8));
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + Below(span + 1));
  }
  // True with probability about num/256.
  bool Chance(int num) { return Byte() < num; }

  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Below(v.size()))];
  }

  // Integers: mostly small (sizes, dims, indices), sometimes the edges of the integer types.
  int64_t EdgeInt() {
    static constexpr int64_t kEdges[] = {
        0,
        1,
        -1,
        2,
        -2,
        3,
        std::numeric_limits<int64_t>::min(),
        std::numeric_limits<int64_t>::max(),
        std::numeric_limits<int64_t>::min() + 1,
        std::numeric_limits<int64_t>::max() - 1,
        int64_t{1} << 31,
        -(int64_t{1} << 31),
        (int64_t{1} << 31) - 1,
        int64_t{1} << 32,
        int64_t{1} << 62,
        -(int64_t{1} << 62),
        (int64_t{1} << 62) + 1,
        int64_t{1} << 53,
        (int64_t{1} << 53) + 1,
        65536,
        1000000,
    };
    const uint8_t kind = Byte();
    if (kind < 160) return Range(-3, 6);
    if (kind < 236) return kEdges[Below(std::size(kEdges))];
    return static_cast<int64_t>(Bits(8));
  }

  // Doubles: small exact numbers, the IEEE edges, and raw bit patterns.
  double EdgeDouble() {
    static constexpr double kInf = std::numeric_limits<double>::infinity();
    static const double kEdges[] = {
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        1e-300,
        -1e-300,
        1e300,
        -1e300,
        std::numeric_limits<double>::quiet_NaN(),
        -std::numeric_limits<double>::quiet_NaN(),
        kInf,
        -kInf,
        std::numeric_limits<double>::denorm_min(),
        std::numeric_limits<double>::max(),
        std::numeric_limits<double>::lowest(),
        std::numeric_limits<double>::epsilon(),
        9223372036854775808.0,   // 2^63
        -9223372036854775808.0,  // -2^63
        9007199254740993.0,      // 2^53 + 1 (rounds)
        2147483648.0,            // 2^31
        3.4028234663852886e38,   // float32's max
        3.5e38,                  // past float32's max
        1e-45,                   // a float32 denormal
    };
    const uint8_t kind = Byte();
    if (kind < 120) return static_cast<double>(Range(-4, 8)) * (kind < 60 ? 1.0 : 0.25);
    if (kind < 230) return kEdges[Below(std::size(kEdges))];
    const uint64_t bits = Bits(8);
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }

  // A length-prefixed byte string of at most `max` bytes.
  std::string String(size_t max) {
    const size_t n = static_cast<size_t>(Below(max + 1));
    return Take(n);
  }
  // `n` bytes (fewer if the input runs out).
  std::string Take(size_t n) {
    n = std::min(n, remaining());
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  std::string Rest() { return Take(remaining()); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace tensord::fuzz
