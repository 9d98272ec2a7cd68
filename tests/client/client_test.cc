// The C++ client library against a real server on loopback, pipelined and not.
#include "tensord/client.h"

#include <cmath>
#include <cstdlib>

#include "server/server.h"
#include "tests/support/test_util.h"

namespace tensord::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class Client : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    server::ServerOptions o;
    o.listen = "127.0.0.1:0";
    checkpoint_dir_ = ::testing::TempDir() + "client_ckpt_XXXXXX";
    ASSERT_NE(mkdtemp(checkpoint_dir_.data()), nullptr);
    o.checkpoint_dir = checkpoint_dir_;
    server_ = *server::TensordServer::Start(o);
    s_ = std::make_unique<Session>(
        Session::Connect({.address = "127.0.0.1:" + std::to_string(server_->port()),
                          .seed = 3,
                          .pipelined = GetParam()}));
  }
  void TearDown() override {
    s_.reset();
    server_.reset();
  }
  Session& s() { return *s_; }
  std::unique_ptr<server::TensordServer> server_;
  std::unique_ptr<Session> s_;
  std::string checkpoint_dir_;
};

TEST_P(Client, SaveAndLoad_ServerSideCheckpointsKeepValuesRequiresGradAndGrad) {
  Tensor w = s().tensor({1, 2, 3}, {}, requires_grad());
  (w * w).sum().backward();
  Tensor n = s().tensor({4, 5}, {}, dtype(kInt64));
  s().save({{"w", w}, {"n", n}}, "run/a.safetensors", /*include_grad=*/true);
  std::map<std::string, Tensor> back = s().load("run/a.safetensors");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_THAT(back["w"].to_vector<double>(), ElementsAre(1, 2, 3));
  EXPECT_TRUE(back["w"].requires_grad());
  EXPECT_TRUE(back["w"].is_leaf());
  EXPECT_THAT(back["w"].grad().to_vector<double>(), ElementsAre(2, 4, 6));
  EXPECT_EQ(back["n"].dtype(), kInt64);
  EXPECT_EQ(back["n"].sizes(), (std::vector<int64_t>{2}));
  EXPECT_THAT(back["n"].to_vector<double>(), ElementsAre(4, 5));
  try {
    s().load("../outside.safetensors");
    ADD_FAILURE() << "a path out of the checkpoint directory was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  }
}

TEST_P(Client, ArithmeticAndBackward_ReadLikeLibtorch) {
  Tensor x = s().tensor({1, 2, 3}, {}, requires_grad());
  Tensor y = (x * x + 2).sum();
  EXPECT_EQ(y.item<double>(), 20.0);
  y.backward();
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(2, 4, 6));
  EXPECT_EQ(x.sizes(), (std::vector<int64_t>{3}));
  EXPECT_EQ(x.dtype(), kFloat32);
}

TEST_P(Client, ScalarOperands_KeepTheTensorsDtype) {
  Tensor x = s().tensor({1, 2}, {}, dtype(kFloat32));
  EXPECT_EQ((x + 2.5).dtype(), kFloat32);
  Tensor i = s().tensor({1, 2}, {}, dtype(kInt64));
  EXPECT_EQ((i * 2).dtype(), kInt64);
  EXPECT_EQ((i * 2.5).dtype(), kFloat32);
  EXPECT_THAT((10 - x).to_vector<double>(), ElementsAre(9, 8));
}

TEST_P(Client, GradFn_NameAndNextFunctions) {
  Tensor x = s().ones({5});
  Tensor w = s().ones({5, 3}, requires_grad());
  Tensor b = s().ones({3}, requires_grad());
  Tensor z = matmul(x, w) + b;
  std::shared_ptr<Node> fn = z.grad_fn();
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(fn->name(), "AddBackward0");
  ASSERT_EQ(fn->next_functions().size(), 2u);
  EXPECT_EQ(fn->next_functions()[0].first->name(), "SqueezeBackward3");
  EXPECT_EQ(fn->next_functions()[1].first->name(), "torch::autograd::AccumulateGrad");
  auto mm = fn->next_functions()[0].first->next_functions()[0].first;
  EXPECT_EQ(mm->name(), "MmBackward0");
  EXPECT_EQ(mm->next_functions()[0].first, nullptr);
  EXPECT_EQ(w.grad_fn(), nullptr);  // leaves have no grad_fn
}

// Pipelined, an op returns at once and its error surfaces at the next call that waits; one RPC
// per command, it is thrown by the op itself. Either way it names the op.
TEST_P(Client, Errors_NameTheOpAndCarryPyTorchsMessage) {
  const bool pipelined = GetParam();
  Tensor a = s().ones({2, 3});
  auto check = [](const Error& e) {
    EXPECT_EQ(e.command(), "mm");
    EXPECT_EQ(e.code(), 3);  // INVALID_ARGUMENT
    EXPECT_THAT(e.message(), HasSubstr("mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"));
  };
  try {
    Tensor bad = mm(a, a);
    EXPECT_TRUE(pipelined) << "unary mode throws at the op";
    Tensor c = a + 1;
    (void)c.to_vector<double>();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    check(e);
  }
  EXPECT_THAT((a + 1).to_vector<double>(), ElementsAre(2, 2, 2, 2, 2, 2));  // the session goes on
}

TEST_P(Client, SecondBackward_ThrowsPyTorchsMessage) {
  Tensor x = s().tensor({1, 2}, {}, requires_grad());
  Tensor y = x.exp().sum();
  y.backward();
  try {
    y.backward();
    s().Flush();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.command(), "backward");
    EXPECT_THAT(e.message(), HasSubstr("Trying to backward through the graph a second time"));
  }
}

TEST_P(Client, NoGradGuard_DataAndInplace) {
  Tensor w = s().tensor({1, 2}, {}, requires_grad());
  {
    NoGradGuard guard(s());
    EXPECT_FALSE((w * 2).requires_grad());
    EXPECT_FALSE(s().is_grad_enabled());
  }
  EXPECT_TRUE((w * 2).requires_grad());
  w.data().sub_(1);
  EXPECT_THAT(w.to_vector<double>(), ElementsAre(0, 1));
  EXPECT_TRUE(w.is_leaf());
}

TEST_P(Client, ViewMadeInNoGrad_ThenBaseModifiedInplace_GradFnIsLeafAndPrintRaisePyTorchsError) {
  Tensor x = s().tensor({1, 2, 3}, {}, requires_grad()).clone();
  Tensor v;
  {
    NoGradGuard guard(s());
    v = x.slice(0, 0, 2);
  }
  x.mul_(2);
  // As in PyTorch: requires_grad and the sizes still answer; grad_fn, is_leaf and print raise.
  EXPECT_TRUE(v.requires_grad());
  EXPECT_THAT(v.sizes(), ElementsAre(2));
  const std::string text =
      "A view was created in no_grad mode and its base or another view of "
      "its base has been modified inplace with grad mode enabled.";
  for (const char* what : {"grad_fn", "is_leaf", "print"}) {
    SCOPED_TRACE(what);
    try {
      if (std::string(what) == "grad_fn") (void)v.grad_fn();
      if (std::string(what) == "is_leaf") (void)v.is_leaf();
      if (std::string(what) == "print") (void)v.str();
      FAIL() << "expected PyTorch's error";
    } catch (const Error& e) {
      EXPECT_THAT(e.message(), HasSubstr(text));
    }
  }
  EXPECT_THAT(x.to_vector<double>(), ElementsAre(2, 4, 6));  // the session goes on
}

TEST_P(Client, Printing_MatchesPyTorch) {
  Tensor x = s().tensor({1, 2}, {1, 2}, requires_grad());
  EXPECT_EQ(x.str(), "tensor([[1., 2.]], requires_grad=True)");
  EXPECT_EQ((x * x).str(), "tensor([[1., 4.]], grad_fn=<MulBackward0>)");
  EXPECT_EQ(s().arange(3).str(), "tensor([0, 1, 2])");
}

TEST_P(Client, Unbind_Indexing_AndMultiOutputOps) {
  Tensor x = s().tensor({1, 5, 3, 4, 2, 6}, {2, 3}, requires_grad());
  auto rows = x.unbind(0);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_THAT(rows[1].to_vector<double>(), ElementsAre(4, 2, 6));
  EXPECT_EQ(x[1][2].item<double>(), 6.0);
  auto [values, indices] = x.max(1);
  EXPECT_THAT(indices.to_vector<int64_t>(), ElementsAre(1, 2));
  values.sum().backward();
  EXPECT_THAT(x.grad().to_vector<double>(), ElementsAre(0, 1, 0, 0, 0, 1));
}

TEST_P(Client, SchemaGeneratedOverloads_ReadLikeLibtorch) {
  Tensor x = s().tensor({1, 5, 3, 2}, {2, 2}, requires_grad());
  EXPECT_EQ(x.sum().item<double>(), 11.0);
  EXPECT_THAT(x.sum({0}, /*keepdim=*/true).to_vector<double>(), ElementsAre(4, 7));
  EXPECT_EQ(x.max().item<double>(), 5.0);
  auto [values, indices] = x.max(1);
  EXPECT_THAT(values.to_vector<double>(), ElementsAre(5, 3));
  EXPECT_THAT(indices.to_vector<int64_t>(), ElementsAre(1, 0));
  EXPECT_THAT(x.max(s().tensor({2, 2})).to_vector<double>(), ElementsAre(2, 5, 3, 2));
  EXPECT_EQ(x.max(s().tensor({2, 2})).grad_fn()->name(), "MaximumBackward0");
  EXPECT_THAT(x.pow(2).to_vector<double>(), ElementsAre(1, 25, 9, 4));
  EXPECT_EQ(x.pow(2).grad_fn()->name(), "PowBackward0");
  EXPECT_EQ(x.pow(x).grad_fn()->name(), "PowBackward1");
  EXPECT_THAT(pow(2, s().tensor({1, 3})).to_vector<double>(), ElementsAre(2, 8));
  EXPECT_EQ(s().pow(2, x).grad_fn()->name(), "PowBackward2");
  EXPECT_NEAR(x.norm().item<double>(), std::sqrt(39.0), 1e-5);
  EXPECT_THAT(sum(x, {1}).to_vector<double>(), ElementsAre(6, 5));

  Tensor w = s().ones({3, 2});
  Tensor b = s().tensor({0.5, 0.5, 0.5});
  EXPECT_THAT(s().linear(x, w, b).to_vector<double>(), ElementsAre(6.5, 6.5, 6.5, 5.5, 5.5, 5.5));
  EXPECT_THAT(s().linear(x, w).to_vector<double>(), ElementsAre(6, 6, 6, 5, 5, 5));
  EXPECT_THAT(x.linear(w).sizes(), ElementsAre(2, 3));

  Tensor y = s().tensor({0, 1});
  y.exp_();
  EXPECT_NEAR(y.to_vector<double>()[1], std::exp(1.0), 1e-6);
  y.pow_(2);
  EXPECT_NEAR(y.to_vector<double>()[1], std::exp(2.0), 1e-5);
  EXPECT_EQ(y.version(), 2u);
}

TEST_P(Client, AutogradGrad_WithCreateGraph) {
  Tensor x = s().tensor({2}, {}, requires_grad().dtype(kFloat64));
  auto d1 = autograd::grad({x.pow(3).sum()}, {x}, {}, std::nullopt, true);
  auto d2 = autograd::grad({d1[0].sum()}, {x});
  EXPECT_EQ(d1[0].item<double>(), 12.0);
  EXPECT_EQ(d2[0].item<double>(), 12.0);
  auto unused = autograd::grad({(x * 2).sum()}, {x, s().ones({1}, requires_grad())}, {},
                               std::nullopt, false, true);
  EXPECT_FALSE(unused[1].defined());
}

TEST_P(Client, ReleasedHandles_FreeServerMemory) {
  const std::string id = s().id();
  for (int i = 0; i < 50; ++i) {
    Tensor t = s().ones({1024});
    (void)(t + 1);
  }
  s().tensor({0}).item<double>();  // sends the pending releases and waits
  auto infos = server_->sessions().List("");
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_LT(infos[0]->num_tensors(), 5);
}

INSTANTIATE_TEST_SUITE_P(PipelinedOrNot, Client, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Pipelined" : "Unary"; });

}  // namespace
}  // namespace tensord::client
