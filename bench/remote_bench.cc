// tensord over the network, each figure next to an anchor measured in the same run:
//   op      one ApplyOp RPC (neg of a 4-element tensor) vs a raw gRPC echo of the same bytes
//   pipe    10,000 dependent tiny ops then one item(): pipelined stream vs one RPC each
//   xfer    upload + download of 1 MiB / 64 MiB / 512 MiB tensors vs a raw gRPC byte stream
//   conc    1, 8, 64 clients running the tutorial step; throughput, p50/p99, errors, server RSS
// Usage: remote_bench --tensord=HOST:PORT --echo=HOST:PORT [--server_pid=PID] [--json=PATH]
//                     [--only=op,pipe,xfer,conc] [--quick]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "raw_echo.grpc.pb.h"
#include "tensord/client.h"
#include "tensord/v1/tensord.grpc.pb.h"

namespace {

namespace pb = ::tensord::v1;
namespace td = ::tensord::client;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int64_t RssKiB(int pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

struct Json {
  std::ostringstream out;
  bool first = true;
  void Add(const std::string& key, double v) {
    out << (first ? "" : ",\n") << "  \"" << key << "\": " << v;
    first = false;
  }
  std::string str() const { return "{\n" + out.str() + "\n}\n"; }
};

// ---- op latency vs raw echo --------------------------------------------------------------

void OpLatency(const std::string& tensord, const std::string& echo, int n, Json& json) {
  auto stub = pb::Tensord::NewStub(Channel(tensord));
  auto echo_stub = tensord::bench::RawEcho::NewStub(Channel(echo));
  grpc::ClientContext cctx;
  pb::CreateSessionRequest creq;
  pb::CreateSessionResponse cresp;
  if (!stub->CreateSession(&cctx, creq, &cresp).ok()) {
    std::fprintf(stderr, "CreateSession failed\n");
    std::exit(1);
  }
  const std::string sid = cresp.session_id();
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-tensord-session", sid);
    pb::CreateTensorRequest req;
    req.set_session_id(sid);
    req.set_id(1);
    req.mutable_data()->set_dtype(pb::DTYPE_FLOAT32);
    req.mutable_data()->add_shape(4);
    req.mutable_data()->set_data(std::string(16, '\0'));
    pb::TensorsResponse r;
    stub->CreateTensor(&ctx, req, &r);
  }
  pb::ApplyOpRequest op;
  op.set_session_id(sid);
  op.set_op("neg");
  op.add_inputs(1);
  op.add_outputs(2);
  pb::ReleaseRequest rel;
  rel.set_session_id(sid);
  rel.add_ids(2);
  tensord::bench::Bytes payload;
  payload.set_data(std::string(op.ByteSizeLong(), 'x'));
  std::vector<double> t_op, t_echo;
  for (int i = 0; i < n + 200; ++i) {  // interleaved; the first 200 warm up
    {
      grpc::ClientContext ctx;
      ctx.AddMetadata("x-tensord-session", sid);
      pb::TensorsResponse r;
      const auto a = Clock::now();
      grpc::Status s = stub->ApplyOp(&ctx, op, &r);
      const auto b = Clock::now();
      if (!s.ok()) {
        std::fprintf(stderr, "ApplyOp failed: %s\n", s.error_message().c_str());
        std::exit(1);
      }
      if (i >= 200) t_op.push_back(Seconds(a, b) * 1e6);
      grpc::ClientContext rctx;
      rctx.AddMetadata("x-tensord-session", sid);
      pb::ReleaseResponse rr;
      stub->Release(&rctx, rel, &rr);
    }
    {
      grpc::ClientContext ctx;
      tensord::bench::Bytes back;
      const auto a = Clock::now();
      echo_stub->Echo(&ctx, payload, &back);
      const auto b = Clock::now();
      if (i >= 200) t_echo.push_back(Seconds(a, b) * 1e6);
    }
  }
  const double op50 = Pct(t_op, 0.5), op99 = Pct(t_op, 0.99), e50 = Pct(t_echo, 0.5),
               e99 = Pct(t_echo, 0.99);
  std::printf("op latency (%d calls, %zu-byte request)\n", n, payload.data().size());
  std::printf("  tensord ApplyOp   p50 %8.1f us   p99 %8.1f us\n", op50, op99);
  std::printf("  raw gRPC echo     p50 %8.1f us   p99 %8.1f us\n", e50, e99);
  std::printf("  ratio p50 %.3f (target <= 1.10), p99 %.3f\n", op50 / e50, op99 / e99);
  json.Add("op_p50_us", op50);
  json.Add("op_p99_us", op99);
  json.Add("echo_p50_us", e50);
  json.Add("echo_p99_us", e99);
  json.Add("op_vs_echo_p50_ratio", op50 / e50);
  json.Add("op_vs_echo_p99_ratio", op99 / e99);
}

// ---- pipelined vs one RPC per op ---------------------------------------------------------

double Chain(const std::string& tensord, bool pipelined, int n) {
  td::Session s = td::Session::Connect({.address = tensord, .pipelined = pipelined});
  td::Tensor x = s.zeros({1});
  td::Tensor one = s.ones({1});
  s.Flush();
  const auto a = Clock::now();
  for (int i = 0; i < n; ++i) x = x + one;
  const double v = x.item<double>();
  const auto b = Clock::now();
  if (v != n) {
    std::fprintf(stderr, "pipelined chain computed %g, expected %d\n", v, n);
    std::exit(1);
  }
  return Seconds(a, b);
}

void Pipelined(const std::string& tensord, int n, Json& json) {
  const double piped = Chain(tensord, true, n);
  const double unary = Chain(tensord, false, n);
  std::printf("pipelined: %d dependent ops + item()\n", n);
  std::printf("  pipelined %8.1f ms (%.2f us/op)   one RPC each %8.1f ms (%.2f us/op)\n",
              piped * 1e3, piped / n * 1e6, unary * 1e3, unary / n * 1e6);
  std::printf("  speedup %.1fx (target >= 20x), %.2f us/op amortized (target <= 8)\n",
              unary / piped, piped / n * 1e6);
  json.Add("pipelined_us_per_op", piped / n * 1e6);
  json.Add("unary_us_per_op", unary / n * 1e6);
  json.Add("pipelined_speedup", unary / piped);
}

// ---- transfer vs raw byte stream ---------------------------------------------------------

void Transfer(const std::string& tensord, const std::string& echo, int64_t bytes, Json& json) {
  constexpr int64_t kChunk = 1 << 20;
  auto stub = pb::Tensord::NewStub(Channel(tensord));
  auto echo_stub = tensord::bench::RawEcho::NewStub(Channel(echo));
  std::string data(static_cast<size_t>(bytes), '\x5a');
  grpc::ClientContext cctx;
  pb::CreateSessionResponse cresp;
  stub->CreateSession(&cctx, pb::CreateSessionRequest(), &cresp);
  const std::string sid = cresp.session_id();
  auto tensord_round = [&](uint64_t id) {
    const auto a = Clock::now();
    {
      grpc::ClientContext ctx;
      ctx.AddMetadata("x-tensord-session", sid);
      pb::TensorsResponse resp;
      auto w = stub->Upload(&ctx, &resp);
      for (int64_t off = 0; off < bytes; off += kChunk) {
        pb::UploadChunk c;
        if (off == 0) {
          c.set_session_id(sid);
          c.set_id(id);
          c.set_dtype(pb::DTYPE_FLOAT32);
          c.add_shape(bytes / 4);
        }
        c.set_data(data.data() + off, static_cast<size_t>(std::min(kChunk, bytes - off)));
        w->Write(c);
      }
      w->WritesDone();
      grpc::Status s = w->Finish();
      if (!s.ok()) {
        std::fprintf(stderr, "Upload failed: %s\n", s.error_message().c_str());
        std::exit(1);
      }
    }
    int64_t got = 0;
    {
      grpc::ClientContext ctx;
      ctx.AddMetadata("x-tensord-session", sid);
      pb::DownloadRequest req;
      req.set_session_id(sid);
      req.set_id(id);
      req.set_chunk_bytes(kChunk);
      auto r = stub->Download(&ctx, req);
      pb::DownloadChunk c;
      while (r->Read(&c)) got += static_cast<int64_t>(c.data().size());
      r->Finish();
    }
    const auto b = Clock::now();
    grpc::ClientContext rctx;
    rctx.AddMetadata("x-tensord-session", sid);
    pb::ReleaseRequest rel;
    rel.set_session_id(sid);
    rel.add_ids(id);
    pb::ReleaseResponse rr;
    stub->Release(&rctx, rel, &rr);
    if (got != bytes) std::exit(1);
    return Seconds(a, b);
  };
  auto raw_round = [&] {
    const auto a = Clock::now();
    {
      grpc::ClientContext ctx;
      tensord::bench::Size resp;
      auto w = echo_stub->Upload(&ctx, &resp);
      for (int64_t off = 0; off < bytes; off += kChunk) {
        tensord::bench::Bytes c;
        c.set_data(data.data() + off, static_cast<size_t>(std::min(kChunk, bytes - off)));
        w->Write(c);
      }
      w->WritesDone();
      w->Finish();
    }
    {
      grpc::ClientContext ctx;
      tensord::bench::Size req;
      req.set_bytes(bytes);
      req.set_chunk_bytes(kChunk);
      auto r = echo_stub->Download(&ctx, req);
      tensord::bench::Bytes c;
      int64_t got = 0;
      while (r->Read(&c)) got += static_cast<int64_t>(c.data().size());
      r->Finish();
    }
    return Seconds(a, Clock::now());
  };
  const int rounds = bytes >= (int64_t{256} << 20) ? 3 : bytes >= (int64_t{32} << 20) ? 5 : 21;
  std::vector<double> t, r;
  for (int i = 0; i < rounds; ++i) {
    t.push_back(tensord_round(100 + static_cast<uint64_t>(i)));
    r.push_back(raw_round());
  }
  const double tm = Pct(t, 0.5), rm = Pct(r, 0.5);
  const double mib = static_cast<double>(bytes) / (1 << 20);
  std::printf(
      "transfer %.0f MiB up+down: tensord %.1f MiB/s, raw stream %.1f MiB/s, ratio %.3f (target >= "
      "0.8)\n",
      mib, 2 * mib / tm, 2 * mib / rm, rm / tm);
  const std::string key = "xfer_" + std::to_string(static_cast<int64_t>(mib)) + "MiB";
  json.Add(key + "_tensord_MiBps", 2 * mib / tm);
  json.Add(key + "_raw_MiBps", 2 * mib / rm);
  json.Add(key + "_ratio", rm / tm);
}

// ---- concurrency ---------------------------------------------------------------------------

void Concurrency(const std::string& tensord, int clients, double seconds, int server_pid,
                 Json& json) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> peak_rss{RssKiB(server_pid)};
  const int64_t rss_before = RssKiB(server_pid);
  std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      try {
        td::Session s = td::Session::Connect({.address = tensord});
        td::Tensor x = s.randn({1024}, td::requires_grad());
        while (!stop.load()) {
          const auto a = Clock::now();
          td::Tensor f = x.pow(2) * x.exp();
          f.backward(s.ones_like(f));
          (void)x.grad().sum().item<double>();
          x.grad().zero_();
          lat[static_cast<size_t>(c)].push_back(Seconds(a, Clock::now()) * 1e6);
        }
        s.Close();
      } catch (const td::Error& e) {
        errors.fetch_add(1);
        std::fprintf(stderr, "client %d: %s\n", c, e.what());
      }
    });
  }
  const auto start = Clock::now();
  while (Seconds(start, Clock::now()) < seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    peak_rss = std::max<int64_t>(peak_rss.load(), RssKiB(server_pid));
  }
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = Seconds(start, Clock::now());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t rss_after = RssKiB(server_pid);
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::printf(
      "concurrency %2d clients (tutorial step on 1024 floats): %8.0f steps/s, p50 %7.0f us, p99 "
      "%7.0f us, "
      "errors %lld, server RSS %lld -> peak %lld -> %lld KiB\n",
      clients, static_cast<double>(all.size()) / elapsed, Pct(all, 0.5), Pct(all, 0.99),
      static_cast<long long>(errors.load()), static_cast<long long>(rss_before),
      static_cast<long long>(peak_rss.load()), static_cast<long long>(rss_after));
  const std::string k = "conc" + std::to_string(clients);
  json.Add(k + "_steps_per_s", static_cast<double>(all.size()) / elapsed);
  json.Add(k + "_p50_us", Pct(all, 0.5));
  json.Add(k + "_p99_us", Pct(all, 0.99));
  json.Add(k + "_errors", static_cast<double>(errors.load()));
  json.Add(k + "_rss_before_kib", static_cast<double>(rss_before));
  json.Add(k + "_rss_peak_kib", static_cast<double>(peak_rss.load()));
  json.Add(k + "_rss_after_kib", static_cast<double>(rss_after));
}

}  // namespace

int main(int argc, char** argv) {
  std::string tensord = "127.0.0.1:50051", echo, json_path, only = "op,pipe,xfer,conc";
  int server_pid = 0;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* k) {
      return a.rfind(k, 0) == 0 ? a.substr(std::strlen(k)) : std::string();
    };
    if (!val("--tensord=").empty()) tensord = val("--tensord=");
    if (!val("--echo=").empty()) echo = val("--echo=");
    if (!val("--json=").empty()) json_path = val("--json=");
    if (!val("--only=").empty()) only = val("--only=");
    if (!val("--server_pid=").empty()) server_pid = std::atoi(val("--server_pid=").c_str());
    if (a == "--quick") quick = true;
    if (a == "--help") {
      std::printf(
          "usage: remote_bench --tensord=HOST:PORT --echo=HOST:PORT [--server_pid=PID] "
          "[--json=PATH] "
          "[--only=op,pipe,xfer,conc] [--quick]\n");
      return 0;
    }
  }
  Json json;
  auto want = [&](const char* what) { return only.find(what) != std::string::npos; };
  if (want("op")) OpLatency(tensord, echo, quick ? 500 : 3000, json);
  if (want("pipe")) Pipelined(tensord, 10000, json);
  if (want("xfer")) {
    for (int64_t mib : {int64_t{1}, int64_t{64}, int64_t{512}}) {
      if (quick && mib > 64) continue;
      Transfer(tensord, echo, mib << 20, json);
    }
  }
  if (want("conc")) {
    for (int clients : {1, 8, 64})
      Concurrency(tensord, clients, quick ? 2.0 : 5.0, server_pid, json);
  }
  if (!json_path.empty()) std::ofstream(json_path) << json.str();
  return 0;
}
