"""Views and in-place ops through the Python client, against PyTorch 1.13 (issue 13's cases).

Each program is written once as a function of the module `t`; it runs with `import torch as t`
and with a tensord session, and every recorded value, gradient, grad_fn name, flag, _version
and error (type and text) is compared.
"""
import pytest
import torch

from helpers import compare_records, observe


class Rec:
    def __init__(self):
        self.records = []

    def __call__(self, label, value):
        if hasattr(value, "grad_fn") and hasattr(value, "tolist"):
            value = dict(observe(value, with_repr=False), version=value._version)
        self.records.append((label, value))

    def grad(self, label, x):
        self.records.append((label, None if x.grad is None else x.grad.tolist()))

    def error(self, label, fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - the type and text are what is compared
            # The builtin class (tensord's errors subclass RuntimeError, IndexError, ...).
            kind = next(c for c in type(e).__mro__ if c.__module__ == "builtins")
            self.records.append((label, (kind.__name__, str(e).split("\n")[0])))
        else:
            self.records.append((label, "no error"))


def setitem_plain_base(t, r):
    # m[1] = v on a plain tensor: m starts requiring grad, is no longer a leaf (CopySlices).
    v = t.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p = t.tensor([2.0, 3.0], requires_grad=True)
    m = t.zeros(2, 3)
    m[1] = v
    r("m", m)
    loss = (m * m).sum() + (p * p).sum()
    loss.backward()
    r.grad("v.grad", v)
    r.grad("p.grad", p)


def add_on_row_of_plain(t, r):
    v = t.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = t.zeros(2, 3)
    m[0].add_(v)
    r("m", m)
    (m * m).sum().backward()
    r.grad("v.grad", v)


def mul_on_row_of_nonleaf(t, r):
    x = t.ones(2, 2, requires_grad=True)
    a = x * 1
    a[0].mul_(2)
    r("a", a)
    a.sum().backward()
    r.grad("x.grad", x)


def setitem_scalar_on_nonleaf(t, r):
    x = t.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a = x * 2
    a[0, 1] = 0.0
    r("a", a)
    (a * a).sum().backward()
    r.grad("x.grad", x)


def view_rebased_after_base_inplace(t, r):
    x = t.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.clone()
    v = y[1:]
    y.zero_()
    r("v", v)
    (v * 3).sum().backward()
    r.grad("x.grad", x)


def max_dim_values_modified(t, r):
    x = t.tensor([[1.0, 5.0], [7.0, 2.0]], requires_grad=True)
    v, i = x.max(dim=1)
    v.add_(1.0)
    r("v", v)
    v.sum().backward()
    r.grad("x.grad", x)


def mul_saved_only_when_needed(t, r):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    w = t.tensor([3.0, 4.0])
    y = w * 1.5
    z = x * y  # saves y (for x's gradient), not x: y does not require grad
    with t.no_grad():
        x.add_(1.0)  # allowed: nothing saved x
    z.sum().backward()
    r.grad("x.grad", x)


def view_made_under_no_grad(t, r):
    x = t.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with t.no_grad():
        v = x[1:]
    r("v", v)
    r("v2", v * 2)


def leaf_view_inplace_errors(t, r):
    x = t.tensor([1.0, 2.0, 3.0], requires_grad=True)
    # tensord reports these at the next value read (its pipelined client defers errors until
    # then): each lambda reads a value, which in PyTorch is never reached.
    r.error("x.add_", lambda: x.add_(1.0).tolist())
    r.error("x[0].add_", lambda: x[0].add_(1.0).tolist())
    y = x * 1
    a, b = y.split(2)
    r.error("split output add_", lambda: a.add_(1.0).tolist())


def set_data_keeps_history(t, r):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.data = t.tensor([5.0, 6.0, 7.0])
    r("y", y)
    x.data = t.tensor([[1.0, 1.0], [2.0, 2.0]])
    r("x", x)


def detach_inplace(t, r):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.detach_()
    r("y", y)
    z = x * 2
    v = z[0:1]
    r.error("view.detach_", lambda: v.detach_().tolist())


def no_grad_view_then_base_inplace(t, r):
    # Reading grad_fn (so is_leaf and printing) of such a view raises; requires_grad and the
    # shape still answer.
    x = t.tensor([1.0, 2.0, 3.0], requires_grad=True).clone()
    with t.no_grad():
        v = x[:2]
    x.mul_(2.0)
    r("v.requires_grad", v.requires_grad)
    r("v.shape", list(v.shape))
    r.error("v.grad_fn", lambda: v.grad_fn)
    r.error("v.is_leaf", lambda: v.is_leaf)
    r.error("repr(v)", lambda: repr(v))
    r("x", x)


def versions(t, r):
    x = t.zeros(3)
    v = x[1:]
    x.add_(1.0)
    v.mul_(2.0)
    r("x", x)
    r("v", v)


PROGRAMS = [setitem_plain_base, add_on_row_of_plain, mul_on_row_of_nonleaf,
            setitem_scalar_on_nonleaf, view_rebased_after_base_inplace, max_dim_values_modified,
            mul_saved_only_when_needed, view_made_under_no_grad, leaf_view_inplace_errors,
            set_data_keeps_history, detach_inplace, no_grad_view_then_base_inplace, versions]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_views_and_inplace_match_pytorch(program, t):
    want, got = Rec(), Rec()
    program(torch, want)
    program(t, got)
    compare_records(want.records, got.records)


def test_graph_shows_copyslices_with_the_wrapped_node(t, server):
    m = t.zeros(2, 3)
    v = t.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m[1] = v
    assert type(m.grad_fn).__name__ == "CopySlices" or m.grad_fn.name().endswith("CopySlices")
    from tensord.v1 import tensord_pb2 as pb
    s = t._session if hasattr(t, "_session") else t
    graph = s._run(pb.Command(get_graph=pb.GetGraphRequest(id=m._id)), "get_graph",
                   inputs=[m._id]).graph
    root = graph.nodes[graph.root]
    assert root.name.endswith("CopySlices")
    assert root.wrapped  # the in-place op's backward, e.g. CopyBackwards
