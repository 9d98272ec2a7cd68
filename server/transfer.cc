#include "server/transfer.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/context.h"
#include "engine/factory.h"
#include "engine/status_macros.h"

namespace tensord::server {

absl::Status UploadAssembler::Start(Session& session, const pb::UploadChunk& first) {
  if (started_) return absl::InternalError("UploadAssembler::Start called twice");
  TD_RETURN_IF_ERROR(session.CheckFree(first.id()));
  TD_ASSIGN_OR_RETURN(DType dtype, FromProto(first.dtype()));
  TD_RETURN_IF_ERROR(CheckShape(first.shape(), options_));
  {
    ContextGuard guard(session.context());
    TD_ASSIGN_OR_RETURN(Tensor t, factory::empty(ToShape(first.shape()),
                                                 factory::TensorOptions().with_dtype(dtype)));
    if (first.requires_grad()) TD_RETURN_IF_ERROR(t.set_requires_grad(true));
    tensor_ = std::move(t);
  }
  id_ = first.id();
  received_ = 0;
  started_ = true;
  return Append(first.data());
}

absl::Status UploadAssembler::Append(absl::string_view data) {
  if (!started_) return absl::InternalError("UploadAssembler::Append before Start");
  const int64_t n = static_cast<int64_t>(data.size());
  if (n > tensor_.nbytes() - received_) {
    return absl::InvalidArgumentError(
        absl::StrCat("upload sent more than the tensor's ", tensor_.nbytes(), " bytes"));
  }
  // An empty tensor may have no buffer at all: memcpy's pointers must not be null, even for 0.
  if (n > 0) std::memcpy(tensor_.raw_data() + received_, data.data(), data.size());
  received_ += n;
  return absl::OkStatus();
}

absl::StatusOr<Tensor> UploadAssembler::Finish() {
  if (!started_) {
    return absl::InvalidArgumentError("empty upload: the first chunk must carry the header");
  }
  Tensor t = std::move(tensor_);
  tensor_ = Tensor();
  if (received_ != t.nbytes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("upload ended after ", received_, " of ", t.nbytes(), " bytes"));
  }
  if (t.dtype() == DType::kBool) {
    auto* p = reinterpret_cast<unsigned char*>(t.raw_data());
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] != 0;
  }
  return t;
}

}  // namespace tensord::server
