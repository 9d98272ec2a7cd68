"""PyTorch counterparts of engine/ops/as_strided.cc.

Merged into TORCH_OPS by test_engine_vs_torch.py. as_strided is torch.as_strided. Its gradient
ops exist only in the engine (PyTorch computes as_strided_backward inside the node, with no aten
op of its own): they are compared with a reference computation by storage position (values and
gradients of every order); their grad_fn names, which PyTorch has no counterpart for, are not
(NO_TORCH_NODE).
"""

import torch


def _positions(size, stride, offset):
    """Storage positions of a layout's elements, row-major."""
    idx = torch.full(list(size), offset, dtype=torch.long)
    for d, (n, s) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[d] = n
        idx = idx + (torch.arange(n) * s).reshape(shape)
    return idx.reshape(-1)


def _span(*positions):
    return int(max(int(p.max()) for p in positions if p.numel())) + 1


def _as_strided_backward(g, a):
    bpos = _positions(a["input_size"], a["input_stride"], a["input_offset"])
    vpos = _positions(a["size"], a["stride"], a["storage_offset"])
    buf = g.new_zeros(_span(bpos, vpos)).index_add(0, vpos, g.reshape(-1))
    return buf[bpos].reshape(a["input_size"]).clone()


def _as_strided_copy(x, a):
    bpos = _positions(x.shape, a["input_stride"], a["input_offset"])
    vpos = _positions(a["size"], a["stride"], a["storage_offset"])
    buf = x.new_zeros(_span(bpos, vpos)).index_copy(0, bpos, x.reshape(-1))
    return buf[vpos].reshape(a["size"]).clone()


TORCH_OPS = {
    "as_strided": lambda x, a: torch.as_strided(x[0], a["size"], a["stride"],
                                                a["storage_offset"]),
    "_as_strided_backward": lambda x, a: _as_strided_backward(x[0], a),
    "_as_strided_copy": lambda x, a: _as_strided_copy(x[0], a),
}

NO_TORCH_NODE = {"_as_strided_backward", "_as_strided_copy"}
