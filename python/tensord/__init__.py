"""tensord: the Python client of the tensord tensor service.

    import tensord
    t = tensord.connect("127.0.0.1:50051")   # instead of `import torch as t`
    x = t.ones(2, 2, requires_grad=True)
    y = (x * 3).sum()
    y.backward()
    print(x.grad)

See python/README.md.
"""
from tensord._dtypes import bool, double, dtype, float, float32, float64, int64, long  # noqa: A004
from tensord._errors import TensordError, TensordIndexError, TensordRuntimeError
from tensord._format import set_printoptions
from tensord._session import Session, connect
from tensord._tensor import Node, Size, Tensor, return_types

__all__ = [
    "connect", "Session", "Tensor", "Size", "Node", "return_types", "dtype", "float32", "float64", "int64",
    "bool", "float", "double", "long", "TensordError", "TensordRuntimeError", "TensordIndexError",
    "set_printoptions",
]
__version__ = "0.1.0"
