#include "checkpoint/safetensors.h"

#include <algorithm>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace tensord::safetensors {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr char kMetadataKey[] = "__metadata__";

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("not a valid safetensors file: ", what));
}

// The byte count of `shape` x `dtype`, or an error when a size is negative or the count overflows.
absl::StatusOr<uint64_t> ByteCount(const std::vector<int64_t>& shape, DType dtype,
                                   absl::string_view name) {
  uint64_t n = ItemSize(dtype);
  bool zero = false;
  for (int64_t d : shape) {
    if (d < 0) return Bad(absl::StrCat("tensor '", name, "' has a negative size ", d));
    if (d == 0) zero = true;
  }
  if (zero) return 0;
  for (int64_t d : shape) {
    if (n > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d) ||
        n * static_cast<uint64_t>(d) > static_cast<uint64_t>(INT64_MAX)) {
      return Bad(absl::StrCat("the byte count of tensor '", name, "' overflows"));
    }
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

// The deepest nesting of objects and arrays in `json` (strings skipped). The format nests three
// deep; checking first keeps a hostile header from costing a deep recursion anywhere.
int NestingDepth(absl::string_view json) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : json) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

absl::string_view DTypeCode(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "F32";
    case DType::kFloat64:
      return "F64";
    case DType::kInt64:
      return "I64";
    case DType::kBool:
      return "BOOL";
  }
  return "?";
}

absl::StatusOr<DType> ParseDTypeCode(absl::string_view code) {
  for (DType d : {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kBool}) {
    if (code == DTypeCode(d)) return d;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("safetensors dtype '", code.substr(0, 16),
                   "' is not supported by tensord (F32, F64, I64 and BOOL are)"));
}

absl::StatusOr<std::string> EncodeHeader(std::vector<Entry>& entries,
                                         const std::map<std::string, std::string>& metadata) {
  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) {
    OrderedJson meta = OrderedJson::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header[kMetadataKey] = std::move(meta);
  }
  std::set<absl::string_view> names;
  uint64_t offset = 0;
  for (Entry& e : entries) {
    if (e.name.empty() || e.name == kMetadataKey) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", e.name, "' cannot name a tensor in a safetensors file"));
    }
    if (!names.insert(e.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("tensor name '", e.name, "' given twice"));
    }
    absl::StatusOr<uint64_t> n = ByteCount(e.shape, e.dtype, e.name);
    if (!n.ok()) return absl::InvalidArgumentError(n.status().message());
    e.begin = offset;
    e.end = offset + *n;
    offset = e.end;
    header[e.name] = {{"dtype", std::string(DTypeCode(e.dtype))},
                      {"shape", e.shape},
                      {"data_offsets", {e.begin, e.end}}};
  }
  std::string json;
  try {
    json = header.dump();  // strict: a name or metadata that is not UTF-8 throws
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError("tensor names and metadata must be valid UTF-8");
  }
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += json;
  return out;
}

absl::StatusOr<uint64_t> ReadHeaderLength(absl::string_view first8, uint64_t file_size,
                                          const Limits& limits) {
  if (first8.size() < 8 || file_size < 8) return Bad("shorter than its 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t{static_cast<unsigned char>(first8[i])} << (8 * i);
  if (n > limits.max_header_bytes) {
    return Bad(absl::StrCat("header length ", n, " exceeds the limit of ", limits.max_header_bytes,
                            " bytes"));
  }
  if (n > file_size - 8) {
    return Bad(absl::StrCat("header length ", n, " runs past the end of the file (", file_size,
                            " bytes)"));
  }
  if (n < 2) return Bad("empty header");
  return n;
}

absl::StatusOr<Header> ParseHeader(absl::string_view json, uint64_t file_size,
                                   const Limits& limits) {
  Header h;
  h.data_start = 8 + json.size();
  if (file_size < h.data_start) return Bad("truncated header");
  h.data_bytes = file_size - h.data_start;
  if (NestingDepth(json) > 3) return Bad("the header nests deeper than the format allows");
  Json root = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Bad("the header is not valid JSON");
  if (!root.is_object()) return Bad("the header is not a JSON object");
  if (root.size() > limits.max_entries + 1) return Bad("too many tensors");
  for (auto& [name, value] : root.items()) {
    if (name == kMetadataKey) {
      if (!value.is_object()) return Bad("__metadata__ is not an object");
      for (auto& [k, v] : value.items()) {
        if (!v.is_string()) return Bad(absl::StrCat("metadata '", k, "' is not a string"));
        h.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) return Bad(absl::StrCat("entry '", name, "' is not an object"));
    if (value.size() != 3 || !value.contains("dtype") || !value.contains("shape") ||
        !value.contains("data_offsets")) {
      return Bad(absl::StrCat("entry '", name, "' must have exactly dtype, shape, data_offsets"));
    }
    Entry e;
    e.name = name;
    const Json& dtype = value["dtype"];
    if (!dtype.is_string()) return Bad(absl::StrCat("entry '", name, "': dtype is not a string"));
    absl::StatusOr<DType> d = ParseDTypeCode(dtype.get<std::string>());
    if (!d.ok()) return d.status();
    e.dtype = *d;
    const Json& shape = value["shape"];
    if (!shape.is_array() || static_cast<int>(shape.size()) > limits.max_rank) {
      return Bad(absl::StrCat("entry '", name, "': shape is not a list of at most ",
                              limits.max_rank, " sizes"));
    }
    for (const Json& s : shape) {
      if (!s.is_number_unsigned() || s.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return Bad(absl::StrCat("entry '", name, "': shape holds something not a size"));
      }
      e.shape.push_back(static_cast<int64_t>(s.get<uint64_t>()));
    }
    const Json& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      return Bad(absl::StrCat("entry '", name, "': data_offsets is not [begin, end]"));
    }
    e.begin = offsets[0].get<uint64_t>();
    e.end = offsets[1].get<uint64_t>();
    if (e.end < e.begin) return Bad(absl::StrCat("entry '", name, "': data_offsets end < begin"));
    absl::StatusOr<uint64_t> n = ByteCount(e.shape, e.dtype, name);
    if (!n.ok()) return n.status();
    if (*n != e.end - e.begin) {
      return Bad(absl::StrCat("entry '", name, "': data_offsets span ", e.end - e.begin,
                              " bytes but its dtype and shape need ", *n));
    }
    h.entries.push_back(std::move(e));
  }
  std::sort(h.entries.begin(), h.entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const Entry& e : h.entries) {
    if (e.begin != at) {
      return Bad(absl::StrCat("entry '", e.name, "' starts at ", e.begin, ", not at ", at,
                              " (overlapping or with a gap)"));
    }
    at = e.end;
  }
  if (at != h.data_bytes) {
    return Bad(absl::StrCat("the tensors cover ", at, " bytes but the data section has ",
                            h.data_bytes, " (truncated, or bytes left over)"));
  }
  return h;
}

absl::StatusOr<Header> Parse(absl::string_view file, const Limits& limits) {
  absl::StatusOr<uint64_t> n = ReadHeaderLength(file.substr(0, 8), file.size(), limits);
  if (!n.ok()) return n.status();
  return ParseHeader(file.substr(8, *n), file.size(), limits);
}

}  // namespace tensord::safetensors
