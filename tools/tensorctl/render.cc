#include "tools/tensorctl/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "proto/wire.h"

namespace tensorctl {
namespace {

int64_t IdleSeconds(const pb::SessionInfo& s, absl::Time now) {
  const int64_t idle_ms = absl::ToUnixMillis(now) - s.last_used_unix_ms();
  return std::max<int64_t>(0, idle_ms / 1000);
}

std::string Labels(const pb::SessionInfo& s) {
  if (s.labels().empty()) return "-";
  std::map<std::string, std::string> sorted(s.labels().begin(), s.labels().end());
  return absl::StrJoin(sorted, ",", absl::PairFormatter("="));
}

std::string PyFloat(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // The shortest text that reads back as the same double, as Python's repr.
  std::string s;
  for (int precision = 1; precision <= 17; ++precision) {
    s = absl::StrFormat("%.*g", precision, v);
    if (std::strtod(s.c_str(), nullptr) == v) break;
  }
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return JsonString(PyFloat(v));  // JSON has no inf/nan
  return PyFloat(v);
}

std::string JsonAttrValue(const pb::AttrValue& v) {
  switch (v.value_case()) {
    case pb::AttrValue::kB:
      return v.b() ? "true" : "false";
    case pb::AttrValue::kI:
      return absl::StrCat(v.i());
    case pb::AttrValue::kF:
      return JsonNumber(v.f());
    case pb::AttrValue::kInts:
      return absl::StrCat("[", absl::StrJoin(v.ints().values(), ","), "]");
    case pb::AttrValue::kDtype:
      return JsonString(TorchDType(v.dtype()));
    case pb::AttrValue::kS:
      return JsonString(v.s());
    case pb::AttrValue::kNone:
    case pb::AttrValue::VALUE_NOT_SET:
      break;
  }
  return "null";
}

// Escapes text for a double-quoted dot string.
std::string DotQuoted(absl::string_view s) {
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}),
                      "\"");
}

// Escapes text for a dot HTML-like label.
std::string Html(absl::string_view s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

std::string TensorLabel(absl::string_view what,
                        const google::protobuf::RepeatedField<int64_t>& shape, pb::DType dtype) {
  std::string label = absl::StrCat(what, "\n", SizeTuple(shape));
  if (dtype != pb::DTYPE_FLOAT32 && dtype != pb::DTYPE_UNSPECIFIED)
    absl::StrAppend(&label, " ", ShortDType(dtype));
  return label;
}

}  // namespace

std::string StatusCodeName(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) return kNames[code];
  return absl::StrCat("CODE_", code);
}

std::string HumanBytes(int64_t bytes) {
  if (bytes < 0) return absl::StrCat(bytes, " B");
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit + 1 < static_cast<int>(std::size(kUnits))) {
    v /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", v, kUnits[unit]);
}

std::string HumanAndExactBytes(int64_t bytes) {
  if (bytes >= 0 && bytes < 1024) return HumanBytes(bytes);
  return absl::StrCat(HumanBytes(bytes), " (", bytes, ")");
}

std::string HumanDuration(absl::Duration d) {
  int64_t s = absl::ToInt64Seconds(d);
  if (s < 0) s = 0;
  const int64_t days = s / 86400, hours = s / 3600 % 24, minutes = s / 60 % 60, seconds = s % 60;
  if (days > 0) return hours > 0 ? absl::StrCat(days, "d", hours, "h") : absl::StrCat(days, "d");
  std::string out;
  if (hours > 0) absl::StrAppend(&out, hours, "h");
  if (hours > 0 || minutes > 0) absl::StrAppend(&out, minutes, "m");
  absl::StrAppend(&out, seconds, "s");
  // "2h0m0s" -> "2h", "10m0s" -> "10m".
  if (out.size() > 2 && absl::EndsWith(out, "m0s")) out.resize(out.size() - 2);
  if (out.size() > 2 && absl::EndsWith(out, "h0m")) out.resize(out.size() - 2);
  return out;
}

std::string ShortDType(pb::DType d) {
  absl::StatusOr<tensord::DType> dtype = tensord::wire::FromProto(d);
  return dtype.ok() ? std::string(tensord::DTypeName(*dtype)) : "?";
}

std::string TorchDType(pb::DType d) {
  const std::string s = ShortDType(d);
  return s == "?" ? s : absl::StrCat("torch.", s);
}

const char* PyBool(bool b) { return b ? "True" : "False"; }

std::string SizeTuple(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

std::string TorchSize(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("torch.Size([", absl::StrJoin(shape, ", "), "])");
}

std::string PyValue(const pb::AttrValue& v) {
  switch (v.value_case()) {
    case pb::AttrValue::kB:
      return PyBool(v.b());
    case pb::AttrValue::kI:
      return absl::StrCat(v.i());
    case pb::AttrValue::kF:
      return PyFloat(v.f());
    case pb::AttrValue::kInts:
      return absl::StrCat("[", absl::StrJoin(v.ints().values(), ", "), "]");
    case pb::AttrValue::kDtype:
      return TorchDType(v.dtype());
    case pb::AttrValue::kS:
      return absl::StrCat("'", v.s(), "'");
    case pb::AttrValue::kNone:
    case pb::AttrValue::VALUE_NOT_SET:
      break;
  }
  return "None";
}

std::string AttrSignature(const pb::OpInfo::Attr& a) {
  std::string s = absl::StrCat(a.name(), ": ", a.type());
  if (!a.required()) absl::StrAppend(&s, " = ", PyValue(a.default_value()));
  return s;
}

// ---- Table --------------------------------------------------------------------------------------

void Table::AddColumn(std::string header, Align align) {
  headers_.push_back(std::move(header));
  aligns_.push_back(align);
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<size_t> width(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) {
    width[c] = headers_[c].size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) l += "  ";
      const std::string pad(width[c] - cells[c].size(), ' ');
      l += aligns_[c] == kRight ? pad + cells[c] : cells[c] + pad;
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(l), "\n");
  };
  line(headers_);
  for (const auto& row : rows_) line(row);
  return out;
}

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  return out;
}

// ---- sessions -----------------------------------------------------------------------------------

namespace {

std::vector<const pb::SessionInfo*> Sorted(const pb::ListSessionsResponse& r) {
  std::vector<const pb::SessionInfo*> v;
  for (const auto& s : r.sessions()) v.push_back(&s);
  std::sort(v.begin(), v.end(), [](const pb::SessionInfo* a, const pb::SessionInfo* b) {
    if (a->created_unix_ms() != b->created_unix_ms())
      return a->created_unix_ms() < b->created_unix_ms();
    return a->session_id() < b->session_id();
  });
  return v;
}

}  // namespace

std::string SessionsTable(const pb::ListSessionsResponse& r, absl::Time now) {
  Table t;
  t.AddColumn("SESSION");
  t.AddColumn("LABELS");
  t.AddColumn("TENSORS", Table::kRight);
  t.AddColumn("BYTES", Table::kRight);
  t.AddColumn("PEAK", Table::kRight);
  t.AddColumn("TTL", Table::kRight);
  t.AddColumn("IDLE", Table::kRight);
  t.AddColumn("COMMANDS", Table::kRight);
  for (const pb::SessionInfo* s : Sorted(r)) {
    t.AddRow({s->session_id(), Labels(*s), absl::StrCat(s->tensors()),
              HumanAndExactBytes(s->bytes()), HumanBytes(s->peak_bytes()),
              HumanDuration(absl::Seconds(s->ttl_seconds())),
              HumanDuration(absl::Seconds(IdleSeconds(*s, now))), absl::StrCat(s->commands())});
  }
  return t.Render();
}

std::string SessionJson(const pb::SessionInfo& s, absl::Time now) {
  std::map<std::string, std::string> labels(s.labels().begin(), s.labels().end());
  std::vector<std::string> label_fields;
  for (const auto& [k, v] : labels)
    label_fields.push_back(absl::StrCat(JsonString(k), ":", JsonString(v)));
  const int64_t idle = IdleSeconds(s, now);
  return absl::StrCat("{\"session_id\":", JsonString(s.session_id()), ",\"labels\":{",
                      absl::StrJoin(label_fields, ","), "},\"tensors\":", s.tensors(),
                      ",\"bytes\":", s.bytes(), ",\"peak_bytes\":", s.peak_bytes(),
                      ",\"max_bytes\":", s.max_bytes(), ",\"ttl_seconds\":", s.ttl_seconds(),
                      ",\"idle_seconds\":", idle,
                      ",\"expires_in_seconds\":", std::max<int64_t>(0, s.ttl_seconds() - idle),
                      ",\"created_unix_ms\":", s.created_unix_ms(),
                      ",\"last_used_unix_ms\":", s.last_used_unix_ms(),
                      ",\"grad_enabled\":", s.grad_enabled() ? "true" : "false",
                      ",\"commands\":", s.commands(), "}");
}

std::string SessionsJson(const pb::ListSessionsResponse& r, absl::Time now) {
  std::vector<std::string> items;
  for (const pb::SessionInfo* s : Sorted(r)) items.push_back(SessionJson(*s, now));
  return absl::StrCat("[", absl::StrJoin(items, ",\n "), "]\n");
}

std::string ClosedSummary(const pb::SessionInfo& s, absl::Time now) {
  const absl::Duration age = absl::Milliseconds(absl::ToUnixMillis(now) - s.created_unix_ms());
  return absl::StrCat(
      "closed session ", s.session_id(), "\n",                                     //
      "  labels:   ", Labels(s), "\n",                                             //
      "  held:     ", s.tensors(), s.tensors() == 1 ? " tensor, " : " tensors, ",  //
      HumanAndExactBytes(s.bytes()), s.bytes() >= 1024 ? " bytes" : "", "\n",      //
      "  peak:     ", HumanAndExactBytes(s.peak_bytes()), s.peak_bytes() >= 1024 ? " bytes" : "",
      " of a ", HumanBytes(s.max_bytes()), " quota\n",  //
      "  commands: ", s.commands(), "\n",               //
      "  age:      ", HumanDuration(age), " (idle ",
      HumanDuration(absl::Seconds(IdleSeconds(s, now))), ", ttl ",
      HumanDuration(absl::Seconds(s.ttl_seconds())), ")\n");
}

// ---- ops ----------------------------------------------------------------------------------------

std::string OpsTable(const pb::ListOpsResponse& r) {
  Table t;
  t.AddColumn("OP");
  t.AddColumn("INPUTS", Table::kRight);
  t.AddColumn("OUTPUTS", Table::kRight);
  t.AddColumn("KIND");
  t.AddColumn("GRAD_FN");
  t.AddColumn("INPLACE");
  t.AddColumn("SCHEMA / ATTRIBUTES");
  for (const pb::OpInfo& op : r.ops()) {
    // The ATen schema is the declaration; internal ops (no schema) show their attributes.
    std::string declared = op.schema();
    if (declared.empty()) {
      std::vector<std::string> attrs;
      for (const auto& a : op.attrs()) attrs.push_back(AttrSignature(a));
      declared = attrs.empty() ? "-" : absl::StrJoin(attrs, ", ");
    }
    t.AddRow({op.name(), op.num_inputs() < 0 ? "list" : absl::StrCat(op.num_inputs()),
              op.num_outputs() < 0 ? "var" : absl::StrCat(op.num_outputs()),
              op.kind().empty() ? "-" : op.kind(), op.grad_fn().empty() ? "-" : op.grad_fn(),
              op.inplace_name().empty() ? "-" : op.inplace_name(), declared});
  }
  return t.Render();
}

std::string OpsJson(const pb::ListOpsResponse& r) {
  std::vector<std::string> ops;
  for (const pb::OpInfo& op : r.ops()) {
    std::vector<std::string> attrs;
    for (const auto& a : op.attrs()) {
      attrs.push_back(
          absl::StrCat("{\"name\":", JsonString(a.name()), ",\"type\":", JsonString(a.type()),
                       ",\"required\":", a.required() ? "true" : "false",
                       ",\"default\":", a.required() ? "null" : JsonAttrValue(a.default_value()),
                       ",\"doc\":", JsonString(a.doc()), "}"));
    }
    ops.push_back(absl::StrCat(
        "{\"name\":", JsonString(op.name()), ",\"num_inputs\":", op.num_inputs(),
        ",\"num_outputs\":", op.num_outputs(), ",\"kind\":", JsonString(op.kind()), ",\"grad_fn\":",
        JsonString(op.grad_fn()), ",\"inplace_name\":", JsonString(op.inplace_name()),
        ",\"schema\":", JsonString(op.schema()), ",\"overload_group\":",
        JsonString(op.overload_group()), ",\"overload_name\":", JsonString(op.overload_name()),
        ",\"value_dependent_checks\":", op.value_dependent_checks() ? "true" : "false",
        ",\"differentiable_outputs\":", op.differentiable_outputs(), ",\"attrs\":[",
        absl::StrJoin(attrs, ","), "],\"doc\":", JsonString(op.doc()), "}"));
  }
  return absl::StrCat("[", absl::StrJoin(ops, ",\n "), "]\n");
}

// ---- stats --------------------------------------------------------------------------------------

std::string StatsText(const pb::ServerInfoResponse& r) {
  return absl::StrCat("version:           ", r.version(), "\n",                              //
                      "replica:           ", r.replica().empty() ? "-" : r.replica(), "\n",  //
                      "uptime:            ", HumanDuration(absl::Seconds(r.uptime_seconds())), " (",
                      r.uptime_seconds(), " s)\n",                                 //
                      "workers:           ", r.workers(), "\n",                    //
                      "sessions:          ", r.sessions(), "\n",                   //
                      "sessions expired:  ", r.sessions_expired(), "\n",           //
                      "tensors:           ", r.tensors(), "\n",                    //
                      "bytes:             ", HumanAndExactBytes(r.bytes()), "\n",  //
                      "ops served:        ", r.ops_served(), "\n",                 //
                      "commands served:   ", r.commands_served(), "\n");
}

std::string StatsJson(const pb::ServerInfoResponse& r) {
  return absl::StrCat(
      "{\"version\":", JsonString(r.version()), ",\"replica\":", JsonString(r.replica()),
      ",\"uptime_seconds\":", r.uptime_seconds(), ",\"workers\":", r.workers(),
      ",\"sessions\":", r.sessions(), ",\"sessions_expired\":", r.sessions_expired(),
      ",\"tensors\":", r.tensors(), ",\"bytes\":", r.bytes(), ",\"ops_served\":", r.ops_served(),
      ",\"commands_served\":", r.commands_served(), "}\n");
}

// ---- show ---------------------------------------------------------------------------------------

// ---- tensors ------------------------------------------------------------------------------------

namespace {
std::string GradFnName(const pb::TensorInfo& info) {
  if (!info.grad_fn_error().empty()) return "<error>";
  return info.grad_fn().empty() ? "None" : DisplayNodeName(info.grad_fn());
}
}  // namespace

std::string TensorsTable(const std::vector<pb::ListedTensor>& tensors) {
  Table t;
  t.AddColumn("HANDLE", Table::kRight);
  t.AddColumn("SHAPE");
  t.AddColumn("DTYPE");
  t.AddColumn("REQUIRES_GRAD");
  t.AddColumn("IS_LEAF");
  t.AddColumn("GRAD_FN");
  t.AddColumn("BYTES", Table::kRight);
  t.AddColumn("RETAINS_GRAD");
  t.AddColumn("HAS_GRAD");
  for (const pb::ListedTensor& l : tensors) {
    const pb::TensorInfo& i = l.info();
    t.AddRow({absl::StrCat(i.id()), SizeTuple(i.shape()), ShortDType(i.dtype()),
              PyBool(i.requires_grad()), PyBool(i.is_leaf()), GradFnName(i), HumanBytes(l.bytes()),
              PyBool(i.retains_grad()), PyBool(i.has_grad())});
  }
  return t.Render();
}

std::string TensorsJson(const std::vector<pb::ListedTensor>& tensors) {
  std::vector<std::string> items;
  for (const pb::ListedTensor& l : tensors) {
    const pb::TensorInfo& i = l.info();
    items.push_back(absl::StrCat(
        "{\"handle\": ", i.id(), ", \"shape\": [", absl::StrJoin(i.shape(), ", "),
        "], \"dtype\": ", JsonString(ShortDType(i.dtype())), ", \"requires_grad\": ",
        i.requires_grad() ? "true" : "false", ", \"is_leaf\": ", i.is_leaf() ? "true" : "false",
        ", \"grad_fn\": ", i.grad_fn().empty() ? "null" : JsonString(DisplayNodeName(i.grad_fn())),
        ", \"bytes\": ", l.bytes(), ", \"retains_grad\": ", i.retains_grad() ? "true" : "false",
        ", \"has_grad\": ", i.has_grad() ? "true" : "false", ", \"version\": ", i.version(), "}"));
  }
  return absl::StrCat("[", absl::StrJoin(items, ",\n "), "]\n");
}

std::string TensorMetadata(const std::string& session, const pb::TensorInfo& info) {
  return absl::StrCat(
      "session:       ", session, "\n",                       //
      "handle:        ", info.id(), "\n",                     //
      "shape:         ", TorchSize(info.shape()), "\n",       //
      "dtype:         ", TorchDType(info.dtype()), "\n",      //
      "requires_grad: ", PyBool(info.requires_grad()), "\n",  //
      "is_leaf:       ", PyBool(info.is_leaf()), "\n",        //
      "grad_fn:       ", info.grad_fn().empty() ? "None" : DisplayNodeName(info.grad_fn()), "\n",
      "version:       ", info.version(), "\n",               //
      "retains_grad:  ", PyBool(info.retains_grad()), "\n",  //
      "has grad:      ", PyBool(info.has_grad()), "\n");
}

// ---- graph --------------------------------------------------------------------------------------

std::string DisplayNodeName(absl::string_view name) {
  const size_t colon = name.rfind("::");
  return std::string(colon == absl::string_view::npos ? name : name.substr(colon + 2));
}

std::string GraphToDot(const std::string& session, const pb::TensorInfo& root,
                       const pb::GraphResponse& graph) {
  std::string out;
  absl::StrAppend(&out, "// tensorctl graph ", session, " ", root.id(),
                  ": the backward graph, from the tensor (top) to the leaves it reaches.\n");
  absl::StrAppend(
      &out, "digraph tensorctl {\n",
      "  graph [rankdir=TB, ranksep=0.3, nodesep=0.3, size=\"12,12\"];\n",
      "  node [shape=box, style=filled, fillcolor=lightgrey, fontname=\"monospace\", fontsize=10, "
      "height=0.2];\n",
      "  edge [arrowsize=0.7];\n");

  const int n = graph.nodes_size();
  const bool has_graph = graph.root() >= 0 && graph.root() < n;
  // A leaf that requires grad: its own AccumulateGrad is the root, and the tensor is the leaf.
  const bool root_is_leaf =
      has_graph && graph.nodes(graph.root()).variable() == root.id() && root.id() != 0;

  std::string root_label =
      TensorLabel(absl::StrCat("tensor ", root.id()), root.shape(), root.dtype());
  if (!has_graph) absl::StrAppend(&root_label, "\nno grad_fn");
  absl::StrAppend(
      &out, "  root [shape=ellipse, fillcolor=", root_is_leaf ? "lightblue" : "darkolivegreen1",
      ", label=", DotQuoted(root_label), "];\n");
  if (!has_graph) {
    absl::StrAppend(&out, "}\n");
    return out;
  }
  absl::StrAppend(&out, "  root -> n", graph.root(),
                  graph.root_output() > 0
                      ? absl::StrCat(" [label=\"", graph.root_output(), "\", fontsize=8]")
                      : "",
                  ";\n");

  std::set<std::string> leaves_drawn;
  for (int i = 0; i < n; ++i) {
    const pb::GraphNode& node = graph.nodes(i);
    const std::string id = absl::StrCat("n", i);
    std::string name = DisplayNodeName(node.name());
    // CopySlices shows the node it wraps (the in-place op's backward), as torchviz does.
    if (!node.wrapped().empty())
      absl::StrAppend(&name, "\n(", DisplayNodeName(node.wrapped()), ")");
    if (node.saved().empty()) {
      absl::StrAppend(&out, "  ", id, " [label=", DotQuoted(name), "];\n");
    } else {
      std::string label = absl::StrCat(absl::StrReplaceAll(Html(name), {{"\n", "<BR/>"}}),
                                       "<BR/><FONT POINT-SIZE=\"8\">");
      for (const auto& s : node.saved()) {
        std::string line = absl::StrCat(s.name(), ": ", SizeTuple(s.shape()));
        if (s.dtype() != pb::DTYPE_FLOAT32 && s.dtype() != pb::DTYPE_UNSPECIFIED) {
          absl::StrAppend(&line, " ", ShortDType(s.dtype()));
        }
        if (s.freed()) {
          absl::StrAppend(&label, "<FONT COLOR=\"gray45\">", Html(line), " freed</FONT>");
        } else {
          absl::StrAppend(&label, Html(line));
        }
        absl::StrAppend(&label, "<BR ALIGN=\"LEFT\"/>");
      }
      absl::StrAppend(&label, "</FONT>");
      absl::StrAppend(&out, "  ", id, " [label=<", label, ">];\n");
    }
    for (const auto& e : node.next()) {
      if (e.node() < 0 || e.node() >= n) continue;  // None
      absl::StrAppend(
          &out, "  ", id, " -> n", e.node(),
          e.input_nr() > 0 ? absl::StrCat(" [label=\"", e.input_nr(), "\", fontsize=8]") : "",
          ";\n");
    }
    // AccumulateGrad: the leaf tensor it accumulates into.
    const bool accumulates = node.variable() != 0 || node.variable_shape_size() > 0 ||
                             absl::EndsWith(node.name(), "AccumulateGrad");
    if (accumulates && !(root_is_leaf && node.variable() == root.id())) {
      const std::string leaf =
          node.variable() != 0 ? absl::StrCat("t", node.variable()) : absl::StrCat("v", i);
      if (leaves_drawn.insert(leaf).second) {
        const std::string what =
            node.variable() != 0 ? absl::StrCat("tensor ", node.variable()) : "leaf (no handle)";
        absl::StrAppend(&out, "  ", leaf, " [shape=ellipse, fillcolor=lightblue, label=",
                        DotQuoted(TensorLabel(what, node.variable_shape(), pb::DTYPE_UNSPECIFIED)),
                        "];\n");
      }
      absl::StrAppend(&out, "  ", id, " -> ", leaf, ";\n");
    }
  }
  absl::StrAppend(&out, "}\n");
  return out;
}

}  // namespace tensorctl
