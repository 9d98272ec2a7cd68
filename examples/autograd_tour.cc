// PyTorch's autograd tutorial, every cell, run remotely on tensord. Prints what PyTorch prints
// and checks the facts; exits non-zero on any mismatch or error.
//   autograd_tour [--address=127.0.0.1:50051]
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tensord/client.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051", "tensord server address");
ABSL_FLAG(std::string, token, "", "bearer token, if the server requires one");

namespace td = tensord::client;

namespace {

int failures = 0;

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "CHECK FAILED: " << what << "\n";
    ++failures;
  }
}

bool Near(double a, double b, double tol = 1e-4) {
  return std::fabs(a - b) <= tol * (1 + std::fabs(b));
}

void Cell(const std::string& title) { std::cout << "\n# " << title << "\n"; }

// Python's spelling of a bool.
const char* Py(bool b) { return b ? "True" : "False"; }

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "PyTorch's autograd tutorial on a tensord server.\nUsage: autograd_tour "
      "[--address=host:port]");
  absl::ParseCommandLine(argc, argv);
  try {
    td::Session t = td::Session::Connect(
        {.address = absl::GetFlag(FLAGS_address), .token = absl::GetFlag(FLAGS_token), .seed = 0});

    Cell("requires_grad, three ways");
    td::Tensor a1 = t.ones({2}, td::requires_grad());
    td::Tensor a2 = t.ones({2});
    a2.requires_grad_();
    td::Tensor a3 = t.ones({2});
    a3.set_requires_grad(true);
    std::cout << a1 << "\n" << a2 << "\n" << a3 << "\n";
    Check(a1.requires_grad() && a2.requires_grad() && a3.requires_grad(),
          "requires_grad set three ways");

    Cell("a + b, sum, backward");
    td::Tensor a = t.tensor({2., 3.}, {}, td::requires_grad());
    td::Tensor b = t.tensor({6., 4.}, {}, td::requires_grad());
    td::Tensor s = (a + b).sum();
    s.backward();
    std::cout << "s = " << s << "\na.grad = " << a.grad() << "\n";
    Check(a.grad().to_vector<double>() == std::vector<double>({1, 1}), "a.grad == ones");

    Cell("propagation and is_leaf");
    td::Tensor x = t.randn({3}, td::requires_grad());
    td::Tensor y = t.randn({3});
    td::Tensor c = x + y;
    std::cout << "c.requires_grad: " << Py(c.requires_grad()) << "  x.is_leaf: " << Py(x.is_leaf())
              << "  y.is_leaf: " << Py(y.is_leaf()) << "  c.is_leaf: " << Py(c.is_leaf()) << "\n";
    Check(c.requires_grad() && x.is_leaf() && y.is_leaf() && !c.is_leaf(),
          "propagation and is_leaf");

    Cell("f(x) = x^2 * e^x against its derivative 2x e^x + x^2 e^x");
    td::Tensor xs = t.tensor({-2, -1, 0, 1, 2}, {}, td::requires_grad().dtype(td::kFloat64));
    td::Tensor f = xs.pow(2) * xs.exp();
    f.backward(t.ones_like(f));
    std::cout << "f = " << f << "\nx.grad = " << xs.grad() << "\n";
    const auto xv = xs.to_vector<double>();
    const auto gv = xs.grad().to_vector<double>();
    for (size_t i = 0; i < xv.size(); ++i) {
      Check(Near(gv[i], 2 * xv[i] * std::exp(xv[i]) + xv[i] * xv[i] * std::exp(xv[i])), "f'(x)");
    }

    Cell("z = x w + b: grad_fn and next_functions");
    td::Tensor in = t.ones({5});
    td::Tensor target = t.zeros({3});
    td::Tensor w = t.randn({5, 3}, td::requires_grad());
    td::Tensor bias = t.randn({3}, td::requires_grad());
    td::Tensor z = td::matmul(in, w) + bias;
    td::Tensor loss = td::binary_cross_entropy_with_logits(z, target);
    auto z_fn = z.grad_fn();
    auto loss_fn = loss.grad_fn();
    std::cout << "Gradient function for z = " << z_fn->name()
              << "\nGradient function for loss = " << loss_fn->name()
              << "\nz.grad_fn.next_functions = (";
    const char* sep = "";
    for (const auto& [node, nr] : z_fn->next_functions()) {
      std::cout << sep << "(" << (node ? node->name() : "None") << ", " << nr << ")";
      sep = ", ";
    }
    std::cout << ")\n";
    Check(z_fn->name() == "AddBackward0", "z.grad_fn is AddBackward0");
    Check(loss_fn->name() == "BinaryCrossEntropyWithLogitsBackward0", "loss.grad_fn");
    Check(z_fn->next_functions().size() == 2 &&
              z_fn->next_functions()[0].first->name() == "SqueezeBackward3" &&
              z_fn->next_functions()[1].first->name() == "torch::autograd::AccumulateGrad",
          "z.grad_fn.next_functions");
    Check(loss_fn->next_functions()[1].first == nullptr, "target's edge is None");
    loss.backward();
    std::cout << "w.grad = " << w.grad() << "\nb.grad = " << bias.grad() << "\n";

    Cell("retain_graph, accumulation, and the error on a further backward");
    td::Tensor inp = t.eye(4, 5, td::requires_grad());
    td::Tensor out = (inp + 1).pow(2).t();
    out.backward(t.ones_like(out), true);
    std::cout << "First call\n" << inp.grad() << "\n";
    const auto first = inp.grad().to_vector<double>();
    out.backward(t.ones_like(out), true);
    std::cout << "Second call\n" << inp.grad() << "\n";
    const auto second = inp.grad().to_vector<double>();
    for (size_t i = 0; i < first.size(); ++i)
      Check(second[i] == 2 * first[i], "accumulation doubles the grad");
    inp.grad().zero_();
    out.backward(t.ones_like(out));
    std::cout << "Call after zeroing gradients\n" << inp.grad() << "\n";
    Check(inp.grad().to_vector<double>() == first, "after zero_ the grad is the first one again");
    try {
      out.backward(t.ones_like(out));
      t.Flush();
      Check(false, "a backward through a freed graph must fail");
    } catch (const td::Error& e) {
      std::cout << "RuntimeError: " << e.message() << "\n";
      Check(e.message().rfind("Trying to backward through the graph a second time", 0) == 0,
            "PyTorch's message");
    }

    Cell("dynamic graphs: abs() when x.data[0] > 0, and a product loop");
    td::Tensor v = t.arange(-2, 4, 1, td::dtype(td::kFloat32));
    v.requires_grad_();
    td::Tensor r = v.data()[0].item<double>() > 0 ? v.abs() : v;
    td::Tensor prod = t.ones({});
    for (const td::Tensor& e : v.unbind(0)) {
      if (e.item<double>() > 0) prod = prod * e;
    }
    prod.backward();
    std::cout << "x = " << v << "\nx.grad = " << v.grad() << "\n";
    Check(r.id() == v.id(), "branch not taken for x[0] = -2");
    Check(v.grad().to_vector<double>() == std::vector<double>({0, 0, 0, 6, 3, 2}),
          "grad [0,0,0,6,3,2]");

    Cell("no_grad and set_grad_enabled");
    td::Tensor q = t.ones({2}, td::requires_grad());
    {
      td::NoGradGuard no_grad(t);
      td::Tensor q2 = q * 2;
      std::cout << "with no_grad: requires_grad = " << Py(q2.requires_grad()) << "\n";
      Check(!q2.requires_grad(), "no_grad");
    }
    t.set_grad_enabled(false);
    td::Tensor q3 = q * 2;
    std::cout << "set_grad_enabled(False): requires_grad = " << Py(q3.requires_grad()) << "\n";
    Check(!q3.requires_grad(), "set_grad_enabled(false)");
    t.set_grad_enabled(true);
    Check((q * 2).requires_grad(), "grad mode back on");
    td::Tensor q4 = (q * 2).detach();
    Check(!q4.requires_grad(), "detach");

    Cell(".data writes are not recorded");
    td::Tensor d = t.tensor({1, 2, 3}, {}, td::requires_grad());
    td::Tensor e = d.exp();
    e.data().mul_(10);
    e.sum().backward();
    std::cout << "d.grad = " << d.grad() << "\n";
    Check(Near(d.grad().to_vector<double>()[0], 10 * std::exp(1.0)),
          "backward used the .data-modified values");

    Cell("autograd.grad and retain_grad: a non-leaf's gradient");
    td::Tensor g = t.tensor({1, 2, 3}, {}, td::requires_grad());
    td::Tensor h = g * g;
    h.retain_grad();
    td::Tensor k = (h * 3).sum();
    auto dh = td::autograd::grad({k}, {h}, {}, true);
    std::cout << "autograd.grad(k, h) = " << dh[0] << "\n";
    k.backward();
    std::cout << "h.grad = " << h.grad() << "\ng.grad = " << g.grad() << "\n";
    Check(h.grad().to_vector<double>() == std::vector<double>({3, 3, 3}), "h.grad via retain_grad");
    Check(g.grad().to_vector<double>() == std::vector<double>({6, 12, 18}), "g.grad");
    auto d1 = td::autograd::grad({(g.pow(3)).sum()}, {g}, {}, std::nullopt, true);
    auto d2 = td::autograd::grad({d1[0].sum()}, {g});
    std::cout << "d2/dg2 of sum(g^3) = " << d2[0] << "\n";
    Check(d2[0].to_vector<double>() == std::vector<double>({6, 12, 18}), "second derivative 6g");
    t.Flush();
  } catch (const td::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  if (failures > 0) {
    std::cerr << failures << " check(s) failed\n";
    return 1;
  }
  std::cout << "\nautograd tour: all checks passed\n";
  return 0;
}
