// The safetensors file format (https://github.com/huggingface/safetensors), the tensor
// interchange format of the wider ecosystem: an 8-byte little-endian header length N, N bytes of
// JSON header, then the raw little-endian bytes of every tensor, back to back.
//
//   {"__metadata__": {"key": "value", ...},                  (optional; string values only)
//    "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
//
// data_offsets are [begin, end) relative to the first byte after the header; the entries tile the
// data section exactly (no gap, no overlap, nothing after the last one). This library only lays
// out and checks headers: it holds no tensors and does no I/O, so the server, the client and the
// session snapshots share it (and the engine links none of it). Pure: no gRPC, no protobuf.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/dtype.h"

namespace tensord::safetensors {

// "F32", "F64", "I64", "BOOL": the safetensors names of tensord's dtypes.
absl::string_view DTypeCode(DType dtype);
// INVALID_ARGUMENT for a dtype tensord has no equivalent of (F16, BF16, I32, U8, ...).
absl::StatusOr<DType> ParseDTypeCode(absl::string_view code);

struct Entry {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  // [begin, end) within the data section; filled in by EncodeHeader.
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t nbytes() const { return end - begin; }
};

struct Header {
  std::vector<Entry> entries;  // ordered by data offset
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // 8 + N: the file offset of the data section
  uint64_t data_bytes = 0;  // the data section's length
};

struct Limits {
  // The format's own bound on N (100 MB); a reader refuses larger headers before reading them.
  uint64_t max_header_bytes = 100'000'000;
  int max_rank = 64;
  uint64_t max_entries = 1'000'000;
};

// Lays `entries` out back to back in the given order (their offsets are overwritten) and returns
// the bytes that start the file: the 8-byte length and the JSON header, padded with spaces to a
// multiple of 8 so the data section is aligned. INVALID_ARGUMENT for an empty or duplicate name,
// the reserved name "__metadata__", a negative size or an overflowing byte count.
absl::StatusOr<std::string> EncodeHeader(std::vector<Entry>& entries,
                                         const std::map<std::string, std::string>& metadata);

// The header length N from the file's first 8 bytes, checked against the limit and against the
// file's size (N + 8 <= file_size).
absl::StatusOr<uint64_t> ReadHeaderLength(absl::string_view first8, uint64_t file_size,
                                          const Limits& limits = {});

// Parses and checks the N header bytes of a file of `file_size` bytes: valid JSON object; each
// entry has exactly a known dtype, a shape of non-negative sizes and two data_offsets whose span
// equals the shape's byte count; the entries tile the data section [0, file_size - 8 - N) exactly;
// names are unique; metadata values are strings. Everything else is INVALID_ARGUMENT, naming the
// first problem.
absl::StatusOr<Header> ParseHeader(absl::string_view json, uint64_t file_size,
                                   const Limits& limits = {});

// ReadHeaderLength + ParseHeader over a whole file held in memory.
absl::StatusOr<Header> Parse(absl::string_view file, const Limits& limits = {});

}  // namespace tensord::safetensors
