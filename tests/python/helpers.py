"""Comparing what the same code produced in PyTorch and in tensord."""
import math
import re

_ADDR = re.compile(r" object at 0x[0-9a-fA-F]+")


def strip_addresses(s):
    return _ADDR.sub(" object at 0x?", s)


def node_name(node):
    return None if node is None else node.name()


def next_names(node):
    if node is None:
        return None
    return [(node_name(n), nr) for n, nr in node.next_functions]


def observe(x, with_repr=True):
    """Everything the user can see of a tensor without fetching its .grad."""
    return {
        "shape": tuple(x.shape),
        "dtype": str(x.dtype),
        "requires_grad": x.requires_grad,
        "is_leaf": x.is_leaf,
        "grad_fn": node_name(x.grad_fn),
        "next_functions": next_names(x.grad_fn),
        "values": x.tolist(),
        "repr": repr(x) if with_repr else None,
    }


def flat(v):
    if isinstance(v, (list, tuple)):
        out = []
        for e in v:
            out.extend(flat(e))
        return out
    return [v]


def close(a, b, rtol=1e-4, atol=1e-5):
    """Nested lists of numbers equal up to float32 rounding (NaN == NaN), scaled by magnitude."""
    fa, fb = flat(a), flat(b)
    if len(fa) != len(fb):
        return False
    finite = [abs(v) for v in fa if isinstance(v, float) and math.isfinite(v)]
    scale = max(finite, default=1.0)
    for x, y in zip(fa, fb):
        if isinstance(x, bool) or isinstance(y, bool) or isinstance(x, int) and isinstance(y, int):
            if x != y:
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
        if abs(x - y) > atol * max(1.0, scale) + rtol * abs(y):
            return False
    return True


def assert_same_observation(want, got, label, rtol=1e-4, atol=1e-5):
    """want: PyTorch's observation, got: tensord's."""
    if isinstance(want, dict) and "values" in want:
        for key in ("shape", "dtype", "requires_grad", "is_leaf", "grad_fn", "next_functions"):
            assert got[key] == want[key], f"{label}: {key}: tensord {got[key]!r} != torch {want[key]!r}"
        assert close(want["values"], got["values"], rtol, atol), \
            f"{label}: values: tensord {got['values']} != torch {want['values']}"
        if want["repr"] is not None and flat(want["values"]) == flat(got["values"]):
            assert got["repr"] == want["repr"], f"{label}: repr:\ntensord {got['repr']}\ntorch   {want['repr']}"
    elif isinstance(want, (list, tuple)) and want and isinstance(want[0], dict):
        assert len(want) == len(got), label
        for i, (w, g) in enumerate(zip(want, got)):
            assert_same_observation(w, g, f"{label}[{i}]", rtol, atol)
    elif isinstance(want, float) or (isinstance(want, list) and want and isinstance(flat(want)[0], float)):
        assert close(want, got, rtol, atol), f"{label}: tensord {got!r} != torch {want!r}"
    elif isinstance(want, str):
        assert strip_addresses(got) == strip_addresses(want), f"{label}:\ntensord {got!r}\ntorch   {want!r}"
    else:
        assert got == want, f"{label}: tensord {got!r} != torch {want!r}"


def compare_records(want, got):
    """Two lists of (label, observation) from the same program."""
    assert [w[0] for w in want] == [g[0] for g in got], "the two runs recorded different steps"
    for (label, w), (_, g) in zip(want, got):
        assert_same_observation(w, g, label)


def known_engine_differences(obs):
    """The engine's WhereBackward0 lists the (non-differentiable) condition as an extra first edge
    (None, 0) that PyTorch does not have: reported, and pinned by the xfail
    test_client.py::test_where_next_functions_match_pytorch. Dropped before comparing so that the
    rest of where's graph, its values and grads are still compared."""
    if isinstance(obs, dict) and obs.get("grad_fn") == "WhereBackward0" and obs["next_functions"] and \
            len(obs["next_functions"]) == 3 and obs["next_functions"][0] == (None, 0):
        obs = dict(obs, next_functions=obs["next_functions"][1:])
    return obs
