"""A tensord session: the connection, the command pipeline, and the torch-like module surface.

Pipelining
----------
Commands whose answer the program does not need yet (op applications, factories, detach,
requires_grad changes, releases, ...) are appended to a client-side buffer. The buffer goes to the
server as one ``Execute`` batch when the program needs a value (``item()``, ``repr``,
``tolist()``, ``.grad``, ``.shape`` of a result not seen yet, ``grad_fn``, ``backward()``,
``autograd.grad()``), or when it holds ``batch_size`` commands; such a full batch is sent
asynchronously (at most one batch is in flight, so the session's order is the program's order)
and the program keeps building the next one meanwhile.

Every command carries client-chosen handle ids, so later commands can name results the client has
not seen yet. ``Execute`` stops at the first failing command: the commands after it (in that batch
and in the client's buffer) are dropped, exactly as if the program had stopped at the failing
line. The error is raised by the next call into the session, as an exception carrying the server's
message, the op name (``e.op``) and the source line that issued it (``e.where``, also in the
exception's notes). Tensors produced by a failed or dropped command raise that error again when
used. ``connect(..., pipelining=False)`` sends every command on its own and raises at once.
"""
import atexit
import collections
import functools
import numbers
import os
import secrets
import struct
import sys
import threading
import time
import warnings
import weakref
from array import array

import grpc

from tensord import _checkpoint
from tensord import _dtypes
from tensord import _errors
from tensord import _format
from tensord import _schema
from tensord._tensor import Node, Size, Tensor, return_types
from tensord.v1 import tensord_pb2 as pb
from tensord.v1 import tensord_pb2_grpc as pbg

_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_SESSIONS = weakref.WeakSet()
_INLINE_BYTES = 4 << 20  # larger tensors travel with Upload / Download
_BIG_ENDIAN = sys.byteorder == "big"


def _call_site():
    """(file, line) of the first frame outside this package: the user's line."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back
    return (f.f_code.co_filename, f.f_lineno) if f is not None else None


class _Cmd:
    __slots__ = ("msg", "what", "where", "outputs", "result", "mutation")

    def __init__(self, msg, what, where, outputs, mutation):
        self.msg = msg
        self.what = what
        self.where = where
        self.outputs = outputs
        self.result = None
        self.mutation = mutation


# ---- values ----------------------------------------------------------------------------------

def _decode(data):
    """TensorData -> (dtype, shape, flat list of Python numbers)."""
    dt = _dtypes.from_wire(data.dtype)
    arr = array(dt._fmt)
    arr.frombytes(data.data)
    if _BIG_ENDIAN and dt.itemsize > 1:
        arr.byteswap()
    flat = arr.tolist()
    if dt is _dtypes.bool:
        flat = [v != 0 for v in flat]
    return dt, tuple(data.shape), flat


def _nest(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _encode(flat, dt):
    if dt is _dtypes.bool:
        return bytes(1 if v else 0 for v in flat)
    if dt is _dtypes.int64:
        arr = array("q", [int(v) for v in flat])
    else:
        arr = array(dt._fmt, [float(v) for v in flat])
    if _BIG_ENDIAN:
        arr.byteswap()
    return arr.tobytes()


def _flatten_data(data):
    """Nested sequences of numbers -> (shape, flat, kind) with kind 'bool' < 'int' < 'float'."""
    if isinstance(data, Tensor):
        raise TypeError("internal: tensors are handled by the caller")
    if not isinstance(data, (list, tuple)) and hasattr(data, "tolist"):
        data = data.tolist()  # numpy arrays, torch tensors, numpy scalars
    if isinstance(data, bool):
        return (), [data], 0
    if isinstance(data, numbers.Integral):
        return (), [int(data)], 1
    if isinstance(data, numbers.Real):
        return (), [float(data)], 2
    if not isinstance(data, (list, tuple)):
        raise TypeError(f"Could not infer dtype of {type(data).__name__}")
    if len(data) == 0:
        return (0,), [], -1
    parts = [_flatten_data(d) for d in data]
    sub = parts[0][0]
    for i, p in enumerate(parts):
        if p[0] != sub:
            raise ValueError(f"expected sequence of length {sub[0] if sub else 0} at dim 1 (got "
                             f"{p[0][0] if p[0] else 0})")
    flat = []
    kind = -1
    for p in parts:
        flat.extend(p[1])
        kind = max(kind, p[2])
    return (len(data),) + sub, flat, kind


def _attr(value, typ=None):
    """A Python value as an AttrValue, by the attribute's declared type when known."""
    if value is None:
        return pb.AttrValue(none=True)
    if isinstance(value, Tensor):
        value = value.item()
    if typ == "int[]":
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return pb.AttrValue(ints=pb.IntList(values=[int(value)]))
        return pb.AttrValue(ints=pb.IntList(values=[int(v) for v in value]))
    if typ == "dtype" or isinstance(value, _dtypes.dtype):
        return pb.AttrValue(dtype=_dtypes.to_dtype(value)._wire)
    if typ == "bool":
        return pb.AttrValue(b=bool(value))
    if typ == "int":
        return pb.AttrValue(i=int(value))
    if typ == "float":
        return pb.AttrValue(f=float(value))
    if typ == "str" or isinstance(value, str):
        return pb.AttrValue(s=str(value))
    if isinstance(value, bool):
        return pb.AttrValue(b=value)  # a bool Scalar stays a bool (full(size, True) is bool)
    if isinstance(value, numbers.Integral):
        return pb.AttrValue(i=int(value))
    if isinstance(value, numbers.Real):
        return pb.AttrValue(f=float(value))
    if isinstance(value, (list, tuple)):
        return pb.AttrValue(ints=pb.IntList(values=[int(v) for v in value]))
    raise TypeError(f"cannot pass {type(value).__name__} as an op attribute")


def _size_args(size, what):
    """zeros(2, 3) / zeros((2, 3)) / zeros([2, 3]) / zeros(torch.Size) -> [2, 3]."""
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = size[0]
    out = []
    for d in size:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{what}(): argument 'size' must be tuple of ints, but found element of "
                            f"type {type(d).__name__}")
        out.append(int(d))
    return out


# ---- grad mode ---------------------------------------------------------------------------------

class _GradMode:
    """Base of no_grad / enable_grad / set_grad_enabled: context manager and decorator."""

    def __init__(self, session):
        self._s = session
        self._prev = []

    def __call__(self, fn):
        """As a decorator: the function runs in this grad mode."""
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._clone():
                return fn(*args, **kwargs)
        return wrapper

    def _clone(self):
        return type(self)(self._s)

    def __exit__(self, *exc):
        self._s._grad_enabled = self._prev.pop()
        return False


class no_grad(_GradMode):
    def __enter__(self):
        self._prev.append(self._s._grad_enabled)
        self._s._grad_enabled = False
        return None


class enable_grad(_GradMode):
    def __enter__(self):
        self._prev.append(self._s._grad_enabled)
        self._s._grad_enabled = True
        return None


class set_grad_enabled(_GradMode):
    """Sets the mode at once (a plain call works); as a context manager, restores it on exit."""

    def __init__(self, session, mode):
        super().__init__(session)
        self._mode = bool(mode)
        self._prev.append(session._grad_enabled)
        session._grad_enabled = self._mode

    def _clone(self):
        return set_grad_enabled(self._s, self._mode)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        self._s._grad_enabled = self._prev.pop() if self._prev else True
        return False


# ---- namespaces ------------------------------------------------------------------------------

class _Autograd:
    """t.autograd: grad() and backward()."""

    def __init__(self, session):
        self._s = session

    def backward(self, tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None,
                 grad_variables=None):
        if grad_variables is not None:
            grad_tensors = grad_variables
        return self._s._backward(tensors, grad_tensors, retain_graph, create_graph, inputs)

    def grad(self, outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
             only_inputs=True, allow_unused=False, is_grads_batched=False):
        if is_grads_batched:
            raise NotImplementedError("tensord: autograd.grad(is_grads_batched=True) is not supported")
        return self._s._grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)


class _Functional:
    """t.nn.functional, for the losses and activations of the op table."""

    def __init__(self, session):
        self._s = session

    def relu(self, input, inplace=False):
        if inplace:
            raise NotImplementedError("tensord: relu(inplace=True) is not in the op table")
        return self._s._apply("relu", [input])

    def sigmoid(self, input):
        warnings.warn("nn.functional.sigmoid is deprecated. Use torch.sigmoid instead.", UserWarning, stacklevel=2)
        return self._s._apply("sigmoid", [input])

    def tanh(self, input):
        warnings.warn("nn.functional.tanh is deprecated. Use torch.tanh instead.", UserWarning, stacklevel=2)
        return self._s._apply("tanh", [input])

    @staticmethod
    def _reduction(size_average, reduce, reduction):
        if size_average is not None or reduce is not None:
            raise NotImplementedError("tensord: the deprecated size_average/reduce arguments are not "
                                      "supported; use reduction=")
        return reduction

    def mse_loss(self, input, target, size_average=None, reduce=None, reduction="mean"):
        reduction = self._reduction(size_average, reduce, reduction)
        return self._s._apply("mse_loss", [input, target], {"reduction": reduction})

    def binary_cross_entropy_with_logits(self, input, target, weight=None, size_average=None, reduce=None,
                                         reduction="mean", pos_weight=None):
        if weight is not None or pos_weight is not None:
            raise NotImplementedError("tensord: binary_cross_entropy_with_logits supports no weight / "
                                      "pos_weight")
        reduction = self._reduction(size_average, reduce, reduction)
        return self._s._apply("binary_cross_entropy_with_logits", [input, target], {"reduction": reduction})

    def __getattr__(self, name):
        fn = None if name.startswith("_") else self._s._op_fns.get(name)
        if fn is None:
            raise AttributeError(f"tensord: nn.functional.{name} is not supported (not in the op table)")
        return fn


class _SchemaFunctional:
    """t.nn.functional from the server's schemas: torch/nn/functional.py's wrappers (reduction
    strings, legacy size_average/reduce, inplace=) over the ops' own bindings (tensord._schema)."""

    def __init__(self, session):
        self._s = session
        self._available = set(session._functional.available())

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._available:
            raise AttributeError(f"tensord: nn.functional.{name} is not supported (not in the op table)")
        wrapper = getattr(self._s._functional, name)
        s = self._s

        def fn(*args, **kwargs):
            return s._call_bound(wrapper(*args, **kwargs))

        fn.__name__ = name
        setattr(self, name, fn)
        return fn

    def __dir__(self):
        return sorted(set(super().__dir__()) | self._available)


class _NN:
    def __init__(self, session):
        self.functional = _SchemaFunctional(session) if session._table is not None else _Functional(session)


# ---- the session -----------------------------------------------------------------------------

_SCALAR_AS_TENSOR = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "where", "fmod", "remainder", "rsub",
                               "masked_fill", "fill"})


def _schema_first(fn):
    """A hand-dispatched overload for servers without schemas; with them, the schema's binding."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        if self._table is not None:
            op = self._op_fns.get(name)
            if op is not None:
                return op(*args, **kwargs)
        return fn(self, *args, **kwargs)
    return wrapper


# Servers whose ListOps carries no schemas (OpInfo.schema empty) get the hand-kept bindings below:
# ops whose PyTorch overloads are dispatched by hand (the table names are still reachable under
# their wire names, e.g. t.sum_dim), and these tables. With schemas, tensord._schema binds every
# call as PyTorch's argument parser does and none of this is used.
# OpInfo.num_outputs says how many tensors an op returns (-1: decided by the inputs, as unbind):
# those ids are left to the server and the client waits for them. Servers from before the field
# (0) fall back to this table.
_REDUCTION = {"none": 0, "mean": 1, "sum": 2}
_MULTI_OUTPUT = {"max_dim": 2, "min_dim": 2, "unbind": -1, "split": -1, "chunk": -1}
# PyTorch signatures whose positional order differs from the table's (inputs first, then
# attributes): ("in", i, keyword) is the op's input i, a string an attribute.
_TORCH_ORDER = {
    "index_select": (("in", 0, "input"), "dim", ("in", 1, "index")),
    "gather": (("in", 0, "input"), "dim", ("in", 1, "index")),
    "scatter": (("in", 0, "input"), "dim", ("in", 1, "index"), ("in", 2, "src")),
}
_INPUT_KWARGS = ("input", "other", "tensors", "condition", "self", "target", "src", "mat2", "vec",
                 "tensor", "exponent")


class Session:
    """What ``connect()`` returns: a stand-in for the ``torch`` module, bound to one tensord session.

    ``t = tensord.connect("127.0.0.1:50051")`` and then ``t.tensor``, ``t.ones``, ``t.exp``,
    ``t.matmul``, ``t.no_grad()``, ``t.autograd.grad``, ``t.nn.functional.mse_loss``, ...
    """

    float32 = _dtypes.float32
    float64 = _dtypes.float64
    int64 = _dtypes.int64
    bool = _dtypes.bool
    float = _dtypes.float32
    double = _dtypes.float64
    long = _dtypes.int64
    dtype = _dtypes.dtype
    Tensor = Tensor
    Size = Size
    return_types = return_types

    def __init__(self, address, token=None, root_certificates=None, seed=None, default_dtype=None,
                 ttl_seconds=0, labels=None, pipelining=True, batch_size=256, timeout=None,
                 channel_options=None, retry_deadline=30.0):
        self._closed = True  # until the session exists
        self._retry_deadline = float(retry_deadline or 0)
        self.retries = 0  # calls resent after UNAVAILABLE (see _retrying)
        self._lock = threading.RLock()
        self.address = address
        self._timeout = timeout
        options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20),
                   # A restarted server is found again within a second, not gRPC's default backoff.
                   ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 1000)]
        options += list(channel_options or [])
        if root_certificates is not None:
            if isinstance(root_certificates, str):
                with open(root_certificates, "rb") as f:
                    root_certificates = f.read()
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(address, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = pbg.TensordStub(self._channel)
        self._auth = (("authorization", "Bearer " + token),) if token else ()
        req = pb.CreateSessionRequest(ttl_seconds=int(ttl_seconds), seed=int(seed or 0))
        if default_dtype is not None:
            req.default_dtype = _dtypes.to_dtype(default_dtype)._wire
        for k, v in (labels or {}).items():
            req.labels[k] = v
        create_md = self._auth
        if "session_id" in pb.CreateSessionRequest.DESCRIPTOR.fields_by_name:
            # Propose the session id and route CreateSession by it too, so that behind a proxy
            # that routes on x-tensord-session the replica that creates the session serves it.
            req.session_id = secrets.token_hex(16)
            create_md = (("x-tensord-session", req.session_id),) + self._auth
        try:
            # A retry that finds the proposed id taken means the first attempt created it.
            resp = self._retrying(lambda retry: self._stub.CreateSession(req, metadata=create_md, timeout=timeout),
                                  done_if=grpc.StatusCode.ALREADY_EXISTS if req.session_id else None)
            if resp is None:
                resp = self._stub.DescribeSession(pb.SessionRequest(session_id=req.session_id),
                                                  metadata=create_md, timeout=timeout)
                resp = pb.CreateSessionResponse(session_id=resp.session_id, max_bytes=resp.max_bytes)
        except grpc.RpcError as e:
            self._channel.close()
            raise _errors.from_rpc_error(e, op="CreateSession") from None
        self.session_id = resp.session_id
        self.max_bytes = resp.max_bytes
        self._md = (("x-tensord-session", self.session_id),) + self._auth
        self._default_dtype = _dtypes.to_dtype(default_dtype) if default_dtype is not None else _dtypes.float32
        self._pipelining = bool(pipelining)
        self._batch_size = max(1, int(batch_size))
        self._grad_enabled = True
        self._next_id = 0
        self._next_tag = 0
        self._buffer = []
        self._inflight = None  # (future, [cmds])
        self._pending_error = None
        self._failed = {}  # id -> (code, message, op, where): outputs of failed / dropped commands
        self._infos = {}  # id -> (TensorInfo, mutation stamp)
        self._mut = 0  # bumped by every command that can change tensors' autograd metadata
        self._bw_epoch = 0  # bumped by every backward
        self._cg_epoch = 0  # bumped by every backward(create_graph=True)
        self._live = weakref.WeakValueDictionary()  # id -> Tensor
        self._release_q = collections.deque()
        self._scalars = collections.OrderedDict()
        self._inline_bytes = _INLINE_BYTES
        self._closed = False
        _SESSIONS.add(self)
        try:
            ops = self._retrying(lambda retry: self._stub.ListOps(pb.ListOpsRequest(), metadata=self._md,
                                                                  timeout=timeout))
        except grpc.RpcError as e:
            self.close()
            raise _errors.from_rpc_error(e, op="ListOps") from None
        self._install_ops(ops.ops)
        self.autograd = _Autograd(self)
        self.nn = _NN(self)

    # ---- lifecycle ----------------------------------------------------------------------------

    def close(self):
        """Closes the session on the server (releasing everything) and the channel."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._inflight is not None:
                self._inflight[0].result(timeout=2)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        self._inflight = None
        self._buffer = []
        try:
            self._stub.CloseSession(pb.SessionRequest(session_id=self.session_id), metadata=self._md,
                                    timeout=2)
        except Exception:  # noqa: BLE001 - the server may be gone already
            pass
        try:
            self._channel.close()
        except Exception:  # noqa: BLE001
            pass

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return f"<tensord session {self.session_id} at {self.address}>"

    def describe(self):
        """The server's SessionInfo for this session (after running everything pending)."""
        self.synchronize()
        return self._retrying(lambda retry: self._stub.DescribeSession(
            pb.SessionRequest(session_id=self.session_id), metadata=self._md, timeout=self._timeout))

    def _retrying(self, call, first_error=None, done_if=None):
        """call(retry) again while it fails with UNAVAILABLE (the server restarting or draining,
        the proxy finding no replica), with exponential backoff up to the session's
        retry_deadline; other errors, and UNAVAILABLE past the deadline, raise. Only for calls
        that are safe to repeat: reads, and writes whose repetition is detected (an Execute
        batch's request_id; `done_if`: the status code by which a retry sees that the first
        attempt took effect, e.g. ALREADY_EXISTS for a proposed id -- then None is returned)."""
        deadline = time.monotonic() + self._retry_deadline
        delay = 0.02
        err = first_error
        while True:
            if err is not None:
                if err.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() + delay > deadline:
                    raise err
                self.retries += 1
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            try:
                return call(err is not None)
            except grpc.RpcError as e:
                if err is not None and done_if is not None and e.code() == done_if:
                    return None
                err = e

    # ---- the pipeline ---------------------------------------------------------------------------

    def _check_open(self):
        if self._closed:
            raise RuntimeError("tensord: the session is closed")

    def _new_id(self):
        self._next_id += 1
        return self._next_id

    def _raise_pending(self):
        err = self._pending_error
        if err is not None:
            self._pending_error = None
            raise err

    def _check_inputs(self, ids):
        for i in ids:
            f = self._failed.get(i)
            if f is not None:
                code, message, op, where = f
                raise _errors.make_error(code, message, op=op, where=where)

    def _submit(self, command, what, outputs=(), inputs=(), mutation=False, where=None):
        """Queues one command; returns its record (its .result is set once it ran)."""
        with self._lock:
            self._check_open()
            self._raise_pending()
            self._check_inputs(inputs)
            if mutation:
                self._mut += 1
            self._next_tag += 1
            command.tag = self._next_tag
            cmd = _Cmd(command, what, where or _call_site(), list(outputs), self._mut)
            self._buffer.append(cmd)
            if not self._pipelining:
                self._sync()
            elif len(self._buffer) >= self._batch_size:
                self._flush()
                self._raise_pending()
            return cmd

    def _drain_releases(self):
        ids = []
        q = self._release_q
        while q:
            try:
                ids.append(q.popleft())
            except IndexError:
                break
        keep = []
        for i in ids:
            self._infos.pop(i, None)
            if self._failed.pop(i, None) is None:
                keep.append(i)
        if keep:
            self._next_tag += 1
            cmd = pb.Command(release=pb.ReleaseRequest(ids=keep), tag=self._next_tag)
            self._buffer.append(_Cmd(cmd, "release", None, [], self._mut))

    def _flush(self):
        """Sends the buffer as one Execute batch (after the one in flight has come back)."""
        if self._inflight is not None:
            self._complete_inflight()
        if self._pending_error is not None:
            return
        if len(self._release_q) >= 64 or (self._release_q and self._buffer):
            self._drain_releases()
        if not self._buffer:
            return
        cmds, self._buffer = self._buffer, []
        # The request id makes the batch safe to resend: the server answers a repeat from the
        # first execution (its replay cache), so a retry after a lost reply never runs it twice.
        req = pb.ExecuteRequest(session_id=self.session_id, commands=[c.msg for c in cmds],
                                request_id=secrets.randbits(63) | 1)
        fut = self._stub.Execute.future(req, metadata=self._md, timeout=self._timeout)
        self._inflight = (fut, cmds, req)

    def _fail(self, cmd, code, message, op, where, requeue=True):
        for i in cmd.outputs:
            self._failed[i] = (code, message, op, where)
        if cmd.what == "release" and requeue:  # did not run: release those ids later
            self._release_q.extend(cmd.msg.release.ids)

    def _complete_inflight(self):
        fut, cmds, req = self._inflight
        self._inflight = None
        try:
            try:
                resp = fut.result()
            except grpc.RpcError as e:
                resp = self._retrying(lambda retry: self._stub.Execute(req, metadata=self._md, timeout=self._timeout),
                                      first_error=e)
        except grpc.RpcError as e:
            err = _errors.from_rpc_error(e, op=cmds[0].what, where=cmds[0].where)
            for c in cmds:  # the session's state is unknown (or gone): do not retry releases
                self._fail(c, err.code, str(err), c.what, c.where, requeue=False)
            self._drop_buffer(err)
            if self._pending_error is None:
                self._pending_error = err
            return
        results = resp.results
        for cmd, r in zip(cmds, results):
            if r.code != 0:
                if cmd.what == "release":  # never lose the batch's other results to a release
                    warnings.warn(f"tensord: releasing handles failed: {r.message}", RuntimeWarning)
                    continue
                err = _errors.make_error(r.code, r.message, op=cmd.what, where=cmd.where)
                self._fail(cmd, err.code, r.message, cmd.what, cmd.where)
                if self._pending_error is None:
                    self._pending_error = err
            else:
                self._take(cmd, r)
        if resp.failed_index >= 0 and cmds[resp.failed_index].what != "release":  # releases go last
            first = cmds[resp.failed_index]
            note = (f"not run: the earlier command '{first.what}' failed: "
                    f"{results[resp.failed_index].message}")
            for cmd in cmds[len(results):]:
                self._fail(cmd, _errors.status_code(results[resp.failed_index].code), note, cmd.what, cmd.where)
            self._drop_buffer(None, note, results[resp.failed_index].code)

    def _drop_buffer(self, err, note=None, code=None):
        """After a failure, the commands the program issued later never run."""
        for cmd in self._buffer:
            if err is not None:
                self._fail(cmd, err.code, str(err), cmd.what, cmd.where)
            else:
                self._fail(cmd, _errors.status_code(code), note, cmd.what, cmd.where)
        self._buffer = []

    def _take(self, cmd, r):
        cmd.result = r
        which = r.WhichOneof("result")
        stamp = cmd.mutation
        infos = self._infos
        live = self._live
        outputs = cmd.outputs
        if which == "tensors":
            for info in r.tensors.tensors:
                if info.id in live or info.id in outputs:
                    infos[info.id] = (info, stamp)
            extra = len(r.tensors.tensors) - len(cmd.outputs)
            if cmd.msg.HasField("apply_op") and cmd.outputs and extra > 0:
                # An op that returned more tensors than the client expected: do not leak them.
                warnings.warn(f"tensord: op '{cmd.what}' returned {len(r.tensors.tensors)} tensors; the client "
                              f"kept {len(cmd.outputs)}", RuntimeWarning)
                self._release_q.extend(info.id for info in r.tensors.tensors[len(cmd.outputs):])
        elif which == "grad":
            for info, defined in zip(r.grad.grads, r.grad.defined):
                if defined and (info.id in live or info.id in outputs):
                    infos[info.id] = (info, stamp)
        elif which == "tensor":
            info = r.tensor.info
            if info.id in live:
                infos[info.id] = (info, stamp)

    def _sync(self):
        """Runs everything queued; raises the first error of a pipelined command."""
        with self._lock:
            self._check_open()
            self._raise_pending()
            self._flush()
            if self._inflight is not None:
                self._complete_inflight()
            self._raise_pending()

    def synchronize(self):
        """Waits until every command issued so far has run; raises the first pending error."""
        self._sync()

    def _run(self, command, what, outputs=(), inputs=(), mutation=False):
        """Submits one command and waits for its result."""
        cmd = self._submit(command, what, outputs, inputs, mutation)
        self._sync()
        return cmd.result

    # ---- checkpoints (python/tensord/_checkpoint.py) ---------------------------------------------

    def save(self, obj, f, include_grad=False, metadata=None, server=False):
        """torch.save for a dict of tensors, as a safetensors file: ``f`` is a path or a binary file
        on the client's side (written atomically when a path), or with ``server=True`` a path under
        the server's ``--checkpoint_dir``. ``include_grad``: each tensor's ``.grad`` too."""
        self._check_open()
        _checkpoint.save(self, obj, f, include_grad=include_grad, metadata=metadata, server=server)

    def load(self, f, server=False):
        """torch.load of a safetensors file (a path or binary file on the client's side, or with
        ``server=True`` a path under the server's ``--checkpoint_dir``): a dict of new tensors,
        leaves (no grad_fn), with requires_grad and .grad as saved. A malformed file raises and
        creates nothing."""
        self._check_open()
        return _checkpoint.load(self, f, server=server)

    # ---- tensors and their metadata -------------------------------------------------------------

    def _wrap(self, tid):
        t = Tensor.__new__(Tensor)
        t._s = self
        t._id = tid
        t._grad_obj = None
        t._grad_bw = -1
        t._grad_cg = -1
        t._grad_leaf = False
        t._grad_hist = True
        self._live[tid] = t
        return t

    def _release(self, tid):
        if not self._closed:
            self._release_q.append(tid)

    def _info(self, t, fresh=True):
        """The TensorInfo of t; `fresh`: also valid after later in-place ops / flag changes."""
        if t._s is not self:
            raise RuntimeError("tensord: this tensor belongs to another session")
        e = self._infos.get(t._id)
        if e is not None and (not fresh or e[1] == self._mut):
            return e[0]
        self._check_inputs([t._id])
        if e is None or self._buffer or self._inflight is not None:
            self._sync()
            e = self._infos.get(t._id)
            if e is not None and (not fresh or e[1] == self._mut):
                return e[0]
            self._check_inputs([t._id])
        self._run(pb.Command(get_info=pb.TensorRequest(id=t._id)), "get_info", inputs=[t._id])
        return self._infos[t._id][0]

    def _fetch(self, tid, grad=False):
        """(dtype, shape, flat values) of a tensor (or of its .grad: None when it has none)."""
        data = self._fetch_data(tid, grad)
        return None if data is None else _decode(data)

    def _fetch_data(self, tid, grad=False):
        """The TensorData (raw bytes) of a tensor or of its .grad (None when it has none)."""
        self._sync()
        info = self._infos.get(tid, (None,))[0]
        nbytes = None
        if info is not None:
            n = 1
            for d in info.shape:
                n *= d
            nbytes = n * _dtypes.from_wire(info.dtype).itemsize
        if nbytes is not None and nbytes > self._inline_bytes:
            return self._download(tid, grad)
        r = self._run(pb.Command(get_tensor=pb.GetTensorRequest(id=tid, include_grad=grad)), "get_tensor",
                      inputs=[tid])
        data = r.tensor.grad if grad else r.tensor.value
        if grad and data.dtype == pb.DTYPE_UNSPECIFIED:
            return None
        return data

    def _download(self, tid, grad):
        def download(retry):
            chunks = self._stub.Download(pb.DownloadRequest(id=tid, grad=grad, session_id=self.session_id),
                                         metadata=self._md, timeout=self._timeout)
            info, parts = None, []
            for c in chunks:
                if info is None:
                    info = c.info
                parts.append(c.data)
            return info, parts
        try:
            info, parts = self._retrying(download)
        except grpc.RpcError as e:
            if grad and e.code() == grpc.StatusCode.FAILED_PRECONDITION:
                return None
            raise _errors.from_rpc_error(e, op="download", where=_call_site()) from None
        return pb.TensorData(dtype=info.dtype, shape=info.shape, data=b"".join(parts))

    def _create(self, flat, shape, dt, requires_grad=False, what="tensor", wrapped_number=False):
        """A new tensor from values (inline, or with Upload when large)."""
        return self._create_raw(_encode(flat, dt), shape, dt, requires_grad, what, wrapped_number)

    def _create_raw(self, raw, shape, dt, requires_grad=False, what="tensor", wrapped_number=False):
        """A new tensor from raw little-endian bytes (inline, or with Upload when large)."""
        tid = self._new_id()
        if len(raw) <= self._inline_bytes or wrapped_number:
            data = pb.TensorData(dtype=dt._wire, shape=shape, data=raw)
            req = pb.CreateTensorRequest(id=tid, data=data, requires_grad=requires_grad)
            if wrapped_number:
                req.wrapped_number = True
            self._submit(pb.Command(create_tensor=req), what, outputs=[tid])
            return self._wrap(tid)
        self._sync()

        def chunks():
            step = 1 << 20
            yield pb.UploadChunk(session_id=self.session_id, id=tid, dtype=dt._wire, shape=shape,
                                 requires_grad=requires_grad, data=raw[:step])
            for off in range(step, len(raw), step):
                yield pb.UploadChunk(data=raw[off:off + step])
        try:
            # The handle id is fresh: a retry that finds it taken means the first upload landed.
            resp = self._retrying(lambda retry: self._stub.Upload(chunks(), metadata=self._md, timeout=self._timeout),
                                  done_if=grpc.StatusCode.ALREADY_EXISTS)
        except grpc.RpcError as e:
            raise _errors.from_rpc_error(e, op="upload", where=_call_site()) from None
        t = self._wrap(tid)
        for info in resp.tensors if resp is not None else ():
            self._infos[info.id] = (info, self._mut)
        return t

    def _scalar(self, value):
        """A Python number as PyTorch wraps it: a 0-dim bool / int64 / float64 tensor marked as a
        wrapped number, so it has the lowest priority in type promotion (float32 + 2.5 stays
        float32). Cached: the client never hands these handles out, so nothing can change them."""
        if isinstance(value, bool):
            key, dt, v = ("b", value), _dtypes.bool, value
        elif isinstance(value, numbers.Integral):
            key, dt, v = ("i", int(value)), _dtypes.int64, int(value)
        else:
            v = float(value)
            key, dt = ("f", struct.pack("<d", v)), _dtypes.float64
        t = self._scalars.get(key)
        if t is not None and t._id not in self._failed:
            self._scalars.move_to_end(key)
            return t
        t = self._create([v], (), dt, what="scalar", wrapped_number=True)
        self._scalars[key] = t
        if len(self._scalars) > 512:
            self._scalars.popitem(last=False)
        return t

    def _input(self, x, op, allow_none=False):
        if x is None and allow_none:
            return 0  # an absent optional tensor (Tensor? bias=None)
        if isinstance(x, Tensor):
            if x._s is not self:
                raise RuntimeError(f"tensord: {op}(): a tensor of another session")
            return x._id
        if isinstance(x, numbers.Number) and not isinstance(x, complex):
            return self._scalar(x)._id
        raise TypeError(f"{op}(): expected Tensor or a number as input, but got {type(x).__name__}")

    # ---- ops ------------------------------------------------------------------------------------

    def _apply(self, op, inputs, attrs=None, n_out=None, attr_types=None, allow_none=False):
        """Applies a table op (or its in-place form); returns a Tensor, a tuple, or inputs[0].
        allow_none (schema path): None inputs go as id 0, and those at the end are left out."""
        info = self._opinfo(op)
        inplace = op in self._inplace
        if attrs and isinstance(attrs.get("reduction"), str):
            # The table's reduction is ATen's int enum (the hand-kept path passes F's strings).
            if attrs["reduction"] not in _REDUCTION:
                raise ValueError(f"{attrs['reduction']} is not a valid value for reduction")
            attrs = dict(attrs, reduction=_REDUCTION[attrs["reduction"]])
        ids = [self._input(x, op, allow_none) for x in inputs]
        while allow_none and ids and ids[-1] == 0:
            ids.pop()
        if n_out is None:
            n_out = info.num_outputs or _MULTI_OUTPUT.get(op, 1)
        listed = n_out < 0
        outs = [] if inplace or listed else [self._new_id() for _ in range(n_out)]
        msg = pb.ApplyOpRequest(op=op, inputs=ids, outputs=outs, grad_enabled=self._grad_enabled)
        if attrs:
            types = attr_types if attr_types is not None else {a.name: a.type for a in info.attrs}
            for k, v in attrs.items():
                msg.attrs[k].CopyFrom(_attr(v, types.get(k)))
        cmd = self._submit(pb.Command(apply_op=msg), op, outputs=outs, inputs=ids, mutation=inplace)
        if inplace:
            return inputs[0]
        if listed:
            self._sync()
            res = []
            for info in cmd.result.tensors.tensors:
                res.append(self._wrap(info.id))
                self._infos[info.id] = (info, cmd.mutation)
            return tuple(res)
        res = [self._wrap(i) for i in outs]
        return res[0] if n_out == 1 else tuple(res)

    def _opinfo(self, op):
        info = self._ops.get(op) or self._inplace.get(op)
        if info is None:
            raise RuntimeError(f"tensord: the server has no op '{op}'")
        return info

    def _install_ops(self, ops):
        self._ops = {o.name: o for o in ops}
        self._inplace = {o.inplace_name: o for o in ops if o.inplace_name}
        self._op_fns = {}  # t.NAME
        self._methods = {}  # x.NAME (schema path; without schemas Tensor uses _op_fns)
        self._table = None
        self._functional = None
        if any(getattr(o, "schema", "") for o in ops):
            self._install_schema_ops(ops)
            return
        for o in ops:
            for name in (o.name, o.inplace_name):
                if name and not name.startswith("_"):
                    self._op_fns[name] = self._make_op(name, o)

    # ---- ops by their schemas -------------------------------------------------------------------

    def _install_schema_ops(self, ops):
        """Functions, methods and in-place methods per overload group, bound as PyTorch binds them
        (tensord._schema), from the schemas ListOps gives; ops without one are internal."""
        entries = [(o.schema, o.name, o.inplace_name or None) for o in ops if getattr(o, "schema", "")]
        # The server's table has the .Tensor overloads of these groups but not PyTorch's .Scalar
        # siblings: a number goes as a wrapped 0-dim tensor, as the server expects.
        self._table = _schema.OpTable(entries, _ClientAdapter(), numbers_as_tensors=_SCALAR_AS_TENSOR,
                                      omittable_optionals=True)
        for text, why in self._table.skipped:
            warnings.warn(f"tensord: cannot bind the server's op '{text}': {why}", RuntimeWarning)
        self._functional = _schema.Functional(self._table, ndim=lambda x: x.dim(), shape=lambda x: tuple(x.shape))
        for name, g in self._table.groups.items():
            if name.startswith("_"):
                continue
            if g.has_function:
                self._op_fns[name] = self._schema_fn(name)
            if g.has_inplace:
                self._op_fns.setdefault(name + "_", self._schema_fn(name + "_"))  # torch.relu_(x)
            if g.has_method:
                self._methods[name] = self._schema_method(name)
            if g.has_inplace_method:
                self._methods[name + "_"] = self._schema_method(name + "_")

    def _schema_fn(self, name):
        table = self._table

        def op(*args, **kwargs):
            return self._call_bound(table.call(name, *args, **kwargs))

        op.__name__ = op.__qualname__ = name
        return op

    def _schema_method(self, name):
        table = self._table

        def method(receiver, *args, **kwargs):
            return self._call_bound(table.method(receiver, name, *args, **kwargs))

        method.__name__ = method.__qualname__ = name
        return method

    def _call_bound(self, b):
        """Sends a bound call (tensord._schema.Bound) as one ApplyOp."""
        inputs = []
        for v in b.tensors:
            if isinstance(v, (list, tuple)):
                inputs.extend(v)  # Tensor[]: its tensors in order
            else:
                inputs.append(v)
        types = {}
        for a in b.schema.args:
            if a.type.is_tensor_like:
                continue
            typ = _ATTR_TYPES.get(a.type.base + ("[]" if a.type.list else ""))
            value = b.attrs.get(a.name)
            if typ is None and value is not None:
                if a.type.base in ("Layout", "MemoryFormat") and not a.type.list:
                    typ = "int"  # ATen's enum value (torch.strided, torch.contiguous_format: 0)
                elif a.type.base == "Device" and not a.type.list:
                    typ = "str"  # "cpu"
                else:
                    raise NotImplementedError(f"tensord: {b.schema.full_name}: an argument of type {a.type} "
                                              f"('{a.name}') has no wire form")
            types[a.name] = typ or ""
        info = self._opinfo(b.op)
        rets = b.schema.returns
        if len(rets) == 1 and not rets[0][0].list and rets[0][0].base in _SCALAR_RETURNS:
            # is_contiguous() -> bool, size.int -> int: the server answers with one 0-dim tensor
            res = self._apply(b.op, inputs, b.attrs, n_out=1, attr_types=types, allow_none=True)
            return _SCALAR_RETURNS[rets[0][0].base](res.item())
        n_out = info.num_outputs or b.schema.num_outputs
        if n_out == 0:
            raise NotImplementedError(f"tensord: {b.schema.full_name} returns no tensor; the client cannot "
                                      "take its result")
        res = self._apply(b.op, inputs, b.attrs, n_out=n_out, attr_types=types, allow_none=True)
        names = [n for _, n in b.schema.returns]
        if len(names) > 1 and all(names) and isinstance(res, tuple) and len(res) == len(names):
            return return_types._make(b.schema.name, names)(*res)  # torch.return_types.max(values, indices)
        return res

    def _has_op(self, name):
        """Whether the client can call receiver.NAME (by a schema group or, without schemas, a wire op)."""
        if self._table is not None:
            return name in self._table.groups or (name.endswith("_") and name[:-1] in self._table.groups)
        return name in self._ops or name in self._inplace

    def _op(self, name, receiver, *args, **kwargs):
        """receiver.NAME(*args, **kwargs) for the client's own operators (x + y, x[i], x.T): by the
        schema's binding when the server gives schemas (any form, as torch's C++ calls them);
        without, the wire op NAME with receiver and args as inputs, kwargs as attributes."""
        t = self._table
        if t is not None:
            inplace = name not in t.groups and name.endswith("_")
            g = t.groups.get(name[:-1] if inplace else name)
            if g is None:
                raise RuntimeError(f"tensord: the server has no op '{name}'")
            return self._call_bound(g.bind(args, kwargs, receiver=receiver, inplace=inplace, every_form=True))
        return self._apply(name, [receiver, *args], kwargs or None)

    def _make_op(self, name, info):
        """A function with PyTorch's calling convention for one table op."""
        n_in = info.num_inputs
        attrs = list(info.attrs)
        names = [a.name for a in attrs]
        required = [a.name for a in attrs if a.required]
        order = _TORCH_ORDER.get(info.name)

        def op(*args, **kwargs):
            args = list(args)
            if order is not None:
                # PyTorch's positional order -> the table's (inputs, then attributes).
                if len(args) > len(order):
                    raise TypeError(f"{name}() takes at most {len(order)} positional arguments")
                ins = [None] * n_in
                for slot, value in zip(order, args):
                    if isinstance(slot, tuple):
                        ins[slot[1]] = value
                    elif slot in kwargs:
                        raise TypeError(f"{name}() got multiple values for argument '{slot}'")
                    else:
                        kwargs[slot] = value
                for slot in order:
                    if isinstance(slot, tuple) and ins[slot[1]] is None:
                        if slot[2] not in kwargs:
                            raise TypeError(f"{name}() missing required argument '{slot[2]}'")
                        ins[slot[1]] = kwargs.pop(slot[2])
                args = ins
            if n_in == -1:
                if args:
                    tensors = args.pop(0)
                else:
                    tensors = kwargs.pop("tensors")
                inputs = list(tensors)
            else:
                inputs = args[:n_in]
                args = args[n_in:]
                for k in _INPUT_KWARGS:
                    if len(inputs) < n_in and k in kwargs and k not in names:
                        inputs.append(kwargs.pop(k))
                # Trailing `Tensor?` inputs of the schema (linear's bias) may be left out: None.
                optional = info.schema.split("->")[0].count("Tensor? ")
                for k in ("weight", "bias", "pos_weight"):
                    if optional and len(inputs) < n_in and k in kwargs and k not in names:
                        inputs.append(kwargs.pop(k))
                if len(inputs) < n_in - optional:
                    raise TypeError(f"{name}() expects {n_in} tensor argument(s), got {len(inputs)}")
                inputs += [None] * (n_in - len(inputs))
            if attrs and attrs[0].type == "int[]" and len(args) > len(attrs):
                args = [list(args)]  # x.view(2, 3)
            if len(args) > len(attrs):
                raise TypeError(f"{name}() takes {n_in + len(attrs)} positional arguments but "
                                f"{n_in + len(args)} were given")
            values = dict(zip(names, args))
            for k, v in kwargs.items():
                if k not in names:
                    raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")
                if k in values:
                    raise TypeError(f"{name}() got multiple values for argument '{k}'")
                values[k] = v
            for k in required:
                if k not in values:
                    raise TypeError(f"{name}() missing required argument '{k}'")
            return self._apply(name, inputs, values, allow_none=True)

        op.__name__ = name
        op.__qualname__ = name
        op.__doc__ = info.doc
        return op

    def __getattr__(self, name):
        if name.startswith("__") or "_op_fns" not in self.__dict__:
            raise AttributeError(name)
        fn = self._op_fns.get(name)
        if fn is None:
            raise AttributeError(f"tensord: '{name}' is not supported (it is not in the server's op table "
                                 f"nor one of the client's functions)")
        return fn

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._op_fns))

    # ---- PyTorch overloads, dispatched by hand -----------------------------------------------

    @_schema_first
    def sum(self, input, dim=None, keepdim=False, *, dtype=None):
        if dtype is not None:
            input = self.to(input, dtype)
        if dim is None:
            return self._apply("sum", [input])
        return self._apply("sum_dim", [input], {"dim": _dims(dim), "keepdim": keepdim})

    @_schema_first
    def mean(self, input, dim=None, keepdim=False, *, dtype=None):
        if dtype is not None:
            input = self.to(input, dtype)
        if dim is None:
            return self._apply("mean", [input])
        return self._apply("mean_dim", [input], {"dim": _dims(dim), "keepdim": keepdim})

    @_schema_first
    def prod(self, input, dim=None, keepdim=False, *, dtype=None):
        if dtype is not None:
            input = self.to(input, dtype)
        if dim is None:
            return self._apply("prod", [input])
        return self._apply("prod_dim", [input], {"dim": dim, "keepdim": keepdim})

    def _minmax(self, which, input, dim, keepdim, other):
        if isinstance(dim, Tensor) or other is not None:
            other = dim if other is None else other
            elementwise = {"max": "maximum", "min": "minimum"}[which]
            if elementwise in self._ops:
                return self._apply(elementwise, [input, other])
            raise NotImplementedError(f"tensord: torch.{which}(input, other) (elementwise) is not in the op "
                                      "table")
        if dim is None:
            if which in self._ops:
                return self._apply(which, [input])
            raise NotImplementedError(f"tensord: torch.{which}(input) without dim is not in the op table; "
                                      f"use {which}(input, dim)")
        values, indices = self._apply(which + "_dim", [input], {"dim": dim, "keepdim": keepdim})
        return getattr(return_types, which)(values, indices)

    @_schema_first
    def max(self, input, dim=None, keepdim=False, *, other=None):
        return self._minmax("max", input, dim, keepdim, other)

    @_schema_first
    def min(self, input, dim=None, keepdim=False, *, other=None):
        return self._minmax("min", input, dim, keepdim, other)

    @_schema_first
    def pow(self, input, exponent):
        if isinstance(input, Tensor):
            if isinstance(exponent, Tensor):
                return self._apply("pow", [input, exponent])
            return self._apply("pow_scalar", [input], {"exponent": exponent})
        if isinstance(exponent, Tensor):
            return exponent.__rpow__(input)
        raise TypeError("pow(): at least one argument must be a Tensor")

    @_schema_first
    def squeeze(self, input, dim=None):
        if dim is None:
            return self._apply("squeeze", [input])
        return self._apply("squeeze_dim", [input], {"dim": dim})

    def to(self, input, *args, dtype=None, **kwargs):
        """Tensor.to(dtype) / to(other) / to(device) (only 'cpu' devices are accepted and ignored)."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, _dtypes.dtype) or (not isinstance(a, str) and "torch." in str(a)):
                dtype = _dtypes.to_dtype(a)
            elif str(a) != "cpu":
                raise TypeError(f"tensord: to({a!r}) is not supported")
        if dtype is None:
            return input
        dtype = _dtypes.to_dtype(dtype)
        if self._table is not None:
            return self._op("to", input, dtype)
        return self._apply("to", [input], {"dtype": dtype})

    @_schema_first
    def clamp(self, input, min=None, max=None):
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            raise NotImplementedError("tensord: clamp with tensor bounds is not in the op table")
        return self._apply("clamp", [input], {"min": min, "max": max})

    clip = clamp

    @_schema_first
    def cat(self, tensors, dim=0):
        return self._apply("cat", list(tensors), {"dim": dim})

    concat = cat

    @_schema_first
    def unbind(self, input, dim=0):
        return self._op_fns["unbind"](input, dim)

    @_schema_first
    def transpose(self, input, dim0, dim1):
        return self._apply("transpose", [input], {"dim0": dim0, "dim1": dim1})

    @_schema_first
    def reshape(self, input, shape):
        return self._apply("reshape", [input], {"shape": _size_args((shape,), "reshape")})

    def norm(self, input, p="fro", dim=None, keepdim=False, dtype=None):
        # torch.norm is Python (torch/functional.py) over several ATen ops; mapped by hand always.
        if dtype is not None:
            input = self.to(input, dtype)
        p = 2 if p == "fro" else p
        if dim is None and not keepdim:
            return self._apply("norm", [input], {"p": p})
        if dim is None:
            dim = list(range(input.dim()))
        return self._apply("norm_dim", [input], {"p": p, "dim": _dims(dim), "keepdim": keepdim})

    def numel(self, input):
        return input.numel()

    @staticmethod
    def set_printoptions(*args, **kwargs):
        """torch.set_printoptions (process-wide, for every session)."""
        return _format.set_printoptions(*args, **kwargs)

    def is_tensor(self, obj):
        return isinstance(obj, Tensor)

    def is_floating_point(self, input):
        return input.is_floating_point()

    def get_default_dtype(self):
        return self._default_dtype

    # ---- grad mode ------------------------------------------------------------------------------

    def no_grad(self):
        return no_grad(self)

    def enable_grad(self):
        return enable_grad(self)

    def set_grad_enabled(self, mode):
        return set_grad_enabled(self, mode)

    def is_grad_enabled(self):
        return self._grad_enabled

    # ---- factories ------------------------------------------------------------------------------

    def tensor(self, data, dtype=None, requires_grad=False, device=None):
        if isinstance(data, Tensor):
            warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.clone()."
                          "detach() or sourceTensor.clone().detach().requires_grad_(True), rather than "
                          "torch.tensor(sourceTensor).", UserWarning, stacklevel=2)
            out = data.detach().clone()
            if dtype is not None:
                out = out.to(dtype)
            if requires_grad:
                out.requires_grad_(True)
            return out
        shape, flat, kind = _flatten_data(data)
        if dtype is None:
            dt = {-1: self._default_dtype, 0: _dtypes.bool, 1: _dtypes.int64, 2: self._default_dtype}[kind]
        else:
            dt = _dtypes.to_dtype(dtype)
        if requires_grad and not dt.is_floating_point:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        return self._create(flat, shape, dt, requires_grad)

    as_tensor = tensor

    def from_numpy(self, ndarray):
        return self.tensor(ndarray, dtype=_dtypes.to_dtype(str(ndarray.dtype)))

    # zeros, ones, full, arange, eye, rand, randint, normal, zeros_like, ... are table ops: bound
    # from their ATen schemas (tensord._schema; requires_grad as PyTorch's bindings add it).

    # ---- autograd -------------------------------------------------------------------------------

    def _ids(self, tensors, what, allow_none=False):
        out = []
        for t in tensors:
            if t is None and allow_none:
                out.append(0)
            elif isinstance(t, Tensor):
                if t._s is not self:
                    raise RuntimeError(f"tensord: {what}: a tensor of another session")
                out.append(t._id)
            else:
                raise TypeError(f"{what}: expected a Tensor, got {type(t).__name__}")
        return out

    def _backward(self, tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
        tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
        if grad_tensors is None:
            grads = []
        else:
            grad_tensors = [grad_tensors] if isinstance(grad_tensors, Tensor) else list(grad_tensors)
            grads = [self._scalar_grad(g) for g in grad_tensors]
        if inputs is None:
            inputs = []
        elif isinstance(inputs, Tensor):
            inputs = [inputs]
        req = pb.BackwardRequest(tensors=self._ids(tensors, "backward"),
                                 grad_tensors=self._ids(grads, "backward", allow_none=True),
                                 create_graph=bool(create_graph), inputs=self._ids(list(inputs), "backward"))
        if retain_graph is not None:
            req.retain_graph = bool(retain_graph)
        self._bw_epoch += 1
        if create_graph:
            self._cg_epoch += 1
        self._run(pb.Command(backward=req), "backward", inputs=list(req.tensors) + list(req.inputs))

    def _scalar_grad(self, g):
        if g is None or isinstance(g, Tensor):
            return g
        return self.tensor(g)

    def _grad(self, outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
              allow_unused=False):
        outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
        single = isinstance(inputs, Tensor)
        inputs = [inputs] if single else list(inputs)
        if grad_outputs is None:
            gouts = []
        else:
            grad_outputs = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
            gouts = [self._scalar_grad(g) for g in grad_outputs]
        results = [self._new_id() for _ in inputs]
        req = pb.GradRequest(outputs=self._ids(outputs, "grad"), inputs=self._ids(inputs, "grad"),
                             grad_outputs=self._ids(gouts, "grad", allow_none=True),
                             create_graph=bool(create_graph), allow_unused=bool(allow_unused), results=results)
        if retain_graph is not None:
            req.retain_graph = bool(retain_graph)
        r = self._run(pb.Command(grad=req), "grad", inputs=list(req.outputs) + list(req.inputs))
        out = []
        for rid, info, defined in zip(results, r.grad.grads, r.grad.defined):
            if defined:
                t = self._wrap(rid)
                self._infos[rid] = (info, self._mut)
                out.append(t)
            else:
                out.append(None)
        return tuple(out)

    def _graph(self, t):
        r = self._run(pb.Command(get_graph=pb.GetGraphRequest(id=t._id)), "grad_fn", inputs=[t._id])
        g = r.graph
        if g.root < 0:
            return None
        nodes = [Node._make(self, n) for n in g.nodes]
        for node, n in zip(nodes, g.nodes):
            node._next = tuple((nodes[e.node] if e.node >= 0 else None, e.input_nr) for e in n.next)
        return nodes[g.root]


_SCALAR_RETURNS = {"bool": bool, "int": int, "SymInt": int, "float": float, "Scalar": lambda v: v}
_ATTR_TYPES = {"int": "int", "SymInt": "int", "int[]": "int[]", "SymInt[]": "int[]", "float": "float",
               "bool": "bool", "Scalar": "Scalar", "ScalarType": "dtype", "str": "str", "float[]": "float[]"}


class _ClientAdapter(_schema.Adapter):
    """What tensord._schema asks about values: tensord tensors and dtypes (torch's dtypes too)."""

    def is_tensor(self, x):
        return isinstance(x, Tensor)

    def tensor_dim(self, x):
        return x.dim()

    def tensor_numel(self, x):
        return x.numel()

    def tensor_kind(self, x):
        dt = x.dtype
        if dt is _dtypes.bool:
            return "bool"
        return "float" if dt.is_floating_point else "int"

    def tensor_requires_grad(self, x):
        return x.requires_grad

    def item(self, x):
        return x.item()

    def is_dtype(self, x):
        return isinstance(x, _dtypes.dtype) or (type(x).__name__ == "dtype" and str(x).startswith("torch."))

    def dtype_from_pytype(self, t):
        return {float: _dtypes.float64, int: _dtypes.int64, bool: _dtypes.bool}.get(t, t)


def _dims(dim):
    if isinstance(dim, (list, tuple)):
        return list(dim)
    return [dim]


def _close_all():
    for s in list(_SESSIONS):
        try:
            s.close()
        except Exception:  # noqa: BLE001 - never fail at interpreter exit
            pass


atexit.register(_close_all)


def connect(address, token=None, root_certificates=None, seed=None, default_dtype=None, ttl_seconds=0,
            labels=None, pipelining=True, batch_size=256, timeout=None, channel_options=None, retry_deadline=30.0):
    """Opens a session on the tensord server at `address` ("host:port") and returns it.

    The returned object stands in for the ``torch`` module. token: bearer token; root_certificates:
    PEM bytes (or a file path) to use TLS; seed: the session's random seed; default_dtype: float32
    (default) or float64; pipelining=False sends each command on its own (errors raise at once).
    retry_deadline: how long (seconds) calls are retried while the server answers UNAVAILABLE (a
    restart, a drain, a proxy without a replica); 0 turns retrying off. Every batch carries a
    request id, so a retried batch never runs twice (see README "Clients ride through restarts").
    """
    return Session(address, token=token, root_certificates=root_certificates, seed=seed,
                   default_dtype=default_dtype, ttl_seconds=ttl_seconds, labels=labels, pipelining=pipelining,
                   batch_size=batch_size, timeout=timeout, channel_options=channel_options,
                   retry_deadline=retry_deadline)
