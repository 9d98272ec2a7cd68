"""Views and in-place ops: the engine against PyTorch 1.13, program by program.

Small tensor programs (tensors, view ops, in-place ops, setitem, no_grad segments, multi-output
ops, detach / set_data / requires_grad_, backward and autograd.grad) are generated here, run in
PyTorch, written as JSON Lines, run on the engine by engine_view_programs (an interpreter,
tests/oracle/program_main.cc), and compared statement by statement: every error (type and
text), and for the observed tensors their values, shape, dtype, requires_grad, is_leaf, grad_fn
name, next_functions names, _version, _is_view() and .grad.

Two sets of programs:
  * the cross product in-place op x view kind x base kind (plus setitem index x value x base),
    each followed by backward through the base and the views;
  * seeded random programs.

Usage (ctest: engine_views_vs_pytorch runs --seeds 300):
    views_vs_torch.py --engine build/tests/engine_view_programs --workdir /tmp/v --seeds 5000
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys
import warnings

import torch

warnings.filterwarnings("ignore")

FLOAT_TOL = {"float64": (1e-9, 1e-11), "float32": (2e-5, 1e-5)}


# ---- running a program in PyTorch --------------------------------------------------------------

def _node_name(fn):
    return None if fn is None else fn.name().split("::")[-1]


def _flat(t):
    return [v for v in t.detach().reshape(-1).tolist()]


def _observe(t):
    o = {"values": _flat(t), "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
         "requires_grad": t.requires_grad, "version": t._version, "is_view": t._is_view()}
    try:
        fn = t.grad_fn
    except RuntimeError as e:
        o["grad_fn"] = f"error: {e}"
    else:
        o["grad_fn"] = _node_name(fn)
        o["is_leaf"] = fn is None
        o["next"] = [] if fn is None else [_node_name(n) for n, _ in fn.next_functions]
    g = t.grad if o.get("is_leaf", False) or t.retains_grad else None
    o["grad"] = None if g is None else _flat(g)
    return o


INPLACE = {
    "add_": lambda x, a: x[0].add_(x[1], alpha=a.get("alpha", 1)),
    "sub_": lambda x, a: x[0].sub_(x[1], alpha=a.get("alpha", 1)),
    "mul_": lambda x, a: x[0].mul_(x[1]),
    "div_": lambda x, a: x[0].div_(x[1]),
    "copy_": lambda x, a: x[0].copy_(x[1]),
    "fill_": lambda x, a: x[0].fill_(a["value"]),
    "zero_": lambda x, a: x[0].zero_(),
    "clamp_": lambda x, a: x[0].clamp_(min=a.get("min"), max=a.get("max")),
    "masked_fill_": lambda x, a: x[0].masked_fill_(x[1], a["value"]),
}

OUT_OF_PLACE = {
    # views
    "select": lambda x, a: torch.select(x[0], a["dim"], a["index"]),
    "slice": lambda x, a: torch.ops.aten.slice(x[0], a["dim"], a["start"], a["end"], a["step"]),
    "narrow": lambda x, a: torch.narrow(x[0], a["dim"], a["start"], a["length"]),
    "view": lambda x, a: x[0].view(a["size"]),
    "reshape": lambda x, a: x[0].reshape(a["shape"]),
    "transpose": lambda x, a: torch.transpose(x[0], a["dim0"], a["dim1"]),
    "t": lambda x, a: torch.t(x[0]),
    "permute": lambda x, a: x[0].permute(a["dims"]),
    "unsqueeze": lambda x, a: torch.unsqueeze(x[0], a["dim"]),
    "squeeze": lambda x, a: torch.squeeze(x[0]),
    "squeeze_dim": lambda x, a: torch.squeeze(x[0], a["dim"]),
    "expand": lambda x, a: x[0].expand(a["size"]),
    "unbind": lambda x, a: torch.unbind(x[0], a["dim"]),
    "split": lambda x, a: torch.split(x[0], a["split_size"], a["dim"]),
    "chunk": lambda x, a: torch.chunk(x[0], a["chunks"], a["dim"]),
    "as_strided": lambda x, a: torch.as_strided(x[0], a["size"], a["stride"], a["storage_offset"]),
    # computations
    "add": lambda x, a: torch.add(x[0], x[1], alpha=a.get("alpha", 1)),
    "sub": lambda x, a: torch.sub(x[0], x[1], alpha=a.get("alpha", 1)),
    "mul": lambda x, a: torch.mul(x[0], x[1]),
    "div": lambda x, a: torch.div(x[0], x[1]),
    "exp": lambda x, a: torch.exp(x[0]),
    "tanh": lambda x, a: torch.tanh(x[0]),
    "sin": lambda x, a: torch.sin(x[0]),
    "neg": lambda x, a: torch.neg(x[0]),
    "pow_scalar": lambda x, a: torch.pow(x[0], a["exponent"]),
    "sum": lambda x, a: torch.sum(x[0]),
    "sum_dim": lambda x, a: torch.sum(x[0], a["dim"], a.get("keepdim", False)),
    "mean": lambda x, a: torch.mean(x[0]),
    "clone": lambda x, a: torch.clone(x[0]),
    "contiguous": lambda x, a: x[0].contiguous(),
    "cat": lambda x, a: torch.cat(x, a["dim"]),
    "stack": lambda x, a: torch.stack(x, a["dim"]),
    "max_dim": lambda x, a: tuple(torch.max(x[0], a["dim"], a.get("keepdim", False))),
    "masked_fill": lambda x, a: torch.masked_fill(x[0], x[1], a["value"]),
    "clamp": lambda x, a: torch.clamp(x[0], min=a.get("min"), max=a.get("max")),
}


def _index(items):
    idx = []
    for it in items:
        if it[0] == "i":
            idx.append(it[1])
        else:
            idx.append(slice(it[1], it[2], it[3]))
    return idx[0] if len(idx) == 1 else tuple(idx)


class TorchRun:
    """Executes statements in PyTorch, keeping registers; results mirror program_main.cc."""

    def __init__(self):
        self.regs = {}
        torch.set_grad_enabled(True)

    def reg(self, r):
        t = self.regs.get(r)
        if t is None:
            raise _Skip()
        return t

    def inp(self, j):
        if isinstance(j, dict):
            return j["scalar"]
        return self.reg(j)

    def run(self, s):
        try:
            obs = self._run(s)
        except _Skip:
            return "skip"
        except (RuntimeError, IndexError, ValueError, TypeError) as e:
            return {"error": str(e)}
        return "ok" if obs is None else obs

    def _run(self, s):
        head = s[0]
        if head == "tensor":
            _, dst, values, shape, dtype, rg = s
            # clone(): a fresh tensor, not a view of the reshaped one.
            self.regs[dst] = torch.tensor(values, dtype=getattr(torch, dtype)).reshape(
                shape).clone().requires_grad_(rg)
        elif head == "grad_mode":
            torch.set_grad_enabled(s[1])
        elif head == "op":
            _, dsts, name, ins, attrs = s
            x = [self.inp(j) for j in ins]
            if name in INPLACE:
                INPLACE[name](x, attrs)
                return None
            out = OUT_OF_PLACE[name](x, attrs)
            outs = list(out) if isinstance(out, (tuple, list)) else [out]
            for d, o in zip(dsts, outs):
                self.regs[d] = o
        elif head == "setitem":
            _, target, items, value = s
            t = self.reg(target)
            v = value["scalar"] if isinstance(value, dict) else self.reg(value)
            t[_index(items)] = v
        elif head == "detach":
            self.regs[s[1]] = self.reg(s[2]).detach()
        elif head == "detach_":
            self.reg(s[1]).detach_()
        elif head == "retain_grad":
            self.reg(s[1]).retain_grad()
        elif head == "requires_grad_":
            self.reg(s[1]).requires_grad_(s[2])
        elif head == "set_data":
            t, src = self.reg(s[1]), self.reg(s[2])
            t.data = src
        elif head == "backward":
            roots = [self.reg(r) for r in s[1]]
            grads = [None if g is None else self.reg(g) for g in s[2]]
            torch.autograd.backward(roots, grads, retain_graph=s[3])
        elif head == "grad":
            _, dsts, outs, ins, gos, create = s
            result = torch.autograd.grad([self.reg(r) for r in outs], [self.reg(r) for r in ins],
                                         [None if g is None else self.reg(g) for g in gos],
                                         create_graph=create, allow_unused=True)
            for d, g in zip(dsts, result):
                self.regs[d] = g
        elif head == "observe":
            return [None if self.regs.get(r) is None else _observe(self.regs[r]) for r in s[1]]
        else:
            raise AssertionError(f"unknown statement {head}")
        return None


class _Skip(Exception):
    pass


# ---- comparing ---------------------------------------------------------------------------------

# What the comparisons covered, for the summary line.
STATS = {"statements": 0, "errors": 0, "observed": 0, "pytorch_internal_errors": 0}

def _num(v):
    return float(v) if isinstance(v, str) else v


def _close(a, b, dtype):
    rtol, atol = FLOAT_TOL.get(dtype, (0, 0))
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        x, y = _num(x), _num(y)
        if isinstance(x, bool) or isinstance(y, bool):
            if bool(x) != bool(y):
                return False
            continue
        if math.isnan(x) or math.isnan(y):
            if not (math.isnan(x) and math.isnan(y)):
                return False
            continue
        if math.isinf(x) or math.isinf(y):
            if x != y:
                return False
            continue
        if abs(x - y) > atol + rtol * abs(y):
            return False
    return True


def _diff_obs(e, t, mixed=False):
    if (e is None) != (t is None):
        return f"engine {e}, torch {t}"
    if e is None:
        return None
    errs = []
    for k in ("shape", "dtype", "requires_grad", "version", "is_view", "grad_fn", "is_leaf",
              "next"):
        if e.get(k) != t.get(k):
            errs.append(f"{k}: engine {e.get(k)!r}, torch {t.get(k)!r}")
    dtype = "float32" if mixed else t["dtype"]
    if e["shape"] == t["shape"] and not _close(e["values"], t["values"], dtype):
        errs.append(f"values: engine {e['values']}, torch {t['values']}")
    if (e["grad"] is None) != (t["grad"] is None):
        errs.append(f"grad: engine {e['grad']}, torch {t['grad']}")
    elif e["grad"] is not None and not _close(e["grad"], t["grad"], dtype):
        errs.append(f"grad: engine {e['grad']}, torch {t['grad']}")
    return "; ".join(errs) or None


def compare(program, engine_results, torch_results):
    """The first difference, as text, or None."""
    # float32 anywhere: results may round differently wherever dtypes meet.
    mixed = "float32" in json.dumps(program["stmts"])
    # The engine commits a backward only when the whole pass succeeds; PyTorch may have
    # accumulated some .grad before it failed. After a failed backward, .grad is not compared.
    partial = False
    for i, (s, e, t) in enumerate(zip(program["stmts"], engine_results, torch_results)):
        where = f"statement {i} {json.dumps(s)}"
        if isinstance(t, list) and isinstance(e, list):
            STATS["statements"] += 1
            STATS["observed"] += sum(o is not None for o in t)
            for r, eo, to in zip(s[1], e, t):
                if partial and eo is not None and to is not None:
                    eo, to = dict(eo, grad=None), dict(to, grad=None)
                d = _diff_obs(eo, to, mixed)
                if d:
                    return f"{where}: register {r}: {d}"
            continue
        if s[0] in ("backward", "grad") and isinstance(t, dict) and "error" in t:
            partial = True
        if s[0] == "grad":
            # PyTorch 1.13's autograd.grad also accumulates into the .grad of leaves that are not
            # among its inputs when the graph goes through CopySlices; the engine does not.
            partial = True
        if isinstance(t, dict) and "INTERNAL ASSERT FAILED" in t.get("error", "") and \
                not t["error"].startswith("!grad_fn"):
            # A PyTorch bug (e.g. a saved tensor detach_()ed in place: "No grad_fn for non-leaf
            # saved tensor"); nothing after it is meaningful.
            STATS["pytorch_internal_errors"] += 1
            return None
        STATS["statements"] += 1
        if isinstance(t, dict) and "error" in t:
            STATS["errors"] += 1
        if e != t:
            return f"{where}: engine {e}, torch {t}"
    if len(engine_results) != len(torch_results):
        return f"{len(engine_results)} results from the engine, {len(torch_results)} from torch"
    return None


# ---- programs ----------------------------------------------------------------------------------

class Builder:
    """Builds a program while running it in PyTorch (so that shapes and flags are known)."""

    def __init__(self, pid, seed=0):
        self.stmts = []
        self.results = []
        self.torch = TorchRun()
        self.next_reg = 0
        self.id = pid
        self.seed = seed

    def emit(self, stmt):
        self.stmts.append(stmt)
        self.results.append(self.torch.run(stmt))
        return self.results[-1]

    def new_reg(self):
        self.next_reg += 1
        return self.next_reg

    def tensor(self, values, shape, requires_grad=False, dtype="float64"):
        r = self.new_reg()
        self.emit(["tensor", r, values, list(shape), dtype, requires_grad])
        return r

    def op(self, name, ins, attrs=None, n_out=1):
        dsts = [self.new_reg() for _ in range(n_out)]
        self.emit(["op", dsts, name, ins, attrs or {}])
        return dsts[0] if n_out == 1 else dsts

    def t(self, r):
        return self.torch.regs.get(r)

    def program(self):
        return {"id": self.id, "seed": self.seed, "stmts": self.stmts}


def _values(rng, n, low=-2.0, high=2.0):
    return [round(rng.uniform(low, high), 6) for _ in range(n)]


def _nonzero(rng, n):
    return [round(rng.choice([-1, 1]) * rng.uniform(0.5, 2.0), 6) for _ in range(n)]


# ---- the cross product -------------------------------------------------------------------------

# (name, base shape, [(op, attrs, n_out, which output)...]): the view, as a chain of view ops.
VIEW_KINDS = [
    ("select_row", [3, 4], [("select", {"dim": 0, "index": 1}, 1, 0)]),
    ("select_col", [3, 4], [("select", {"dim": 1, "index": 2}, 1, 0)]),
    ("select_negative", [3, 4], [("select", {"dim": 0, "index": -1}, 1, 0)]),
    ("slice_rows", [3, 4], [("slice", {"dim": 0, "start": 1, "end": None, "step": 1}, 1, 0)]),
    ("slice_step", [3, 4], [("slice", {"dim": 1, "start": 0, "end": 4, "step": 2}, 1, 0)]),
    ("narrow", [3, 4], [("narrow", {"dim": 1, "start": 1, "length": 2}, 1, 0)]),
    ("view_flat", [3, 4], [("view", {"size": [12]}, 1, 0)]),
    ("view_2x6", [3, 4], [("view", {"size": [2, 6]}, 1, 0)]),
    ("reshape_view", [3, 4], [("reshape", {"shape": [4, 3]}, 1, 0)]),
    ("transpose", [3, 4], [("transpose", {"dim0": 0, "dim1": 1}, 1, 0)]),
    ("t", [3, 4], [("t", {}, 1, 0)]),
    ("permute", [2, 3, 2], [("permute", {"dims": [2, 0, 1]}, 1, 0)]),
    ("unsqueeze", [3, 4], [("unsqueeze", {"dim": 1}, 1, 0)]),
    ("squeeze", [3, 1, 4], [("squeeze", {}, 1, 0)]),
    ("squeeze_dim", [3, 1, 4], [("squeeze_dim", {"dim": 1}, 1, 0)]),
    ("expand", [3, 1], [("expand", {"size": [3, 4]}, 1, 0)]),
    ("as_strided", [3, 4], [("as_strided", {"size": [2, 2], "stride": [4, 1],
                                           "storage_offset": 5}, 1, 0)]),
    ("slice_of_slice", [3, 4], [("slice", {"dim": 0, "start": 1, "end": None, "step": 1}, 1, 0),
                                ("select", {"dim": 0, "index": 0}, 1, 0)]),
    ("select_of_t", [3, 4], [("t", {}, 1, 0), ("select", {"dim": 0, "index": 1}, 1, 0)]),
    ("slice_of_view", [3, 4], [("view", {"size": [2, 6]}, 1, 0),
                               ("slice", {"dim": 1, "start": 1, "end": 4, "step": 2}, 1, 0)]),
    ("unsqueeze_of_select", [3, 4], [("select", {"dim": 1, "index": 0}, 1, 0),
                                     ("unsqueeze", {"dim": 0}, 1, 0)]),
    ("unbind", [3, 4], [("unbind", {"dim": 0}, 3, 1)]),
    ("split", [3, 4], [("split", {"split_size": 2, "dim": 1}, 2, 0)]),
    ("chunk", [4, 3], [("chunk", {"chunks": 2, "dim": 0}, 2, 1)]),
    ("select_of_unbind", [3, 4], [("unbind", {"dim": 1}, 4, 2),
                                  ("slice", {"dim": 0, "start": 0, "end": 2, "step": 1}, 1, 0)]),
]

BASE_KINDS = ["leaf_requires_grad", "leaf", "non_leaf", "no_grad_view", "no_grad_inplace",
              "detached"]


def _inplace_variants(view_shape):
    """(name, build(b, view_reg) -> None) for every in-place op on a view of this shape."""
    n = int(torch.tensor(view_shape).prod().item()) if view_shape else 1
    last = view_shape[-1:] if view_shape else []

    def other(b, rng, grad=True, shape=None, nonzero=False):
        shape = view_shape if shape is None else shape
        size = int(torch.tensor(shape).prod().item()) if shape else 1
        vals = _nonzero(rng, size) if nonzero else _values(rng, size)
        return b.tensor(vals, shape, requires_grad=grad)

    def mask(b, rng):
        return b.tensor([rng.random() < 0.5 for _ in range(max(1, int(
            torch.tensor(last).prod().item()) if last else 1))], last, dtype="bool")

    return [
        ("add_tensor", lambda b, v, rng: b.emit(["op", [], "add_", [v, other(b, rng)],
                                                 {"alpha": 1}])),
        ("add_scalar", lambda b, v, rng: b.emit(["op", [], "add_", [v, {"scalar": 1.5}],
                                                 {"alpha": 1}])),
        ("add_broadcast", lambda b, v, rng: b.emit(["op", [], "add_", [v, other(b, rng, shape=last)],
                                                    {"alpha": 2}])),
        ("sub_tensor_alpha", lambda b, v, rng: b.emit(["op", [], "sub_", [v, other(b, rng)],
                                                       {"alpha": 0.5}])),
        ("mul_tensor", lambda b, v, rng: b.emit(["op", [], "mul_", [v, other(b, rng)], {}])),
        ("mul_scalar", lambda b, v, rng: b.emit(["op", [], "mul_", [v, {"scalar": 2.0}], {}])),
        ("mul_no_grad_other", lambda b, v, rng: b.emit(["op", [], "mul_",
                                                        [v, other(b, rng, grad=False)], {}])),
        ("div_tensor", lambda b, v, rng: b.emit(["op", [], "div_",
                                                 [v, other(b, rng, nonzero=True)], {}])),
        ("div_scalar", lambda b, v, rng: b.emit(["op", [], "div_", [v, {"scalar": 4.0}], {}])),
        ("copy_tensor", lambda b, v, rng: b.emit(["op", [], "copy_", [v, other(b, rng)], {}])),
        ("copy_broadcast", lambda b, v, rng: b.emit(["op", [], "copy_",
                                                     [v, other(b, rng, shape=last)], {}])),
        ("copy_no_grad", lambda b, v, rng: b.emit(["op", [], "copy_",
                                                   [v, other(b, rng, grad=False)], {}])),
        ("fill_", lambda b, v, rng: b.emit(["op", [], "fill_", [v], {"value": 0.25}])),
        ("zero_", lambda b, v, rng: b.emit(["op", [], "zero_", [v], {}])),
        ("clamp_", lambda b, v, rng: b.emit(["op", [], "clamp_", [v], {"min": -0.5, "max": 0.5}])),
        ("masked_fill_", lambda b, v, rng: b.emit(["op", [], "masked_fill_", [v, mask(b, rng)],
                                                   {"value": -1.0}])),
    ]


def _observe_and_backward(b, regs, roots, rng):
    b.emit(["observe", regs])
    for r in roots:
        t = b.t(r)
        if t is None:
            continue
        g = b.tensor(_values(rng, t.numel()), list(t.shape))
        b.emit(["backward", [r], [g], True])
    b.emit(["observe", regs])


def _make_base(b, kind, shape, rng):
    """(leaf x, base B) for a base kind."""
    n = int(torch.tensor(shape).prod().item())
    x = b.tensor(_values(rng, n), shape, requires_grad=kind != "leaf")
    if kind in ("leaf_requires_grad", "leaf"):
        return x, x
    base = b.op("mul", [x, {"scalar": 1.5}])
    if kind == "detached":
        d = b.new_reg()
        b.emit(["detach", d, base])
        return x, d
    return x, base


def _view_chain(b, base, chain):
    v = base
    for name, attrs, n_out, which in chain:
        out = b.op(name, [v], attrs, n_out)
        v = out[which] if n_out > 1 else out
    return v


def cross_product_programs():
    programs = []
    pid = 0
    for view_name, shape, chain in VIEW_KINDS:
        view_shape = list(_view_chain_shape(shape, chain))
        for op_name, build in _inplace_variants(view_shape):
            for base_kind in BASE_KINDS:
                pid += 1
                rng = random.Random(pid)
                b = Builder(pid)
                b.stmts.append(["# cross", view_name, op_name, base_kind])
                b.results.append("ok")
                x, base = _make_base(b, base_kind, shape, rng)
                sibling = _view_chain(b, base, [("slice", {"dim": 0, "start": 0, "end": None,
                                                           "step": 1}, 1, 0)])
                if base_kind == "no_grad_view" or base_kind == "no_grad_inplace":
                    b.emit(["grad_mode", False])
                v = _view_chain(b, base, chain)
                if base_kind == "no_grad_view":
                    b.emit(["grad_mode", True])
                b.emit(["retain_grad", v])  # retain_grad() follows a rebased history
                build(b, v, rng)
                if base_kind == "no_grad_inplace":
                    b.emit(["grad_mode", True])
                later = _view_chain(b, base, [("select", {"dim": 0, "index": 0}, 1, 0)])
                regs = [x, base, v, sibling, later]
                _observe_and_backward(b, regs, [base, v, sibling, later], rng)
                programs.append(b)
    return programs


def _view_chain_shape(shape, chain):
    t = torch.zeros(shape)
    for name, attrs, n_out, which in chain:
        out = OUT_OF_PLACE[name]([t], attrs)
        t = out[which] if n_out > 1 else out
    return t.shape


SETITEM_INDEXES = [
    ("int", [["i", 1]]),
    ("int_int", [["i", 0], ["i", 2]]),
    ("negative", [["i", -1]]),
    ("slice_step", [["s", None, None, 2]]),
    ("full_slice", [["s", None, None, 1]]),
    ("slice_int", [["s", 0, 3, 1], ["i", 1]]),
    ("slice_slice", [["s", 1, None, 1], ["s", 0, 4, 2]]),
]


def setitem_programs(first_id):
    programs = []
    pid = first_id
    for idx_name, items in SETITEM_INDEXES:
        target_shape = list(torch.zeros(3, 4)[_index(items)].shape)
        for value_kind in ("scalar", "tensor", "tensor_no_grad", "broadcast", "zero_dim",
                           "leading_ones"):
            for base_kind in BASE_KINDS:
                pid += 1
                rng = random.Random(pid)
                b = Builder(pid)
                b.stmts.append(["# setitem", idx_name, value_kind, base_kind])
                b.results.append("ok")
                x, base = _make_base(b, base_kind, [3, 4], rng)
                sibling = _view_chain(b, base, [("select", {"dim": 1, "index": 0}, 1, 0)])
                n = int(torch.tensor(target_shape).prod().item()) if target_shape else 1
                if value_kind == "scalar":
                    value = {"scalar": 2.5}
                elif value_kind in ("tensor", "tensor_no_grad"):
                    value = b.tensor(_values(rng, n), target_shape,
                                     requires_grad=value_kind == "tensor")
                elif value_kind == "broadcast":
                    last = target_shape[-1:]
                    value = b.tensor(_values(rng, last[0] if last else 1), last, True)
                elif value_kind == "zero_dim":
                    value = b.tensor(_values(rng, 1), [], True)
                else:
                    value = b.tensor(_values(rng, n), [1] + target_shape, True)
                if base_kind.startswith("no_grad"):
                    b.emit(["grad_mode", False])
                b.emit(["setitem", base, items, value])
                if base_kind.startswith("no_grad"):
                    b.emit(["grad_mode", True])
                regs = [x, base, sibling] + ([value] if isinstance(value, int) else [])
                _observe_and_backward(b, regs, [base, sibling], rng)
                programs.append(b)
    return programs


# ---- random programs ---------------------------------------------------------------------------

SHAPES = [[3, 4], [2, 3], [4], [2, 1, 3], [3, 3], [6]]


def _random_view(b, rng, r):
    t = b.t(r)
    nd = t.dim()
    options = []
    if nd >= 1:
        d = rng.randrange(nd)
        if t.shape[d] > 0:
            options.append(("select", {"dim": d, "index": rng.randrange(-t.shape[d], t.shape[d])}, 1))
            start = rng.randrange(t.shape[d])
            options.append(("slice", {"dim": d, "start": start, "end": rng.choice([None, t.shape[d]]),
                                      "step": rng.choice([1, 2])}, 1))
            options.append(("narrow", {"dim": d, "start": 0, "length": t.shape[d] // 2 + 1}, 1))
            options.append(("unbind", {"dim": d}, t.shape[d]))
            options.append(("split", {"split_size": max(1, t.shape[d] // 2), "dim": d},
                            len(torch.split(t.detach(), max(1, t.shape[d] // 2), d))))
            options.append(("chunk", {"chunks": 2, "dim": d},
                            len(torch.chunk(t.detach(), 2, d))))
    if nd >= 2:
        options.append(("transpose", {"dim0": 0, "dim1": nd - 1}, 1))
        options.append(("permute", {"dims": list(reversed(range(nd)))}, 1))
    if nd <= 2:
        options.append(("t", {}, 1))
    options.append(("unsqueeze", {"dim": rng.randrange(nd + 1)}, 1))
    options.append(("view", {"size": [-1]}, 1))
    options.append(("reshape", {"shape": [t.numel()]}, 1))
    if 1 in t.shape:
        options.append(("squeeze", {}, 1))
    if nd >= 1 and t.shape[-1] == 1:
        options.append(("expand", {"size": list(t.shape[:-1]) + [3]}, 1))
    else:
        options.append(("expand", {"size": [2] + list(t.shape)}, 1))
    name, attrs, n_out = rng.choice(options)
    out = b.op(name, [r], attrs, n_out)
    return out if n_out == 1 else out[rng.randrange(n_out)]


def _operand(b, rng, target):
    """A scalar, or a register broadcastable to target's shape (a fresh leaf or an existing one)."""
    t = b.t(target)
    shape = list(t.shape)
    choice = rng.random()
    if choice < 0.25:
        return {"scalar": round(rng.uniform(-2, 2), 3)}
    same = [r for r, v in b.torch.regs.items()
            if r != target and v.dtype == t.dtype and list(v.shape) in (shape, shape[-1:])]
    if same and choice < 0.6:
        return rng.choice(same)
    shp = shape if rng.random() < 0.7 else shape[-1:]
    n = int(torch.tensor(shp).prod().item()) if shp else 1
    return b.tensor(_values(rng, n), shp, requires_grad=rng.random() < 0.6)


def _random_inplace(b, rng, r):
    t = b.t(r)
    kind = rng.choice(["add_", "sub_", "mul_", "div_", "copy_", "fill_", "zero_", "clamp_",
                       "masked_fill_", "setitem"])
    if kind in ("add_", "sub_"):
        b.emit(["op", [], kind, [r, _operand(b, rng, r)], {"alpha": rng.choice([1, 2, 0.5])}])
    elif kind == "mul_":
        b.emit(["op", [], kind, [r, _operand(b, rng, r)], {}])
    elif kind == "div_":
        b.emit(["op", [], kind, [r, {"scalar": rng.choice([2.0, -4.0, 0.5])}], {}])
    elif kind == "copy_":
        o = _operand(b, rng, r)
        if isinstance(o, dict):
            o = b.tensor([o["scalar"]], [], True)
        b.emit(["op", [], kind, [r, o], {}])
    elif kind == "fill_":
        b.emit(["op", [], kind, [r], {"value": round(rng.uniform(-1, 1), 3)}])
    elif kind == "zero_":
        b.emit(["op", [], kind, [r], {}])
    elif kind == "clamp_":
        b.emit(["op", [], kind, [r], {"min": -1.0, "max": rng.choice([None, 1.0])}])
    elif kind == "masked_fill_":
        shp = list(t.shape)[-1:]
        n = shp[0] if shp else 1
        m = b.tensor([rng.random() < 0.5 for _ in range(n)], shp, dtype="bool")
        b.emit(["op", [], kind, [r, m], {"value": 0.5}])
    else:
        if t.dim() == 0 or t.shape[0] == 0:
            return
        items = [["i", rng.randrange(t.shape[0])]] if rng.random() < 0.5 else \
            [["s", rng.choice([None, 1]), None, rng.choice([1, 2])]]
        target_shape = list(t.detach()[_index(items)].shape)
        if rng.random() < 0.4:
            value = {"scalar": 1.25}
        else:
            shp = target_shape if rng.random() < 0.7 else target_shape[-1:]
            n = int(torch.tensor(shp).prod().item()) if shp else 1
            value = b.tensor(_values(rng, n), shp, requires_grad=rng.random() < 0.6)
        b.emit(["setitem", r, items, value])


def _random_compute(b, rng, r):
    t = b.t(r)
    name = rng.choice(["add", "mul", "mul_scalar", "exp", "tanh", "sin", "neg", "pow", "sum",
                       "sum_dim", "clone", "contiguous", "cat", "max_dim", "clamp"])
    if name in ("add", "mul"):
        o = _operand(b, rng, r)
        return b.op(name, [r, o], {"alpha": 1} if name == "add" else {})
    if name == "mul_scalar":
        return b.op("mul", [r, {"scalar": rng.choice([1.5, -0.5, 2])}])
    if name == "pow":
        return b.op("pow_scalar", [r], {"exponent": 2})
    if name == "sum_dim":
        if t.dim() == 0:
            return b.op("sum", [r])
        return b.op("sum_dim", [r], {"dim": [rng.randrange(t.dim())], "keepdim": False})
    if name == "cat":
        if t.dim() == 0:
            return b.op("clone", [r])
        return b.op("cat", [r, r], {"dim": 0})
    if name == "max_dim":
        if t.dim() == 0:
            return b.op("clone", [r])
        out = b.op("max_dim", [r], {"dim": rng.randrange(t.dim()), "keepdim": False}, 2)
        return out[0]
    if name == "clamp":
        return b.op("clamp", [r], {"min": -0.8, "max": 0.9})
    return b.op(name, [r], {})


def random_program(seed):
    rng = random.Random(seed)
    b = Builder(seed, seed)
    b.stmts.append(["# random", seed])
    b.results.append("ok")
    leaves = []
    for _ in range(rng.randint(1, 3)):
        shape = rng.choice(SHAPES)
        n = int(torch.tensor(shape).prod().item())
        leaves.append(b.tensor(_values(rng, n), shape, requires_grad=rng.random() < 0.7,
                               dtype=rng.choice(["float64", "float64", "float32"])))
    no_grad_left = 0
    for _ in range(rng.randint(4, 14)):
        live = [r for r, v in b.torch.regs.items() if v is not None and v.dtype.is_floating_point]
        if not live:
            break
        r = rng.choice(live)
        p = rng.random()
        if no_grad_left == 0 and p < 0.08:
            b.emit(["grad_mode", False])
            no_grad_left = rng.randint(1, 3)
            continue
        if p < 0.35:
            _random_view(b, rng, r)
        elif p < 0.65:
            _random_inplace(b, rng, r)
        elif p < 0.9:
            # Computations on contiguous tensors only: PyTorch gives the result of a computation
            # on a transposed tensor transposed strides too, the engine contiguous ones (a layout
            # difference outside views: it changes what view() and contiguous() do later).
            dense = [x for x in live if b.t(x).is_contiguous()]
            if dense:
                _random_compute(b, rng, rng.choice(dense))
        elif p < 0.93:
            d = b.new_reg()
            b.emit(["detach", d, r])
        elif p < 0.95:
            b.emit(["detach_", r])
        elif p < 0.96:
            b.emit(["requires_grad_", r, True])
        elif p < 0.97:
            # Not on views: PyTorch 1.13 crashes (SIGSEGV) in retain_grad() on a view whose base
            # was modified in place under no_grad.
            if not b.t(r)._is_view():
                b.emit(["retain_grad", r])
        else:
            # Same shape: after a shape change PyTorch's behaviour depends on details such as
            # stale node metadata (tests/engine/views_test.cc covers the change itself).
            t = b.t(r)
            src = b.tensor(_values(rng, t.numel()), list(t.shape),
                           dtype=str(t.dtype).replace("torch.", ""))
            b.emit(["set_data", r, src])
        if rng.random() < 0.3:
            b.emit(["observe", [r]])
        if no_grad_left:
            no_grad_left -= 1
            if no_grad_left == 0:
                b.emit(["grad_mode", True])
    if no_grad_left:
        b.emit(["grad_mode", True])
    regs = sorted(b.torch.regs)
    b.emit(["observe", regs])
    roots = [r for r in regs if b.t(r) is not None and b.t(r).requires_grad]
    rng.shuffle(roots)
    if roots and rng.random() < 0.2:
        # Second order: grad with create_graph, then backward through the gradients.
        r = roots[0]
        t = b.t(r)
        g = b.tensor(_values(rng, t.numel()), list(t.shape), dtype=str(t.dtype)[6:])
        ins = [x for x in leaves if b.t(x) is not None and b.t(x).requires_grad
               and b.t(x).grad_fn is None]
        if ins:
            dsts = [b.new_reg() for _ in ins]
            b.emit(["grad", dsts, [r], ins, [g], True])
            for d in dsts:
                if b.t(d) is not None and b.t(d).requires_grad:
                    gg = b.tensor(_values(rng, b.t(d).numel()), list(b.t(d).shape),
                                  dtype=str(b.t(d).dtype)[6:])
                    b.emit(["backward", [d], [gg], True])
    for r in roots[:3]:
        t = b.t(r)
        g = b.tensor(_values(rng, t.numel()), list(t.shape), dtype=str(t.dtype)[6:])
        b.emit(["backward", [r], [g], True])
    b.emit(["observe", regs])
    return b


# ---- driver ------------------------------------------------------------------------------------

def run_engine(engine, workdir, name, builders):
    os.makedirs(workdir, exist_ok=True)
    src = os.path.join(workdir, f"{name}.programs.jsonl")
    dst = os.path.join(workdir, f"{name}.engine.jsonl")
    with open(src, "w") as f:
        for b in builders:
            prog = b.program()
            # Comment statements are for people reading the file; the engine skips nothing.
            prog = dict(prog, stmts=[s for s in prog["stmts"] if not s[0].startswith("#")])
            f.write(json.dumps(prog) + "\n")
    subprocess.run([engine, src, dst], check=True)
    with open(dst) as f:
        return [json.loads(line) for line in f]


def check(engine, workdir, name, builders, show):
    results = run_engine(engine, workdir, name, builders)
    for k in STATS:
        STATS[k] = 0
    failures = []
    for b, r in zip(builders, results):
        stmts = [s for s in b.stmts if not s[0].startswith("#")]
        torch_results = [t for s, t in zip(b.stmts, b.results) if not s[0].startswith("#")]
        diff = compare({"stmts": stmts}, r["results"], torch_results)
        if diff:
            label = " ".join(str(x) for x in b.stmts[0][1:])
            failures.append(f"[{name} {b.id}: {label}] {diff}")
    print(f"{name}: {len(builders)} programs, {len(builders) - len(failures)} passed, "
          f"{len(failures)} failed ({STATS['statements']} statements compared, "
          f"{STATS['errors']} of them errors, {STATS['observed']} tensor observations; "
          f"{STATS['pytorch_internal_errors']} programs cut short at a PyTorch internal assert)")
    for f in failures[:show]:
        print("  " + f[:2000])
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True, help="the engine_view_programs binary")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seeds", type=int, default=300, help="number of random programs")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--no-cross", action="store_true", help="skip the cross product")
    ap.add_argument("--show", type=int, default=20, help="failures to print per set")
    args = ap.parse_args()
    failures = []
    if not args.no_cross:
        cross = cross_product_programs()
        failures += check(args.engine, args.workdir, "cross_product", cross, args.show)
        setitem = setitem_programs(len(cross))
        failures += check(args.engine, args.workdir, "setitem", setitem, args.show)
    randoms = [random_program(s) for s in range(args.first_seed, args.first_seed + args.seeds)]
    failures += check(args.engine, args.workdir, "random", randoms, args.show)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
