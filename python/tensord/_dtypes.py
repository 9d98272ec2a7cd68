"""Element types, named and printed as PyTorch names them."""
from tensord.v1 import tensord_pb2 as pb


class dtype:
    """A tensord element type; ``repr`` is PyTorch's (``torch.float32``)."""

    __slots__ = ("_name", "_wire", "is_floating_point", "itemsize", "_fmt")

    def __init__(self, name, wire, is_floating_point, itemsize, fmt):
        self._name = name
        self._wire = wire
        self.is_floating_point = is_floating_point
        self.itemsize = itemsize
        self._fmt = fmt  # array module typecode of the raw bytes

    def __repr__(self):
        return "torch." + self._name

    __str__ = __repr__

    def __reduce__(self):
        return (_by_name, (self._name,))

    @property
    def is_complex(self):
        return False

    @property
    def is_signed(self):
        return self._name != "bool"


float32 = dtype("float32", pb.DTYPE_FLOAT32, True, 4, "f")
float64 = dtype("float64", pb.DTYPE_FLOAT64, True, 8, "d")
int64 = dtype("int64", pb.DTYPE_INT64, False, 8, "q")
bool = dtype("bool", pb.DTYPE_BOOL, False, 1, "B")  # noqa: A001 - torch.bool
float = float32  # noqa: A001 - torch.float
double = float64
long = int64

ALL = (float32, float64, int64, bool)
_BY_WIRE = {d._wire: d for d in ALL}
_BY_NAME = {d._name: d for d in ALL}


def _by_name(name):
    return _BY_NAME[name]


def from_wire(wire):
    try:
        return _BY_WIRE[wire]
    except KeyError:
        raise RuntimeError(f"tensord: unknown dtype value {wire} from the server") from None


def to_dtype(value):
    """Accepts a tensord dtype, a torch dtype (by name) or a name like 'float32'."""
    if isinstance(value, dtype):
        return value
    name = str(value)
    if name.startswith("torch."):
        name = name[len("torch."):]
    aliases = {"float": "float32", "double": "float64", "long": "int64"}
    name = aliases.get(name, name)
    if name in _BY_NAME:
        return _BY_NAME[name]
    raise TypeError(f"tensord supports the dtypes float32, float64, int64 and bool, not {value!r}")
