#include "client/load/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tensord::load {

Histogram::Histogram() : counts_(new std::atomic<uint64_t>[kBuckets]) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i].store(0, std::memory_order_relaxed);
}

size_t Histogram::IndexOf(int64_t value) {
  if (value < 2 * kHalf) return static_cast<size_t>(std::max<int64_t>(value, 0));
  const uint64_t v = static_cast<uint64_t>(value);
  const int h = std::bit_width(v) - 1;                // 2^h <= v < 2^(h+1), h >= kSubBits
  const uint64_t mantissa = v >> (h - kSubBits + 1);  // in [kHalf, 2*kHalf)
  return static_cast<size_t>((h - kSubBits + 2) * kHalf + static_cast<int64_t>(mantissa) - kHalf);
}

int64_t Histogram::LowestOf(size_t index) {
  const int64_t i = static_cast<int64_t>(index);
  if (i < 2 * kHalf) return i;
  const int64_t q = i / kHalf;  // >= 2
  const int64_t r = i % kHalf;
  return (kHalf + r) << (q - 1);
}

int64_t Histogram::WidthOf(size_t index) {
  const int64_t i = static_cast<int64_t>(index);
  if (i < 2 * kHalf) return 1;
  return int64_t{1} << (i / kHalf - 1);
}

void Histogram::Record(int64_t value) {
  value = std::max<int64_t>(value, 0);
  counts_[IndexOf(value)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  int64_t cur = min_.load(std::memory_order_relaxed);
  while (value < cur && !min_.compare_exchange_weak(cur, value, std::memory_order_relaxed)) {
  }
  cur = max_.load(std::memory_order_relaxed);
  while (value > cur && !max_.compare_exchange_weak(cur, value, std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_relaxed);
}

int64_t Histogram::min() const { return count() == 0 ? 0 : min_.load(std::memory_order_relaxed); }
int64_t Histogram::max() const { return count() == 0 ? 0 : max_.load(std::memory_order_relaxed); }

double Histogram::mean() const {
  const int64_t n = count();
  return n == 0
             ? 0.0
             : static_cast<double>(sum_.load(std::memory_order_relaxed)) / static_cast<double>(n);
}

int64_t Histogram::ValueAtQuantile(double q) const {
  const int64_t n = count();
  if (n == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const int64_t rank =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * static_cast<double>(n))));
  int64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += static_cast<int64_t>(counts_[i].load(std::memory_order_relaxed));
    // The bucket of the largest value answers with it (so q=1 is the max), others with their
    // middle.
    if (seen >= rank) return i == IndexOf(max()) ? max() : std::clamp(MidpointOf(i), min(), max());
  }
  return max();
}

std::vector<std::pair<int64_t, int64_t>> Histogram::Bins(int bins, bool log) const {
  const size_t n = static_cast<size_t>(std::max(bins, 1));
  std::vector<std::pair<int64_t, int64_t>> out(n, {0, 0});
  if (count() == 0) return out;
  const int64_t lo = min(), hi = max();
  log = log && lo > 0;
  const double a = log ? std::log(static_cast<double>(lo)) : static_cast<double>(lo);
  const double b = log ? std::log(static_cast<double>(hi)) : static_cast<double>(hi);
  const double width = (b - a) / static_cast<double>(n);
  for (size_t k = 0; k < n; ++k) {
    const double edge = a + width * static_cast<double>(k + 1);
    out[k].first = k + 1 == n ? hi : static_cast<int64_t>(log ? std::exp(edge) : edge);
  }
  for (size_t i = 0; i < kBuckets; ++i) {
    const uint64_t c = counts_[i].load(std::memory_order_relaxed);
    if (c == 0) continue;
    const int64_t v = std::clamp(MidpointOf(i), lo, hi);
    const double x = log ? std::log(static_cast<double>(v)) : static_cast<double>(v);
    size_t bin = width <= 0 ? 0 : static_cast<size_t>((x - a) / width);
    bin = std::min(bin, n - 1);
    out[bin].second += static_cast<int64_t>(c);
  }
  return out;
}

}  // namespace tensord::load
