// Upload's chunk assembly, apart from gRPC: the first chunk's header allocates the tensor (charged
// to the session's quota), every chunk appends its bytes, and Finish checks the length and hands
// the tensor over. The Upload reactor (service.cc) drives it; so does tests/fuzz/fuzz_upload.cc.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/tensor.h"
#include "server/convert.h"
#include "server/options.h"
#include "server/session.h"

namespace tensord::server {

class UploadAssembler {
 public:
  explicit UploadAssembler(const ServerOptions& options) : options_(options) {}
  UploadAssembler(const UploadAssembler&) = delete;
  UploadAssembler& operator=(const UploadAssembler&) = delete;

  // The first chunk, once its session_id has been resolved to `session`: the handle `first.id()`
  // must be free there, the dtype and shape valid; the tensor is allocated under the session's
  // context (RESOURCE_EXHAUSTED past its quota), then the chunk's data is appended. Call once.
  absl::Status Start(Session& session, const pb::UploadChunk& first);
  bool started() const { return started_; }

  // A later chunk's data (its header fields are ignored). INVALID_ARGUMENT, with nothing copied,
  // when the bytes would run past the tensor's byte length.
  absl::Status Append(absl::string_view data);

  // The complete tensor (bool bytes normalised to 0/1), and the assembler lets go of it.
  // INVALID_ARGUMENT when nothing was started or the bytes received are not exactly the tensor's
  // length (the bytes are given back then too). The caller binds it to id() on the session's
  // strand, checking again that the id is still free.
  absl::StatusOr<Tensor> Finish();
  uint64_t id() const { return id_; }
  int64_t received() const { return received_; }

  // Gives the bytes back (a failed upload).
  void Reset() { tensor_ = Tensor(); }

 private:
  const ServerOptions& options_;
  bool started_ = false;
  Tensor tensor_;
  uint64_t id_ = 0;
  int64_t received_ = 0;
};

}  // namespace tensord::server
