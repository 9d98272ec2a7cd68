// libFuzzer harness: TensorData decoding (server/convert.cc), the path every inline tensor value
// of CreateTensor takes, and what the server does with a decoded tensor: encode it back (also
// through a strided view), print it (PyTorch's repr), describe it.
//
// The first byte picks the mode: < 96, the rest is a serialized tensord.v1.TensorData; otherwise
// the bytes are decisions (fuzz_input.h) that build one: a dtype (or an invalid one), a shape
// with edge sizes, and values with edge elements, of the right byte length or not.
//
// Invariants: decoding either fails cleanly or gives a tensor of the wire's dtype and shape whose
// encoding is the wire's bytes (bools normalised to 0/1); a transposed view encodes as the
// transpose; decoding charges the session's account and closing gives every byte back.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/api.h"
#include "engine/context.h"
#include "server/convert.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tensord;
  using namespace tensord::fuzz;
  if (size == 0) return 0;
  const server::ServerOptions& options = FuzzOptions();
  pb::TensorData wire;
  bool requires_grad = false;
  if (data[0] < 96) {
    if (!wire.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
    requires_grad = (data[0] & 1) != 0;
  } else {
    FuzzInput in(data + 1, size - 1);
    wire.set_dtype(EdgeDType(in));
    EdgeShape(in, [&](int64_t d) { wire.add_shape(d); });
    const int64_t numel = WireNumel(wire.shape());
    if (numel <= kMaxElements && in.Chance(230)) {
      *wire.mutable_data() = EdgeValues(in, wire.dtype(), numel);
    } else {
      *wire.mutable_data() = in.String(64);
    }
    requires_grad = in.Chance(100);
  }

  std::unique_ptr<server::Session> session = NewSession();
  ContextGuard guard(session->context());
  {
    absl::StatusOr<Tensor> decoded = server::FromProto(wire, options, requires_grad);
    if (!decoded.ok()) {
      TENSORD_FUZZ_CHECK(session->context().memory().used() == 0, "a failed decode kept %lld bytes",
                         static_cast<long long>(session->context().memory().used()));
      return 0;
    }
    const Tensor& t = *decoded;
    TENSORD_FUZZ_CHECK(server::ToProto(t.dtype()) == wire.dtype(), "dtype changed");
    TENSORD_FUZZ_CHECK(t.dim() == wire.shape_size(), "rank changed");
    for (int i = 0; i < wire.shape_size(); ++i)
      TENSORD_FUZZ_CHECK(t.shape()[i] == wire.shape(i), "size %d changed", i);
    TENSORD_FUZZ_CHECK(t.requires_grad() == requires_grad, "requires_grad changed");
    TENSORD_FUZZ_CHECK(t.numel() <= options.max_tensor_elements, "over the element limit");

    pb::TensorData back;
    server::ToProto(t, &back);
    std::string expected = wire.data();
    if (wire.dtype() == pb::DTYPE_BOOL) {
      for (char& c : expected) c = c != 0 ? 1 : 0;
    }
    TENSORD_FUZZ_CHECK(back.data() == expected, "the encoding differs from the wire bytes");

    // A strided view encodes as the transpose of the bytes.
    if (t.dim() == 2 && t.numel() > 0) {
      absl::StatusOr<Tensor> tt = ops::transpose(t, 0, 1);
      TENSORD_FUZZ_CHECK(tt.ok(), "transpose: %s", tt.status().ToString().c_str());
      pb::TensorData tb;
      server::ToProto(*tt, &tb);
      const int64_t rows = t.shape()[0], cols = t.shape()[1];
      const size_t item = WireItemSize(wire.dtype());
      TENSORD_FUZZ_CHECK(tb.data().size() == expected.size(), "transposed size");
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < cols; ++j) {
          const size_t src = static_cast<size_t>(i * cols + j) * item;
          const size_t dst = static_cast<size_t>(j * rows + i) * item;
          TENSORD_FUZZ_CHECK(tb.data().compare(dst, item, expected, src, item) == 0,
                             "transposed element (%lld, %lld)", static_cast<long long>(i),
                             static_cast<long long>(j));
        }
      }
    }

    pb::TensorInfo info;
    server::FillInfo(7, t, &info);
    const std::string repr = t.ToString();
    TENSORD_FUZZ_CHECK(repr.rfind("tensor(", 0) == 0, "repr %s", repr.c_str());
  }
  session->Close();
  TENSORD_FUZZ_CHECK(session->context().memory().used() == 0, "bytes held after close");
  return 0;
}
