// tensord's C++ client: remote tensors with PyTorch's autograd, written like libtorch.
//
//   namespace td = tensord::client;
//   td::Session s = td::Session::Connect({.address = "127.0.0.1:50051"});
//   td::Tensor x = s.ones({2, 2}, td::requires_grad());
//   td::Tensor y = (x * x + 2).sum();
//   y.backward();
//   std::cout << x.grad() << "\n";   // tensor([[2., 2.], [2., 2.]])
//
// Round trips: an op returns at once with a handle the client chose; commands go down one
// pipelined gRPC stream and the client blocks only when it needs a value (item(), printing,
// grad(), metadata, Flush()). Errors: the library throws tensord::client::Error (gRPC code +
// PyTorch's message + the command that caused it). An error of a pipelined command is thrown by
// the next call that waits for the server. Every method that talks to the server may throw.
// Threads: like a torch module's state, a Session (its grad mode, its pending errors) belongs to
// one thread at a time; use one Session per thread (tensors may be dropped from any thread).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace tensord::v1 {
class AttrValue;
}

namespace tensord::client {

enum class DType : uint8_t { kFloat32, kFloat64, kInt64, kBool };
inline constexpr DType kFloat32 = DType::kFloat32;
inline constexpr DType kFloat64 = DType::kFloat64;
inline constexpr DType kInt64 = DType::kInt64;
inline constexpr DType kBool = DType::kBool;
const char* DTypeName(DType d);  // "torch.float32"

// A Python-like number: remembers whether it was an integer (type promotion depends on it).
struct Scalar {
  Scalar(double v) : value(v), integral(false) {}  // NOLINT: implicit, like a number literal
  Scalar(float v) : value(v), integral(false) {}   // NOLINT
  Scalar(int v) : value(v), integral(true) {}      // NOLINT
  Scalar(int64_t v) : value(static_cast<double>(v)), integral(true) {}  // NOLINT
  double value;
  bool integral;
};

// What failed, with the server's gRPC status code and PyTorch's text.
class Error : public std::runtime_error {
 public:
  Error(int code, std::string message, std::string command);
  int code() const { return code_; }                       // grpc::StatusCode value
  const std::string& message() const { return message_; }  // the server's text
  const std::string& command() const { return command_; }  // e.g. "mm" or "backward"
 private:
  int code_;
  std::string message_;
  std::string command_;
};

struct TensorOptions {
  std::optional<DType> dtype_;
  bool requires_grad_ = false;
  TensorOptions& dtype(DType d) {
    dtype_ = d;
    return *this;
  }
  TensorOptions& requires_grad(bool r = true) {
    requires_grad_ = r;
    return *this;
  }
};
inline TensorOptions requires_grad(bool r = true) { return TensorOptions().requires_grad(r); }
inline TensorOptions dtype(DType d) { return TensorOptions().dtype(d); }

struct ConnectOptions {
  std::string address = "127.0.0.1:50051";
  std::string token;  // bearer token, if the server wants one
  bool tls = false;
  std::string root_certificates;  // PEM; empty with tls: system roots
  double deadline_seconds = 60;   // per synchronous call
  uint64_t seed = 0;              // the session's random seed (0: server picks)
  int64_t ttl_seconds = 0;        // idle TTL (0: server default)
  bool pipelined = true;          // false: one RPC per command, errors thrown at once
  bool own_connection = false;    // true: this session gets its own HTTP/2 connection
};

class Tensor;
class Session;
using Attrs = std::vector<std::pair<std::string, v1::AttrValue>>;

// A backward node as PyTorch shows it: name() and next_functions().
class Node {
 public:
  const std::string& name() const { return name_; }
  // (node or nullptr for None, input_nr), like grad_fn.next_functions.
  const std::vector<std::pair<std::shared_ptr<Node>, uint32_t>>& next_functions() const {
    return next_;
  }
  // The saved tensors this node still holds (false) or has freed after backward (true).
  const std::vector<std::pair<std::string, bool>>& saved_tensors() const { return saved_; }

 private:
  friend class Session;
  friend class Tensor;
  std::string name_;
  std::vector<std::pair<std::shared_ptr<Node>, uint32_t>> next_;
  std::vector<std::pair<std::string, bool>> saved_;
};

namespace detail {
class SessionImpl;
struct Handle;
template <typename R>
R Unpack(std::vector<Tensor> v);
}  // namespace detail

class Tensor {
 public:
  Tensor() = default;  // undefined: None
  bool defined() const { return h_ != nullptr; }
  uint64_t id() const;
  Session session() const;

  // Metadata (shape and dtype are known locally once the creating command has answered).
  std::vector<int64_t> sizes() const;
  int64_t size(int64_t dim) const;
  int64_t dim() const;
  int64_t numel() const;
  DType dtype() const;

  // Autograd.
  bool requires_grad() const;
  Tensor& requires_grad_(bool flag = true);
  void set_requires_grad(bool flag);
  bool is_leaf() const;
  std::shared_ptr<Node> grad_fn() const;  // nullptr for None
  uint32_t version() const;
  Tensor grad() const;  // undefined when None
  void set_grad(const Tensor& grad);
  void retain_grad() const;
  bool retains_grad() const;
  Tensor detach() const;
  // x.detach_(): drops x's history in place (refused on views, as in PyTorch).
  Tensor& detach_();
  Tensor data() const;
  // x.data = source (PyTorch's set_data): x takes source's values, shape and dtype and keeps
  // its history, .grad and flags. Waits for the server's answer (x's shape may change).
  void set_data(const Tensor& source);
  void backward(const Tensor& gradient = Tensor(), std::optional<bool> retain_graph = std::nullopt,
                bool create_graph = false) const;

  // Values.
  template <typename T>
  T item() const;
  template <typename T>
  std::vector<T> to_vector() const;
  std::string str() const;  // PyTorch's repr

  // Every op of the engine's table, generated from it (see client/gen_ops.cc).
#include "tensord/client_ops_decl.inc"

  // Conveniences on top of the generated ones (PyTorch's overloads by group, x.sum({0}, true),
  // x.max(1), x.pow(2), come from the schemas).
  Tensor operator[](int64_t index) const;  // select(0, index)
  Tensor reshape(std::initializer_list<int64_t> shape) const {
    return reshape(std::vector<int64_t>(shape));
  }
  Tensor view(std::initializer_list<int64_t> shape) const {
    return view(std::vector<int64_t>(shape));
  }
  Tensor add(Scalar other) const;
  Tensor sub(Scalar other) const;
  Tensor mul(Scalar other) const;
  Tensor div(Scalar other) const;
  Tensor& add_(Scalar other);
  Tensor& sub_(Scalar other);
  Tensor& mul_(Scalar other);
  Tensor& div_(Scalar other);

 private:
  friend class Session;
  friend class detail::SessionImpl;
  explicit Tensor(std::shared_ptr<detail::Handle> h) : h_(std::move(h)) {}
  std::shared_ptr<detail::Handle> h_;
};

#include "tensord/client_ops_free.inc"

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, Scalar b);
Tensor operator-(const Tensor& a, Scalar b);
Tensor operator*(const Tensor& a, Scalar b);
Tensor operator/(const Tensor& a, Scalar b);
Tensor operator+(Scalar a, const Tensor& b);
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator*(Scalar a, const Tensor& b);
Tensor operator/(Scalar a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, Scalar b);
Tensor operator>(const Tensor& a, Scalar b);
std::ostream& operator<<(std::ostream& os, const Tensor& t);

// A connected session. Copies share the connection; the session is closed when the last copy
// (and the last tensor of it) goes away.
class Session {
 public:
  static Session Connect(const ConnectOptions& options = {});

  const std::string& id() const;

  // torch.tensor(values) (row-major; shape {} gives a 1-D tensor). The factories (zeros, full,
  // arange, eye, rand, randint, normal, zeros_like, ...) are table ops, generated below with their
  // ATen arguments and a TensorOptions (dtype, requires_grad) as libtorch's at::zeros has.
  Tensor tensor(const std::vector<double>& values, std::vector<int64_t> shape = {},
                TensorOptions options = {});
  Tensor scalar(Scalar value);  // a 0-dim tensor with a Python number's promotion rules
  // Every op of the table as torch.NAME: t.exp(x), t.sum(x, {0}), t.linear(x, w, b),
  // t.cat({a, b}) (generated from the ATen schemas, see client/gen_ops.cc).
#include "tensord/client_ops_session.inc"

  // torch.set_grad_enabled / torch.is_grad_enabled for this session.
  void set_grad_enabled(bool enabled);
  bool is_grad_enabled() const;

  // Server-side checkpoints: torch.save / torch.load of named tensors as a safetensors file at
  // `path` under the server's --checkpoint_dir (requires_grad kept; include_grad: each .grad
  // too). Loaded tensors are new leaves. Throws like any command (INVALID_ARGUMENT for a path
  // that would leave the directory or a malformed file, FAILED_PRECONDITION without
  // --checkpoint_dir).
  void save(const std::map<std::string, Tensor>& tensors, const std::string& path,
            bool include_grad = false);
  std::map<std::string, Tensor> load(const std::string& path);

  // Waits for every command sent so far; throws the first error among them.
  void Flush();
  void KeepAlive();
  // Closes the server session now (tensors of it become unusable).
  void Close();

  // Low level: any table op by name (num_outputs: the table's count; 0 for in-place names).
  std::vector<Tensor> Apply(const std::string& op, const std::vector<Tensor>& inputs, Attrs attrs,
                            int num_outputs);
  // A factory op by name: Apply with the options' dtype and requires_grad as attributes.
  Tensor Factory(const std::string& op, const std::vector<Tensor>& inputs, Attrs attrs,
                 const TensorOptions& options);
  // Counters, for benchmarks: commands sent, and synchronous waits.
  uint64_t commands_sent() const;
  uint64_t round_trips() const;
  // Internal: the connection state shared by the session's tensors.
  const std::shared_ptr<detail::SessionImpl>& impl() const { return impl_; }

 private:
  friend class Tensor;
  friend class NoGradGuard;
  explicit Session(std::shared_ptr<detail::SessionImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<detail::SessionImpl> impl_;
};

// torch.no_grad() for a session, as a scope.
class NoGradGuard {
 public:
  explicit NoGradGuard(Session session);
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  Session session_;
  bool previous_;
};

namespace autograd {
// torch.autograd.grad: one gradient per input (undefined where allow_unused left it None).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {},
                         std::optional<bool> retain_graph = std::nullopt, bool create_graph = false,
                         bool allow_unused = false);
// torch.autograd.backward.
void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors = {},
              std::optional<bool> retain_graph = std::nullopt, bool create_graph = false,
              const std::vector<Tensor>& inputs = {});
}  // namespace autograd

}  // namespace tensord::client
