// tensorctl's output: pure functions from the wire messages to text (tables, JSON, Graphviz dot).
// No I/O and no RPCs here, so the unit tests can check every format without a server.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tensord/v1/tensord.pb.h"

namespace tensorctl {

namespace pb = ::tensord::v1;

// "OK", "NOT_FOUND", ... for a grpc::StatusCode value.
std::string StatusCodeName(int code);

// 1536 -> "1.5 KiB"; below 1 KiB: "48 B".
std::string HumanBytes(int64_t bytes);
// HumanBytes plus the exact count where they differ: "1.5 KiB (1536)", "48 B".
std::string HumanAndExactBytes(int64_t bytes);
// Whole seconds, compact: "0s", "42s", "10m", "1h2m3s", "3d4h".
std::string HumanDuration(absl::Duration d);

// "torch.float32"; "?" for an unknown value.
std::string TorchDType(pb::DType d);
// "float32".
std::string ShortDType(pb::DType d);
// Python's spelling: "True"/"False".
const char* PyBool(bool b);
// A tuple like torchviz prints sizes: "(5, 3)", "()".
std::string SizeTuple(const google::protobuf::RepeatedField<int64_t>& shape);
// "torch.Size([5, 3])".
std::string TorchSize(const google::protobuf::RepeatedField<int64_t>& shape);

// An op attribute's default as Python would print it: True, 1, 0.5, [0, 1], torch.float32,
// 'mean', None.
std::string PyValue(const pb::AttrValue& v);
// "dim: int[]", "keepdim: bool = False", "reduction: str = 'mean'", "dtype: dtype = None".
std::string AttrSignature(const pb::OpInfo::Attr& a);

// A plain-text table: a header row and aligned columns, two spaces apart.
class Table {
 public:
  enum Align { kLeft, kRight };
  void AddColumn(std::string header, Align align = kLeft);
  void AddRow(std::vector<std::string> cells);
  // Trailing spaces are trimmed from each line.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

// Minimal JSON building: values are appended as already-encoded text.
std::string JsonString(absl::string_view s);

// ---- subcommand outputs -----------------------------------------------------------------------

// `sessions`: sorted by creation time, then id. `now` gives the idle times.
std::string SessionsTable(const pb::ListSessionsResponse& r, absl::Time now);
std::string SessionsJson(const pb::ListSessionsResponse& r, absl::Time now);
std::string SessionJson(const pb::SessionInfo& s, absl::Time now);
// `close`: one paragraph about what the closed session held.
std::string ClosedSummary(const pb::SessionInfo& s, absl::Time now);

std::string OpsTable(const pb::ListOpsResponse& r);
std::string OpsJson(const pb::ListOpsResponse& r);

std::string StatsText(const pb::ServerInfoResponse& r);
std::string StatsJson(const pb::ServerInfoResponse& r);

// `tensors`: one row (or JSON object) per tensor of a session, in handle order.
std::string TensorsTable(const std::vector<pb::ListedTensor>& tensors);
std::string TensorsJson(const std::vector<pb::ListedTensor>& tensors);

// `show`'s metadata block (everything but the values).
std::string TensorMetadata(const std::string& session, const pb::TensorInfo& info);

// `graph`: the backward graph reachable from tensor `root` (its GetInfo) as Graphviz dot, drawn
// like torchviz: the root tensor on top (an ellipse with its handle and shape), each backward
// node a box (PyTorch's name, its saved tensors listed under it, "freed" once a backward released
// them), AccumulateGrad a node of its own leading to the leaf tensor it fills (a light-blue
// ellipse with its handle and shape). Edges follow the gradient from the root to the leaves;
// None edges are left out.
std::string GraphToDot(const std::string& session, const pb::TensorInfo& root,
                       const pb::GraphResponse& graph);

// "torch::autograd::AccumulateGrad" -> "AccumulateGrad" (Python's type(fn).__name__).
std::string DisplayNodeName(absl::string_view name);

}  // namespace tensorctl
