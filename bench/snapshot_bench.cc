// Session snapshots (--state_dir, server/state.h): the cost of saving and restoring a session,
// next to a raw write + fsync (and a raw read) of the same number of bytes in the same directory,
// measured in the same run in interleaved rounds; median MiB/s with min-max spread, and the ratio.
//
//   snapshot_bench [--dir=/tmp] [--mib=256] [--tensors=64] [--rounds=5]
//
// The restore is read cold: the file's pages are dropped from the page cache first
// (posix_fadvise DONTNEED), as for the raw read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/context.h"
#include "engine/factory.h"
#include "server/checkpoint.h"
#include "server/state.h"

namespace ts = tensord::server;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

void DropCache(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
}

struct Series {
  std::vector<double> mib_s;
  double Median() const {
    std::vector<double> v = mib_s;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
  std::string Spread() const {
    auto [lo, hi] = std::minmax_element(mib_s.begin(), mib_s.end());
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f-%.0f", *lo, *hi);
    return buf;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp";
  int64_t mib = 256, tensors = 64, rounds = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) {
      return a.rfind(flag, 0) == 0 ? a.substr(std::strlen(flag)) : std::string();
    };
    if (!value("--dir=").empty()) {
      dir = value("--dir=");
    } else if (!value("--mib=").empty()) {
      (void)absl::SimpleAtoi(value("--mib="), &mib);
    } else if (!value("--tensors=").empty()) {
      (void)absl::SimpleAtoi(value("--tensors="), &tensors);
    } else if (!value("--rounds=").empty()) {
      (void)absl::SimpleAtoi(value("--rounds="), &rounds);
    } else {
      std::fprintf(stderr,
                   "usage: snapshot_bench [--dir=/tmp] [--mib=256] [--tensors=64] [--rounds=5]\n");
      return 2;
    }
  }
  std::string work = dir + "/snapshot_bench_XXXXXX";
  if (mkdtemp(work.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  ts::ServerOptions options;
  options.max_session_bytes = int64_t{64} << 30;
  tensord::ContextOptions copts;
  copts.seed = 1;
  auto session = std::make_shared<ts::Session>("bench-session-000001", "", copts, absl::Minutes(10),
                                               std::map<std::string, std::string>{});
  const int64_t per = (mib << 20) / tensors / 4;  // float32 elements per tensor
  {
    tensord::ContextGuard guard(session->context());
    for (int64_t i = 0; i < tensors; ++i) {
      auto t = tensord::factory::randn({per}, {});
      if (!t.ok()) {
        std::fprintf(stderr, "%s\n", t.status().ToString().c_str());
        return 1;
      }
      session->Put(static_cast<uint64_t>(i + 1), *t);
    }
  }
  const int64_t bytes = tensors * per * 4;
  std::string raw(static_cast<size_t>(bytes), '\0');
  for (size_t i = 0; i < raw.size(); i += 4096) raw[i] = static_cast<char>(i);
  auto dirfd = ts::OpenDirectory(work);
  if (!dirfd.ok()) return 1;
  Series raw_write, snapshot, raw_read, restore;
  int64_t file_bytes = 0;
  // Rounds alternate which goes first, so that neither always pays for the other's dirty pages.
  const auto raw_round = [&]() -> bool {
    // Raw: write + fsync of the same byte count (no rename: the floor).
    {
      const std::string path = work + "/raw";
      const auto t0 = Clock::now();
      const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (!ts::WriteAll(fd, raw.data(), raw.size()).ok() || fsync(fd) != 0) return false;
      close(fd);
      raw_write.mib_s.push_back(bytes / 1048576.0 / Seconds(t0, Clock::now()));
      DropCache(path);
      std::string back(raw.size(), '\0');
      const auto t1 = Clock::now();
      const int rfd = open(path.c_str(), O_RDONLY);
      size_t got = 0;
      while (got < back.size()) {
        const ssize_t n = pread(rfd, back.data() + got, back.size() - got, got);
        if (n <= 0) return false;
        got += static_cast<size_t>(n);
      }
      close(rfd);
      raw_read.mib_s.push_back(bytes / 1048576.0 / Seconds(t1, Clock::now()));
      unlink(path.c_str());
    }
    return true;
  };
  const auto snapshot_round = [&]() -> bool {
    // Snapshot: the session file, atomically (temporary + fsync + rename + directory fsync).
    {
      const auto t0 = Clock::now();
      absl::Status s = ts::WriteFileAtomically(dirfd->get(), "session.safetensors", [&](int fd) {
        return ts::StateStore::WriteSession(*session, fd, &file_bytes);
      });
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return false;
      }
      snapshot.mib_s.push_back(bytes / 1048576.0 / Seconds(t0, Clock::now()));
      const std::string path = work + "/session.safetensors";
      DropCache(path);
      const auto t1 = Clock::now();
      const int fd = open(path.c_str(), O_RDONLY);
      auto back =
          ts::StateStore::ReadSession(fd, options, [](const std::string&, std::string* owner) {
            *owner = "";
            return true;
          });
      close(fd);
      if (!back.ok() || (*back)->num_tensors() != tensors) {
        std::fprintf(stderr, "restore failed: %s\n", back.status().ToString().c_str());
        return false;
      }
      restore.mib_s.push_back(bytes / 1048576.0 / Seconds(t1, Clock::now()));
    }
    return true;
  };
  for (int64_t r = 0; r < rounds; ++r) {
    const bool ok = r % 2 == 0 ? raw_round() && snapshot_round() : snapshot_round() && raw_round();
    if (!ok) return 1;
  }
  std::printf(
      "session: %lld tensors, %.1f MiB of values, snapshot file %.1f MiB; %lld rounds, "
      "interleaved, alternating order; median MiB/s (min-max)\n",
      static_cast<long long>(tensors), bytes / 1048576.0, file_bytes / 1048576.0,
      static_cast<long long>(rounds));
  std::printf("  raw write+fsync   %8.0f  (%s)\n", raw_write.Median(), raw_write.Spread().c_str());
  std::printf("  snapshot          %8.0f  (%s)   ratio to raw write %.2f\n", snapshot.Median(),
              snapshot.Spread().c_str(), snapshot.Median() / raw_write.Median());
  std::printf("  raw read (cold)   %8.0f  (%s)\n", raw_read.Median(), raw_read.Spread().c_str());
  std::printf("  restore (cold)    %8.0f  (%s)   ratio to raw read %.2f\n", restore.Median(),
              restore.Spread().c_str(), restore.Median() / raw_read.Median());
  std::printf("  snapshot cost: %.2f s per GiB (raw write+fsync: %.2f s per GiB)\n",
              1024.0 / snapshot.Median(), 1024.0 / raw_write.Median());
  unlink((work + "/session.safetensors").c_str());
  rmdir(work.c_str());
  return 0;
}
