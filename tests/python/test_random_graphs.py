"""Random op graphs, built by the same code against PyTorch and against tensord.

Each graph is a seeded random program over a pool of tensors: unary, binary (broadcasting, with
Python numbers), reductions, matrix products, shape ops and views, in-place ops on clones, losses.
Its decisions depend only on the seed and on tensor shapes, so the two runs build the same graph
on identical input data. Values, dtypes, shapes, requires_grad / is_leaf, grad_fn names and
next_functions are compared for every tensor of the pool, then the gradients: plain backward,
backward twice with retain_graph, retain_grad on an intermediate, or first and second order
autograd.grad(create_graph=True).
"""
import functools
import random

import pytest
import torch

from helpers import assert_same_observation, known_engine_differences, observe

pytestmark = pytest.mark.filterwarnings("ignore:nn.functional.sigmoid is deprecated")

N_GRAPHS = 40
LEAF_SHAPES = [(3, 4), (4,), (1, 4), (3, 1), (2, 3, 4), (4, 3), (), (2, 1, 4)]


def _broadcastable(a, b):
    for x, y in zip(reversed(a), reversed(b)):
        if x != y and x != 1 and y != 1:
            return False
    return True


class Program:
    def __init__(self, t, seed):
        self.t = t
        self.rng = random.Random(1000 + seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.leaves = []
        self.pool = []  # (label, tensor)
        self.step = 0

    # ---- operands ----------------------------------------------------------------------------

    def leaf(self, shape, requires_grad=True, positive=False):
        values = torch.randn(shape, generator=self.gen)
        if positive:
            values = values.abs() + 0.5
        x = self.t.tensor(values.tolist(), requires_grad=requires_grad)
        if requires_grad:
            self.leaves.append(x)
        return x

    def pick(self, pred=lambda shape: True):
        cands = [x for _, x in self.pool if pred(tuple(x.shape)) and x.dtype is not self.t.bool]
        return self.rng.choice(cands) if cands else None

    def partner(self, shape):
        """A second operand broadcastable with `shape`: from the pool, or a new leaf."""
        if self.rng.random() < 0.5:
            y = self.pick(lambda s: _broadcastable(s, shape) and len(s) <= len(shape) + 1)
            if y is not None:
                return y
        if shape and self.rng.random() < 0.5:
            shape = tuple(1 if self.rng.random() < 0.3 else d for d in shape)
            shape = shape[self.rng.randrange(len(shape)):] if self.rng.random() < 0.3 else shape
        return self.leaf(shape, requires_grad=self.rng.random() < 0.7)

    def add(self, what, x):
        self.pool.append((f"{self.step}:{what}", x))

    # ---- ops -----------------------------------------------------------------------------------

    def unary(self, x):
        t, F = self.t, self.t.nn.functional
        ops = {
            "exp(tanh)": lambda: t.exp(t.tanh(x)),
            "log(abs+1)": lambda: t.log(x.abs() + 1),
            "sqrt(x*x+1)": lambda: t.sqrt(x * x + 1),
            "sigmoid": lambda: x.sigmoid(),
            "tanh": lambda: t.tanh(x),
            "sin": lambda: t.sin(x),
            "cos": lambda: x.cos(),
            "relu": lambda: F.relu(x),
            "neg": lambda: -x,
            "abs": lambda: abs(x),
            "sign*x": lambda: t.sign(x) * x,
            "x**2": lambda: x ** 2,
            "x**3": lambda: x.pow(3),
            "(|x|+1)**0.5": lambda: (x.abs() + 1) ** 0.5,
            "clamp": lambda: x.clamp(-0.5, 0.5),
            "clamp(min)": lambda: t.clamp(x, min=0.1),
            "F.sigmoid": lambda: F.sigmoid(x),
        }
        name = self.rng.choice(sorted(ops))
        return name, ops[name]()

    def binary(self, x):
        t = self.t
        y = self.partner(tuple(x.shape))
        ops = {
            "+": lambda: x + y,
            "-": lambda: x - y,
            "*": lambda: x * y,
            "/": lambda: x / (y * y + 1),
            "add(alpha)": lambda: t.add(x, y, alpha=0.5),
            "sub(alpha)": lambda: x.sub(y, alpha=2),
            "+1.5": lambda: x + 1.5,
            "2*": lambda: 2.0 * x,
            "-0.25": lambda: x - 0.25,
            "/4": lambda: x / 4.0,
            "where": lambda: t.where(x > y, x, y),
            "pow(|x|+1, y)": lambda: t.pow(x.abs() + 1, y.tanh()),
            "max(x*y)": lambda: (x * y).max(-1)[0] if (x * y).dim() > 0 else x * y,
        }
        name = self.rng.choice(sorted(ops))
        return name, ops[name]()

    def reduction(self, x):
        t = self.t
        d = x.dim()
        ops = {"sum": lambda: x.sum(), "mean": lambda: t.mean(x)}
        if d:
            dim = self.rng.randrange(-d, d)
            ops.update({
                "sum(dim)": lambda: x.sum(dim),
                "sum(dim,keepdim)": lambda: t.sum(x, dim, keepdim=True),
                "mean(dim)": lambda: x.mean(dim=dim),
                "max(dim).values": lambda: t.max(x, dim).values,
                "min(dim)[0]": lambda: x.min(dim, keepdim=True)[0],
            })
        if d >= 2:
            ops["sum((0,1))"] = lambda: x.sum((0, 1))
        name = self.rng.choice(sorted(ops))
        return name, ops[name]()

    def matmul(self, x):
        t = self.t
        shape = tuple(x.shape)
        k = shape[-1] if shape else None
        n = self.rng.choice([1, 2, 3])
        if len(shape) == 2:
            ops = {
                "mm": lambda: t.mm(x, self.leaf((k, n))),
                "@": lambda: x @ self.leaf((k, n)),
                "matmul(2d,1d)": lambda: t.matmul(x, self.leaf((k,))),
                "mv": lambda: t.mv(x, self.leaf((k,))),
                "1d@2d": lambda: self.leaf((shape[0],)) @ x,
            }
        elif len(shape) == 1:
            ops = {
                "dot": lambda: t.dot(x, self.leaf((k,))),
                "matmul(1d,1d)": lambda: t.matmul(x, self.leaf((k,))),
                "matmul(1d,2d)": lambda: t.matmul(x, self.leaf((k, n))),
                "2d@1d": lambda: self.leaf((n, k)) @ x,
            }
        elif len(shape) == 3:
            ops = {
                "bmm": lambda: t.bmm(x, self.leaf((shape[0], k, n))),
                "matmul(3d,2d)": lambda: t.matmul(x, self.leaf((k, n))),
                "matmul(3d,1d)": lambda: x @ self.leaf((k,)),
            }
        else:
            return None, None
        name = self.rng.choice(sorted(ops))
        return name, ops[name]()

    def shape_op(self, x):
        t = self.t
        shape = tuple(x.shape)
        d = len(shape)
        ops = {
            "view(-1)": lambda: x.contiguous().view(-1),
            "reshape(rev)": lambda: x.reshape(*reversed(shape)) if d else x.reshape(1),
            "unsqueeze": lambda: x.unsqueeze(self.rng.randrange(-d - 1, d + 1)),
            "clone": lambda: x.clone(),
            "cat": lambda: t.cat([x, x * 2.0], dim=self.rng.randrange(d)) if d else t.cat([x.view(1), x.view(1)]),
            "to(float64)": lambda: x.to(t.float64) * 2,
        }
        if d:
            ops.update({
                "transpose": lambda: x.transpose(0, -1),
                "select": lambda: x[self.rng.randrange(-shape[0], shape[0])],
                "slice": lambda: x[::2],
                "slice(last)": lambda: x[..., 1:],
                "unbind": lambda: x.unbind(0)[-1],
                "iter": lambda: list(x)[0],
            })
        if d <= 2:
            ops["t"] = lambda: x.t()
        if 1 in shape:
            ops["squeeze"] = lambda: x.squeeze()
            ops["squeeze(dim)"] = lambda: t.squeeze(x, shape.index(1))
            ops["expand"] = lambda: x.expand(*[3 if s == 1 else s for s in shape])
        if d >= 2:
            ops["x[0, 1:]"] = lambda: x[0, 1:]
            ops["transpose.contiguous"] = lambda: x.transpose(0, 1).contiguous()
            ops["expand_as"] = lambda: x[:1].expand_as(x)
        name = self.rng.choice(sorted(ops))
        return name, ops[name]()

    def inplace(self, x):
        ops = {
            "clone.mul_": lambda: x.clone().mul_(2),
            "clone.add_": lambda: x.clone().add_(x, alpha=0.5),
            "clone.sub_": lambda: x.clone().sub_(1.0),
            "clone.div_": lambda: x.clone().div_(3.0),
            "clone.clamp_": lambda: x.clone().clamp_(-1, 1),
            "clone +=": lambda: _iadd(x.clone(), x),
        }
        name = self.rng.choice(sorted(ops))
        return name, ops[name]()

    def loss(self, x):
        t, F = self.t, self.t.nn.functional
        target = self.leaf(tuple(x.shape), requires_grad=False)
        ops = {
            "mse_loss": lambda: F.mse_loss(x, target),
            "mse_loss(sum)": lambda: F.mse_loss(x, target, reduction="sum"),
            "bce_logits": lambda: F.binary_cross_entropy_with_logits(x, t.sigmoid(target)),
            "bce_logits(none)": lambda: F.binary_cross_entropy_with_logits(x, t.sigmoid(target), reduction="none"),
        }
        name = self.rng.choice(sorted(ops))
        return name, ops[name]()

    # ---- the program ---------------------------------------------------------------------------

    def build(self, n_steps):
        for _ in range(self.rng.randint(2, 3)):
            self.add("leaf", self.leaf(self.rng.choice(LEAF_SHAPES)))
        kinds = ["unary"] * 4 + ["binary"] * 4 + ["reduction"] * 2 + ["matmul"] * 2 + ["shape_op"] * 3 + \
            ["inplace"] * 2 + ["loss"]
        for self.step in range(n_steps):
            x = self.pick(lambda s: len(s) <= 3 and 0 not in s)
            kind = self.rng.choice(kinds)
            name, y = getattr(self, kind)(x)
            if y is not None:
                self.add(f"{kind}:{name}", y)

    def loss_of(self, tensors):
        terms = [x.float().sum() * (i + 1) for i, x in enumerate(tensors)]
        return functools.reduce(lambda a, b: a + b, terms)


def _iadd(a, b):
    a += b
    return a


def run(t, seed, n_steps=14):
    """Builds graph `seed` with module t; returns the list of (label, observation)."""
    p = Program(t, seed)
    p.build(n_steps)
    records = [(label, observe(x)) for label, x in p.pool]
    grad_pool = [x for _, x in p.pool if x.requires_grad and x.dtype.is_floating_point]
    if not grad_pool:
        return records
    outs = grad_pool[-3:]
    mode = seed % 4
    loss = p.loss_of(outs)
    records.append(("loss", observe(loss)))
    leaves = p.leaves
    if mode == 0:
        loss.backward()
    elif mode == 1:
        loss.backward(retain_graph=True)
        loss.backward()
    elif mode == 2:
        mid = outs[0]
        if not mid.is_leaf:
            mid.retain_grad()
        loss.backward()
        records.append(("mid.grad", observe(mid.grad)))
        records.append(("mid.retains_grad", mid.retains_grad))
    else:
        grads = t.autograd.grad(loss, leaves, create_graph=True, allow_unused=True)
        records.append(("grad defined", [g is not None for g in grads]))
        used = [g for g in grads if g is not None]
        records.append(("grads", [_shallow(g) for g in used]))
        second = [g for g in used if g.requires_grad]
        if second:
            s = p.loss_of([g * g for g in second])
            grads2 = t.autograd.grad(s, leaves, allow_unused=True)
            records.append(("grads2 defined", [g is not None for g in grads2]))
            records.append(("grads2", [_shallow(g) for g in grads2 if g is not None]))
        return records
    records.append(("leaf grads", [None if x.grad is None else x.grad.tolist() for x in leaves]))
    return records


def _shallow(g):
    """A create_graph gradient: values, dtype, requires_grad, ... are compared, not the names of
    the nodes the backward formulas recorded (see test_client.py::test_higher_order_graph_names)."""
    obs = observe(g, with_repr=False)
    obs["grad_fn"] = obs["next_functions"] = None
    return obs


@pytest.mark.parametrize("seed", range(N_GRAPHS))
def test_random_graph_matches_pytorch(seed, t):
    want = run(torch, seed)
    got = [(label, known_engine_differences(obs)) for label, obs in run(t, seed)]
    assert [w[0] for w in want] == [g[0] for g in got]
    for (label, w), (_, g) in zip(want, got):
        if label == "leaf grads":
            assert [v is None for v in w] == [v is None for v in g], label
            for i, (a, b) in enumerate(zip(w, g)):
                if a is not None:
                    assert_same_observation(a, b, f"{label}[{i}]", rtol=1e-3, atol=1e-4)
        else:
            assert_same_observation(w, g, label, rtol=1e-3, atol=1e-4)
