// Built against an installed tensord: connects, computes a gradient, checks it.
#include <cstring>
#include <iostream>
#include <string>

#include "tensord/client.h"

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:50051";
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--address=", 10) == 0) address = argv[i] + 10;
  namespace td = tensord::client;
  try {
    td::Session s = td::Session::Connect({.address = address});
    td::Tensor x = s.tensor({1, 2, 3}, {}, td::requires_grad());
    (x * x).sum().backward();
    std::cout << x.grad() << "\n";
    return x.grad().to_vector<double>() == std::vector<double>({2, 4, 6}) ? 0 : 1;
  } catch (const td::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
