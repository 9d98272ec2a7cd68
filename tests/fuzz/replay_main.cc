// The driver that links a libFuzzer harness into an ordinary program (the normal build, any
// compiler): runs LLVMFuzzerTestOneInput on every file named or found (recursively) in the
// directories named, then on --random=N pseudo-random inputs: random bytes and mutations of the
// corpus inputs (a fixed seed; --seed=S changes it; --only=I runs random input I alone,
// --save=FILE writes it to FILE first: a new corpus entry).
// Used by the fuzz_replay_* tests over tests/fuzz/corpus/<harness>/ (seeds and every crash the
// fuzzers have found, kept as regressions), and to reproduce one input under a debugger.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

int RunFile(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  std::fprintf(stderr, "Running: %s\n", path.c_str());
  const std::vector<char> bytes((std::istreambuf_iterator<char>(f)),
                                std::istreambuf_iterator<char>());
  // A copy of exactly the input's size, so that reads past it are heap overflows (as in
  // libFuzzer) for the sanitizer builds.
  auto* copy = new uint8_t[bytes.size()];
  if (!bytes.empty()) std::memcpy(copy, bytes.data(), bytes.size());
  LLVMFuzzerTestOneInput(copy, bytes.size());
  delete[] copy;
  return 0;
}

std::vector<uint8_t> RandomBytes(std::mt19937_64& gen) {
  std::vector<uint8_t> input(static_cast<size_t>(gen() % 1024));
  for (uint8_t& b : input) b = static_cast<uint8_t>(gen());
  return input;
}

// 1-8 mutations of a corpus input: bit flips, interesting bytes, inserted and erased runs,
// copied runs, splices with another input.
std::vector<uint8_t> Mutate(const std::vector<std::vector<uint8_t>>& corpus, std::mt19937_64& gen) {
  std::vector<uint8_t> v = corpus[gen() % corpus.size()];
  const int count = 1 + static_cast<int>(gen() % 8);
  for (int m = 0; m < count; ++m) {
    const size_t n = v.size();
    switch (gen() % 6) {
      case 0:
        if (n > 0) v[gen() % n] ^= static_cast<uint8_t>(1u << (gen() % 8));
        break;
      case 1: {
        static constexpr uint8_t kBytes[] = {0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x20};
        if (n > 0) v[gen() % n] = kBytes[gen() % sizeof kBytes];
        break;
      }
      case 2: {
        const size_t at = n > 0 ? gen() % (n + 1) : 0;
        const size_t len = 1 + gen() % 16;
        for (size_t k = 0; k < len; ++k)
          v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(gen()));
        break;
      }
      case 3:
        if (n > 1) {
          const size_t at = gen() % n;
          const size_t len = 1 + gen() % std::min<size_t>(n - at, 16);
          v.erase(v.begin() + static_cast<std::ptrdiff_t>(at),
                  v.begin() + static_cast<std::ptrdiff_t>(at + len));
        }
        break;
      case 4:
        if (n > 1) {
          const size_t from = gen() % n;
          const size_t len = 1 + gen() % std::min<size_t>(n - from, 32);
          const size_t to = gen() % n;
          const std::vector<uint8_t> run(v.begin() + static_cast<std::ptrdiff_t>(from),
                                         v.begin() + static_cast<std::ptrdiff_t>(from + len));
          v.insert(v.begin() + static_cast<std::ptrdiff_t>(to), run.begin(), run.end());
        }
        break;
      default: {
        const std::vector<uint8_t>& other = corpus[gen() % corpus.size()];
        const size_t keep = n > 0 ? gen() % n : 0;
        const size_t from = other.empty() ? 0 : gen() % other.size();
        v.resize(keep);
        v.insert(v.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
        break;
      }
    }
  }
  if (v.size() > 4096) v.resize(4096);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  long random_inputs = 0;
  long only = -1;
  std::string save;
  unsigned long seed = 1;
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--random=", 0) == 0) {
      random_inputs = std::strtol(arg.c_str() + 9, nullptr, 10);
    } else if (arg.rfind("--only=", 0) == 0) {
      only = std::strtol(arg.c_str() + 7, nullptr, 10);
    } else if (arg.rfind("--save=", 0) == 0) {
      save = arg.substr(7);
    } else if (arg.rfind("--seed=", 0) == 0) {
      seed = std::strtoul(arg.c_str() + 7, nullptr, 10);
    } else if (std::filesystem::is_directory(arg)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(arg)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (std::filesystem::exists(arg)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--random=N [--seed=S] [--only=I] [--save=FILE]] FILE_OR_DIR...\n"
                   "(no such file: %s)\n",
                   argv[0], arg.c_str());
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  int failures = 0;
  for (const auto& f : files) failures += RunFile(f);
  std::vector<std::vector<uint8_t>> corpus;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    corpus.emplace_back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::mt19937_64 gen(seed);
  for (long i = 0; i < random_inputs; ++i) {
    // Odd inputs: uniform bytes, lengths up to 1 KiB. Even inputs (with a corpus): a corpus input
    // with a few libFuzzer-style mutations, which keeps most of its structure.
    const std::vector<uint8_t> input =
        i % 2 == 1 || corpus.empty() ? RandomBytes(gen) : Mutate(corpus, gen);
    const size_t n = input.size();
    if (only >= 0 && i != only) continue;
    std::fprintf(stderr, "Running: random input %ld (--seed=%lu --random=%ld --only=%ld)\n", i,
                 seed, i + 1, i);
    if (!save.empty()) {
      std::ofstream(save, std::ios::binary)
          .write(reinterpret_cast<const char*>(input.data()), static_cast<std::streamsize>(n));
    }
    auto* copy = new uint8_t[n];
    if (n > 0) std::memcpy(copy, input.data(), n);
    LLVMFuzzerTestOneInput(copy, n);
    delete[] copy;
  }
  std::printf("%zu corpus inputs and %ld random inputs ran without a finding\n", files.size(),
              random_inputs);
  return failures == 0 ? 0 : 1;
}
