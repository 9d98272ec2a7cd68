// The client's connection state: one pipelined stream, a reader thread matching results to
// commands (in order), deferred errors and batched handle releases.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tensord/client.h"
#include "tensord/v1/tensord.grpc.pb.h"

namespace tensord::client::detail {

namespace pb = ::tensord::v1;

// The outcome of one command, filled by the reader thread.
struct Pending {
  pb::CommandResult result;
  bool ready = false;
  bool ignore_errors = false;  // releases: a handle whose creation failed is not news
  std::string what;            // "mm", "backward", ... for error messages
};

struct Handle {
  Handle(std::shared_ptr<SessionImpl> s, uint64_t i, std::shared_ptr<Pending> c, int idx)
      : session(std::move(s)), id(i), created(std::move(c)), index(idx) {}
  ~Handle();
  std::shared_ptr<SessionImpl> session;
  uint64_t id;
  std::shared_ptr<Pending> created;  // the command that made this tensor
  int index;                         // which of its results
};

class SessionImpl : public std::enable_shared_from_this<SessionImpl> {
 public:
  SessionImpl(const ConnectOptions& options, std::shared_ptr<grpc::Channel> channel);
  ~SessionImpl();

  void Open();  // CreateSession + the stream
  std::unique_ptr<grpc::ClientContext> Context(bool with_deadline) const;

  // Sends a command; the result arrives later (pipelined) or now (not pipelined).
  std::shared_ptr<Pending> Send(pb::Command command, std::string what);
  // Waits for `p`'s result; throws the earliest unreported error (p's own or an earlier one).
  const pb::CommandResult& Wait(const std::shared_ptr<Pending>& p);
  void Flush();
  void ReleaseLater(uint64_t id);
  uint64_t NewId();
  Tensor MakeTensor(uint64_t id, std::shared_ptr<Pending> created, int index);
  void Close();

  const ConnectOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::Tensord::Stub> stub;
  std::string session_id;
  bool grad_enabled = true;
  std::atomic<uint64_t> commands_sent{0};
  std::atomic<uint64_t> round_trips{0};

 private:
  void ReaderLoop();
  void FailAllLocked(const std::string& why);

  std::unique_ptr<grpc::ClientContext> stream_ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::CommandBatch, pb::ResultBatch>> stream_;
  // Commands not sent yet: they go out as one message when the program waits for an answer (or
  // when kMaxBuffered pile up).
  pb::CommandBatch buffer_;  // guarded by write_mu_
  static constexpr int kMaxBuffered = 512;
  void SendBuffered();  // requires write_mu_
  std::thread reader_;
  bool finished_ = false;  // the reader called Finish()
  std::mutex write_mu_;    // one writer at a time on the stream

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Pending>> in_flight_;
  std::optional<Error> first_error_;
  std::vector<uint64_t> to_release_;
  uint64_t next_id_ = 1;
  bool broken_ = false;
  bool closed_ = false;
};

}  // namespace tensord::client::detail
