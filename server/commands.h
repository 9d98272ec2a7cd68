// What each request does to a session. Every function runs on the session's strand with the
// session's context bound to the thread, validates everything before it changes anything, and
// so leaves the session as it was when it fails. Unary RPCs, Execute and Stream all call these.
#pragma once

#include <atomic>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/convert.h"
#include "server/session.h"

namespace tensord::server {

struct ServerStats {
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> commands{0};
  absl::Time started = absl::Now();
};

class CommandRunner {
 public:
  CommandRunner(Session& session, const ServerOptions& options, ServerStats& stats)
      : session_(session), options_(options), stats_(stats) {}

  absl::Status CreateTensor(const pb::CreateTensorRequest& req, pb::TensorsResponse* resp);
  absl::Status Factory(const pb::FactoryRequest& req, pb::TensorsResponse* resp);
  absl::Status ApplyOp(const pb::ApplyOpRequest& req, pb::TensorsResponse* resp);
  absl::Status SetRequiresGrad(const pb::SetRequiresGradRequest& req, pb::TensorsResponse* resp);
  absl::Status Detach(const pb::AliasRequest& req, pb::TensorsResponse* resp);
  absl::Status Data(const pb::AliasRequest& req, pb::TensorsResponse* resp);
  absl::Status RetainGrad(const pb::TensorRequest& req, pb::TensorsResponse* resp);
  absl::Status Release(const pb::ReleaseRequest& req, pb::ReleaseResponse* resp);
  absl::Status GetTensor(const pb::GetTensorRequest& req, pb::GetTensorResponse* resp);
  absl::Status GetInfo(const pb::TensorRequest& req, pb::TensorsResponse* resp);
  absl::Status ZeroGrad(const pb::TensorRequest& req, pb::TensorsResponse* resp);
  absl::Status SetGrad(const pb::SetGradRequest& req, pb::TensorsResponse* resp);
  absl::Status BindGrad(const pb::AliasRequest& req, pb::TensorsResponse* resp);
  absl::Status Backward(const pb::BackwardRequest& req, pb::BackwardResponse* resp);
  absl::Status Grad(const pb::GradRequest& req, pb::GradResponse* resp);
  absl::Status SetGradMode(const pb::SetGradModeRequest& req, pb::GradModeResponse* resp);
  absl::Status GetGraph(const pb::GetGraphRequest& req, pb::GraphResponse* resp);

  // One command of a batch or stream; the status is also written into `result`.
  absl::Status Run(const pb::Command& command, pb::CommandResult* result);

 private:
  absl::Status CheckSession(const std::string& id) const;
  absl::Status CheckIds(const google::protobuf::RepeatedField<uint64_t>& ids, size_t needed) const;
  void Info(uint64_t id, const Tensor& t, pb::TensorsResponse* resp) const;

  Session& session_;
  const ServerOptions& options_;
  ServerStats& stats_;
};

// Fills SessionInfo from a live session.
void DescribeSession(Session& session, pb::SessionInfo* out);

}  // namespace tensord::server
