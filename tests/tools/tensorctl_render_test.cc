// tensorctl's output formats, from hand-built wire messages (no server).
#include "tools/tensorctl/render.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tensorctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Render, HumanBytes) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(int64_t{1} << 30), "1.0 GiB");
  EXPECT_EQ(HumanAndExactBytes(48), "48 B");
  EXPECT_EQ(HumanAndExactBytes(4080), "4.0 KiB (4080)");
  EXPECT_EQ(HumanAndExactBytes(20 << 20), "20.0 MiB (20971520)");
}

TEST(Render, HumanDuration) {
  EXPECT_EQ(HumanDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(HumanDuration(absl::Milliseconds(1999)), "1s");
  EXPECT_EQ(HumanDuration(absl::Seconds(42)), "42s");
  EXPECT_EQ(HumanDuration(absl::Minutes(10)), "10m");
  EXPECT_EQ(HumanDuration(absl::Seconds(605)), "10m5s");
  EXPECT_EQ(HumanDuration(absl::Hours(2)), "2h");
  EXPECT_EQ(HumanDuration(absl::Seconds(3723)), "1h2m3s");
  EXPECT_EQ(HumanDuration(absl::Seconds(3605)), "1h0m5s");
  EXPECT_EQ(HumanDuration(absl::Hours(24)), "1d");
  EXPECT_EQ(HumanDuration(absl::Hours(28)), "1d4h");
  EXPECT_EQ(HumanDuration(absl::Seconds(-5)), "0s");
}

TEST(Render, StatusCodeNames) {
  EXPECT_EQ(StatusCodeName(0), "OK");
  EXPECT_EQ(StatusCodeName(5), "NOT_FOUND");
  EXPECT_EQ(StatusCodeName(14), "UNAVAILABLE");
  EXPECT_EQ(StatusCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(99), "CODE_99");
}

TEST(Render, AttributeDefaultsAsPython) {
  pb::OpInfo::Attr a;
  a.set_name("reduction");
  a.set_type("str");
  a.mutable_default_value()->set_s("mean");
  EXPECT_EQ(AttrSignature(a), "reduction: str = 'mean'");
  a.set_name("dim");
  a.set_type("int[]");
  a.set_required(true);
  a.clear_default_value();
  EXPECT_EQ(AttrSignature(a), "dim: int[]");
  a.set_required(false);
  EXPECT_EQ(AttrSignature(a), "dim: int[] = None");

  pb::AttrValue v;
  v.set_f(1.0);
  EXPECT_EQ(PyValue(v), "1.0");
  v.set_f(0.1);
  EXPECT_EQ(PyValue(v), "0.1");
  v.set_f(1e-12);
  EXPECT_EQ(PyValue(v), "1e-12");
  v.set_i(-1);
  EXPECT_EQ(PyValue(v), "-1");
  v.set_b(false);
  EXPECT_EQ(PyValue(v), "False");
  v.mutable_ints()->add_values(0);
  v.mutable_ints()->add_values(1);
  EXPECT_EQ(PyValue(v), "[0, 1]");
  v.set_dtype(pb::DTYPE_INT64);
  EXPECT_EQ(PyValue(v), "torch.int64");
  v.set_none(true);
  EXPECT_EQ(PyValue(v), "None");
}

TEST(Render, TableAlignsColumns) {
  Table t;
  t.AddColumn("NAME");
  t.AddColumn("N", Table::kRight);
  t.AddColumn("NOTE");
  t.AddRow({"a", "1", ""});
  t.AddRow({"longer", "100", "x"});
  EXPECT_EQ(t.Render(),
            "NAME      N  NOTE\n"
            "a         1\n"
            "longer  100  x\n");
}

TEST(Render, JsonStringEscapes) {
  EXPECT_EQ(JsonString("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

TEST(Render, SessionsTableAndJson) {
  pb::ListSessionsResponse r;
  pb::SessionInfo* later = r.add_sessions();
  later->set_session_id("bbb");
  later->set_created_unix_ms(2000);
  later->set_last_used_unix_ms(9000);
  later->set_ttl_seconds(600);
  pb::SessionInfo* s = r.add_sessions();
  s->set_session_id("aaa");
  (*s->mutable_labels())["z"] = "1";
  (*s->mutable_labels())["a"] = "x y";
  s->set_created_unix_ms(1000);
  s->set_last_used_unix_ms(5000);
  s->set_ttl_seconds(3600);
  s->set_tensors(3);
  s->set_bytes(4080);
  s->set_peak_bytes(8192);
  s->set_max_bytes(1 << 30);
  s->set_commands(17);
  const absl::Time now = absl::FromUnixMillis(65000);
  EXPECT_EQ(SessionsTable(r, now),
            "SESSION  LABELS     TENSORS           BYTES     PEAK  TTL  IDLE  COMMANDS\n"
            "aaa      a=x y,z=1        3  4.0 KiB (4080)  8.0 KiB   1h    1m        17\n"
            "bbb      -                0             0 B      0 B  10m   56s         0\n");
  EXPECT_EQ(
      SessionJson(*s, now),
      "{\"session_id\":\"aaa\",\"labels\":{\"a\":\"x y\",\"z\":\"1\"},\"tensors\":3,\"bytes\":4080,"
      "\"peak_bytes\":8192,\"max_bytes\":1073741824,\"ttl_seconds\":3600,\"idle_seconds\":60,"
      "\"expires_in_seconds\":3540,\"created_unix_ms\":1000,\"last_used_unix_ms\":5000,\"grad_"
      "enabled\":false,"
      "\"commands\":17}");
  EXPECT_THAT(SessionsJson(r, now), ::testing::StartsWith("[{\"session_id\":\"aaa\""));
  pb::ListSessionsResponse empty;
  EXPECT_EQ(SessionsJson(empty, now), "[]\n");
}

pb::GraphNode* AddNode(pb::GraphResponse& g, const std::string& name) {
  pb::GraphNode* n = g.add_nodes();
  n->set_index(g.nodes_size() - 1);
  n->set_name(name);
  return n;
}

void AddEdge(pb::GraphNode* n, int to, uint32_t input_nr = 0) {
  auto* e = n->add_next();
  e->set_node(to);
  e->set_input_nr(input_nr);
}

TEST(Render, GraphToDotDrawsLikeTorchviz) {
  // loss = bce(z, y), z = x @ w + b: the tutorial's graph as the server reports it.
  pb::TensorInfo root;
  root.set_id(7);
  root.set_dtype(pb::DTYPE_FLOAT32);
  pb::GraphResponse g;
  g.set_root(0);
  pb::GraphNode* bce = AddNode(g, "BinaryCrossEntropyWithLogitsBackward0");
  AddEdge(bce, 1);
  AddEdge(bce, -1);  // y: None
  for (const char* name : {"self", "target"}) {
    auto* s = bce->add_saved();
    s->set_name(name);
    s->set_dtype(pb::DTYPE_FLOAT32);
    s->add_shape(3);
  }
  pb::GraphNode* add = AddNode(g, "AddBackward0");
  AddEdge(add, 2);
  AddEdge(add, 3);
  pb::GraphNode* mm = AddNode(g, "MmBackward0");
  AddEdge(mm, -1);
  AddEdge(mm, 4, 1);
  auto* saved = mm->add_saved();
  saved->set_name("self");
  saved->set_dtype(pb::DTYPE_INT64);
  saved->add_shape(1);
  saved->add_shape(5);
  saved->set_freed(true);
  pb::GraphNode* acc_b = AddNode(g, "torch::autograd::AccumulateGrad");
  acc_b->set_variable(4);
  acc_b->add_variable_shape(3);
  pb::GraphNode* acc_w = AddNode(g, "torch::autograd::AccumulateGrad");
  acc_w->set_variable(3);
  acc_w->add_variable_shape(5);
  acc_w->add_variable_shape(3);

  const std::string dot = GraphToDot("sid", root, g);
  EXPECT_THAT(dot, HasSubstr("// tensorctl graph sid 7:"));
  EXPECT_THAT(dot, HasSubstr("digraph tensorctl {\n"));
  EXPECT_THAT(
      dot, HasSubstr("  root [shape=ellipse, fillcolor=darkolivegreen1, label=\"tensor 7\\n()\"];\n"
                     "  root -> n0;\n"));
  EXPECT_THAT(
      dot,
      HasSubstr("  n0 [label=<BinaryCrossEntropyWithLogitsBackward0<BR/><FONT POINT-SIZE=\"8\">"
                "self: (3)<BR ALIGN=\"LEFT\"/>target: (3)<BR ALIGN=\"LEFT\"/></FONT>>];\n"
                "  n0 -> n1;\n"
                "  n1 [label=\"AddBackward0\"];\n"
                "  n1 -> n2;\n"
                "  n1 -> n3;\n"));
  // A freed saved tensor is grayed and marked; a non-float32 one names its dtype; input_nr 1 labels
  // its edge.
  EXPECT_THAT(dot, HasSubstr("<FONT COLOR=\"gray45\">self: (1, 5) int64 freed</FONT>"));
  EXPECT_THAT(dot, HasSubstr("  n2 -> n4 [label=\"1\", fontsize=8];\n"));
  EXPECT_THAT(dot,
              HasSubstr("  n3 [label=\"AccumulateGrad\"];\n"
                        "  t4 [shape=ellipse, fillcolor=lightblue, label=\"tensor 4\\n(3)\"];\n"
                        "  n3 -> t4;\n"));
  EXPECT_THAT(dot,
              HasSubstr("  t3 [shape=ellipse, fillcolor=lightblue, label=\"tensor 3\\n(5, 3)\"];\n"
                        "  n4 -> t3;\n"));
  EXPECT_THAT(dot, Not(HasSubstr("-1")));
  EXPECT_THAT(dot, ::testing::EndsWith("}\n"));
}

TEST(Render, CopySlicesShowsTheNodeItWraps) {
  // m[1] = v on a plain m: m.grad_fn is CopySlices wrapping the copy's backward.
  pb::TensorInfo root;
  root.set_id(3);
  pb::GraphResponse g;
  g.set_root(0);
  pb::GraphNode* copy = AddNode(g, "torch::autograd::CopySlices");
  copy->set_wrapped("CopyBackwards");
  AddEdge(copy, -1);
  AddEdge(copy, 1);
  pb::GraphNode* acc = AddNode(g, "torch::autograd::AccumulateGrad");
  acc->set_variable(2);
  const std::string dot = GraphToDot("sid", root, g);
  EXPECT_THAT(dot, HasSubstr("n0 [label=\"CopySlices\\n(CopyBackwards)\"]")) << dot;
  // With saved tensors (an HTML label) the wrapped name goes on its own line too.
  auto* saved = copy->add_saved();
  saved->set_name("self");
  saved->add_shape(2);
  EXPECT_THAT(GraphToDot("sid", root, g), HasSubstr("CopySlices<BR/>(CopyBackwards)<BR/>"));
}

TEST(Render, GraphOfALeafWithoutAHandleAndWithoutAGraph) {
  pb::TensorInfo root;
  root.set_id(9);
  root.set_dtype(pb::DTYPE_FLOAT64);
  root.add_shape(2);
  pb::GraphResponse none;
  none.set_root(-1);
  const std::string plain = GraphToDot("s", root, none);
  EXPECT_THAT(
      plain,
      HasSubstr(
          "root [shape=ellipse, fillcolor=darkolivegreen1, label=\"tensor 9\\n(2) float64\\nno "
          "grad_fn\"];\n}\n"));

  pb::GraphResponse g;
  g.set_root(0);
  pb::GraphNode* mul = AddNode(g, "MulBackward0");
  AddEdge(mul, 1);
  AddEdge(mul, 1);  // x * x: two edges to the same accumulator
  pb::GraphNode* acc = AddNode(g, "torch::autograd::AccumulateGrad");
  acc->add_variable_shape(2);  // a leaf no handle names
  const std::string dot = GraphToDot("s", root, g);
  EXPECT_THAT(dot, HasSubstr("  n0 -> n1;\n  n0 -> n1;\n"));
  EXPECT_THAT(
      dot,
      HasSubstr("  v1 [shape=ellipse, fillcolor=lightblue, label=\"leaf (no handle)\\n(2)\"];\n"
                "  n1 -> v1;\n"));
}

TEST(Render, DisplayNodeName) {
  EXPECT_EQ(DisplayNodeName("torch::autograd::AccumulateGrad"), "AccumulateGrad");
  EXPECT_EQ(DisplayNodeName("MulBackward0"), "MulBackward0");
}

TEST(Render, TensorMetadata) {
  pb::TensorInfo info;
  info.set_id(3);
  info.set_dtype(pb::DTYPE_BOOL);
  info.add_shape(2);
  info.add_shape(0);
  info.set_version(2);
  EXPECT_EQ(TensorMetadata("s", info),
            "session:       s\n"
            "handle:        3\n"
            "shape:         torch.Size([2, 0])\n"
            "dtype:         torch.bool\n"
            "requires_grad: False\n"
            "is_leaf:       False\n"
            "grad_fn:       None\n"
            "version:       2\n"
            "retains_grad:  False\n"
            "has grad:      False\n");
}

}  // namespace
}  // namespace tensorctl
