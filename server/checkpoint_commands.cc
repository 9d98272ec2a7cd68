// The checkpoint commands, Save and Load (server/command_table.h): named tensors of a session to
// and from safetensors files under --checkpoint_dir (server/checkpoint.h).
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "server/checkpoint.h"
#include "server/commands.h"
#include "server/status.h"

namespace tensord::server {
namespace {

absl::StatusOr<Fd> CheckpointRoot(const ServerOptions& options) {
  if (options.checkpoint_dir.empty()) {
    return absl::FailedPreconditionError(
        "server-side checkpoints are off: start tensord with --checkpoint_dir=DIR (or save to a "
        "file on the client's side)");
  }
  return OpenDirectory(options.checkpoint_dir);
}

}  // namespace

absl::Status CommandRunner::Save(const pb::SaveRequest& req, pb::SaveResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  std::vector<std::pair<std::string, uint64_t>> named(req.tensors().begin(), req.tensors().end());
  std::sort(named.begin(), named.end());
  std::vector<CheckpointTensor> tensors;
  for (const auto& [name, id] : named) {
    TD_ASSIGN_OR_RETURN(Tensor t, session_.Get(id));
    CheckpointTensor c;
    c.name = name;
    c.value = t;
    c.requires_grad = t.requires_grad();
    if (req.include_grad()) c.grad = t.grad();
    tensors.push_back(std::move(c));
  }
  std::vector<NamedTensor> entries;
  std::map<std::string, std::string> metadata;
  ToFile(tensors, std::map<std::string, std::string>(req.metadata().begin(), req.metadata().end()),
         &entries, &metadata);
  TD_ASSIGN_OR_RETURN(Fd root, CheckpointRoot(options_));
  std::string leaf;
  TD_ASSIGN_OR_RETURN(Fd dir, ResolveBeneath(root.get(), req.path(), /*create_dirs=*/true, &leaf));
  int64_t bytes = 0;
  TD_RETURN_IF_ERROR(WriteFileAtomically(dir.get(), leaf, [&](int fd) -> absl::Status {
    TD_RETURN_IF_ERROR(WriteSafetensors(fd, entries, metadata));
    struct stat st;
    if (fstat(fd, &st) == 0) bytes = st.st_size;
    return absl::OkStatus();
  }));
  resp->set_bytes(bytes);
  return absl::OkStatus();
}

absl::Status CommandRunner::Load(const pb::LoadRequest& req, pb::LoadResponse* resp) {
  TD_RETURN_IF_ERROR(CheckSession(req.session_id()));
  absl::flat_hash_set<uint64_t> seen;
  for (const auto& [name, id] : req.ids()) {
    TD_RETURN_IF_ERROR(session_.CheckFree(id));
    if (id != 0 && !seen.insert(id).second) {
      return absl::InvalidArgumentError(absl::StrCat("output id ", id, " given twice"));
    }
  }
  TD_ASSIGN_OR_RETURN(Fd root, CheckpointRoot(options_));
  std::string leaf;
  TD_ASSIGN_OR_RETURN(Fd dir, ResolveBeneath(root.get(), req.path(), /*create_dirs=*/false, &leaf));
  // O_NONBLOCK: a FIFO put in the directory must not hang the session (it is then refused as
  // not a regular file).
  Fd fd(openat(dir.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat("no checkpoint '", Clip(req.path()), "'"));
    }
    if (err == ELOOP) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint path '", Clip(req.path()), "' is a symbolic link"));
    }
    return absl::InternalError(absl::StrCat("cannot open checkpoint '", Clip(req.path()), "'"));
  }
  TD_ASSIGN_OR_RETURN(LoadedFile file,
                      ReadSafetensors(fd.get(), options_.max_tensor_elements, options_.max_rank));
  std::map<std::string, std::string> metadata;
  TD_ASSIGN_OR_RETURN(std::vector<CheckpointTensor> tensors, FromFile(std::move(file), &metadata));
  absl::flat_hash_set<std::string> names;
  for (const CheckpointTensor& t : tensors) names.insert(t.name);
  for (const auto& [name, id] : req.ids()) {
    if (!names.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint '", Clip(req.path()), "' holds no tensor '", Clip(name), "'"));
    }
  }
  // Everything checked: bind.
  for (const CheckpointTensor& t : tensors) {
    auto it = req.ids().find(t.name);
    const uint64_t id = session_.Put(it == req.ids().end() ? 0 : it->second, t.value);
    resp->add_names(t.name);
    FillInfo(id, t.value, resp->add_tensors());
  }
  for (const auto& [k, v] : metadata) (*resp->mutable_metadata())[k] = v;
  return absl::OkStatus();
}

}  // namespace tensord::server
