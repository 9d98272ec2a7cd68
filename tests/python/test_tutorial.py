"""PyTorch's autograd tutorials, cell by cell, written once as functions of the module `t`.

Each runs with `import torch as t` and with `t = tensord.connect(...)` on the same input data (the
tutorials' random tensors are drawn once with torch and passed to both), and every value, grad,
grad_fn name, next_functions, repr, printed line and error message is compared.
"""
import pytest
import torch

import tensord

from helpers import compare_records, node_name, next_names, observe


def _data():
    g = torch.Generator().manual_seed(0)
    return {
        "rand5x5": [torch.rand(5, 5, generator=g).tolist() for _ in range(3)],
        "w": torch.randn(5, 3, generator=g).tolist(),
        "b": torch.randn(3, generator=g).tolist(),
        "a22": torch.randn(2, 2, generator=g).tolist(),
        "x3": torch.randn(3, generator=g).tolist(),
        "x4": torch.randn(4, generator=g).tolist(),
    }


class Recorder:
    def __init__(self):
        self.records = []

    def __call__(self, label, value):
        if hasattr(value, "grad_fn") and hasattr(value, "tolist"):
            value = observe(value)
        elif isinstance(value, tuple) and value and hasattr(value[0], "grad_fn"):
            value = [observe(v) for v in value]
        self.records.append((label, value))

    def shallow(self, label, value):
        """Without next_functions: the graph inside a create_graph gradient is the engine's own
        (see test_higher_order_graph_names)."""
        obs = observe(value)
        obs["next_functions"] = None
        self.records.append((label, obs))

    def error(self, label, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - the point is to record it
            self.records.append((label, ("raised", isinstance(e, RuntimeError), isinstance(e, IndexError), str(e))))
        else:
            self.records.append((label, ("no error",)))


def gentle_introduction(t, data, rec):
    """'A Gentle Introduction to torch.autograd' (blitz/autograd_tutorial.py)."""
    a = t.tensor([2., 3.], requires_grad=True)
    b = t.tensor([6., 4.], requires_grad=True)
    Q = 3 * a ** 3 - b ** 2
    rec("Q", Q)
    external_grad = t.tensor([1., 1.])
    Q.backward(gradient=external_grad)
    rec("9*a**2 == a.grad", 9 * a ** 2 == a.grad)
    rec("-2*b == b.grad", -2 * b == b.grad)
    rec("a.grad", a.grad)
    rec("b.grad", b.grad)

    # Exclusion from the DAG (x = torch.rand(5, 5), ...).
    x = t.tensor(data["rand5x5"][0])
    y = t.tensor(data["rand5x5"][1])
    z = t.tensor(data["rand5x5"][2], requires_grad=True)
    a = x + y
    rec("a.requires_grad line", f"Does `a` require gradients?: {a.requires_grad}")
    b = x + z
    rec("b.requires_grad line", f"Does `b` require gradients?: {b.requires_grad}")
    rec("b", b)


def autograd_quickstart(t, data, rec):
    """'Automatic Differentiation with torch.autograd' (basics/autogradqs_tutorial.py)."""
    x = t.ones(5)  # input tensor
    y = t.zeros(3)  # expected output
    w = t.tensor(data["w"], requires_grad=True)  # torch.randn(5, 3, requires_grad=True)
    b = t.tensor(data["b"], requires_grad=True)  # torch.randn(3, requires_grad=True)
    z = t.matmul(x, w) + b
    loss = t.nn.functional.binary_cross_entropy_with_logits(z, y)
    rec("z", z)
    rec("loss", loss)
    rec("z.grad_fn line", f"Gradient function for z = {z.grad_fn}")
    rec("loss.grad_fn line", f"Gradient function for loss = {loss.grad_fn}")
    rec("loss.grad_fn.next_functions", next_names(loss.grad_fn))
    rec("z.grad_fn.next_functions[0] next", next_names(z.grad_fn.next_functions[0][0]))

    loss.backward()
    rec("w.grad", w.grad)
    rec("b.grad", b.grad)

    z = t.matmul(x, w) + b
    rec("z.requires_grad", z.requires_grad)
    with t.no_grad():
        z = t.matmul(x, w) + b
    rec("z.requires_grad under no_grad", z.requires_grad)

    z = t.matmul(x, w) + b
    z_det = z.detach()
    rec("z_det.requires_grad", z_det.requires_grad)
    rec("z_det", z_det)

    # Optional reading: tensor gradients and Jacobian products.
    inp = t.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    rec("out", out)
    out.backward(t.ones_like(out), retain_graph=True)
    rec("first call", f"First call\n{inp.grad}")
    out.backward(t.ones_like(out), retain_graph=True)
    rec("second call", f"\nSecond call\n{inp.grad}")
    inp.grad.zero_()
    out.backward(t.ones_like(out), retain_graph=True)
    rec("after zeroing", f"\nCall after zeroing gradients\n{inp.grad}")

    # The errors the tutorial talks about.
    rec.error("non-scalar backward", lambda: out.backward())
    out.backward(t.ones_like(out))  # frees the graph
    rec.error("second backward", lambda: out.backward(t.ones_like(out)))
    rec("grad unchanged by the failed call", inp.grad)


def sixty_minute_blitz(t, data, rec):
    """The original 60-minute blitz 'Autograd: automatic differentiation'."""
    x = t.ones(2, 2, requires_grad=True)
    rec("x", x)
    y = x + 2
    rec("y", y)
    rec("y.grad_fn", repr(y.grad_fn))
    z = y * y * 3
    out = z.mean()
    rec("z", z)
    rec("out", out)

    a = t.tensor(data["a22"])  # torch.randn(2, 2)
    a = ((a * 3) / (a - 1))
    rec("a.requires_grad", a.requires_grad)
    a.requires_grad_(True)
    rec("a.requires_grad after requires_grad_", a.requires_grad)
    b = (a * a).sum()
    rec("b.grad_fn", repr(b.grad_fn))

    out.backward()
    rec("x.grad", x.grad)

    x = t.tensor(data["x3"], requires_grad=True)  # torch.randn(3, requires_grad=True)
    y = x * 2
    steps = 0
    while y.data.pow(2).sum().sqrt() < 1000:  # y.data.norm() < 1000
        y = y * 2
        steps += 1
    rec("steps", steps)
    rec("y", y)
    v = t.tensor([0.1, 1.0, 0.0001], dtype=t.float)
    y.backward(v)
    rec("x.grad", x.grad)

    rec("x.requires_grad", x.requires_grad)
    rec("(x ** 2).requires_grad", (x ** 2).requires_grad)
    with t.no_grad():
        rec("(x ** 2).requires_grad under no_grad", (x ** 2).requires_grad)
    y = x.detach()
    rec("y.requires_grad", y.requires_grad)
    rec("x.eq(y)", x.eq(y))


def autograd_mechanics(t, data, rec):
    """Autograd semantics the tutorials and the docs rely on."""
    x = t.tensor(data["x4"], requires_grad=True)
    # Non-leaf gradients: retain_grad.
    h = x * 2
    h.retain_grad()
    y = (h.sigmoid() * h).sum()
    y.backward(retain_graph=True)
    rec("h.retains_grad", h.retains_grad)
    rec("h.grad", h.grad)
    rec("x.grad", x.grad)
    y.backward()
    rec("x.grad accumulated", x.grad)
    rec("h.grad replaced", h.grad)

    # Higher-order: autograd.grad(create_graph=True).
    x = t.tensor(data["x3"], requires_grad=True)
    f = (x ** 3).sum()
    (g,) = t.autograd.grad(f, x, create_graph=True)
    rec.shallow("f'", g)
    (g2,) = t.autograd.grad(g.sum(), x)
    rec("f''", g2)
    rec("x.grad untouched", x.grad is None)

    # requires_grad on a non-leaf, in-place on a leaf that requires grad.
    rec.error("requires_grad on non-leaf", lambda: _set_requires_grad(t, g, False))
    rec.error("in-place on leaf", lambda: _sync(t, x.add_(1)))
    rec.error("int requires grad", lambda: t.tensor([1, 2], requires_grad=True))

    # .data writes are invisible to autograd; grad mode functions.
    w = t.tensor([1., 2., 3.], requires_grad=True)
    e = w.exp()
    w.data.mul_(0)
    e.sum().backward()
    rec("exp grad uses the saved result", w.grad)
    rec("w after .data write", w)
    prev = t.is_grad_enabled()
    t.set_grad_enabled(False)
    rec("grad disabled", (w * 2).requires_grad)
    t.set_grad_enabled(prev)
    with t.set_grad_enabled(False):
        rec("set_grad_enabled ctx", (w * 2).requires_grad)
        with t.enable_grad():
            rec("enable_grad inside", (w * 2).requires_grad)
    rec("restored", t.is_grad_enabled())

    # Assigning .grad, zeroing, and a few SGD steps.
    p = t.tensor(data["w"], requires_grad=True)
    q = t.ones(3)
    for _ in range(3):
        loss = t.nn.functional.mse_loss(t.matmul(p.t(), t.ones(5)), q)
        loss.backward()
        with t.no_grad():
            p -= 0.1 * p.grad
        p.grad.zero_()
        rec("sgd loss", loss)
    rec("p after sgd", p)
    p.grad = None
    rec("p.grad = None", p.grad is None)


def _set_requires_grad(t, x, flag):
    x.requires_grad = flag
    _sync(t, x)


def _sync(t, x):
    """In torch a no-op; in tensord, wait for the pipelined commands (errors surface here)."""
    if hasattr(t, "synchronize"):
        t.synchronize()
    return x


TUTORIALS = [gentle_introduction, autograd_quickstart, sixty_minute_blitz, autograd_mechanics]


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[f.__name__ for f in TUTORIALS])
def test_tutorial_matches_pytorch(tutorial, t):
    data = _data()
    want, got = Recorder(), Recorder()
    tutorial(torch, data, want)
    tutorial(t, data, got)
    assert len(want.records) > 5
    compare_records(want.records, got.records)


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[f.__name__ for f in TUTORIALS])
def test_tutorial_without_pipelining(tutorial, server):
    """The same, with every command sent on its own (errors raise at their own line)."""
    data = _data()
    want, got = Recorder(), Recorder()
    tutorial(torch, data, want)
    with tensord.connect(server.address, pipelining=False) as t:
        tutorial(t, data, got)
    compare_records(want.records, got.records)


def test_tutorial_records_errors_as_pytorch(t):
    """The tutorial's error cells really raised (and not something else) in both."""
    data = _data()
    rec = Recorder()
    autograd_quickstart(t, data, rec)
    errors = {label: v for label, v in rec.records if isinstance(v, tuple) and v and v[0] == "raised"}
    assert errors["non-scalar backward"][3] == "grad can be implicitly created only for scalar outputs"
    assert errors["second backward"][3].startswith("Trying to backward through the graph a second time")
    assert all(v[1] for v in errors.values())  # RuntimeError


def test_grad_fn_objects(t):
    w = t.ones(5, 3, requires_grad=True)
    z = t.matmul(t.ones(5), w)
    fn = z.grad_fn
    assert type(fn).__name__ == node_name(fn) == "SqueezeBackward3"
    (mm, _), = fn.next_functions
    acc = next(n for n, _ in mm.next_functions if n is not None)
    assert acc.name() == "torch::autograd::AccumulateGrad"
    assert type(acc).__name__ == "AccumulateGrad"
    assert acc.variable is w
    assert repr(fn).startswith("<SqueezeBackward3 object at 0x")
