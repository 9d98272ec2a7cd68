// Tensor printing in PyTorch 1.13's format (torch/_tensor_str.py with default print options:
// precision 4, threshold 1000, edgeitems 3, linewidth 80).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/context.h"
#include "engine/format.h"
#include "engine/node.h"
#include "engine/tensor.h"

namespace tensord {
namespace {

constexpr int kPrecision = 4;
constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdgeItems = 3;
constexpr int kLineWidth = 80;

std::string FormatE(double v, int width = 0) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%*.*e", width, kPrecision, v);
  return buf;
}

// Python's '{:.Nf}' spells non-finite values "inf", "-inf" and "nan".
std::string FormatF(double v, int precision) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%.*f", precision, v);
  return buf;
}

struct Element {
  double d = 0;
  int64_t i = 0;
};

Element Read(const Tensor& t, int64_t offset) {
  const char* p = t.raw_data() + offset * static_cast<int64_t>(ItemSize(t.dtype()));
  Element e;
  if (t.dtype() == DType::kInt64) {
    e.i = *reinterpret_cast<const int64_t*>(p);
    e.d = static_cast<double>(e.i);
  } else {
    e.d = ReadAsDouble(p, t.dtype());
  }
  return e;
}

// The indices along a dim that printing shows.
std::vector<int64_t> ShownIndices(int64_t n, bool summarize) {
  std::vector<int64_t> idx;
  if (summarize && n > 2 * kEdgeItems) {
    for (int64_t i = 0; i < kEdgeItems; ++i) idx.push_back(i);
    for (int64_t i = n - kEdgeItems; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  }
  return idx;
}

void Collect(const Tensor& t, size_t dim, int64_t offset, bool summarize,
             std::vector<Element>& out) {
  if (dim == t.shape().size()) {
    out.push_back(Read(t, offset));
    return;
  }
  for (int64_t i : ShownIndices(t.shape()[dim], summarize)) {
    Collect(t, dim + 1, offset + i * t.strides()[dim], summarize, out);
  }
}

class Formatter {
 public:
  Formatter(DType dtype, const std::vector<Element>& values) : dtype_(dtype) {
    if (!IsFloating(dtype)) {
      for (const Element& e : values) max_width_ = std::max(max_width_, Plain(e).size());
      return;
    }
    std::vector<double> nz;
    for (const Element& e : values)
      if (std::isfinite(e.d) && e.d != 0) nz.push_back(e.d);
    if (nz.empty()) return;
    double lo = INFINITY, hi = 0;
    for (double v : nz) {
      lo = std::min(lo, std::fabs(v));
      hi = std::max(hi, std::fabs(v));
      if (v != std::ceil(v)) int_mode_ = false;
    }
    if (int_mode_) {
      if (hi / lo > 1000. || hi > 1.e8) {
        sci_ = true;
        for (double v : nz) max_width_ = std::max(max_width_, FormatE(v).size());
      } else {
        for (double v : nz) max_width_ = std::max(max_width_, FormatF(v, 0).size() + 1);
      }
    } else if (hi / lo > 1000. || hi > 1.e8 || lo < 1.e-4) {
      sci_ = true;
      for (double v : nz) max_width_ = std::max(max_width_, FormatE(v).size());
    } else {
      for (double v : nz) max_width_ = std::max(max_width_, FormatF(v, kPrecision).size());
    }
  }

  size_t width() const { return max_width_; }

  std::string Format(const Element& e) const {
    std::string s;
    if (!IsFloating(dtype_)) {
      s = Plain(e);
    } else if (sci_) {
      s = std::isfinite(e.d) ? FormatE(e.d, static_cast<int>(max_width_)) : FormatF(e.d, 0);
    } else if (int_mode_) {
      s = FormatF(e.d, 0);
      if (std::isfinite(e.d)) s += ".";
    } else {
      s = FormatF(e.d, kPrecision);
    }
    if (s.size() < max_width_) s.insert(0, max_width_ - s.size(), ' ');
    return s;
  }

 private:
  std::string Plain(const Element& e) const {
    if (dtype_ == DType::kBool) return e.d != 0 ? "True" : "False";
    return absl::StrCat(e.i);
  }

  DType dtype_;
  bool int_mode_ = true;
  bool sci_ = false;
  size_t max_width_ = 1;
};

std::string VectorStr(const Tensor& t, int64_t offset, int indent, bool summarize,
                      const Formatter& f) {
  const size_t element_length = f.width() + 2;
  const size_t per_line = std::max<size_t>(1, (kLineWidth - indent) / element_length);
  std::vector<std::string> data;
  const int64_t n = t.shape().back();
  const int64_t stride = t.strides().back();
  const auto shown = ShownIndices(n, summarize);
  for (size_t k = 0; k < shown.size(); ++k) {
    if (summarize && n > 2 * kEdgeItems && k == static_cast<size_t>(kEdgeItems))
      data.push_back(" ...");
    data.push_back(f.Format(Read(t, offset + shown[k] * stride)));
  }
  std::vector<std::string> lines;
  for (size_t i = 0; i < data.size(); i += per_line) {
    std::vector<std::string> line(
        data.begin() + static_cast<int64_t>(i),
        data.begin() + static_cast<int64_t>(std::min(data.size(), i + per_line)));
    lines.push_back(absl::StrJoin(line, ", "));
  }
  return absl::StrCat("[", absl::StrJoin(lines, absl::StrCat(",\n", std::string(indent + 1, ' '))),
                      "]");
}

std::string TensorStr(const Tensor& t, size_t dim, int64_t offset, int indent, bool summarize,
                      const Formatter& f) {
  const size_t nd = t.shape().size();
  if (nd == 0) return f.Format(Read(t, offset));
  if (dim == nd - 1) return VectorStr(t, offset, indent, summarize, f);
  const int64_t n = t.shape()[dim];
  std::vector<std::string> slices;
  const auto shown = ShownIndices(n, summarize);
  for (size_t k = 0; k < shown.size(); ++k) {
    if (summarize && n > 2 * kEdgeItems && k == static_cast<size_t>(kEdgeItems))
      slices.push_back("...");
    slices.push_back(
        TensorStr(t, dim + 1, offset + shown[k] * t.strides()[dim], indent + 1, summarize, f));
  }
  const size_t remaining = nd - dim;
  return absl::StrCat("[",
                      absl::StrJoin(slices, absl::StrCat(",", std::string(remaining - 1, '\n'),
                                                         std::string(indent + 1, ' '))),
                      "]");
}

std::string AddSuffixes(const std::string& tensor_str, const std::vector<std::string>& suffixes,
                        int indent) {
  std::string out = tensor_str;
  const size_t nl = tensor_str.rfind('\n');
  size_t last_line_len =
      nl == std::string::npos ? tensor_str.size() + 1 : tensor_str.size() - nl + 1;
  for (const std::string& s : suffixes) {
    if (last_line_len + s.size() + 2 > static_cast<size_t>(kLineWidth)) {
      absl::StrAppend(&out, ",\n", std::string(indent, ' '), s);
      last_line_len = indent + s.size();
    } else {
      absl::StrAppend(&out, ", ", s);
      last_line_len += s.size() + 2;
    }
  }
  return out + ")";
}

}  // namespace

std::string FormatTensor(const Tensor& t, absl::string_view grad_fn, bool requires_grad,
                         DType default_dtype) {
  if (!t.defined()) return "None";
  const std::string prefix = "tensor(";
  const int indent = static_cast<int>(prefix.size());
  std::vector<std::string> suffixes;
  std::string body;
  if (t.numel() == 0) {
    if (t.dim() != 1)
      suffixes.push_back(absl::StrCat("size=(", absl::StrJoin(t.shape(), ", "), ")"));
    if (t.dtype() != default_dtype)
      suffixes.push_back(absl::StrCat("dtype=", TorchDTypeName(t.dtype())));
    body = "[]";
  } else {
    if (t.dtype() != default_dtype && t.dtype() != DType::kInt64 && t.dtype() != DType::kBool) {
      suffixes.push_back(absl::StrCat("dtype=", TorchDTypeName(t.dtype())));
    }
    const bool summarize = t.numel() > kThreshold;
    std::vector<Element> shown;
    Collect(t, 0, 0, summarize, shown);
    Formatter f(t.dtype(), shown);
    body = TensorStr(t, 0, 0, indent, summarize, f);
  }
  if (!grad_fn.empty()) {
    std::string name(grad_fn);
    if (const size_t p = name.rfind("::"); p != std::string::npos) name = name.substr(p + 2);
    suffixes.push_back(absl::StrCat("grad_fn=<", name, ">"));
  } else if (requires_grad) {
    suffixes.push_back("requires_grad=True");
  }
  return AddSuffixes(prefix + body, suffixes, indent);
}

std::string Tensor::ToString() const {
  if (!defined()) return "None";
  return FormatTensor(*this, grad_fn() ? grad_fn()->name() : "", requires_grad(),
                      Context::Current().default_dtype());
}

}  // namespace tensord
