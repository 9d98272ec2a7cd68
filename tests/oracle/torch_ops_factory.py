"""PyTorch counterparts of engine/ops/factory.cc, by their ATen overloads.

Merged into TORCH_OPS by test_engine_vs_torch.py. Each factory is called as torch.ops.aten.NAME.OVERLOAD
with the sample's attributes by their schema names (requires_grad, which PyTorch's Python bindings
add, is applied to the result as they do). The values of the random factories and of empty are
not PyTorch's (another generator; uninitialised memory): for those (VALUES_UNSPECIFIED) dtype,
shape, requires_grad and the range of the values are compared, not the values.
"""

import torch


def _aten(name, overload="default"):
    op = getattr(getattr(torch.ops.aten, name), overload)

    def call(x, a):
        kw = {k: v for k, v in a.items() if k != "requires_grad"}
        out = op(*x, **kw)
        return out.requires_grad_(bool(a.get("requires_grad", False)))

    return call


TORCH_OPS = {
    "zeros": _aten("zeros"),
    "ones": _aten("ones"),
    "empty": _aten("empty", "memory_format"),
    # torch.full, not torch.ops.aten.full: the JIT's conversion makes a bool fill_value an int
    # (int64 result), PyTorch's Python binding keeps it a bool (bool result), as the engine does.
    "full": lambda x, a: torch.full(a["size"], a["fill_value"], dtype=a["dtype"],
                                    requires_grad=a["requires_grad"]),
    "rand": _aten("rand"),
    "randn": _aten("randn"),
    "randint": _aten("randint"),
    "randint_low": _aten("randint", "low"),
    "arange": _aten("arange"),
    "arange_start": _aten("arange", "start"),
    "arange_start_step": _aten("arange", "start_step"),
    "linspace": _aten("linspace"),
    "eye": _aten("eye"),
    "eye_m": _aten("eye", "m"),
    "randperm": _aten("randperm"),
    "normal": _aten("normal", "float_float"),
    "zeros_like": _aten("zeros_like"),
    "ones_like": _aten("ones_like"),
    "empty_like": _aten("empty_like"),
    "full_like": _aten("full_like"),
    "rand_like": _aten("rand_like"),
    "randn_like": _aten("randn_like"),
    "randint_like": _aten("randint_like"),
    "randint_like_low": _aten("randint_like", "low_dtype"),
    "uniform": _aten("uniform"),
}


def _within(low, high):
    return lambda t, a: bool(((t >= low(a)) & (t < high(a))).all())


def _permutation(t, a):
    return sorted(t.tolist()) == list(range(a["n"]))


# Ops whose values are not PyTorch's: a check of the engine's values (a torch tensor) instead.
VALUES_UNSPECIFIED = {
    "empty": None,
    "empty_like": None,
    "rand": _within(lambda a: 0, lambda a: 1),
    "rand_like": _within(lambda a: 0, lambda a: 1),
    "randn": lambda t, a: bool(torch.isfinite(t).all()),
    "randn_like": lambda t, a: bool(torch.isfinite(t).all()),
    "normal": lambda t, a: bool(torch.isfinite(t).all()),
    "randint": _within(lambda a: 0, lambda a: a["high"]),
    "randint_low": _within(lambda a: a["low"], lambda a: a["high"]),
    "randint_like": _within(lambda a: 0, lambda a: a["high"]),
    "randint_like_low": _within(lambda a: a["low"], lambda a: a["high"]),
    "randperm": _permutation,
    "uniform": _within(lambda a: a.get("from", 0.0), lambda a: a.get("to", 1.0)),
}
