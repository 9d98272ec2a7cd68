#include "tensord/client.h"

#include <cstring>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "client/session_impl.h"
#include "engine/context.h"
#include "engine/format.h"
#include "proto/wire.h"

namespace tensord::client {

using detail::Pending;
using detail::SessionImpl;
namespace pb = ::tensord::v1;

namespace {

// The client's public DType lists the engine's dtypes in the same order.
#define TENSORD_CLIENT_DTYPE_MATCHES_(e, t, n, l, p) \
  static_assert(static_cast<int>(DType::e) == static_cast<int>(tensord::DType::e));
TENSORD_FORALL_DTYPES(TENSORD_CLIENT_DTYPE_MATCHES_)
#undef TENSORD_CLIENT_DTYPE_MATCHES_

pb::DType ToProto(DType d) { return wire::ToProto(static_cast<tensord::DType>(d)); }

DType FromProto(pb::DType d) {
  absl::StatusOr<tensord::DType> dtype = wire::FromProto(d);
  if (!dtype.ok()) {
    throw Error(grpc::StatusCode::INTERNAL, std::string(dtype.status().message()), "dtype");
  }
  return static_cast<DType>(*dtype);
}

pb::AttrValue ToAttr(bool v) {
  pb::AttrValue a;
  a.set_b(v);
  return a;
}
pb::AttrValue ToAttr(int64_t v) {
  pb::AttrValue a;
  a.set_i(v);
  return a;
}
pb::AttrValue ToAttr(double v) {
  pb::AttrValue a;
  a.set_f(v);
  return a;
}
pb::AttrValue ToAttr(Scalar v) {
  return v.integral ? ToAttr(static_cast<int64_t>(v.value)) : ToAttr(v.value);
}
pb::AttrValue ToAttr(const std::vector<int64_t>& v) {
  pb::AttrValue a;
  auto* ints = a.mutable_ints();  // set even when empty: [] (zeros({})), not None
  for (int64_t x : v) ints->add_values(x);
  return a;
}
pb::AttrValue ToAttr(DType v) {
  pb::AttrValue a;
  a.set_dtype(ToProto(v));
  return a;
}
pb::AttrValue ToAttr(const std::string& v) {
  pb::AttrValue a;
  a.set_s(v);
  return a;
}
template <typename T>
pb::AttrValue ToAttr(const std::optional<T>& v) {
  if (v) return ToAttr(*v);
  pb::AttrValue a;
  a.set_none(true);
  return a;
}

SessionImpl& Impl(const std::shared_ptr<SessionImpl>& impl) {
  if (!impl) throw Error(grpc::StatusCode::FAILED_PRECONDITION, "undefined tensor (None)", "");
  return *impl;
}

}  // namespace

const char* DTypeName(DType d) {
  switch (d) {
    case DType::kFloat32:
      return "torch.float32";
    case DType::kFloat64:
      return "torch.float64";
    case DType::kInt64:
      return "torch.int64";
    case DType::kBool:
      return "torch.bool";
  }
  return "?";
}

Error::Error(int code, std::string message, std::string command)
    : std::runtime_error(command.empty() ? message : absl::StrCat(command, ": ", message)),
      code_(code),
      message_(std::move(message)),
      command_(std::move(command)) {}

namespace detail {

template <>
Tensor Unpack<Tensor>(std::vector<Tensor> v) {
  return std::move(v.at(0));
}
template <>
std::tuple<Tensor, Tensor> Unpack<std::tuple<Tensor, Tensor>>(std::vector<Tensor> v) {
  return {std::move(v.at(0)), std::move(v.at(1))};
}
template <>
std::vector<Tensor> Unpack<std::vector<Tensor>>(std::vector<Tensor> v) {
  return v;
}

Session SessionOf(const std::vector<Tensor>& tensors) {
  for (const Tensor& t : tensors)
    if (t.defined()) return t.session();
  throw Error(grpc::StatusCode::INVALID_ARGUMENT, "expected at least one defined tensor", "");
}

}  // namespace detail

// ---- Session ---------------------------------------------------------------------------------

Session Session::Connect(const ConnectOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.root_certificates;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // gRPC shares one connection between channels to the same address unless told otherwise.
  if (options.own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto impl = std::make_shared<SessionImpl>(
      options, grpc::CreateCustomChannel(options.address, creds, args));
  impl->Open();
  return Session(std::move(impl));
}

const std::string& Session::id() const { return impl_->session_id; }
void Session::Flush() { impl_->Flush(); }
void Session::Close() { impl_->Close(); }
uint64_t Session::commands_sent() const { return impl_->commands_sent; }
uint64_t Session::round_trips() const { return impl_->round_trips; }

void Session::KeepAlive() {
  pb::SessionRequest req;
  req.set_session_id(impl_->session_id);
  pb::KeepAliveResponse resp;
  grpc::Status s = impl_->stub->KeepAlive(impl_->Context(true).get(), req, &resp);
  if (!s.ok()) throw Error(s.error_code(), s.error_message(), "KeepAlive");
}

void Session::save(const std::map<std::string, Tensor>& tensors, const std::string& path,
                   bool include_grad) {
  pb::Command c;
  pb::SaveRequest* req = c.mutable_save();
  req->set_path(path);
  req->set_include_grad(include_grad);
  for (const auto& [name, t] : tensors) (*req->mutable_tensors())[name] = t.id();
  impl_->Wait(impl_->Send(std::move(c), "save"));
}

std::map<std::string, Tensor> Session::load(const std::string& path) {
  pb::Command c;
  c.mutable_load()->set_path(path);
  std::shared_ptr<detail::Pending> p = impl_->Send(std::move(c), "load");
  const pb::CommandResult& r = impl_->Wait(p);
  std::map<std::string, Tensor> out;
  for (int i = 0; i < r.load().names_size(); ++i) {
    out.emplace(r.load().names(i), impl_->MakeTensor(r.load().tensors(i).id(), p, i));
  }
  return out;
}

void Session::set_grad_enabled(bool enabled) {
  pb::Command c;
  c.mutable_set_grad_mode()->set_enabled(enabled);
  impl_->Send(std::move(c), "set_grad_enabled");
  impl_->grad_enabled = enabled;
}

bool Session::is_grad_enabled() const { return impl_->grad_enabled; }

std::vector<Tensor> Session::Apply(const std::string& op, const std::vector<Tensor>& inputs,
                                   Attrs attrs, int num_outputs) {
  pb::Command c;
  pb::ApplyOpRequest* req = c.mutable_apply_op();
  req->set_op(op);
  for (const Tensor& t : inputs) {
    if (!t.defined()) {  // None: an optional input (`Tensor? bias`); the server refuses others
      req->add_inputs(0);
      continue;
    }
    if (t.h_->session != impl_) {
      throw Error(grpc::StatusCode::INVALID_ARGUMENT, "an input belongs to another session", op);
    }
    req->add_inputs(t.h_->id);
  }
  for (auto& [name, value] : attrs) (*req->mutable_attrs())[name] = std::move(value);
  std::vector<uint64_t> ids;
  for (int i = 0; i < num_outputs; ++i) {
    ids.push_back(impl_->NewId());
    req->add_outputs(ids.back());
  }
  std::shared_ptr<Pending> p = impl_->Send(std::move(c), op);
  std::vector<Tensor> out;
  if (num_outputs >= 0) {
    for (int i = 0; i < num_outputs; ++i) out.push_back(impl_->MakeTensor(ids[i], p, i));
    return out;
  }
  // The number of results depends on the inputs (unbind): wait for them.
  const pb::CommandResult& r = impl_->Wait(p);
  for (int i = 0; i < r.tensors().tensors_size(); ++i) {
    out.push_back(impl_->MakeTensor(r.tensors().tensors(i).id(), p, i));
  }
  return out;
}

Tensor Session::Factory(const std::string& op, const std::vector<Tensor>& inputs, Attrs attrs,
                        const TensorOptions& options) {
  if (options.dtype_) attrs.push_back({"dtype", ToAttr(*options.dtype_)});
  if (options.requires_grad_) attrs.push_back({"requires_grad", ToAttr(true)});
  return Apply(op, inputs, std::move(attrs), 1)[0];
}

Tensor Session::tensor(const std::vector<double>& values, std::vector<int64_t> shape,
                       TensorOptions options) {
  if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
  const DType dt = options.dtype_.value_or(DType::kFloat32);
  pb::Command c;
  pb::CreateTensorRequest* req = c.mutable_create_tensor();
  const uint64_t id = impl_->NewId();
  req->set_id(id);
  req->set_requires_grad(options.requires_grad_);
  pb::TensorData* d = req->mutable_data();
  d->set_dtype(ToProto(dt));
  for (int64_t s : shape) d->add_shape(s);
  std::string* bytes = d->mutable_data();
  switch (dt) {
    case DType::kFloat32:
      for (double v : values) {
        const float f = static_cast<float>(v);
        bytes->append(reinterpret_cast<const char*>(&f), sizeof(f));
      }
      break;
    case DType::kFloat64:
      bytes->append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(double));
      break;
    case DType::kInt64:
      for (double v : values) {
        const int64_t i = static_cast<int64_t>(v);
        bytes->append(reinterpret_cast<const char*>(&i), sizeof(i));
      }
      break;
    case DType::kBool:
      for (double v : values) bytes->push_back(v != 0 ? 1 : 0);
      break;
  }
  return impl_->MakeTensor(id, impl_->Send(std::move(c), "tensor"), 0);
}

Tensor Session::scalar(Scalar value) {
  pb::Command c;
  pb::CreateTensorRequest* req = c.mutable_create_tensor();
  const uint64_t id = impl_->NewId();
  req->set_id(id);
  req->set_wrapped_number(true);
  pb::TensorData* d = req->mutable_data();
  if (value.integral) {
    d->set_dtype(pb::DTYPE_INT64);
    const int64_t i = static_cast<int64_t>(value.value);
    d->set_data(std::string(reinterpret_cast<const char*>(&i), sizeof(i)));
  } else {
    d->set_dtype(pb::DTYPE_FLOAT64);
    d->set_data(std::string(reinterpret_cast<const char*>(&value.value), sizeof(double)));
  }
  return impl_->MakeTensor(id, impl_->Send(std::move(c), "scalar"), 0);
}

NoGradGuard::NoGradGuard(Session session)
    : session_(std::move(session)), previous_(session_.is_grad_enabled()) {
  session_.set_grad_enabled(false);
}
NoGradGuard::~NoGradGuard() {
  try {
    session_.set_grad_enabled(previous_);
  } catch (...) {  // a broken connection surfaces at the next call instead
  }
}

// ---- Tensor ----------------------------------------------------------------------------------

uint64_t Tensor::id() const { return h_ ? h_->id : 0; }

Session Tensor::session() const {
  if (!h_) throw Error(grpc::StatusCode::FAILED_PRECONDITION, "undefined tensor (None)", "");
  return Session(h_->session);
}

namespace {
// The info the creating command returned (shape and dtype never change).
const pb::TensorInfo& CreatedInfo(const std::shared_ptr<detail::Handle>& h) {
  if (!h) throw Error(grpc::StatusCode::FAILED_PRECONDITION, "undefined tensor (None)", "");
  const pb::CommandResult& r = h->session->Wait(h->created);
  if (r.result_case() == pb::CommandResult::kGrad) return r.grad().grads(h->index);
  if (r.result_case() == pb::CommandResult::kLoad) return r.load().tensors(h->index);
  if (h->index >= r.tensors().tensors_size()) {
    throw Error(grpc::StatusCode::INTERNAL, "the server returned fewer tensors than expected",
                h->created->what);
  }
  return r.tensors().tensors(h->index);
}

pb::TensorInfo FreshInfo(const std::shared_ptr<detail::Handle>& h, const char* what) {
  if (!h) throw Error(grpc::StatusCode::FAILED_PRECONDITION, "undefined tensor (None)", what);
  pb::Command c;
  c.mutable_get_info()->set_id(h->id);
  return h->session->Wait(h->session->Send(std::move(c), what)).tensors().tensors(0);
}

void SendSimple(const std::shared_ptr<detail::Handle>& h, pb::Command c, const char* what) {
  if (!h) throw Error(grpc::StatusCode::FAILED_PRECONDITION, "undefined tensor (None)", what);
  h->session->Send(std::move(c), what);
}
}  // namespace

std::vector<int64_t> Tensor::sizes() const {
  const pb::TensorInfo& info = CreatedInfo(h_);
  return {info.shape().begin(), info.shape().end()};
}
int64_t Tensor::size(int64_t d) const {
  const auto s = sizes();
  const int64_t n = static_cast<int64_t>(s.size());
  if (d < -n || d >= n) {
    throw Error(grpc::StatusCode::OUT_OF_RANGE,
                absl::StrCat("Dimension out of range (expected to be in range of [", -n, ", ",
                             n - 1, "], but got ", d, ")"),
                "size");
  }
  return s[static_cast<size_t>(d < 0 ? d + n : d)];
}
int64_t Tensor::dim() const { return static_cast<int64_t>(sizes().size()); }
int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes()) n *= s;
  return n;
}
DType Tensor::dtype() const { return FromProto(CreatedInfo(h_).dtype()); }

bool Tensor::requires_grad() const { return FreshInfo(h_, "requires_grad").requires_grad(); }
bool Tensor::is_leaf() const {
  const pb::TensorInfo& info = FreshInfo(h_, "is_leaf");
  if (!info.grad_fn_error().empty()) {
    throw Error(grpc::StatusCode::FAILED_PRECONDITION, info.grad_fn_error(), "is_leaf");
  }
  return info.is_leaf();
}
uint32_t Tensor::version() const { return FreshInfo(h_, "version").version(); }
bool Tensor::retains_grad() const { return FreshInfo(h_, "retains_grad").retains_grad(); }

namespace {
void SendRequiresGrad(const std::shared_ptr<detail::Handle>& h, uint64_t id, bool flag,
                      bool method) {
  pb::Command c;
  c.mutable_set_requires_grad()->set_id(id);
  c.mutable_set_requires_grad()->set_requires_grad(flag);
  c.mutable_set_requires_grad()->set_method(method);
  SendSimple(h, std::move(c), "requires_grad_");
}
}  // namespace

void Tensor::set_requires_grad(bool flag) { SendRequiresGrad(h_, id(), flag, false); }
Tensor& Tensor::requires_grad_(bool flag) {
  SendRequiresGrad(h_, id(), flag, true);
  return *this;
}

void Tensor::retain_grad() const {
  pb::Command c;
  c.mutable_retain_grad()->set_id(id());
  SendSimple(h_, std::move(c), "retain_grad");
}

std::shared_ptr<Node> Tensor::grad_fn() const {
  if (!h_) throw Error(grpc::StatusCode::FAILED_PRECONDITION, "undefined tensor (None)", "grad_fn");
  pb::Command c;
  c.mutable_get_graph()->set_id(h_->id);
  const std::shared_ptr<Pending> p = h_->session->Send(std::move(c), "grad_fn");
  const pb::CommandResult& r = h_->session->Wait(p);
  const pb::GraphResponse& g = r.graph();
  if (g.root() < 0 || g.nodes_size() == 0) return nullptr;
  // A leaf's graph root is its AccumulateGrad: grad_fn is None then.
  if (g.nodes(g.root()).name() == "torch::autograd::AccumulateGrad") return nullptr;
  std::vector<std::shared_ptr<Node>> nodes;
  for (int i = 0; i < g.nodes_size(); ++i) nodes.push_back(std::make_shared<Node>());
  for (int i = 0; i < g.nodes_size(); ++i) {
    const pb::GraphNode& n = g.nodes(i);
    nodes[i]->name_ = n.name();
    for (const auto& e : n.next())
      nodes[i]->next_.push_back({e.node() >= 0 ? nodes[e.node()] : nullptr, e.input_nr()});
    for (const auto& s : n.saved()) nodes[i]->saved_.push_back({s.name(), s.freed()});
  }
  return nodes[g.root()];
}

namespace {
Tensor Alias(const std::shared_ptr<detail::Handle>& h, bool data) {
  if (!h)
    throw Error(grpc::StatusCode::FAILED_PRECONDITION, "undefined tensor (None)",
                data ? "data" : "detach");
  pb::Command c;
  pb::AliasRequest* req = data ? c.mutable_data() : c.mutable_detach();
  req->set_id(h->id);
  const uint64_t out = h->session->NewId();
  req->set_out(out);
  return h->session->MakeTensor(out, h->session->Send(std::move(c), data ? "data" : "detach"), 0);
}
}  // namespace

Tensor Tensor::detach() const { return Alias(h_, false); }
Tensor Tensor::data() const { return Alias(h_, true); }

Tensor& Tensor::detach_() {
  pb::Command c;
  c.mutable_detach_inplace()->set_id(id());
  SendSimple(h_, std::move(c), "detach_");
  return *this;
}

void Tensor::set_data(const Tensor& source) {
  if (!h_ || !source.h_)
    throw Error(grpc::StatusCode::FAILED_PRECONDITION, "undefined tensor (None)", "set_data");
  pb::Command c;
  c.mutable_set_data()->set_id(h_->id);
  c.mutable_set_data()->set_source(source.h_->id);
  auto p = h_->session->Send(std::move(c), "set_data");
  h_->session->Wait(p);
  // The shape and dtype this handle reports now come from set_data's answer.
  h_->created = p;
  h_->index = 0;
}

Tensor Tensor::grad() const {
  if (!h_) throw Error(grpc::StatusCode::FAILED_PRECONDITION, "undefined tensor (None)", "grad");
  pb::Command c;
  c.mutable_bind_grad()->set_id(h_->id);
  const uint64_t out = h_->session->NewId();
  c.mutable_bind_grad()->set_out(out);
  auto p = h_->session->Send(std::move(c), "grad");
  const pb::CommandResult& r = h_->session->Wait(p);
  if (r.tensors().tensors_size() == 0) return Tensor();
  return h_->session->MakeTensor(out, p, 0);
}

void Tensor::set_grad(const Tensor& g) {
  pb::Command c;
  c.mutable_set_grad()->set_id(id());
  c.mutable_set_grad()->set_grad(g.id());
  SendSimple(h_, std::move(c), "grad=");
}

void Tensor::backward(const Tensor& gradient, std::optional<bool> retain_graph,
                      bool create_graph) const {
  std::vector<Tensor> grads;
  if (gradient.defined()) grads.push_back(gradient);
  autograd::backward({*this}, grads, retain_graph, create_graph);
}

namespace {
pb::GetTensorResponse Fetch(const std::shared_ptr<detail::Handle>& h, const char* what) {
  if (!h) throw Error(grpc::StatusCode::FAILED_PRECONDITION, "undefined tensor (None)", what);
  pb::Command c;
  c.mutable_get_tensor()->set_id(h->id);
  return h->session->Wait(h->session->Send(std::move(c), what)).tensor();
}

template <typename T>
std::vector<T> Decode(const pb::TensorData& d) {
  const std::string& b = d.data();
  std::vector<T> out;
  auto each = [&](auto tag) {
    using S = decltype(tag);
    const size_t n = b.size() / sizeof(S);
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      S v;
      std::memcpy(&v, b.data() + i * sizeof(S), sizeof(S));
      out.push_back(static_cast<T>(v));
    }
  };
  switch (d.dtype()) {
    case pb::DTYPE_FLOAT64:
      each(double{});
      break;
    case pb::DTYPE_INT64:
      each(int64_t{});
      break;
    case pb::DTYPE_BOOL:
      each(bool{});
      break;
    default:
      each(float{});
  }
  return out;
}
}  // namespace

template <typename T>
T Tensor::item() const {
  pb::GetTensorResponse r = Fetch(h_, "item");
  std::vector<T> v = Decode<T>(r.value());
  if (v.size() != 1) {
    throw Error(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("only one element tensors can be converted to Python scalars (a Tensor with ",
                     v.size(), " elements cannot be converted to Scalar)"),
        "item");
  }
  return v[0];
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  return Decode<T>(Fetch(h_, "to_vector").value());
}

template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template bool Tensor::item<bool>() const;
template int Tensor::item<int>() const;
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<bool> Tensor::to_vector<bool>() const;

std::string Tensor::str() const {
  if (!h_) return "None";
  pb::GetTensorResponse r = Fetch(h_, "print");
  if (!r.info().grad_fn_error().empty()) {
    throw Error(grpc::StatusCode::FAILED_PRECONDITION, r.info().grad_fn_error(), "print");
  }
  // Rebuild the values in a private engine context and print them with PyTorch's rules.
  static Context* printing = new Context();
  ContextGuard guard(*printing);
  auto values = wire::Decode(r.value());
  if (!values.ok())
    throw Error(grpc::StatusCode::INTERNAL, std::string(values.status().message()), "print");
  return FormatTensor(*values, r.info().grad_fn(), r.info().requires_grad());
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

// ---- PyTorch overloads -------------------------------------------------------------------------

Tensor Tensor::operator[](int64_t index) const { return select(0, index); }
Tensor Tensor::add(Scalar other) const { return add(session().scalar(other)); }
Tensor Tensor::sub(Scalar other) const { return sub(session().scalar(other)); }
Tensor Tensor::mul(Scalar other) const { return mul(session().scalar(other)); }
Tensor Tensor::div(Scalar other) const { return div(session().scalar(other)); }
Tensor& Tensor::add_(Scalar other) { return add_(session().scalar(other)); }
Tensor& Tensor::sub_(Scalar other) { return sub_(session().scalar(other)); }
Tensor& Tensor::mul_(Scalar other) { return mul_(session().scalar(other)); }
Tensor& Tensor::div_(Scalar other) { return div_(session().scalar(other)); }

Tensor operator+(const Tensor& a, const Tensor& b) { return a.add(b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return a.sub(b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return a.mul(b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return a.div(b); }
Tensor operator+(const Tensor& a, Scalar b) { return a.add(b); }
Tensor operator-(const Tensor& a, Scalar b) { return a.sub(b); }
Tensor operator*(const Tensor& a, Scalar b) { return a.mul(b); }
Tensor operator/(const Tensor& a, Scalar b) { return a.div(b); }
Tensor operator+(Scalar a, const Tensor& b) { return b.session().scalar(a).add(b); }
Tensor operator-(Scalar a, const Tensor& b) { return b.rsub(a); }
Tensor operator*(Scalar a, const Tensor& b) { return b.session().scalar(a).mul(b); }
Tensor operator/(Scalar a, const Tensor& b) { return b.session().scalar(a).div(b); }
Tensor operator-(const Tensor& a) { return a.neg(); }
Tensor operator==(const Tensor& a, const Tensor& b) { return a.eq(b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return a.ne(b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return a.lt(b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return a.le(b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return a.gt(b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return a.ge(b); }
Tensor operator<(const Tensor& a, Scalar b) { return a.lt(a.session().scalar(b)); }
Tensor operator>(const Tensor& a, Scalar b) { return a.gt(a.session().scalar(b)); }

// ---- autograd ----------------------------------------------------------------------------------

namespace autograd {

void backward(const std::vector<Tensor>& tensors, const std::vector<Tensor>& grad_tensors,
              std::optional<bool> retain_graph, bool create_graph,
              const std::vector<Tensor>& inputs) {
  Session s = detail::SessionOf(tensors);
  pb::Command c;
  pb::BackwardRequest* req = c.mutable_backward();
  for (const Tensor& t : tensors) req->add_tensors(t.id());
  for (const Tensor& g : grad_tensors) req->add_grad_tensors(g.id());
  if (retain_graph) req->set_retain_graph(*retain_graph);
  req->set_create_graph(create_graph);
  for (const Tensor& t : inputs) req->add_inputs(t.id());
  Impl(s.impl()).Send(std::move(c), "backward");
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph,
                         bool create_graph, bool allow_unused) {
  Session s = detail::SessionOf(outputs);
  SessionImpl& impl = Impl(s.impl());
  pb::Command c;
  pb::GradRequest* req = c.mutable_grad();
  for (const Tensor& t : outputs) req->add_outputs(t.id());
  for (const Tensor& t : inputs) req->add_inputs(t.id());
  for (const Tensor& g : grad_outputs) req->add_grad_outputs(g.id());
  if (retain_graph) req->set_retain_graph(*retain_graph);
  req->set_create_graph(create_graph);
  req->set_allow_unused(allow_unused);
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ids.push_back(impl.NewId());
    req->add_results(ids.back());
  }
  auto p = impl.Send(std::move(c), "autograd.grad");
  const pb::CommandResult& r = impl.Wait(p);
  std::vector<Tensor> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    out.push_back(r.grad().defined(static_cast<int>(i))
                      ? impl.MakeTensor(ids[i], p, static_cast<int>(i))
                      : Tensor());
  }
  return out;
}

}  // namespace autograd

// ---- generated ops -----------------------------------------------------------------------------

#include "tensord/client_ops_impl.inc"

}  // namespace tensord::client
