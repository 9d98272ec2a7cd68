// libFuzzer harness: Upload chunk sequences through UploadAssembler (server/transfer.h), the
// chunk assembly of the Upload RPC without gRPC, then the bind the reactor does on the session's
// strand.
//
// The bytes are decisions (fuzz_input.h): the session's quota (sometimes too small), the first
// chunk (built with edge dtypes, shapes, ids and data lengths, or parsed from raw bytes as
// tensord.v1.UploadChunk), then up to 12 more chunks (exact pieces of what is missing, random
// lengths, or raw UploadChunk messages), then the end of the stream (or not: an abandoned upload).
//
// Invariants: a failed chunk or end gives every byte back; a finished tensor has the header's
// dtype, shape and requires_grad and exactly the bytes sent (bools normalised); a handle that is
// taken is never overwritten; closing the session gives every byte back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/context.h"
#include "engine/factory.h"
#include "server/transfer.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace tensord;
using namespace tensord::fuzz;

uint64_t UploadId(FuzzInput& in) {
  const uint8_t k = in.Byte();
  if (k < 150) return 2;                         // free
  if (k < 190) return 0;                         // the server picks one
  if (k < 215) return 1;                         // taken (the tensor made before the upload)
  if (k < 235) return server::kServerIdBit + 1;  // a server id: not the client's to choose
  return static_cast<uint64_t>(in.EdgeInt());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const server::ServerOptions& options = FuzzOptions();
  FuzzInput in(data, size);
  const int64_t quota = in.Chance(230) ? kSessionBytes : static_cast<int64_t>(in.Below(4096));
  std::unique_ptr<server::Session> session = NewSession(quota);
  {
    ContextGuard guard(session->context());
    // Handle 1 is taken before the upload starts.
    absl::StatusOr<Tensor> zeros = factory::zeros({2});
    if (zeros.ok()) session->Put(1, *zeros);  // (a tiny quota may refuse even that)
  }
  const bool taken = !session->CheckFree(1).ok();
  const int64_t bytes_before = session->context().memory().used();

  server::UploadAssembler upload(options);
  pb::UploadChunk first;
  if (in.Chance(60)) {
    first.ParseFromString(in.String(200));  // a partial parse is still a message
  } else {
    first.set_session_id(kSessionId);
    first.set_id(UploadId(in));
    first.set_dtype(EdgeDType(in));
    EdgeShape(in, [&](int64_t d) { first.add_shape(d); });
    first.set_requires_grad(in.Chance(80));
    const int64_t numel = WireNumel(first.shape());
    const int64_t nbytes =
        numel <= kMaxElements ? numel * static_cast<int64_t>(WireItemSize(first.dtype())) : 64;
    // All of it, a part, or a little more than fits.
    first.set_data(in.Take(static_cast<size_t>(in.Below(static_cast<uint64_t>(nbytes) + 3))));
  }
  std::string sent;
  bool failed = false;
  absl::Status s = upload.Start(*session, first);
  if (s.ok()) {
    sent = first.data();
  } else {
    failed = true;
  }
  const int64_t total =
      failed ? 0 : WireNumel(first.shape()) * static_cast<int64_t>(WireItemSize(first.dtype()));
  const int chunks = static_cast<int>(in.Below(13));
  for (int i = 0; i < chunks && !failed; ++i) {
    std::string piece;
    const uint8_t k = in.Byte();
    const int64_t missing = total - upload.received();
    if (k < 90 && missing >= 0) {
      // A piece of what is missing, or all of it.
      piece = in.Take(static_cast<size_t>(
          in.Chance(128) ? missing : in.Below(static_cast<uint64_t>(missing) + 1)));
    } else if (k < 150) {
      piece = in.Take(static_cast<size_t>(in.Below(64)));
    } else if (k < 200) {
      piece = in.Take(static_cast<size_t>(in.Below(4096)));
    } else {
      pb::UploadChunk later;
      later.ParseFromString(in.String(96));
      piece = later.data();
    }
    const int64_t before = upload.received();
    s = upload.Append(piece);
    if (s.ok()) {
      sent += piece;
      TENSORD_FUZZ_CHECK(upload.received() == before + static_cast<int64_t>(piece.size()),
                         "received count");
    } else {
      TENSORD_FUZZ_CHECK(upload.received() == before, "a refused chunk was counted");
      failed = true;
    }
  }
  if (failed) {
    upload.Reset();
  } else if (in.Chance(250)) {
    absl::StatusOr<Tensor> t = upload.Finish();
    if (t.ok()) {
      TENSORD_FUZZ_CHECK(server::ToProto(t->dtype()) == first.dtype(), "dtype");
      TENSORD_FUZZ_CHECK(t->dim() == first.shape_size(), "rank");
      for (int i = 0; i < first.shape_size(); ++i)
        TENSORD_FUZZ_CHECK(t->shape()[i] == first.shape(i), "size %d", i);
      TENSORD_FUZZ_CHECK(t->requires_grad() == first.requires_grad(), "requires_grad");
      TENSORD_FUZZ_CHECK(static_cast<int64_t>(sent.size()) == t->nbytes(), "length");
      if (first.dtype() == pb::DTYPE_BOOL) {
        for (char& c : sent) c = c != 0 ? 1 : 0;
      }
      TENSORD_FUZZ_CHECK(
          t->nbytes() == 0 || std::memcmp(t->raw_data(), sent.data(), sent.size()) == 0,
          "the tensor's bytes differ from the bytes sent");
      // What the reactor then does on the session's strand.
      const uint64_t id = upload.id();
      if (session->CheckFree(id).ok()) {
        const uint64_t bound = session->Put(id, *t);
        TENSORD_FUZZ_CHECK(id == 0 || bound == id, "bound to another id");
        TENSORD_FUZZ_CHECK(!taken || bound != 1, "overwrote a taken handle");
      }
    } else {
      TENSORD_FUZZ_CHECK(session->context().memory().used() == bytes_before,
                         "a failed upload kept its bytes");
    }
  }
  // else: the client went away mid-stream.
  if (failed) {
    TENSORD_FUZZ_CHECK(session->context().memory().used() == bytes_before,
                       "a failed upload kept %lld bytes",
                       static_cast<long long>(session->context().memory().used() - bytes_before));
  }
  upload.Reset();  // the reactor goes away
  session->Close();
  TENSORD_FUZZ_CHECK(session->context().memory().used() == 0, "%lld bytes held after close",
                     static_cast<long long>(session->context().memory().used()));
  return 0;
}
