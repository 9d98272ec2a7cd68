"""PyTorch counterparts of the reduction ops added after the core set (merged into TORCH_OPS by
test_engine_vs_torch.py)."""

import torch

TORCH_OPS = {
    "prod": lambda x, a: torch.prod(x[0]),
    "prod_dim": lambda x, a: torch.prod(x[0], a["dim"], a["keepdim"]),
    "max": lambda x, a: torch.max(x[0]),
    "min": lambda x, a: torch.min(x[0]),
    "argmax": lambda x, a: torch.argmax(x[0], dim=a["dim"], keepdim=a["keepdim"]),
    "argmin": lambda x, a: torch.argmin(x[0], dim=a["dim"], keepdim=a["keepdim"]),
    # torch.norm with a number p (p="fro", its default, reaches the same NormBackward1 node).
    "norm": lambda x, a: torch.norm(x[0], p=a["p"]),
    "norm_dim": lambda x, a: torch.norm(x[0], p=2 if a["p"] is None else a["p"], dim=a["dim"],
                                        keepdim=a["keepdim"]),
    "var": lambda x, a: torch.var(x[0], dim=a["dim"], unbiased=a["unbiased"], keepdim=a["keepdim"]),
    "std": lambda x, a: torch.std(x[0], dim=a["dim"], unbiased=a["unbiased"], keepdim=a["keepdim"]),
    "cumsum": lambda x, a: torch.cumsum(x[0], a["dim"]),
    "logsumexp": lambda x, a: torch.logsumexp(x[0], a["dim"], a["keepdim"]),
    "softmax": lambda x, a: torch.softmax(x[0], a["dim"]),
    "log_softmax": lambda x, a: torch.log_softmax(x[0], a["dim"]),
}
