"""tensord.Tensor: a handle to a tensor held by the server, with torch.Tensor's interface."""
import numbers
import warnings

from tensord import _dtypes
from tensord import _format
from tensord.v1 import tensord_pb2 as pb


class Size(tuple):
    """torch.Size: a tuple that prints as ``torch.Size([2, 3])``."""

    def __repr__(self):
        return "torch.Size([" + ", ".join(str(d) for d in self) + "])"

    __str__ = __repr__

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n


class _ReturnType(tuple):
    _name = ""
    _fields = ("values", "indices")

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self):
        return f"torch.return_types.{self._name}(\nvalues={self[0]!r},\nindices={self[1]!r})"


class return_types:
    """torch.return_types: the (values, indices) results of max(dim) / min(dim), and (with the
    server's schemas) any op's named results."""

    class max(_ReturnType):
        _name = "max"

    class min(_ReturnType):
        _name = "min"

    _made = {}

    @classmethod
    def _make(cls, name, fields):
        """The structseq for an op's named results (``torch.return_types.topk``)."""
        fields = tuple(fields)
        existing = cls.__dict__.get(name)
        if isinstance(existing, type) and getattr(existing, "_fields", None) == fields:
            return existing
        key = (name, fields)
        made = cls._made.get(key)
        if made is None:
            ns = {"_name": name, "_fields": fields, "__slots__": (),
                  "__new__": lambda c, *values: tuple.__new__(c, values),
                  "__repr__": lambda self: (f"torch.return_types.{name}(\n"
                                            + ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self)) + ")")}
            for i, f in enumerate(fields):
                ns[f] = property(lambda self, i=i: self[i])
            made = cls._made[key] = type(name, (tuple,), ns)
        return made


class Node:
    """A grad_fn node, as GetGraph describes it: ``name()``, ``next_functions``, ``variable``."""

    _classes = {}

    @classmethod
    def _make(cls, session, msg):
        short = msg.name.rsplit("::", 1)[-1]
        sub = cls._classes.get(short)
        if sub is None:
            sub = type(short, (Node,), {})
            cls._classes[short] = sub
        node = object.__new__(sub)
        node._name = msg.name
        node._next = ()
        node._saved = tuple(msg.saved)
        node._variable = session._live.get(msg.variable) if msg.variable else None
        return node

    def name(self):
        return self._name

    @property
    def next_functions(self):
        return self._next

    @property
    def variable(self):
        if type(self).__name__ != "AccumulateGrad":
            raise AttributeError(f"'{type(self).__name__}' object has no attribute 'variable'")
        return self._variable

    @property
    def metadata(self):
        return {}

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"


def _index_items(index):
    if not isinstance(index, tuple):
        index = (index,)
    return index


def _schema_first(fn):
    """A hand-written method for servers without schemas; with them, the schema's binding."""
    name = fn.__name__

    def method(self, *args, **kwargs):
        s = self._s
        if s._table is not None:
            m = s._methods.get(name)
            if m is not None:
                return m(self, *args, **kwargs)
        return fn(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = fn.__doc__
    return method


class Tensor:
    """A tensor held by a tensord session. Create tensors with the session (``t.tensor``,
    ``t.ones``, ...); every torch.Tensor method the op table supports is available."""

    __slots__ = ("_s", "_id", "_grad_obj", "_grad_bw", "_grad_cg", "_grad_leaf", "_grad_hist", "__weakref__")
    __hash__ = object.__hash__

    def __init__(self, *args, **kwargs):
        raise TypeError("tensord tensors are created by a session: t.tensor(...), t.ones(...), ...")

    def __del__(self):
        try:
            s = self._s
        except AttributeError:
            return
        try:
            s._release(self._id)
        except Exception:  # noqa: BLE001 - never raise from a finalizer (e.g. at interpreter exit)
            pass

    def __deepcopy__(self, memo):
        # As torch.Tensor.__deepcopy__: leaves only; a new leaf with the same values and flags.
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment")
        out = self.detach().clone()
        if self.requires_grad:
            out.requires_grad_(True)
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        raise TypeError("tensord tensors live on a server and cannot be pickled; pickle t.tolist() instead")

    def __dir__(self):
        names = self._s._methods if self._s._table is not None else self._s._op_fns
        return sorted(set(super().__dir__()) | set(names))

    # ---- ops from the table -------------------------------------------------------------------

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        s = self._s
        if s._table is not None:  # the server's schemas: x.NAME binds with x as the schema's self
            m = s._methods.get(name)
            if m is None:
                raise AttributeError(f"'Tensor' object has no attribute '{name}' (tensord: not in the server's "
                                     "op table)")

            def bound(*args, **kwargs):
                return m(self, *args, **kwargs)

            bound.__name__ = name
            return bound
        fn = s._op_fns.get(name)
        if fn is None:
            raise AttributeError(f"'Tensor' object has no attribute '{name}' (tensord: not in the server's "
                                 "op table)")

        def method(*args, **kwargs):
            return fn(self, *args, **kwargs)

        method.__name__ = name
        return method

    # ---- metadata -----------------------------------------------------------------------------

    def _info(self, fresh=True):
        return self._s._info(self, fresh)

    @property
    def shape(self):
        return Size(self._info(False).shape)

    def size(self, dim=None):
        shape = self._info(False).shape
        if dim is None:
            return Size(shape)
        n = len(shape)
        if not -max(n, 1) <= dim < max(n, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of [{-max(n, 1)}, "
                             f"{max(n, 1) - 1}], but got {dim})")
        return shape[dim]

    def dim(self):
        return len(self._info(False).shape)

    ndimension = dim

    @property
    def ndim(self):
        return self.dim()

    def numel(self):
        return self.shape.numel()

    nelement = numel

    @property
    def dtype(self):
        return _dtypes.from_wire(self._info(False).dtype)

    def is_floating_point(self):
        return self.dtype.is_floating_point

    def element_size(self):
        return self.dtype.itemsize

    @property
    def device(self):
        return "cpu"

    @property
    def is_cuda(self):
        return False

    @property
    def requires_grad(self):
        return self._info().requires_grad

    def _set_requires_grad(self, flag, method):
        req = pb.SetRequiresGradRequest(id=self._id, requires_grad=bool(flag), method=method)
        self._s._submit(pb.Command(set_requires_grad=req), "requires_grad_", inputs=[self._id],
                        mutation=True)

    @requires_grad.setter
    def requires_grad(self, flag):
        self._set_requires_grad(flag, False)

    def requires_grad_(self, requires_grad=True):
        # The method form: requires_grad_(True) on a non-leaf is a no-op, as in PyTorch.
        self._set_requires_grad(requires_grad, True)
        return self

    def _grad_fn_info(self):
        # A view made in no_grad mode whose base was then modified in place: reading its grad_fn
        # (and so is_leaf and printing) raises, as in PyTorch.
        info = self._info()
        if getattr(info, "grad_fn_error", ""):
            raise RuntimeError(info.grad_fn_error)
        return info

    @property
    def is_leaf(self):
        return self._grad_fn_info().is_leaf

    @property
    def retains_grad(self):
        return self._info().retains_grad

    @property
    def _version(self):
        return self._info().version

    def retain_grad(self):
        self._s._submit(pb.Command(retain_grad=pb.TensorRequest(id=self._id)), "retain_grad",
                        inputs=[self._id], mutation=True)

    @property
    def grad_fn(self):
        if not self._grad_fn_info().grad_fn:
            return None
        return self._s._graph(self)

    # ---- .grad --------------------------------------------------------------------------------
    # BindGrad names x.grad by a handle: the returned Tensor *is* the server's .grad (in-place ops
    # on it, x.grad.zero_() or w -= lr * w.grad, act on the real gradient). It stays x.grad until
    # something replaces it: a backward for a non-leaf (retain_grad replaces), any
    # backward(create_graph=True), a backward when the grad has history, or an assignment.

    @property
    def grad(self):
        s = self._s
        g = self._grad_obj
        if g is not None and g._id not in s._failed and (
                self._grad_bw == s._bw_epoch or
                (self._grad_leaf and not self._grad_hist and self._grad_cg == s._cg_epoch)):
            return g
        e = s._infos.get(self._id)
        if e is None or e[1] != s._mut:
            s._submit(pb.Command(get_info=pb.TensorRequest(id=self._id)), "get_info", inputs=[self._id])
        out = s._new_id()
        cmd = s._submit(pb.Command(bind_grad=pb.AliasRequest(id=self._id, out=out)), "grad", inputs=[self._id])
        s._sync()
        info = s._infos[self._id][0]
        self._grad_obj = None
        if not cmd.result.tensors.tensors:
            if not info.is_leaf and not info.retains_grad:
                warnings.warn(
                    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
                    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
                    "instead. See github.com/pytorch/pytorch/pull/30531 for more informations.",
                    UserWarning, stacklevel=2)
            return None
        ginfo = cmd.result.tensors.tensors[0]
        g = s._wrap(out)
        s._infos[out] = (ginfo, cmd.mutation)
        self._grad_obj = g
        self._grad_bw = s._bw_epoch
        self._grad_cg = s._cg_epoch
        self._grad_leaf = info.is_leaf
        self._grad_hist = ginfo.requires_grad
        return g

    @grad.setter
    def grad(self, value):
        s = self._s
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                            f"{type(value).__name__}")
        gid = 0 if value is None else value._id
        s._submit(pb.Command(set_grad=pb.SetGradRequest(id=self._id, grad=gid)), "grad",
                  inputs=[self._id] + ([gid] if gid else []))
        self._grad_obj = value
        self._grad_bw = s._bw_epoch
        self._grad_cg = s._cg_epoch
        self._grad_leaf = False  # unknown: valid until the next backward
        self._grad_hist = True

    @grad.deleter
    def grad(self):
        self.grad = None

    # ---- aliases ------------------------------------------------------------------------------

    def _alias(self, field):
        s = self._s
        out = s._new_id()
        s._submit(pb.Command(**{field: pb.AliasRequest(id=self._id, out=out)}), field, outputs=[out],
                  inputs=[self._id])
        return s._wrap(out)

    def detach(self):
        return self._alias("detach")

    @property
    def data(self):
        return self._alias("data")

    @data.setter
    def data(self, value):
        # PyTorch's set_data: this tensor takes value's storage, shape and dtype and keeps its
        # history, .grad and flags. Runs now: the shape this object reports may change.
        if not isinstance(value, Tensor) or value._s is not self._s:
            raise TypeError("tensord: .data must be assigned a tensor of the same session")
        s = self._s
        r = s._run(pb.Command(set_data=pb.SetDataRequest(id=self._id, source=value._id)),
                   "set_data", inputs=[self._id, value._id], mutation=True)
        s._infos[self._id] = (r.tensors.tensors[0], s._mut)

    def detach_(self):
        self._s._submit(pb.Command(detach_inplace=pb.TensorRequest(id=self._id)), "detach_",
                        inputs=[self._id], mutation=True)
        return self

    # ---- values -------------------------------------------------------------------------------

    def _values(self):
        return self._s._fetch(self._id)

    def tolist(self):
        from tensord._session import _nest
        _, shape, flat = self._values()
        return _nest(flat, shape)

    def item(self):
        _, shape, flat = self._values()
        if len(flat) != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return flat[0]

    def numpy(self):
        import numpy as np
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        dt, shape, flat = self._values()
        return np.array(flat, dtype={"float32": np.float32, "float64": np.float64, "int64": np.int64,
                                     "bool": np.bool_}[dt._name]).reshape(shape)

    def __array__(self, dtype=None):
        a = self.detach().numpy()
        return a if dtype is None else a.astype(dtype)

    def __repr__(self, *, tensor_contents=None):
        s = self._s
        dt, shape, flat = self._values()  # GetTensor also refreshes the info
        info = self._grad_fn_info()
        return _format.tensor_repr(flat, shape, dt, s._default_dtype, info.requires_grad, info.grad_fn)

    __str__ = __repr__

    def __format__(self, spec):
        if self.dim() == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __bool__(self):
        _, _, flat = self._values()
        if len(flat) != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(flat[0])

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __len__(self):
        shape = self._info(False).shape
        if not shape:
            raise TypeError("len() of a 0-d tensor")
        return shape[0]

    def __iter__(self):
        if not self._info(False).shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    # ---- autograd -----------------------------------------------------------------------------

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        self._s._backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    # ---- PyTorch overloads --------------------------------------------------------------------

    @_schema_first
    def sum(self, dim=None, keepdim=False, *, dtype=None):
        return self._s.sum(self, dim, keepdim, dtype=dtype)

    @_schema_first
    def mean(self, dim=None, keepdim=False, *, dtype=None):
        return self._s.mean(self, dim, keepdim, dtype=dtype)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return self._s.norm(self, p, dim, keepdim, dtype)

    @_schema_first
    def prod(self, dim=None, keepdim=False, *, dtype=None):
        return self._s.prod(self, dim, keepdim, dtype=dtype)

    @_schema_first
    def max(self, dim=None, keepdim=False):
        return self._s.max(self, dim, keepdim)

    @_schema_first
    def min(self, dim=None, keepdim=False):
        return self._s.min(self, dim, keepdim)

    @property
    def T(self):
        if not self._s._has_op("permute"):
            raise AttributeError("tensord: .T needs the permute op")
        n = self.dim()
        if n != 2:
            warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
                          "deprecated and it will throw an error in a future release. Consider `x.mT` to "
                          "transpose batches of matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to "
                          "reverse the dimensions of a tensor.", UserWarning, stacklevel=2)
        return self._s._op("permute", self, dims=list(range(n - 1, -1, -1)))

    @_schema_first
    def pow(self, exponent):
        return self._s.pow(self, exponent)

    @_schema_first
    def squeeze(self, dim=None):
        return self._s.squeeze(self, dim)

    def to(self, *args, **kwargs):
        return self._s.to(self, *args, **kwargs)

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(_dtypes.float32)

    def double(self):
        return self.to(_dtypes.float64)

    def long(self):
        return self.to(_dtypes.int64)

    def bool(self):
        return self.to(_dtypes.bool)

    def cpu(self):
        return self

    @_schema_first
    def clamp(self, min=None, max=None):
        return self._s.clamp(self, min, max)

    @_schema_first
    def clip(self, min=None, max=None):
        return self._s.clamp(self, min, max)

    @_schema_first
    def clamp_(self, min=None, max=None):
        return self._s._apply("clamp_", [self], {"min": min, "max": max})

    @_schema_first
    def view(self, *shape):
        from tensord._session import _size_args
        return self._s._apply("view", [self], {"size": _size_args(shape, "view")})

    @_schema_first
    def reshape(self, *shape):
        from tensord._session import _size_args
        return self._s._apply("reshape", [self], {"shape": _size_args(shape, "reshape")})

    @_schema_first
    def expand(self, *sizes):
        from tensord._session import _size_args
        return self._s._apply("expand", [self], {"size": _size_args(sizes, "expand")})

    @_schema_first
    def transpose(self, dim0, dim1):
        return self._s.transpose(self, dim0, dim1)

    @_schema_first
    def unbind(self, dim=0):
        return self._s.unbind(self, dim)

    def new_tensor(self, data, dtype=None, requires_grad=False):
        return self._s.tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        return self._s.zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        return self._s.ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    # ---- operators ------------------------------------------------------------------------------

    def __add__(self, other):
        return self._s._op("add", self, other)

    def __radd__(self, other):
        return self._s._op("add", self, other)

    def __iadd__(self, other):
        return self._s._op("add_", self, other)

    def __sub__(self, other):
        return self._s._op("sub", self, other)

    def __rsub__(self, other):
        # PyTorch: `2 - x` is rsub(x, 2) (RsubBackward1, one edge); a tensor on the left is sub.
        if self._s._has_op("rsub") and isinstance(other, (int, float, bool)):
            return self._s._op("rsub", self, other=other)
        return self._s._op("sub", other, self)

    def __isub__(self, other):
        return self._s._op("sub_", self, other)

    def __mul__(self, other):
        return self._s._op("mul", self, other)

    def __rmul__(self, other):
        return self._s._op("mul", self, other)

    def __imul__(self, other):
        return self._s._op("mul_", self, other)

    def __truediv__(self, other):
        return self._s._op("div", self, other)

    def __rtruediv__(self, other):
        # PyTorch (torch/_tensor.py): self.reciprocal() * other; without reciprocal in the table,
        # other / self (same values, DivBackward0 instead of MulBackward0).
        if self._s._has_op("reciprocal"):
            return self._s._op("mul", self._s._op("reciprocal", self), other)
        return self._s._op("div", other, self)

    def __itruediv__(self, other):
        return self._s._op("div_", self, other)

    def __pow__(self, exponent):
        return self._s.pow(self, exponent)

    def __rpow__(self, other):
        # As torch/_tensor.py: torch.tensor(other, dtype=result_type(other, self)) ** self.
        if isinstance(other, bool):
            dt = self.dtype
        elif isinstance(other, numbers.Integral):
            dt = _dtypes.int64 if self.dtype is _dtypes.bool else self.dtype
        else:
            dt = self.dtype if self.dtype.is_floating_point else self._s._default_dtype
        base = self._s._create([other], (), dt, what="pow")
        return self._s._op("pow", base, self)

    def __matmul__(self, other):
        return self._s._op("matmul", self, other)

    def __rmatmul__(self, other):
        return self._s._op("matmul", other, self)

    def __neg__(self):
        return self._s._op("neg", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self._s._op("abs", self)

    def __eq__(self, other):
        return self._s._op("eq", self, other)

    def __ne__(self, other):
        return self._s._op("ne", self, other)

    def __lt__(self, other):
        return self._s._op("lt", self, other)

    def __le__(self, other):
        return self._s._op("le", self, other)

    def __gt__(self, other):
        return self._s._op("gt", self, other)

    def __ge__(self, other):
        return self._s._op("ge", self, other)

    # ---- indexing -------------------------------------------------------------------------------

    def __getitem__(self, index):
        # Like PyTorch's Python indexing layer (python_variable_indexing.cpp): ints select, slices
        # slice, `...` skips dims; the checks and their messages are PyTorch's.
        items = _index_items(index)
        in_tuple = isinstance(index, tuple)
        s = self._s
        shape = self._info(False).shape
        ndim = len(shape)
        if sum(1 for i in items if i is Ellipsis) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        specified = sum(1 for i in items if i is not Ellipsis)
        if ndim == 0 and any(_is_index_int(i) for i in items):
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        if specified > ndim:
            raise IndexError(f"too many indices for tensor of dimension {ndim}")
        out = self
        dim = 0  # dim of `out`
        real = 0  # dim of self
        for item in items:
            if item is Ellipsis:
                dim += ndim - specified
                real += ndim - specified
            elif _is_index_int(item):
                i, size = int(item), shape[real]
                if i < -size or i >= size:
                    raise IndexError(f"index {i} is out of bounds for dimension {real} with size {size}")
                out = s._op("select", out, dim=dim, index=i)
                real += 1
            elif isinstance(item, slice):
                step = 1 if item.step is None else int(item.step)
                if step <= 0:
                    raise ValueError("step must be greater than zero")
                start = None if item.start is None else int(item.start)
                stop = None if item.stop is None else int(item.stop)
                # PyTorch skips a slice of a tuple index that spells out the whole dim (x[0:n, 1]).
                if not (in_tuple and start == 0 and stop == shape[real] and step == 1):
                    out = s._op("slice", out, dim=dim, start=start, end=stop, step=step)
                dim += 1
                real += 1
            else:
                raise NotImplementedError(f"tensord: indexing with {type(item).__name__} is not supported "
                                          "(ints, slices and ... only)")
        if out is self:
            out = s._op("slice", self, dim=0, start=None, end=None, step=1) if ndim else self
        return out

    def __setitem__(self, index, value):
        items = _index_items(index)
        target = self if all(i is Ellipsis for i in items) else self[index]
        if not isinstance(value, Tensor):
            # As PyTorch: a number is copied from a 0-dim tensor (CopySlices shows [base, None]).
            value = self._s.tensor(value, dtype=self.dtype)
        target.copy_(value)


def _is_index_int(item):
    if isinstance(item, bool):
        raise NotImplementedError("tensord: indexing with bools is not supported")
    if item is None:
        raise NotImplementedError("tensord: indexing with None is not supported")
    if isinstance(item, numbers.Integral):
        return True
    return isinstance(item, Tensor) and item.dim() == 0 and item.dtype is _dtypes.int64
