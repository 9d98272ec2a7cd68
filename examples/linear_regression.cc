// y = 2x + 3 with noise, learned by gradient descent on tensord: backward, w.data().sub_(),
// grad().zero_(). Prints the loss curve as an ASCII plot; exits non-zero unless w~2 and b~3.
//   linear_regression [--address=127.0.0.1:50051] [--steps=500] [--lr=0.1]
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tensord/client.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051", "tensord server address");
ABSL_FLAG(std::string, token, "", "bearer token, if the server requires one");
ABSL_FLAG(int, steps, 500, "gradient descent steps");
ABSL_FLAG(double, lr, 0.1, "learning rate");

namespace td = tensord::client;

namespace {

// Loss against step on a log scale, 60 x 12 characters.
void Plot(const std::vector<double>& losses) {
  constexpr int kW = 60, kH = 12;
  double lo = INFINITY, hi = -INFINITY;
  for (double l : losses) {
    lo = std::min(lo, std::log10(l));
    hi = std::max(hi, std::log10(l));
  }
  if (hi - lo < 1e-9) hi = lo + 1;
  std::vector<std::string> grid(kH, std::string(kW, ' '));
  for (int c = 0; c < kW; ++c) {
    const size_t i = static_cast<size_t>(c) * (losses.size() - 1) / (kW - 1);
    const int row =
        static_cast<int>(std::round((hi - std::log10(losses[i])) / (hi - lo) * (kH - 1)));
    grid[static_cast<size_t>(row)][static_cast<size_t>(c)] = '*';
  }
  std::cout << "loss (log scale) " << losses.front() << " -> " << losses.back() << "\n";
  for (const auto& line : grid) std::cout << "  |" << line << "\n";
  std::cout << "  +" << std::string(kW, '-') << "> step " << losses.size() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Linear regression on a tensord server.\nUsage: linear_regression [--address=host:port]");
  absl::ParseCommandLine(argc, argv);
  try {
    td::Session t = td::Session::Connect(
        {.address = absl::GetFlag(FLAGS_address), .token = absl::GetFlag(FLAGS_token), .seed = 42});
    td::Tensor x = t.linspace(-1, 1, 100).unsqueeze(1);
    td::Tensor y = x * 2.0 + 3.0 + t.normal(0, 0.1, {100, 1});
    td::Tensor w = t.zeros({1}, td::requires_grad());
    td::Tensor b = t.zeros({1}, td::requires_grad());
    const double lr = absl::GetFlag(FLAGS_lr);
    std::vector<double> losses;
    for (int step = 0; step < absl::GetFlag(FLAGS_steps); ++step) {
      td::Tensor loss = td::mse_loss(x * w + b, y);
      loss.backward();
      {
        td::NoGradGuard no_grad(t);
        w.data().sub_(w.grad() * lr);
        b.data().sub_(b.grad() * lr);
      }
      w.grad().zero_();
      b.grad().zero_();
      losses.push_back(loss.item<double>());
    }
    Plot(losses);
    const double wv = w.item<double>(), bv = b.item<double>();
    std::cout << "w = " << wv << " (want 2), b = " << bv << " (want 3), final loss "
              << losses.back() << "\n";
    if (std::fabs(wv - 2) > 0.1 || std::fabs(bv - 3) > 0.1) {
      std::cerr << "did not converge\n";
      return 1;
    }
  } catch (const td::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
