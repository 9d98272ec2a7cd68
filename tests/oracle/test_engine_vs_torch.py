"""The engine against PyTorch 1.13, case by case.

engine_oracle_dump writes, as JSON Lines, what the engine computed for every op sample of the
table (inputs, outputs, grad_fn names, requires_grad, the random grad_outputs it used and the
input gradients from autograd.grad) and a set of tensor reprs. This file rebuilds every case in
PyTorch (same values, dtypes and strides) and compares dtype, shape, values, grad_fn,
requires_grad, whether the output is a view (and then its strides and storage offset), the
input gradients and repr() exactly. Run it through tests/oracle/run_oracle.sh (ctest:
engine_vs_pytorch), or by hand:

    build/tests/engine_oracle_dump /tmp/oracle.jsonl
    TENSORD_ORACLE_DUMP=/tmp/oracle.jsonl /usr/bin/python3 -m pytest -q tests/oracle

Every op of the table needs an entry in TORCH_OPS: a dumped op without one fails.
"""

import json
import os

import pytest
import torch

DUMP_ENV = "TENSORD_ORACLE_DUMP"

# rtol/atol per dtype. float64 is tight enough to catch a float64 op computed in float32.
TOLERANCES = {
    torch.float64: dict(rtol=1e-10, atol=1e-12),
    torch.float32: dict(rtol=1.3e-6, atol=1e-5),
}


# ATen's reduction enum, as the table's `int reduction` gives it.
_RED = {0: "none", 1: "mean", 2: "sum"}


def _reshape_alias(x, size):
    # reshape's view case: for a viewable input PyTorch 1.13 calls aten::_reshape_alias.
    out = x.reshape(size)
    assert out._base is x, "reshape copied: the sample does not exercise the view case"
    return out


# op name -> lambda(inputs, attrs): the PyTorch call with the engine op's semantics. Returns a
# tensor or a tuple/list of tensors (multi-output ops), in the engine's output order.
TORCH_OPS = {
    "add": lambda x, a: torch.add(x[0], x[1], alpha=a["alpha"]),
    "sub": lambda x, a: torch.sub(x[0], x[1], alpha=a["alpha"]),
    "mul": lambda x, a: torch.mul(x[0], x[1]),
    "div": lambda x, a: torch.div(x[0], x[1]),
    "rsub": lambda x, a: torch.rsub(x[0], a["other"], alpha=a["alpha"]),
    "pow": lambda x, a: torch.pow(x[0], x[1]),
    "pow_scalar": lambda x, a: torch.pow(x[0], a["exponent"]),
    "pow_scalar_base": lambda x, a: torch.pow(a["self"], x[0]),
    "neg": lambda x, a: torch.neg(x[0]),
    "abs": lambda x, a: torch.abs(x[0]),
    "sign": lambda x, a: torch.sign(x[0]),
    "exp": lambda x, a: torch.exp(x[0]),
    "log": lambda x, a: torch.log(x[0]),
    "sqrt": lambda x, a: torch.sqrt(x[0]),
    "sin": lambda x, a: torch.sin(x[0]),
    "cos": lambda x, a: torch.cos(x[0]),
    "tanh": lambda x, a: torch.tanh(x[0]),
    "sigmoid": lambda x, a: torch.sigmoid(x[0]),
    "relu": lambda x, a: torch.relu(x[0]),
    "clamp": lambda x, a: torch.clamp(x[0], min=a["min"], max=a["max"]),
    "where": lambda x, a: torch.where(x[0], x[1], x[2]),
    # zero, fill and copy are the out-of-place forms of zero_, fill_ and copy_. PyTorch has no
    # out-of-place op with their node names, but clone() followed by the in-place op is exactly
    # the semantics: the result's grad_fn is ZeroBackward0 / FillBackward2 / CopyBackwards, self
    # gets a zero gradient (through CloneBackward0) and copy's src gets the gradient summed back
    # to its shape. So all three are compared in full, grad_fn included.
    "zero": lambda x, a: x[0].clone().zero_(),
    "fill": lambda x, a: x[0].clone().fill_(a["value"]),
    "copy": lambda x, a: x[0].clone().copy_(x[1]),
    "eq": lambda x, a: torch.eq(x[0], x[1]),
    "ne": lambda x, a: torch.ne(x[0], x[1]),
    "lt": lambda x, a: torch.lt(x[0], x[1]),
    "le": lambda x, a: torch.le(x[0], x[1]),
    "gt": lambda x, a: torch.gt(x[0], x[1]),
    "ge": lambda x, a: torch.ge(x[0], x[1]),
    "sum": lambda x, a: torch.sum(x[0]),
    "sum_dim": lambda x, a: torch.sum(x[0], a["dim"], a["keepdim"]),
    "mean": lambda x, a: torch.mean(x[0]),
    "mean_dim": lambda x, a: torch.mean(x[0], a["dim"], a["keepdim"]),
    "max_dim": lambda x, a: tuple(torch.max(x[0], a["dim"], a["keepdim"])),
    "min_dim": lambda x, a: tuple(torch.min(x[0], a["dim"], a["keepdim"])),
    "mm": lambda x, a: torch.mm(x[0], x[1]),
    "bmm": lambda x, a: torch.bmm(x[0], x[1]),
    "mv": lambda x, a: torch.mv(x[0], x[1]),
    "dot": lambda x, a: torch.dot(x[0], x[1]),
    "matmul": lambda x, a: torch.matmul(x[0], x[1]),
    "view": lambda x, a: x[0].view(a["size"]),
    "reshape": lambda x, a: torch.reshape(x[0], a["shape"]),
    "_reshape_alias": lambda x, a: _reshape_alias(x[0], a["size"]),
    "_unsafe_view": lambda x, a: torch.ops.aten._unsafe_view(x[0], a["size"]),
    "transpose": lambda x, a: torch.transpose(x[0], a["dim0"], a["dim1"]),
    "t": lambda x, a: torch.t(x[0]),
    "unsqueeze": lambda x, a: torch.unsqueeze(x[0], a["dim"]),
    "squeeze": lambda x, a: torch.squeeze(x[0]),
    "squeeze_dim": lambda x, a: torch.squeeze(x[0], a["dim"]),
    # matmul's 1-D @ 2-D case squeezes its mm result in place (squeeze_, SqueezeBackward3); on a
    # fresh tensor that is clone() followed by squeeze_, whose node has the same name.
    "_matmul_squeeze": lambda x, a: x[0].clone().squeeze_(a["dim"]),
    "expand": lambda x, a: x[0].expand(a["size"]),
    "expand_as": lambda x, a: x[0].expand_as(x[1]),
    "select": lambda x, a: torch.select(x[0], a["dim"], a["index"]),
    "slice": lambda x, a: torch.ops.aten.slice(x[0], a["dim"], a["start"], a["end"], a["step"]),
    "_select_backward": lambda x, a: torch.ops.aten.select_backward(
        x[0], a["input_size"], a["dim"], a["index"]),
    "_slice_backward": lambda x, a: torch.ops.aten.slice_backward(
        x[0], a["input_size"], a["dim"], a["start"], a["end"], a["step"]),
    "unbind": lambda x, a: torch.unbind(x[0], a["dim"]),
    "cat": lambda x, a: torch.cat(x, a["dim"]),
    "clone": lambda x, a: torch.clone(x[0]),
    "contiguous": lambda x, a: x[0].contiguous(),
    "to": lambda x, a: x[0].to(a["dtype"]),
    "_to_copy": lambda x, a: torch.ops.aten._to_copy(x[0], dtype=a["dtype"]),
    "mse_loss": lambda x, a: torch.nn.functional.mse_loss(x[0], x[1],
                                                          reduction=_RED[a["reduction"]]),
    "binary_cross_entropy_with_logits": lambda x, a: (
        torch.nn.functional.binary_cross_entropy_with_logits(x[0], x[1],
                                                             reduction=_RED[a["reduction"]])),
}


# Engine-only internal ops (no aten op in PyTorch): values and gradients are compared with a
# reference computation, their node names are not.
NO_TORCH_NODE = set()
# Ops whose values are not PyTorch's (random numbers, uninitialised memory): op -> a check of the
# engine's values (or None); dtype, shape and flags are compared as for every op.
VALUES_UNSPECIFIED = {}


# ---- reading the dump -------------------------------------------------------------------------

# The ops added after the core set map in tests/oracle/torch_ops_<area>.py, each with its own
# TORCH_OPS dict; they are merged here.
def _merge_area_mappings():
    import glob
    import importlib
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    for path in sorted(glob.glob(os.path.join(here, "torch_ops_*.py"))):
        module = importlib.import_module(os.path.basename(path)[:-3])
        overlap = TORCH_OPS.keys() & module.TORCH_OPS.keys()
        assert not overlap, f"{path} maps ops mapped elsewhere too: {sorted(overlap)}"
        TORCH_OPS.update(module.TORCH_OPS)
        NO_TORCH_NODE.update(getattr(module, "NO_TORCH_NODE", ()))
        VALUES_UNSPECIFIED.update(getattr(module, "VALUES_UNSPECIFIED", {}))


_merge_area_mappings()


def _load_cases():
    path = os.environ.get(DUMP_ENV)
    if not path:
        return None, f"set {DUMP_ENV} to the output of engine_oracle_dump"
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()], None
    except OSError as e:
        return None, f"cannot read {DUMP_ENV}={path}: {e}"


CASES, LOAD_ERROR = _load_cases()


def _case_id(case):
    if case["kind"] == "repr":
        return f"repr/{case['label']}"
    if case["kind"] == "saved":
        grads = "".join("g" if d["requires_grad"] else "-" for d in case["inputs"])
        return f"saved/{case['op']}/{case['label']}/{grads}"
    return f"{case['op']}/{case['label']}/{case['dtype']}/seed{case['seed']}"


def _cases(kind):
    if CASES is None:
        # One failing test that says what is missing, instead of nothing collected.
        return [pytest.param(None, id="no_dump")]
    return [pytest.param(c, id=_case_id(c)) for c in CASES if c["kind"] == kind]


def _number(v):
    return float(v) if isinstance(v, str) else v  # "nan", "inf", "-inf"


def _dtype(name):
    return getattr(torch, name)


def _attrs(case):
    out = {}
    for name, attr in case["attrs"].items():
        kind, value = attr["type"], attr["value"]
        if kind == "dtype":
            value = _dtype(value)
        elif kind == "float":
            value = _number(value)
        out[name] = value
    return out


def _tensor(d):
    """A fresh leaf (not a view) with the dumped dtype, shape, values, strides, requires_grad."""
    dtype = _dtype(d["dtype"])
    values = torch.tensor([_number(v) for v in d["values"]], dtype=dtype).reshape(d["shape"])
    # Same layout as the engine's: a non-contiguous input (e.g. the transpose of a contiguous
    # tensor) makes PyTorch run its strided paths too.
    t = torch.empty_strided(d["shape"], d["strides"], dtype=dtype)
    t.copy_(values)
    assert t.is_contiguous() == d["contiguous"], "harness: layout not reproduced"
    return t.requires_grad_(d["requires_grad"])


def _grad_fn_name(t):
    # Python-generated nodes are named "AddBackward0"; C++ ones "torch::autograd::CopyBackwards".
    return None if t.grad_fn is None else t.grad_fn.name().split("::")[-1]


_MATCH = object()


def _check_values(what, actual, expected, errors, values_check=_MATCH):
    """Engine tensor (dumped dict) against a torch tensor: dtype, shape and values (or, for an op
    whose values are not PyTorch's, values_check(engine values as a tensor) or nothing)."""
    dtype = _dtype(actual["dtype"])
    if dtype != expected.dtype:
        errors.append(f"{what}: dtype: engine {dtype}, torch {expected.dtype}")
        return
    if actual["shape"] != list(expected.shape):
        errors.append(f"{what}: shape: engine {actual['shape']}, torch {list(expected.shape)}")
        return
    got = torch.tensor([_number(v) for v in actual["values"]], dtype=dtype).reshape(actual["shape"])
    if values_check is not _MATCH:
        if values_check is not None and not values_check(got):
            errors.append(f"{what}: values out of their range: {got.tolist()}")
        return
    want = expected.detach()
    try:
        if dtype.is_floating_point:
            torch.testing.assert_close(got, want, equal_nan=True, **TOLERANCES[dtype])
        else:
            torch.testing.assert_close(got, want, rtol=0, atol=0)
    except AssertionError as e:
        errors.append(f"{what}: values differ:\n  engine {got.tolist()}\n  torch  {want.tolist()}"
                      f"\n  {str(e).strip().splitlines()[0]}")


def _all_zero(t):
    return not torch.any(t.detach() != 0).item()


# ---- the tests --------------------------------------------------------------------------------

def test_every_dumped_op_has_a_torch_mapping():
    assert CASES is not None, LOAD_ERROR
    dumped = {c["op"] for c in CASES if c["kind"] == "op"}
    missing = sorted(dumped - TORCH_OPS.keys())
    assert not missing, f"ops without a PyTorch counterpart in TORCH_OPS: {missing}"
    stale = sorted(TORCH_OPS.keys() - dumped)
    assert not stale, f"TORCH_OPS entries for ops the engine no longer has: {stale}"


@pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")  # mse_loss broadcasting
@pytest.mark.parametrize("case", _cases("op"))
def test_op(case):
    assert case is not None, LOAD_ERROR
    op = case["op"]
    assert op in TORCH_OPS, f"no PyTorch mapping for op '{op}': add it to TORCH_OPS"
    attrs = _attrs(case)
    inputs = [_tensor(d) for d in case["inputs"]]
    result = TORCH_OPS[op](inputs, attrs)
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]

    if "error" in case:
        pytest.fail(f"the engine failed where PyTorch succeeds: {case['error']}")

    errors = []
    engine_outputs = case["outputs"]
    if len(engine_outputs) != len(outputs):
        pytest.fail(f"{len(engine_outputs)} outputs from the engine, {len(outputs)} from torch")
    check = _MATCH
    if op in VALUES_UNSPECIFIED:
        rule = VALUES_UNSPECIFIED[op]
        check = None if rule is None else (lambda t: rule(t, attrs))
    for i, (eo, to) in enumerate(zip(engine_outputs, outputs)):
        _check_values(f"output {i}", eo, to, errors, check)
        if op not in NO_TORCH_NODE and eo["grad_fn"] != _grad_fn_name(to):
            errors.append(f"output {i}: grad_fn: engine {eo['grad_fn']}, torch {_grad_fn_name(to)}")
        if eo["requires_grad"] != to.requires_grad:
            errors.append(f"output {i}: requires_grad: engine {eo['requires_grad']}, "
                          f"torch {to.requires_grad}")
        # Whether autograd tracks the output as a view decides what in-place ops on it may do
        # (PyTorch refuses or rebases them through CopySlices); a view's layout is its meaning.
        if eo["is_view"] != to._is_view():
            errors.append(f"output {i}: is_view: engine {eo['is_view']}, torch {to._is_view()}")
        elif to._is_view():
            layout = (list(to.stride()), to.storage_offset())
            if (eo["strides"], eo["storage_offset"]) != layout:
                errors.append(f"output {i}: view (strides, storage_offset): engine "
                              f"{(eo['strides'], eo['storage_offset'])}, torch {layout}")

    # Gradients: torch.autograd.grad with the engine's grad_outputs.
    targets, grad_outputs = [], []
    for go, to in zip(case["grad_outputs"], outputs):
        if go is not None and to.requires_grad:
            targets.append(to)
            grad_outputs.append(_tensor(go))
    diff_inputs = [t for t in inputs if t.requires_grad]
    engine_grads = case["input_grads"]
    if targets and diff_inputs:
        torch_grads = iter(torch.autograd.grad(targets, diff_inputs, grad_outputs,
                                               allow_unused=True))
        if engine_grads is None:
            errors.append("the engine computed no input gradients, torch did")
        else:
            for i, (t, eg) in enumerate(zip(inputs, engine_grads)):
                if not t.requires_grad:
                    continue
                tg = next(torch_grads)
                what = f"grad of input {i}"
                if eg is None and tg is None:
                    continue
                if eg is None:
                    if not _all_zero(tg):
                        errors.append(f"{what}: engine None, torch {tg.tolist()}")
                elif tg is None:
                    if not _all_zero(_tensor(eg)):
                        errors.append(f"{what}: engine {eg['values']}, torch None")
                else:
                    _check_values(what, eg, tg, errors)
    elif engine_grads is not None:
        errors.append("the engine computed input gradients, torch has nothing to differentiate")

    assert not errors, "\n".join(errors)


def _storage_ptr(t):
    return t.storage().data_ptr()


def _classify_saved(t, inputs, outputs):
    """Mirrors ClassifySaved in dump_main.cc: what a saved tensor is, by storage and layout."""
    def same_layout(a):
        return (a.shape == t.shape and a.stride() == t.stride()
                and a.storage_offset() == t.storage_offset())
    ptr = _storage_ptr(t)
    for i, a in enumerate(inputs):
        if _storage_ptr(a) == ptr and same_layout(a):
            return f"input:{i}"
    for j, o in enumerate(outputs):
        if _storage_ptr(o) == ptr and same_layout(o):
            return f"output:{j}"
    for i, a in enumerate(inputs):
        if _storage_ptr(a) == ptr:
            return f"view:input:{i}"
    for j, o in enumerate(outputs):
        if _storage_ptr(o) == ptr:
            return f"view:output:{j}"
    return "other"


def _torch_saved(node, inputs, outputs):
    saved = []
    for attr in dir(node):
        if not attr.startswith("_saved_"):
            continue
        value = getattr(node, attr)
        items = value if isinstance(value, (tuple, list)) else [value]
        for v in items:
            if isinstance(v, torch.Tensor):
                saved.append(_classify_saved(v, inputs, outputs))
    return sorted(saved)


@pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", _cases("saved"))
def test_saved_tensors(case):
    """The node of the first output keeps exactly the tensors PyTorch's keeps (by identity: an
    input, an output, a view of one, or a temporary), for this choice of which inputs require
    grad. What a node saves decides when an in-place op makes backward fail."""
    assert case is not None, LOAD_ERROR
    if "error" in case:
        pytest.fail(f"the engine failed where PyTorch succeeds: {case['error']}")
    op = case["op"]
    if op in NO_TORCH_NODE:
        pytest.skip("engine-only node: PyTorch has none to compare with")
    inputs = [_tensor(d) for d in case["inputs"]]
    result = TORCH_OPS[op](inputs, _attrs(case))
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    node = next((o.grad_fn for o in outputs if o.grad_fn is not None), None)
    torch_name = None if node is None else node.name().split("::")[-1]
    assert case["grad_fn"] == torch_name, f"grad_fn: engine {case['grad_fn']}, torch {torch_name}"
    want = [] if node is None else _torch_saved(node, inputs, outputs)
    # Version checks see storages, not layouts: a view of an input shares its version counter,
    # and a temporary ("other") cannot be modified by the user. Compare what can fail.
    def visible(saved):
        return sorted({s.replace("view:", "") for s in saved if s != "other"})
    assert visible(case["saved"]) == visible(want), (
        f"saved: engine {case['saved']}, torch {want}")


def _repr_tensor(case):
    dtype = _dtype(case["dtype"])
    t = torch.tensor([_number(v) for v in case["values"]], dtype=dtype).reshape(case["shape"])
    if case["noncontiguous"]:
        t = t.t().contiguous().t()
    t.requires_grad_(case["requires_grad"])
    expr = case["expr"]
    if expr == "mul2":
        return t * 2
    if expr == "sum":
        return t.sum()
    assert expr is None, f"unknown expr {expr!r}"
    return t


@pytest.mark.parametrize("case", _cases("repr"))
def test_repr(case):
    assert case is not None, LOAD_ERROR
    want = repr(_repr_tensor(case))
    got = case["repr"]
    assert got == want, f"\nengine:\n{got}\ntorch:\n{want}"


def test_dump_is_not_trivially_small():
    assert CASES is not None, LOAD_ERROR
    assert sum(c["kind"] == "op" for c in CASES) >= 100
    assert sum(c["kind"] == "repr" for c in CASES) >= 10
