// tensord-load's latency histogram: bucket arithmetic, precision, quantiles and bins.
#include "client/load/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

namespace tensord::load {
namespace {

TEST(HistogramTest, BucketsTileTheRangeWithoutGapsOrOverlap) {
  for (size_t i = 0; i + 1 < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::LowestOf(i) + Histogram::WidthOf(i), Histogram::LowestOf(i + 1)) << i;
  }
  EXPECT_EQ(Histogram::IndexOf(INT64_MAX), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::IndexOf(-5), 0u);
}

TEST(HistogramTest, EveryValueLandsInABucketThatHoldsItWithinATenthOfAPercent) {
  std::mt19937_64 gen(7);
  for (int i = 0; i < 100000; ++i) {
    const int64_t v = static_cast<int64_t>(gen() >> (1 + gen() % 63));
    const size_t idx = Histogram::IndexOf(v);
    ASSERT_LE(Histogram::LowestOf(idx), v);
    ASSERT_LT(v - Histogram::LowestOf(idx), Histogram::WidthOf(idx));
    ASSERT_LE(static_cast<double>(Histogram::WidthOf(idx)),
              std::max(1.0, 0.001 * static_cast<double>(v)));
  }
  for (int64_t v = 0; v < 4096; ++v)
    ASSERT_EQ(Histogram::LowestOf(Histogram::IndexOf(v)), v < 2048 ? v : v & ~1);
}

TEST(HistogramTest, QuantilesMatchSortedSamples) {
  Histogram h;
  std::vector<int64_t> values;
  std::mt19937_64 gen(11);
  std::lognormal_distribution<double> dist(11.0, 1.0);  // around 60 us, long tail
  for (int i = 0; i < 50000; ++i) {
    values.push_back(static_cast<int64_t>(dist(gen)));
    h.Record(values.back());
  }
  std::sort(values.begin(), values.end());
  EXPECT_EQ(h.count(), 50000);
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  double sum = 0;
  for (int64_t v : values) sum += static_cast<double>(v);
  EXPECT_NEAR(h.mean(), sum / 50000, 1e-6 * sum / 50000);
  int64_t previous = 0;
  for (double q : {0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    const int64_t exact = values[static_cast<size_t>(std::max(1.0, std::ceil(q * 50000)) - 1)];
    const int64_t got = h.ValueAtQuantile(q);
    EXPECT_NEAR(static_cast<double>(got), static_cast<double>(exact),
                0.001 * static_cast<double>(exact) + 1)
        << q;
    EXPECT_GE(got, previous);
    previous = got;
  }
  EXPECT_EQ(h.ValueAtQuantile(1.0), values.back());
}

TEST(HistogramTest, EmptyAndSingleValue) {
  Histogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.ValueAtQuantile(0.5), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  h.Record(123456789);
  for (double q : {0.0, 0.5, 1.0}) EXPECT_EQ(h.ValueAtQuantile(q), 123456789);
  EXPECT_EQ(h.Bins(10, true)[0].second, 1);
  EXPECT_EQ(h.Bins(10, true).back().first, 123456789);
}

TEST(HistogramTest, LinearBinsCountEveryValue) {
  Histogram h;
  for (int64_t v = 1000; v <= 100000; v += 7) h.Record(v);
  const auto bins = h.Bins(10, /*log=*/false);
  ASSERT_EQ(bins.size(), 10u);
  int64_t total = 0;
  for (size_t i = 0; i < bins.size(); ++i) {
    total += bins[i].second;
    EXPECT_NEAR(static_cast<double>(bins[i].first), 1000 + 9900.0 * static_cast<double>(i + 1), 10);
    EXPECT_NEAR(static_cast<double>(bins[i].second), static_cast<double>(h.count()) / 10,
                0.02 * static_cast<double>(h.count()));
  }
  EXPECT_EQ(bins.back().first, h.max());
  EXPECT_EQ(total, h.count());
}

TEST(HistogramTest, LogBinsSpreadAGeometricRangeEvenly) {
  Histogram h;
  // 1000 values in each decade from 1 us to 10 ms: two log bins per decade.
  for (int decade = 0; decade < 4; ++decade) {
    const double lo = 1000 * std::pow(10.0, decade);
    for (int i = 0; i < 1000; ++i) h.Record(static_cast<int64_t>(lo * std::pow(10.0, i / 1000.0)));
  }
  h.Record(10000000);
  const auto bins = h.Bins(8, /*log=*/true);
  ASSERT_EQ(bins.size(), 8u);
  int64_t total = 0;
  for (size_t i = 0; i < bins.size(); ++i) {
    total += bins[i].second;
    EXPECT_NEAR(std::log10(static_cast<double>(bins[i].first)),
                3 + 0.5 * static_cast<double>(i + 1), 1e-3);
    EXPECT_NEAR(static_cast<double>(bins[i].second), 500, 10) << i;
  }
  EXPECT_EQ(total, h.count());
}

TEST(HistogramTest, ConcurrentRecordsAreAllCounted) {
  Histogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 20000; ++i) h.Record(1000 * (t + 1) + i % 100);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(h.count(), 80000);
  EXPECT_EQ(h.min(), 1000);
  EXPECT_EQ(h.max(), 4099);
}

}  // namespace
}  // namespace tensord::load
