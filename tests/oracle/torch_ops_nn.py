"""PyTorch counterparts of the nn ops in engine/ops/nn.cc.

Merged into TORCH_OPS by test_engine_vs_torch.py. linear's optional bias is a third tensor
input. _nll_loss_backward is aten::nll_loss_backward (node NllLossBackwardBackward0) with a
zero `self` of input_size and total_weight the number of targets not equal to ignore_index.
"""

import torch
import torch.nn.functional as F

# The table's `int reduction` is ATen's enum; F.* take its name.
_RED = {0: "none", 1: "mean", 2: "sum"}


def _nll_loss_backward(x, a):
    grad_output, target = x
    self = torch.zeros(a["input_size"], dtype=grad_output.dtype)
    total_weight = (target != a["ignore_index"]).sum().to(grad_output.dtype)
    return torch.ops.aten.nll_loss_backward(grad_output, self, target, None,
                                            a["reduction"], a["ignore_index"],
                                            total_weight)


TORCH_OPS = {
    "outer": lambda x, a: torch.outer(x[0], x[1]),
    "addmm": lambda x, a: torch.addmm(x[0], x[1], x[2], beta=a["beta"], alpha=a["alpha"]),
    "linear": lambda x, a: F.linear(*[t for t in x if t is not None]),
    "nll_loss": lambda x, a: F.nll_loss(x[0], x[1], reduction=_RED[a["reduction"]],
                                        ignore_index=a["ignore_index"]),
    "_nll_loss_backward": _nll_loss_backward,
    "cross_entropy": lambda x, a: F.cross_entropy(x[0], x[1], reduction=_RED[a["reduction"]],
                                                  ignore_index=a["ignore_index"]),
    "binary_cross_entropy": lambda x, a: F.binary_cross_entropy(x[0], x[1],
                                                                reduction=_RED[a["reduction"]]),
}
