// The engine against libtorch, side by side in one process and one run. Each scenario runs
// alternately on both, several rounds; the median times are compared as engine / libtorch.
//   engine_vs_libtorch [--rounds=N] [--json=PATH]
// Scenarios: (a) a 100-node chain of tiny-tensor ops, forward + backward, per node;
// (b) mm 512 and 1024, forward + backward; (c) f(x) = x^2 e^x on 4M float32, forward +
// backward; (d) one training step of an MLP 784-256-10, batch 64, cross_entropy.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "engine/api.h"
#include "engine/autograd.h"
#include "engine/context.h"
#include "engine/dispatch.h"
#include "engine/factory.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace ft = tensord::factory;
namespace eo = tensord::ops;

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "engine error: %s\n", v.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(v);
}
void Must(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "engine error: %s\n", s.ToString().c_str());
    std::exit(1);
  }
}

// Seconds per call of fn, median over `rounds` timed batches of `iters` calls.
double Time(const std::function<void()>& fn, int iters, int rounds,
            std::vector<double>* samples = nullptr) {
  fn();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < rounds; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < iters; ++i) fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - start).count() / iters);
  }
  std::sort(t.begin(), t.end());
  if (samples) *samples = t;
  return t[t.size() / 2];
}

struct Row {
  std::string name;
  double engine_s;
  double torch_s;
  double target;  // engine/libtorch must be <= target
  std::string unit;
  double scale;  // seconds -> unit
};

// Interleaves the two sides round by round so that machine noise hits both alike.
Row Compare(const std::string& name, const std::function<void()>& engine,
            const std::function<void()>& torch_fn, int iters, int rounds, double target,
            const std::string& unit, double scale) {
  std::vector<double> e, t;
  for (int r = 0; r < rounds; ++r) {
    e.push_back(Time(engine, iters, 1));
    t.push_back(Time(torch_fn, iters, 1));
  }
  std::sort(e.begin(), e.end());
  std::sort(t.begin(), t.end());
  return {name, e[e.size() / 2], t[t.size() / 2], target, unit, scale};
}

// ---- (a) per-node overhead ----------------------------------------------------------------

constexpr int kChain = 100;

void EngineChain(const tensord::Tensor& x) {
  tensord::Tensor y = x;
  for (int i = 0; i < kChain - 1; ++i) {
    switch (i % 4) {
      case 0:
        y = Must(eo::mul(y, x));
        break;
      case 1:
        y = Must(eo::add(y, x));
        break;
      case 2:
        y = Must(eo::sin(y));
        break;
      default:
        y = Must(eo::sub(y, x));
        break;
    }
  }
  Must(tensord::Backward(Must(eo::sum(y))));
}

void TorchChain(const torch::Tensor& x) {
  torch::Tensor y = x;
  for (int i = 0; i < kChain - 1; ++i) {
    switch (i % 4) {
      case 0:
        y = y * x;
        break;
      case 1:
        y = y + x;
        break;
      case 2:
        y = y.sin();
        break;
      default:
        y = y - x;
        break;
    }
  }
  y.sum().backward();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7;
  std::string json;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--rounds=", 9) == 0) rounds = std::atoi(argv[i] + 9);
    if (std::strncmp(argv[i], "--json=", 7) == 0) json = argv[i] + 7;
    if (std::strcmp(argv[i], "--help") == 0) {
      std::printf("usage: engine_vs_libtorch [--rounds=N] [--json=PATH]\n");
      return 0;
    }
  }
  tensord::Context ctx(tensord::ContextOptions{.seed = 1});
  tensord::ContextGuard guard(ctx);
  torch::manual_seed(1);
  std::printf("libtorch %s, %d intra-op threads; engine: OpenBLAS for mm\n", TORCH_VERSION,
              at::get_num_threads());
  std::vector<Row> rows;

  {  // (a)
    tensord::Tensor ex = Must(ft::randn({4}, ft::TensorOptions().with_requires_grad()));
    torch::Tensor tx = torch::randn({4}, torch::requires_grad());
    Row r = Compare(
        "(a) 100-node chain, tiny tensors, fwd+bwd, per node", [&] { EngineChain(ex); },
        [&] { TorchChain(tx); }, 20, rounds, 0.5, "us/node", 1e6 / kChain);
    rows.push_back(r);
  }
  for (int n : {512, 1024}) {  // (b)
    tensord::Tensor ea = Must(ft::randn({n, n}, ft::TensorOptions().with_requires_grad()));
    tensord::Tensor eb = Must(ft::randn({n, n}, ft::TensorOptions().with_requires_grad()));
    tensord::Tensor eg = Must(ft::ones({n, n}));
    torch::Tensor ta = torch::randn({n, n}, torch::requires_grad());
    torch::Tensor tb = torch::randn({n, n}, torch::requires_grad());
    torch::Tensor tg = torch::ones({n, n});
    rows.push_back(Compare(
        "(b) mm " + std::to_string(n) + " fwd+bwd",
        [&] {
          Must(tensord::Backward(Must(eo::mm(ea, eb)), eg));
          Must(ea.set_grad(tensord::Tensor()));
          Must(eb.set_grad(tensord::Tensor()));
        },
        [&] {
          torch::mm(ta, tb).backward(tg);
          ta.mutable_grad() = torch::Tensor();
          tb.mutable_grad() = torch::Tensor();
        },
        n == 512 ? 5 : 2, rounds, 1.05, "ms", 1e3));
  }
  {  // (c)
    const int64_t n = 4 << 20;
    tensord::Tensor ex = Must(ft::randn({n}, ft::TensorOptions().with_requires_grad()));
    tensord::Tensor eg = Must(ft::ones({n}));
    torch::Tensor tx = torch::randn({n}, torch::requires_grad());
    torch::Tensor tg = torch::ones({n});
    rows.push_back(Compare(
        "(c) x^2*e^x on 4M float32, fwd+bwd",
        [&] {
          Must(tensord::Backward(
              Must(eo::mul(Must(eo::pow(ex, tensord::Scalar(2))), Must(eo::exp(ex)))), eg));
          Must(ex.set_grad(tensord::Tensor()));
        },
        [&] {
          (tx.pow(2) * tx.exp()).backward(tg);
          tx.mutable_grad() = torch::Tensor();
        },
        3, rounds, 1.05, "ms", 1e3));
  }
  {  // (d)
    auto opts = ft::TensorOptions().with_requires_grad();
    tensord::Tensor w1 = Must(eo::mul(Must(ft::randn({784, 256})), tensord::Scalar(0.05)));
    tensord::Tensor b1 = Must(ft::zeros({256}));
    tensord::Tensor w2 = Must(eo::mul(Must(ft::randn({256, 10})), tensord::Scalar(0.05)));
    tensord::Tensor b2 = Must(ft::zeros({10}));
    for (auto* p : {&w1, &b1, &w2, &b2}) Must(p->set_requires_grad(true));
    (void)opts;
    tensord::Tensor ex = Must(ft::randn({64, 784}));
    tensord::Tensor ey = Must(ft::randint(0, 10, {64}));
    torch::Tensor tw1 = (torch::randn({784, 256}) * 0.05).requires_grad_();
    torch::Tensor tb1 = torch::zeros({256}, torch::requires_grad());
    torch::Tensor tw2 = (torch::randn({256, 10}) * 0.05).requires_grad_();
    torch::Tensor tb2 = torch::zeros({10}, torch::requires_grad());
    torch::Tensor tx = torch::randn({64, 784});
    torch::Tensor ty = torch::randint(0, 10, {64});
    const bool have_ce = tensord::FindOp("cross_entropy").ok();
    auto engine_step = [&] {
      tensord::Tensor h = Must(eo::relu(Must(eo::add(Must(eo::matmul(ex, w1)), b1))));
      tensord::Tensor logits = Must(eo::add(Must(eo::matmul(h, w2)), b2));
      tensord::Tensor loss =
          have_ce
              ? Must(tensord::Apply1(*Must(tensord::FindOp("cross_entropy")), {logits, ey}))
              : Must(eo::mse_loss(
                    logits, Must(eo::to(ey, tensord::DType::kFloat32)).defined()
                                ? Must(eo::unsqueeze(Must(eo::to(ey, tensord::DType::kFloat32)), 1))
                                : logits));
      Must(tensord::Backward(loss));
      tensord::NoGradGuard no_grad;
      for (auto* p : {&w1, &b1, &w2, &b2}) {
        Must(eo::sub_(*p, Must(eo::mul(p->grad(), tensord::Scalar(0.01)))));
        Must(eo::zero_(p->grad()));
      }
    };
    auto torch_step = [&] {
      torch::Tensor h = torch::relu(torch::matmul(tx, tw1) + tb1);
      torch::Tensor logits = torch::matmul(h, tw2) + tb2;
      torch::Tensor loss = have_ce ? torch::nn::functional::cross_entropy(logits, ty)
                                   : torch::mse_loss(logits, ty.to(torch::kFloat).unsqueeze(1));
      loss.backward();
      torch::NoGradGuard no_grad;
      for (auto* p : {&tw1, &tb1, &tw2, &tb2}) {
        p->sub_(p->grad() * 0.01);
        p->grad().zero_();
      }
    };
    rows.push_back(Compare(have_ce
                               ? "(d) MLP 784-256-10 step, batch 64, cross_entropy"
                               : "(d) MLP 784-256-10 step, batch 64 (mse: no cross_entropy op yet)",
                           engine_step, torch_step, 10, rounds, 1.05, "ms", 1e3));
  }

  std::printf("\n%-58s %12s %12s %8s %8s  %s\n", "scenario", "engine", "libtorch", "ratio",
              "target", "");
  bool all_met = true;
  for (const Row& r : rows) {
    const double ratio = r.engine_s / r.torch_s;
    const bool met = ratio <= r.target;
    all_met &= met;
    std::printf("%-58s %9.3f %-2s %9.3f %-2s %8.3f %8.2f  %s\n", r.name.c_str(),
                r.engine_s * r.scale, "", r.torch_s * r.scale, "", ratio, r.target,
                met ? "met" : "MISSED");
  }
  std::printf("(times in %s per row's unit: (a) us/node, others ms)\n", "");
  if (!json.empty()) {
    std::ofstream out(json);
    out << "{\n  \"libtorch\": \"" << TORCH_VERSION << "\",\n  \"rows\": [\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      out << "    {\"name\": \"" << r.name << "\", \"unit\": \"" << r.unit
          << "\", \"engine\": " << r.engine_s * r.scale << ", \"libtorch\": " << r.torch_s * r.scale
          << ", \"ratio\": " << r.engine_s / r.torch_s << ", \"target\": " << r.target << "}"
          << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    out << "  ]\n}\n";
  }
  return 0;
}
