// server::ToGrpcStatus: absl and gRPC share the canonical code numbering, and the message passes
// through unchanged.
#include "server/status.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/status/status.h"

namespace tensord::testing {
namespace {

TEST(ToGrpcStatus, Ok_IsOk) {
  const grpc::Status s = server::ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(s.error_message(), "");
}

TEST(ToGrpcStatus, EveryAbslCode_MapsToTheSameNumberedGrpcCodeWithTheMessageUnchanged) {
  struct Case {
    absl::StatusCode absl_code;
    grpc::StatusCode grpc_code;
  };
  // Spelled out by name on both sides, so a renumbering on either side shows.
  const Case cases[] = {
      {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
      {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {absl::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
      {absl::StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
      {absl::StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
      {absl::StatusCode::kAborted, grpc::StatusCode::ABORTED},
      {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
      {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
      {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
      {absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
  };
  int seen = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StatusCodeToString(c.absl_code));
    EXPECT_EQ(static_cast<int>(c.absl_code), static_cast<int>(c.grpc_code));
    const std::string message =
        "tensor 7: " + absl::StatusCodeToString(c.absl_code) + " \xE2\x9C\x97 (\"quoted\")\n";
    const grpc::Status s = server::ToGrpcStatus(absl::Status(c.absl_code, message));
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.error_code(), c.grpc_code);
    EXPECT_EQ(s.error_message(), message);
    EXPECT_EQ(s.error_details(), "");
    ++seen;
  }
  EXPECT_EQ(seen, 16);  // every non-OK canonical code
}

TEST(ToGrpcStatus, PyTorchMessage_PassesThroughByteForByte) {
  const std::string torch =
      "Trying to backward through the graph a second time (or directly access saved tensors after "
      "they have already been freed).";
  const grpc::Status s = server::ToGrpcStatus(absl::FailedPreconditionError(torch));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), torch);
}

TEST(ToGrpcStatus, EmptyMessage_StaysEmpty) {
  const grpc::Status s = server::ToGrpcStatus(absl::Status(absl::StatusCode::kInternal, ""));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message(), "");
}

// A code outside the canonical range cannot be sent as-is: it becomes UNKNOWN, message kept.
TEST(ToGrpcStatus, NonCanonicalCode_IsUnknownWithTheMessage) {
  const grpc::Status s =
      server::ToGrpcStatus(absl::Status(static_cast<absl::StatusCode>(42), "odd"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(s.error_message(), "odd");
}

}  // namespace
}  // namespace tensord::testing
