#include "tools/tensorctl/commands.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/context.h"
#include "engine/format.h"
#include "proto/wire.h"
#include "tools/tensorctl/render.h"

extern char** environ;

namespace tensorctl {
namespace {

namespace health = ::grpc::health::v1;

using tensord::wire::kSessionHeader;

// PyTorch's repr of fetched values. They are rebuilt in a private engine context (never a
// session's), as the client library's Tensor::str() does.
absl::StatusOr<std::string> Repr(const pb::TensorData& value, const std::string& grad_fn,
                                 bool requires_grad) {
  static tensord::Context* printing = new tensord::Context();
  tensord::ContextGuard guard(*printing);
  auto t = tensord::wire::Decode(value);
  if (!t.ok()) return t.status();
  return tensord::FormatTensor(*t, grad_fn, requires_grad);
}

// GetTensor answers in one message; a tensor too large for one is streamed with Download.
grpc::Status Fetch(Connection& c, const std::string& session, uint64_t handle, bool grad,
                   pb::GetTensorResponse* out) {
  pb::GetTensorRequest req;
  req.set_session_id(session);
  req.set_id(handle);
  req.set_include_grad(grad);
  grpc::Status s = c.tensord().GetTensor(c.Context(session, /*peek=*/true).get(), req, out);
  if (s.ok() || s.error_code() != grpc::StatusCode::FAILED_PRECONDITION ||
      !absl::StrContains(s.error_message(), "Download")) {
    return s;
  }
  out->Clear();
  auto download = [&](bool of_grad, pb::TensorData* value) -> grpc::Status {
    pb::DownloadRequest d;
    d.set_session_id(session);
    d.set_id(handle);
    d.set_grad(of_grad);
    auto ctx = c.Context(session, /*peek=*/true);
    auto reader = c.tensord().Download(ctx.get(), d);
    pb::DownloadChunk chunk;
    std::string data;
    bool first = true;
    while (reader->Read(&chunk)) {
      if (first) {
        if (!of_grad) *out->mutable_info() = chunk.info();
        value->set_dtype(chunk.info().dtype());
        *value->mutable_shape() = chunk.info().shape();
        first = false;
      }
      data += chunk.data();
    }
    grpc::Status st = reader->Finish();
    if (st.ok()) value->set_data(std::move(data));
    return st;
  };
  s = download(false, out->mutable_value());
  if (!s.ok()) return s;
  if (grad && out->info().has_grad()) s = download(true, out->mutable_grad());
  return s;
}

bool WriteFile(const std::string& path, const std::string& contents, Io io) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (f) f << contents;
  if (f) f.close();
  if (!f) {
    io.err << "tensorctl: cannot write " << path << ": " << std::strerror(errno) << "\n";
    return false;
  }
  return true;
}

}  // namespace

Connection::Connection(const ConnectionOptions& options) : options_(options) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options_.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.root_certificates;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // GetTensor answers up to the server's message limit
  channel_ = grpc::CreateCustomChannel(options_.address, creds, args);
  tensord_ = pb::Tensord::NewStub(channel_);
  health_ = health::Health::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Connection::Context(const std::string& session,
                                                         bool peek) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(options_.timeout));
  if (!session.empty()) ctx->AddMetadata(kSessionHeader, session);
  if (peek) ctx->AddMetadata(tensord::wire::kPeekHeader, "1");
  if (!options_.token.empty())
    ctx->AddMetadata(tensord::wire::kAuthorizationHeader,
                     absl::StrCat(tensord::wire::kBearerPrefix, options_.token));
  return ctx;
}

int RpcFailed(const grpc::Status& status, Io io) {
  io.err << "tensorctl: " << StatusCodeName(status.error_code()) << ": " << status.error_message()
         << "\n";
  return kRpcError;
}

int Sessions(Connection& c, bool json, Io io) {
  pb::ListSessionsResponse r;
  grpc::Status s = c.tensord().ListSessions(c.Context().get(), pb::ListSessionsRequest(), &r);
  if (!s.ok()) return RpcFailed(s, io);
  if (json) {
    io.out << SessionsJson(r, absl::Now());
  } else if (r.sessions().empty()) {
    io.err << "tensorctl: no sessions\n";
  } else {
    io.out << SessionsTable(r, absl::Now());
  }
  return kOk;
}

int Close(Connection& c, const std::string& session, Io io) {
  pb::SessionRequest req;
  req.set_session_id(session);
  pb::SessionInfo r;
  grpc::Status s = c.tensord().CloseSession(c.Context(session).get(), req, &r);
  if (!s.ok()) return RpcFailed(s, io);
  io.out << ClosedSummary(r, absl::Now());
  return kOk;
}

int Tensors(Connection& c, const std::string& session, bool json, Io io) {
  std::vector<pb::ListedTensor> all;
  pb::ListTensorsRequest req;
  req.set_session_id(session);
  req.set_page_size(1000);
  do {
    pb::ListTensorsResponse r;
    grpc::Status s = c.tensord().ListTensors(c.Context(session).get(), req, &r);
    if (!s.ok()) return RpcFailed(s, io);
    all.insert(all.end(), r.tensors().begin(), r.tensors().end());
    req.set_page_token(r.next_page_token());
  } while (!req.page_token().empty());
  if (json) {
    io.out << TensorsJson(all);
  } else if (all.empty()) {
    io.err << "tensorctl: session " << session << " holds no tensors\n";
  } else {
    io.out << TensorsTable(all);
  }
  return kOk;
}

int Show(Connection& c, const std::string& session, uint64_t handle, bool grad, Io io) {
  pb::GetTensorResponse r;
  grpc::Status s = Fetch(c, session, handle, grad, &r);
  if (!s.ok()) return RpcFailed(s, io);
  auto value = Repr(r.value(), r.info().grad_fn(), r.info().requires_grad());
  if (!value.ok()) {
    io.err << "tensorctl: INTERNAL: the server sent values that do not match their shape: "
           << value.status().message() << "\n";
    return kRpcError;
  }
  io.out << TensorMetadata(session, r.info()) << *value << "\n";
  if (grad) {
    if (r.grad().dtype() == pb::DTYPE_UNSPECIFIED) {
      io.out << "grad:\nNone\n";
    } else {
      auto g = Repr(r.grad(), "", false);
      if (!g.ok()) {
        io.err << "tensorctl: INTERNAL: the server sent a .grad that does not match its shape: "
               << g.status().message() << "\n";
        return kRpcError;
      }
      io.out << "grad:\n" << *g << "\n";
    }
  }
  return kOk;
}

int Graph(Connection& c, const std::string& session, uint64_t handle, const std::string& format,
          const std::string& output, Io io) {
  pb::TensorRequest info_req;
  info_req.set_session_id(session);
  info_req.set_id(handle);
  pb::TensorsResponse info;
  grpc::Status s = c.tensord().GetInfo(c.Context(session, /*peek=*/true).get(), info_req, &info);
  if (!s.ok()) return RpcFailed(s, io);
  if (info.tensors().empty()) {
    io.err << "tensorctl: INTERNAL: GetInfo answered without the tensor\n";
    return kRpcError;
  }
  pb::GetGraphRequest graph_req;
  graph_req.set_session_id(session);
  graph_req.set_id(handle);
  pb::GraphResponse graph;
  s = c.tensord().GetGraph(c.Context(session, /*peek=*/true).get(), graph_req, &graph);
  if (!s.ok()) return RpcFailed(s, io);
  const std::string dot = GraphToDot(session, info.tensors(0), graph);
  if (format == "dot") {
    if (output.empty()) {
      io.out << dot;
      return kOk;
    }
    return WriteFile(output, dot, io) ? kOk : kLocalError;
  }
  return RenderWithGraphviz(dot, format, output, io);
}

int RenderWithGraphviz(const std::string& dot_source, const std::string& format,
                       const std::string& output, Io io) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string path = absl::StrCat(tmpdir && *tmpdir ? tmpdir : "/tmp", "/tensorctl-XXXXXX");
  const int fd = mkstemp(path.data());
  if (fd < 0) {
    io.err << "tensorctl: cannot create a temporary file in " << path << ": "
           << std::strerror(errno) << "\n";
    return kLocalError;
  }
  close(fd);
  struct Unlink {
    std::string p;
    ~Unlink() { unlink(p.c_str()); }
  } cleanup{path};
  if (!WriteFile(path, dot_source, io)) return kLocalError;

  std::vector<std::string> args = {"dot", absl::StrCat("-T", format)};
  if (format == "png")
    args.push_back("-Gdpi=144");  // graphviz's 72 dpi is small on today's screens
  if (!output.empty()) {
    args.push_back("-o");
    args.push_back(output);
  }
  args.push_back(path);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  io.out.flush();
  std::cout.flush();
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "dot", nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    if (rc == ENOENT) {
      io.err << "tensorctl: graphviz's 'dot' program was not found on PATH, so --format " << format
             << " cannot be rendered.\nInstall graphviz (Debian: apt-get install graphviz), or use "
                "--format dot "
                "and render the file elsewhere.\n";
    } else {
      io.err << "tensorctl: cannot run graphviz's 'dot': " << std::strerror(rc) << "\n";
    }
    return kLocalError;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      io.err << "tensorctl: waiting for 'dot' failed: " << std::strerror(errno) << "\n";
      return kLocalError;
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    io.err << "tensorctl: graphviz's 'dot -T" << format << "' failed ("
           << (WIFEXITED(status) ? absl::StrCat("exit code ", WEXITSTATUS(status))
                                 : absl::StrCat("signal ", WTERMSIG(status)))
           << ")\n";
    return kLocalError;
  }
  return kOk;
}

int Ops(Connection& c, bool json, Io io) {
  pb::ListOpsResponse r;
  grpc::Status s = c.tensord().ListOps(c.Context().get(), pb::ListOpsRequest(), &r);
  if (!s.ok()) return RpcFailed(s, io);
  io.out << (json ? OpsJson(r) : OpsTable(r));
  return kOk;
}

int Stats(Connection& c, bool json, Io io) {
  pb::ServerInfoResponse r;
  grpc::Status s = c.tensord().ServerInfo(c.Context().get(), pb::ServerInfoRequest(), &r);
  if (!s.ok()) return RpcFailed(s, io);
  io.out << (json ? StatsJson(r) : StatsText(r));
  return kOk;
}

int Health(Connection& c, const std::string& service, Io io) {
  health::HealthCheckRequest req;
  req.set_service(service);
  health::HealthCheckResponse r;
  grpc::Status s = c.health().Check(c.Context().get(), req, &r);
  if (!s.ok()) return RpcFailed(s, io);
  io.out << health::HealthCheckResponse::ServingStatus_Name(r.status()) << "\n";
  return r.status() == health::HealthCheckResponse::SERVING ? kOk : kRpcError;
}

}  // namespace tensorctl
