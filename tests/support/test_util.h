// GoogleTest helpers for absl::Status / StatusOr and tensor values.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/tensor.h"

#define TD_CONCAT2_(a, b) a##b
#define TD_CONCAT1_(a, b) TD_CONCAT2_(a, b)

#define ASSERT_OK(expr)                                \
  do {                                                 \
    const ::absl::Status td_s_ = (expr);               \
    ASSERT_TRUE(td_s_.ok()) << #expr << ": " << td_s_; \
  } while (false)

#define EXPECT_OK(expr)                                \
  do {                                                 \
    const ::absl::Status td_s_ = (expr);               \
    EXPECT_TRUE(td_s_.ok()) << #expr << ": " << td_s_; \
  } while (false)

#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(TD_CONCAT1_(td_sor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)        \
  auto tmp = (expr);                                      \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.status(); \
  lhs = std::move(tmp).value()

namespace tensord::testing {

inline const absl::Status& internal_status(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& internal_status(const absl::StatusOr<T>& s) {
  return s.status();
}

// Status code and message matchers.
MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& s = internal_status(arg);
  if (s.code() != code) {
    *result_listener << "code " << absl::StatusCodeToString(s.code()) << " (" << s.message() << ")";
    return false;
  }
  return ::testing::ExplainMatchResult(message_matcher, std::string(s.message()), result_listener);
}

// Unwraps or aborts the test (for setup code that must not fail).
template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    ADD_FAILURE() << "unexpected error: " << v.status();
    std::abort();
  }
  return *std::move(v);
}
inline void Must(const absl::Status& s) {
  if (!s.ok()) {
    ADD_FAILURE() << "unexpected error: " << s;
    std::abort();
  }
}

inline std::vector<double> Values(const Tensor& t) { return t.ToVector<double>(); }

}  // namespace tensord::testing
