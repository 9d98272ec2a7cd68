// The scale-out check behind a proxy (scripts/scaleout-test.sh starts the replicas and HAProxy).
//
// Sessions are created through the proxy with the C++ client library (which proposes each
// session's id and sends it in x-tensord-session on every call, CreateSession included), then:
//   1. every session runs ops and a backward through the proxy, twice;
//   2. each replica is asked directly (ServerInfo, ListSessions): every session is listed on
//      exactly one replica, its owner counted its commands, and the sessions spread over all;
//   3. with --victim_pid, that replica is killed (SIGKILL): its sessions fail with UNAVAILABLE or
//      NOT_FOUND, every other session keeps working, and, once the proxy has marked the replica
//      down, new sessions work and land on the survivors while old ones keep their replica.
// --bench_seconds instead measures commands/s through the proxy (--bench_threads sessions).
//
//   tensord_scaleout_client --proxy=127.0.0.1:P --replicas=r1=127.0.0.1:A,r2=...,r3=...
//                           [--sessions=60] [--victim=r2 --victim_pid=PID]
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tensord/client.h"
#include "tensord/v1/tensord.grpc.pb.h"

ABSL_FLAG(std::string, proxy, "", "The proxy's address (host:port).");
ABSL_FLAG(std::string, replicas, "", "name=host:port,... of every replica, to ask directly.");
ABSL_FLAG(int, sessions, 60, "Sessions to create through the proxy.");
ABSL_FLAG(std::string, victim, "", "The replica to kill (a name from --replicas).");
ABSL_FLAG(int, victim_pid, 0, "Its process id (SIGKILL); 0: no failover check.");
ABSL_FLAG(absl::Duration, down_timeout, absl::Seconds(15),
          "How long the proxy may take to mark a killed replica down (new sessions avoid it).");
ABSL_FLAG(double, bench_seconds, 0,
          "> 0: only measure commands/s through the proxy for this long.");
ABSL_FLAG(int, bench_threads, 8, "Concurrent sessions of the measurement.");

namespace td = tensord::client;
namespace pb = tensord::v1;

namespace {

int failures = 0;

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "CHECK FAILED: " << what << "\n";
    ++failures;
  }
}

struct Replica {
  std::string name;
  std::string address;
  std::unique_ptr<pb::Tensord::Stub> stub;
};

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& session = "") {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!session.empty()) ctx->AddMetadata("x-tensord-session", session);
  return ctx;
}

std::string CodeName(int code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    default:
      return "code " + std::to_string(code);
  }
}

// One unit of work in session i: a small graph, a backward, values checked. Several calls, all
// routed by the session's header. Returns the number of ops it applied.
void Work(td::Session& s, int i) {
  const double k = i + 1;
  td::Tensor x = s.tensor({1., 2., 3.}, {}, td::requires_grad());
  td::Tensor y = (x * x * k).sum();
  y.backward();
  const std::vector<double> g = x.grad().to_vector<double>();
  const std::vector<double> want = {2 * k, 4 * k, 6 * k};
  if (g != want)
    throw td::Error(grpc::StatusCode::INTERNAL, "wrong gradient in session " + std::to_string(i),
                    "check");
  if (y.item<double>() != 14 * k)
    throw td::Error(grpc::StatusCode::INTERNAL, "wrong value", "check");
}

// session id -> replica names that list it.
std::map<std::string, std::vector<std::string>> Owners(std::vector<Replica>& replicas,
                                                       const std::string& skip = "") {
  std::map<std::string, std::vector<std::string>> owners;
  for (Replica& r : replicas) {
    if (r.name == skip) continue;
    pb::ListSessionsResponse resp;
    grpc::Status st = r.stub->ListSessions(Ctx().get(), pb::ListSessionsRequest(), &resp);
    Check(st.ok(), "ListSessions on " + r.name + ": " + st.error_message());
    for (const pb::SessionInfo& info : resp.sessions()) owners[info.session_id()].push_back(r.name);
  }
  return owners;
}

int Bench(const std::string& proxy, double seconds, int threads) {
  std::atomic<uint64_t> commands{0};
  std::atomic<int> errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        td::Session s =
            td::Session::Connect({.address = proxy, .seed = static_cast<uint64_t>(t + 1)});
        td::Tensor w = s.randn({16, 16}, td::requires_grad());
        td::Tensor x = s.randn({8, 16});
        while (!stop.load()) {
          td::Tensor loss = (x.mm(w).tanh() * 0.5).sum();  // mm, tanh, mul, sum
          loss.backward();                                 // backward
          (void)loss.item<float>();                        // a round trip: waits for all five
          commands += 5;
        }
      } catch (const std::exception& e) {
        std::cerr << "bench thread " << t << ": " << e.what() << "\n";
        ++errors;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "bench: threads=" << threads << " commands=" << commands.load()
            << " seconds=" << elapsed
            << " commands_per_s=" << static_cast<uint64_t>(commands.load() / elapsed)
            << " errors=" << errors.load() << "\n";
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("tensord scale-out check through a session-affine proxy");
  absl::ParseCommandLine(argc, argv);
  const std::string proxy = absl::GetFlag(FLAGS_proxy);
  if (proxy.empty()) {
    std::cerr << "--proxy is required\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_bench_seconds) > 0) {
    return Bench(proxy, absl::GetFlag(FLAGS_bench_seconds), absl::GetFlag(FLAGS_bench_threads));
  }

  std::vector<Replica> replicas;
  for (absl::string_view item :
       absl::StrSplit(absl::GetFlag(FLAGS_replicas), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    Replica r{kv.first, kv.second, nullptr};
    r.stub =
        pb::Tensord::NewStub(grpc::CreateChannel(r.address, grpc::InsecureChannelCredentials()));
    replicas.push_back(std::move(r));
  }
  if (replicas.size() < 2) {
    std::cerr << "--replicas needs at least two name=address entries\n";
    return 2;
  }

  // Each replica reports the name it was started with.
  for (Replica& r : replicas) {
    pb::ServerInfoResponse info;
    grpc::Status st = r.stub->ServerInfo(Ctx().get(), pb::ServerInfoRequest(), &info);
    Check(st.ok() && info.replica() == r.name, "ServerInfo of " + r.address + " reports replica '" +
                                                   info.replica() + "', want '" + r.name + "'");
  }

  // 1. Sessions through the proxy, two rounds of work each.
  const int n = absl::GetFlag(FLAGS_sessions);
  std::vector<td::Session> sessions;
  const absl::Time t0 = absl::Now();
  for (int i = 0; i < n; ++i) {
    try {
      sessions.push_back(
          td::Session::Connect({.address = proxy, .seed = static_cast<uint64_t>(i + 1)}));
      Work(sessions.back(), i);
    } catch (const td::Error& e) {
      std::cerr << "session " << i << ": " << CodeName(e.code()) << " " << e.message() << " ("
                << e.command() << ")\n";
      return 1;
    }
  }
  for (int i = 0; i < n; ++i) {
    try {
      Work(sessions[i], i);
    } catch (const td::Error& e) {
      Check(false, "second round, session " + std::to_string(i) + ": " + CodeName(e.code()) + " " +
                       e.message());
    }
  }
  std::cout << "created " << n << " sessions through " << proxy << " and ran 2 rounds of ops in "
            << absl::FormatDuration(absl::Trunc(absl::Now() - t0, absl::Milliseconds(1))) << "\n";

  // 2. Who holds what: each session on exactly one replica, which executed its commands.
  std::map<std::string, std::vector<std::string>> owners = Owners(replicas);
  std::map<std::string, int> per_replica;
  std::map<std::string, std::string> owner_of;  // session id -> replica
  for (int i = 0; i < n; ++i) {
    const std::string& id = sessions[i].id();
    const auto it = owners.find(id);
    const std::vector<std::string> on =
        it == owners.end() ? std::vector<std::string>{} : it->second;
    Check(on.size() == 1, "session " + id + " is listed on " + std::to_string(on.size()) +
                              " replicas (" + absl::StrJoin(on, ",") + "), want exactly one");
    if (on.size() != 1) continue;
    owner_of[id] = on[0];
    ++per_replica[on[0]];
    for (Replica& r : replicas) {
      pb::SessionRequest req;
      req.set_session_id(id);
      pb::SessionInfo info;
      grpc::Status st = r.stub->DescribeSession(Ctx(id).get(), req, &info);
      if (r.name == on[0]) {
        // Two rounds of Work: 2 x (tensor, mul, mul, sum, backward, grad, get, get) at least.
        Check(st.ok() && info.commands() >= 8, "owner " + r.name + " of " + id + " counted " +
                                                   std::to_string(info.commands()) +
                                                   " commands: " + st.error_message());
      } else {
        Check(st.error_code() == grpc::StatusCode::NOT_FOUND,
              "replica " + r.name + " answers DescribeSession(" + id + ") with " +
                  CodeName(st.error_code()));
      }
    }
  }
  std::string dist;
  for (Replica& r : replicas) {
    dist += " " + r.name + "=" + std::to_string(per_replica[r.name]);
    Check(per_replica[r.name] > 0, "no session landed on " + r.name);
  }
  std::cout << "distribution:" << dist << "\n";
  for (Replica& r : replicas) {
    pb::ServerInfoResponse info;
    r.stub->ServerInfo(Ctx().get(), pb::ServerInfoRequest(), &info);
    std::cout << "  " << r.name << ": sessions=" << info.sessions()
              << " commands_served=" << info.commands_served()
              << " ops_served=" << info.ops_served() << "\n";
  }

  // 3. Failover: kill one replica.
  const std::string victim = absl::GetFlag(FLAGS_victim);
  const int victim_pid = absl::GetFlag(FLAGS_victim_pid);
  if (victim_pid > 0) {
    if (kill(victim_pid, SIGKILL) != 0) {
      std::cerr << "cannot kill " << victim_pid << "\n";
      return 1;
    }
    std::cout << "killed " << victim << " (pid " << victim_pid << ")\n";
    std::map<std::string, int> codes;
    int survivors_ok = 0, victims_failed = 0;
    for (int i = 0; i < n; ++i) {
      const std::string& id = sessions[i].id();
      const bool on_victim = owner_of[id] == victim;
      try {
        Work(sessions[i], i);
        Check(!on_victim, "session " + id + " of the killed replica still works");
        ++survivors_ok;
      } catch (const td::Error& e) {
        ++codes[CodeName(e.code())];
        Check(on_victim, "session " + id + " on " + owner_of[id] + " failed after " + victim +
                             " was killed: " + CodeName(e.code()) + " " + e.message());
        Check(e.code() == grpc::StatusCode::UNAVAILABLE || e.code() == grpc::StatusCode::NOT_FOUND,
              "session " + id + " of the killed replica failed with " + CodeName(e.code()) + " " +
                  e.message());
        if (on_victim) ++victims_failed;
      }
    }
    std::string c;
    for (const auto& [k, v] : codes) c += " " + k + "=" + std::to_string(v);
    std::cout << "after the kill: " << survivors_ok << " sessions of the survivors worked, "
              << victims_failed << " of " << per_replica[victim] << " sessions of " << victim
              << " failed:" << c << "\n";

    // Once the proxy has marked the victim down, a call with a victim session's header goes to
    // a survivor, which does not know the session: NOT_FOUND (UNAVAILABLE until then).
    const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_down_timeout);
    auto proxy_stub =
        pb::Tensord::NewStub(grpc::CreateChannel(proxy, grpc::InsecureChannelCredentials()));
    std::string victim_session;
    for (const auto& [id, r] : owner_of)
      if (r == victim) victim_session = id;
    int last = -1;
    while (!victim_session.empty()) {
      pb::SessionRequest req;
      req.set_session_id(victim_session);
      pb::SessionInfo info;
      grpc::Status st = proxy_stub->DescribeSession(Ctx(victim_session).get(), req, &info);
      last = st.error_code();
      if (last == grpc::StatusCode::NOT_FOUND || absl::Now() > deadline) break;
      Check(last == grpc::StatusCode::UNAVAILABLE,
            "DescribeSession of a killed session through the proxy: " + CodeName(last) + " " +
                st.error_message());
      absl::SleepFor(absl::Milliseconds(200));
    }
    Check(victim_session.empty() || last == grpc::StatusCode::NOT_FOUND,
          "the proxy still routes " + victim + "'s sessions to it after " +
              absl::FormatDuration(absl::GetFlag(FLAGS_down_timeout)) +
              " (last: " + CodeName(last) + ")");
    std::cout << "the proxy rerouted " << victim << "'s sessions after "
              << absl::FormatDuration(
                     absl::Trunc(absl::Now() - (deadline - absl::GetFlag(FLAGS_down_timeout)),
                                 absl::Milliseconds(100)))
              << " (their calls now answer NOT_FOUND)\n";

    // The survivors' sessions stay where they were (consistent hashing) and keep working.
    int still = 0;
    for (int i = 0; i < n; ++i) {
      const std::string& id = sessions[i].id();
      if (owner_of[id] == victim) continue;
      try {
        Work(sessions[i], i);
        ++still;
      } catch (const td::Error& e) {
        Check(false, "session " + id + " of " + owner_of[id] +
                         " after the reroute: " + CodeName(e.code()) + " " + e.message());
      }
    }
    // New sessions land on the survivors only.
    std::vector<td::Session> fresh;
    for (int i = 0; i < 10; ++i) {
      try {
        fresh.push_back(td::Session::Connect({.address = proxy, .seed = 7}));
        Work(fresh.back(), i);
      } catch (const td::Error& e) {
        Check(false, "a new session after the kill: " + CodeName(e.code()) + " " + e.message());
      }
    }
    std::map<std::string, std::vector<std::string>> after = Owners(replicas, victim);
    std::map<std::string, int> fresh_on;
    for (td::Session& s : fresh) {
      const auto it = after.find(s.id());
      Check(it != after.end() && it->second.size() == 1,
            "new session " + s.id() + " is not on exactly one survivor");
      if (it != after.end() && !it->second.empty()) ++fresh_on[it->second[0]];
    }
    std::string fd;
    for (const auto& [k, v] : fresh_on) fd += " " + k + "=" + std::to_string(v);
    std::cout << "survivors' sessions still working: " << still << "; " << fresh.size()
              << " new sessions, on:" << fd << "\n";
  }

  if (failures == 0) std::cout << "scale-out check: OK\n";
  std::cout.flush();
  // The victim's sessions are dead; do not wait for their orderly close in destructors.
  std::_Exit(failures == 0 ? 0 : 1);
}
