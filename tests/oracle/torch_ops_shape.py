"""PyTorch counterparts of the shape and indexing ops in engine/ops/shape_more.cc.

Merged into TORCH_OPS by test_engine_vs_torch.py. The internal ops that backward rules use are
mapped to the PyTorch computation with the same node: _index_select_backward is
aten::index_select_backward (zeros().index_add_(), IndexAddBackward0), _gather_backward is
zeros().scatter_add() (ScatterAddBackward0) and _masked_select_backward is
zeros().masked_scatter() (MaskedScatterBackward0).
"""

import torch

TORCH_OPS = {
    "flatten": lambda x, a: torch.flatten(x[0], a["start_dim"], a["end_dim"]),
    "permute": lambda x, a: x[0].permute(a["dims"]),
    "repeat": lambda x, a: x[0].repeat(a["repeats"]),
    "stack": lambda x, a: torch.stack(x, a["dim"]),
    "split": lambda x, a: torch.split(x[0], a["split_size"], a["dim"]),
    "split_sizes": lambda x, a: torch.split(x[0], a["split_size"], a["dim"]),
    "chunk": lambda x, a: torch.chunk(x[0], a["chunks"], a["dim"]),
    "narrow": lambda x, a: torch.narrow(x[0], a["dim"], a["start"], a["length"]),
    "index_select": lambda x, a: torch.index_select(x[0], a["dim"], x[1]),
    "_index_select_backward": lambda x, a: torch.ops.aten.index_select_backward(
        x[0], a["input_size"], a["dim"], x[1]),
    "gather": lambda x, a: torch.gather(x[0], a["dim"], x[1]),
    "_gather_backward": lambda x, a: torch.zeros(a["input_size"], dtype=x[0].dtype).scatter_add(
        a["dim"], x[1], x[0]),
    "scatter": lambda x, a: torch.scatter(x[0], a["dim"], x[1], x[2]),
    "scatter_value": lambda x, a: torch.scatter(x[0], a["dim"], x[1], a["value"]),
    "masked_fill": lambda x, a: torch.masked_fill(x[0], x[1], a["value"]),
    "masked_select": lambda x, a: torch.masked_select(x[0], x[1]),
    "_masked_select_backward": lambda x, a: torch.zeros(
        a["input_size"], dtype=x[0].dtype).masked_scatter(x[1], x[0]),
}
