"""PyTorch counterparts of the pointwise ops added after the core set (merged into TORCH_OPS by
test_engine_vs_torch.py)."""

import torch
import torch.nn.functional as F

TORCH_OPS = {
    "reciprocal": lambda x, a: torch.reciprocal(x[0]),
    "rsqrt": lambda x, a: torch.rsqrt(x[0]),
    "log1p": lambda x, a: torch.log1p(x[0]),
    "leaky_relu": lambda x, a: F.leaky_relu(x[0], a["negative_slope"]),
    "gelu": lambda x, a: F.gelu(x[0], approximate=a["approximate"]),
    # gelu's backward as an op of its own (its node is what double backward goes through).
    "_gelu_backward": lambda x, a: torch.ops.aten.gelu_backward(
        x[0], x[1], approximate=a["approximate"]),
    "floor": lambda x, a: torch.floor(x[0]),
    "ceil": lambda x, a: torch.ceil(x[0]),
    "round": lambda x, a: torch.round(x[0]),
    "trunc": lambda x, a: torch.trunc(x[0]),
    "fmod": lambda x, a: torch.fmod(x[0], x[1]),
    "remainder": lambda x, a: torch.remainder(x[0], x[1]),
    "maximum": lambda x, a: torch.maximum(x[0], x[1]),
    "max_other": lambda x, a: torch.max(x[0], x[1]),
    "min_other": lambda x, a: torch.min(x[0], x[1]),
    "minimum": lambda x, a: torch.minimum(x[0], x[1]),
    "logical_and": lambda x, a: torch.logical_and(x[0], x[1]),
    "logical_or": lambda x, a: torch.logical_or(x[0], x[1]),
    "logical_not": lambda x, a: torch.logical_not(x[0]),
}
