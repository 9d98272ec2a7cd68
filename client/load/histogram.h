// A log-linear latency histogram in the spirit of HdrHistogram: values (nanoseconds) below 2048
// are counted exactly; above, every power of two is split into 1024 equal sub-buckets, so a
// reported value is within 0.1% of the recorded one. Record() is lock-free and may be called from
// any number of threads; the readers are meant for after the run (or an approximate progress line).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace tensord::load {

class Histogram {
 public:
  static constexpr int kSubBits = 11;                             // exact below 2^11
  static constexpr int64_t kHalf = int64_t{1} << (kSubBits - 1);  // sub-buckets per power of two
  static constexpr size_t kBuckets = static_cast<size_t>((64 - kSubBits + 1) * kHalf);

  Histogram();
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Records one value (negative values count as 0).
  void Record(int64_t value);

  int64_t count() const { return count_.load(std::memory_order_relaxed); }
  int64_t min() const;  // 0 when empty
  int64_t max() const;  // 0 when empty
  double mean() const;  // exact (from the sum), 0 when empty
  // The value at quantile q in [0, 1] (q=0.5: the median): the midpoint of the bucket holding the
  // ceil(q*count)-th smallest value, clamped to [min, max]. 0 when empty.
  int64_t ValueAtQuantile(double q) const;
  // `bins` bins from min() to max(), equal in width (linear) or in ratio (log: each bound a fixed
  // factor above the previous one, which shows a long tail and the bulk at once): each bin's upper
  // bound and the number of values in it (the last bin ends at max()). Values are placed by their
  // bucket's midpoint.
  std::vector<std::pair<int64_t, int64_t>> Bins(int bins, bool log) const;

  // Bucket arithmetic, public for the tests.
  static size_t IndexOf(int64_t value);
  static int64_t LowestOf(size_t index);  // smallest value of the bucket
  static int64_t WidthOf(size_t index);   // number of values in the bucket
  static int64_t MidpointOf(size_t index) { return LowestOf(index) + (WidthOf(index) - 1) / 2; }

 private:
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> min_{INT64_MAX};
  std::atomic<int64_t> max_{-1};
  std::atomic<int64_t> sum_{0};  // wraps after ~292 years of total latency
};

}  // namespace tensord::load
