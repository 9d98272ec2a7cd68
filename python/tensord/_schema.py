"""Schema-driven argument binding: PyTorch 1.13's Python calling conventions from ATen schemas.

Pure Python (no torch at runtime). Given the ATen schema strings of an op table, e.g.
``add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor``, this module binds a Python
call -- ``torch.add(x, y, alpha=2)``, ``x.add(2)``, ``x.add_(y)``, ``torch.where(c, x, y)``,
``x.view(2, 3)`` -- to one overload of the op's group the way PyTorch's Python argument parser
(torch/csrc/utils/python_arg_parser.cpp, with the signatures torchgen's gen_python_functions.py
derives from the schemas) does, and returns ``(wire op name, tensor arguments, attributes)``:

* the Python signatures: the function form renames a ``Tensor self`` to ``input``; the method form
  drops ``self`` (bound from the receiver, wherever ``self`` sits in the schema: ``x.where(c, y)`` is
  ``where(c, x, y)``) and exists iff the schema has a ``Tensor self``;
* overloads are tried in torchgen's order (sorted by signature text, then topologically so that an
  overload whose arguments are all "larger" -- Tensor over Scalar, int over int[], int[] over
  SymInt[], non-names over names, lists over Tensor[] -- comes first); the first that parses wins;
* per-parameter checks as FunctionParameter::check (bool is not an int; a Python number is a
  Scalar; a 0-dim tensor without grad is a Scalar/float, a 0-dim integral one an int; dtypes and
  Python types for ScalarType; ``int[1]`` takes a bare int; an ``int[]``/``SymInt[]`` that is the
  only positional parameter takes varargs; numpy-style ``axis``/``keepdims`` aliases);
* PyTorch's TypeErrors: ``takes N positional arguments but M were given``, ``missing N required
  positional argument``, ``got an unexpected keyword argument``, ``got multiple values for
  argument``, ``argument 'x' (position n) must be T, not U`` and, across overloads, ``received an
  invalid combination of arguments - got (...), but expected one of: ...``;
* ``torch.nn.functional`` wrappers as torch/nn/functional.py defines them (``reduction='mean'`` ->
  ``int reduction``, legacy ``size_average``/``reduce``, ``F.cross_entropy`` ->
  ``cross_entropy_loss``, ``F.softmax(input, dim)``, ``F.relu(inplace=True)``, ...).

What a "tensor" is, and the few facts the checks need about one (dim, element count, dtype kind,
requires_grad), come from an adapter, so the same binder serves tensord's client and tests that
compare it with torch.
"""
import collections
import numbers
import os
import re
import sys
import warnings

__all__ = ["Schema", "Arg", "Type", "parse_schema", "Adapter", "OpTable", "OverloadGroup", "Bound",
           "Functional", "SchemaError"]


class SchemaError(ValueError):
    """A schema string this module cannot parse."""


# ---- schema parsing ----------------------------------------------------------------------------

_BASE_TYPES = {"Tensor", "int", "SymInt", "float", "bool", "Scalar", "ScalarType", "Layout", "Device",
               "MemoryFormat", "str", "Generator", "Dimname", "complex", "QScheme", "Storage", "Stream",
               "t", "Any"}


class Type:
    """A schema type: ``base`` with ``optional`` (``?``), ``list`` (``[]``/``[N]``, ``size``),
    ``elem_optional`` (``Tensor?[]``) and the alias annotation (``mutable`` for ``(a!)``)."""

    __slots__ = ("base", "optional", "list", "size", "elem_optional", "alias", "mutable")

    def __init__(self, base, optional=False, is_list=False, size=None, elem_optional=False, alias=None):
        self.base = base
        self.optional = optional
        self.list = is_list
        self.size = size
        self.elem_optional = elem_optional
        self.alias = alias
        self.mutable = bool(alias) and "!" in alias

    @property
    def is_tensor_like(self):
        """Tensor, Tensor?, Tensor[], Tensor?[]: the op's inputs on the wire."""
        return self.base == "Tensor"

    def __str__(self):
        s = self.base
        if self.list:
            if self.elem_optional:
                s += "?"
            s += "[%s]" % ("" if self.size is None else self.size)
        if self.optional:
            s += "?"
        return s

    __repr__ = __str__


_TYPE_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\([^)]*\))?((?:\?|\[\d*\])*)\s*")


def _parse_type(text):
    m = _TYPE_RE.match(text)
    if not m:
        raise SchemaError(f"cannot parse type in {text!r}")
    base, alias, suffix = m.group(1), m.group(2), m.group(3)
    if base not in _BASE_TYPES:
        raise SchemaError(f"unknown type {base!r}")
    t = Type(base, alias=alias[1:-1].strip() if alias else None)
    parts = re.findall(r"\?|\[\d*\]", suffix)
    for p in parts:
        if p == "?":
            if t.list:
                t.optional = True
            else:
                t.elem_optional = True  # until a list follows, Tensor? is an optional scalar type
        else:
            if t.list:
                raise SchemaError(f"nested list type in {text!r}")
            t.list = True
            t.size = int(p[1:-1]) if len(p) > 2 else None
    if not t.list and t.elem_optional:
        t.elem_optional, t.optional = False, True
    return t, text[m.end():]


def _split_top(text, sep=","):
    """Splits at `sep` outside (), [] and quotes."""
    out, depth, cur, quote = [], 0, [], None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur))
    return [p.strip() for p in out]


_NO_DEFAULT = object()


def _parse_default(text):
    text = text.strip()
    if text == "None":
        return None
    if text == "True":
        return True
    if text == "False":
        return False
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_parse_default(p) for p in _split_top(inner)] if inner else []
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    # Enum-like defaults JIT prints by name: reductions (Mean), memory formats, dtypes (long, ...).
    return {"Mean": 1, "Sum": 2, "None_": 0}.get(text, text)


class Arg:
    """One schema argument."""

    __slots__ = ("name", "type", "default", "kwarg_only", "index")

    def __init__(self, name, typ, default=_NO_DEFAULT, kwarg_only=False, index=0):
        self.name = name
        self.type = typ
        self.default = default
        self.kwarg_only = kwarg_only
        self.index = index

    @property
    def has_default(self):
        return self.default is not _NO_DEFAULT

    def __repr__(self):
        d = "" if self.default is _NO_DEFAULT else "=" + repr(self.default)
        return f"{self.type} {self.name}{d}"


class Schema:
    """A parsed ATen schema."""

    def __init__(self, text, name, overload, args, returns, returns_list):
        self.text = text
        self.name = name
        self.overload = overload
        self.args = args
        self.returns = returns  # [(Type, name or None)]
        self.returns_list = returns_list  # Tensor[] return: the number of results depends on the call

    @property
    def full_name(self):
        return self.name + ("." + self.overload if self.overload else "")

    @property
    def tensor_args(self):
        return [a for a in self.args if a.type.is_tensor_like]

    @property
    def attr_args(self):
        return [a for a in self.args if not a.type.is_tensor_like]

    @property
    def self_arg(self):
        for a in self.args:
            if a.name == "self":
                return a
        return None

    @property
    def has_method(self):
        a = self.self_arg
        return a is not None and a.type.base == "Tensor" and not a.type.list and not a.kwarg_only

    @property
    def num_outputs(self):
        """Tensors returned: -1 for a Tensor[] return (decided by the inputs)."""
        if self.returns_list:
            return -1
        return sum(1 for t, _ in self.returns if t.base == "Tensor")

    @property
    def is_out(self):
        return any(a.kwarg_only and a.type.mutable for a in self.args)

    def __repr__(self):
        return f"Schema({self.text!r})"


_HEAD_RE = re.compile(r"\s*(?:aten::)?([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_]+))?\s*\(")


def parse_schema(text):
    """Parses ``name[.overload](args) -> returns`` (an ``aten::`` prefix is accepted)."""
    m = _HEAD_RE.match(text)
    if not m:
        raise SchemaError(f"cannot parse schema {text!r}")
    name, overload = m.group(1), m.group(2) or ""
    # the argument list ends at the matching ')'
    depth, i = 1, m.end()
    while i < len(text) and depth:
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
        i += 1
    if depth:
        raise SchemaError(f"unbalanced parentheses in {text!r}")
    arg_text = text[m.end():i - 1]
    rest = text[i:].strip()
    args = []
    kwarg_only = False
    for part in _split_top(arg_text):
        if part == "*":
            kwarg_only = True
            continue
        typ, remainder = _parse_type(part)
        remainder = remainder.strip()
        if "=" in remainder:
            aname, dflt = remainder.split("=", 1)
            default = _parse_default(dflt)
        else:
            aname, default = remainder, _NO_DEFAULT
        aname = aname.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", aname):
            raise SchemaError(f"bad argument name {aname!r} in {text!r}")
        args.append(Arg(aname, typ, default, kwarg_only, len(args)))
    returns, returns_list = [], False
    if rest:
        if not rest.startswith("->"):
            raise SchemaError(f"expected '->' in {text!r}")
        rt = rest[2:].strip()
        if rt.startswith("(") and rt.endswith(")"):
            parts = _split_top(rt[1:-1])
        else:
            parts = [rt]
        for p in parts:
            typ, remainder = _parse_type(p)
            returns.append((typ, remainder.strip() or None))
        returns_list = len(returns) == 1 and returns[0][0].list and returns[0][0].base == "Tensor"
    return Schema(text, name, overload, args, returns, returns_list)


# ---- the adapter: what a tensor is --------------------------------------------------------------

class Adapter:
    """Facts about values the checks need. Subclass for a tensor type.

    tensor_kind(x) -> 'bool' | 'int' | 'float' | 'complex'; tensor_dim(x), tensor_numel(x),
    tensor_requires_grad(x) are only asked when a tensor is passed where a number is expected."""

    def is_tensor(self, x):
        return False

    def tensor_dim(self, x):
        raise NotImplementedError

    def tensor_numel(self, x):
        raise NotImplementedError

    def tensor_kind(self, x):
        raise NotImplementedError

    def tensor_requires_grad(self, x):
        raise NotImplementedError

    def item(self, x):
        return x.item()

    def is_dtype(self, x):
        return False

    def dtype_from_pytype(self, t):
        """float / int / bool / complex as ScalarType (torch: float64, int64, bool, complex128)."""
        return t

    def is_layout(self, x):
        return False

    def is_memory_format(self, x):
        return False

    def is_device(self, x):
        return False

    def is_generator(self, x):
        return False


# ---- Python-level parameters (FunctionParameter) -----------------------------------------------

# numpy_compatibility_arg_names in python_arg_parser.cpp
_NUMPY_NAMES = {"dim": ("axis",), "keepdim": ("keepdims",), "input": ("x", "a", "x1"), "other": ("x2",)}

# should_allow_numbers_as_tensors in python_arg_parser.cpp: ops whose Tensor arguments take numbers
_NUMBERS_AS_TENSORS = {
    "add", "add_", "add_out", "div", "div_", "div_out", "divide", "divide_", "divide_out", "mul", "mul_",
    "mul_out", "multiply", "multiply_", "multiply_out", "sub", "sub_", "sub_out", "subtract", "subtract_",
    "subtract_out", "true_divide", "true_divide_", "true_divide_out", "to", "_to_copy", "copy_",
    "floor_divide", "floor_divide_", "floor_divide_out", "_conj"}

# torchgen's SKIP_PYTHON_BINDINGS_SIGNATURES: overloads PyTorch gives no Python binding (a number
# reaches add.Tensor etc. as a wrapped-number tensor instead, see _NUMBERS_AS_TENSORS).
_SKIP_SIGNATURES = {("add", "Scalar"), ("sub", "Scalar"), ("mul", "Scalar"), ("div", "Scalar")}

# What an ATen schema does not say: native_functions.yaml's `variants:` and `python_module: nn`
# (PyTorch 1.13). Groups with a Tensor self but no Tensor method (the nn module's ops, the
# functional forms Python does not bind), in-place ops that are not Tensor methods (torch._C._nn's
# elu_ etc.), groups with no torch.NAME function, and overloads that are function-only.
NO_METHOD = frozenset({
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "copy", "cross_entropy_loss", "elu", "fill",
    "full_like", "gelu", "hardtanh", "huber_loss", "kl_div", "l1_loss", "leaky_relu", "mse_loss", "nll_loss",
    "nll_loss_nd", "nll_loss2d", "rsub", "silu", "slice", "smooth_l1_loss", "softplus", "zero", "celu", "selu",
    "rrelu", "threshold", "hardsigmoid", "hardswish", "mish", "log_sigmoid", "soft_margin_loss",
    "multi_margin_loss", "multilabel_margin_loss", "zeros_like", "ones_like", "empty_like", "rand_like",
    "randn_like", "randint_like", "uniform", "dropout"})
NO_INPLACE_METHOD = frozenset({"leaky_relu", "gelu", "hardtanh", "silu", "elu", "dropout", "celu", "selu", "rrelu",
                               "threshold", "hardsigmoid", "hardswish", "mish"})
NO_FUNCTION = frozenset({"contiguous", "copy", "expand", "expand_as", "is_contiguous", "new_zeros", "new_ones",
                         "new_empty", "new_full", "repeat", "slice", "to", "type_as", "view", "view_as",
                         "reshape_as", "zero", "as_strided_", "fill_", "uniform"})
FUNCTION_ONLY_OVERLOADS = frozenset({("where", "ScalarOther"), ("where", "ScalarSelf"), ("where", "Scalar"),
                                     ("pow", "Scalar")})

# tools/autograd/deprecated.yaml (PyTorch 1.13): old Python signatures kept for these groups; each
# names its target overload's arguments (a missing one takes the target's default, alpha=1). They
# come after the schema's own signatures and warn when used.
DEPRECATED_SIGNATURES = {
    "add": ["add(Tensor self, Scalar alpha, Tensor other)"],
    "sub": ["sub(Tensor self, Scalar alpha, Tensor other)"],
    "addcdiv": ["addcdiv(Tensor self, Scalar value, Tensor tensor1, Tensor tensor2)"],
    "addcmul": ["addcmul(Tensor self, Scalar value, Tensor tensor1, Tensor tensor2)"],
    "addmm": ["addmm(Scalar beta, Tensor self, Scalar alpha, Tensor mat1, Tensor mat2)",
              "addmm(Scalar beta, Tensor self, Tensor mat1, Tensor mat2)"],
    "addmv": ["addmv(Scalar beta, Tensor self, Scalar alpha, Tensor mat, Tensor vec)",
              "addmv(Scalar beta, Tensor self, Tensor mat, Tensor vec)"],
    "addr": ["addr(Scalar beta, Tensor self, Scalar alpha, Tensor vec1, Tensor vec2)",
             "addr(Scalar beta, Tensor self, Tensor vec1, Tensor vec2)"],
    "addbmm": ["addbmm(Scalar beta, Tensor self, Scalar alpha, Tensor batch1, Tensor batch2)",
               "addbmm(Scalar beta, Tensor self, Tensor batch1, Tensor batch2)"],
    "baddbmm": ["baddbmm(Scalar beta, Tensor self, Scalar alpha, Tensor batch1, Tensor batch2)",
                "baddbmm(Scalar beta, Tensor self, Tensor batch1, Tensor batch2)"],
}

# torchgen's python type names (argument_type_str), used for the signature order
_CPP_TYPE = {"Tensor": "Tensor", "int": "int64_t", "float": "double", "str": "c10::string_view",
             "SymInt": "SymInt"}


def _is_int(x):
    """THPUtils_checkLong: an int (numpy ints too) that is not a bool."""
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return True
    return isinstance(x, numbers.Integral) and type(x).__name__ != "bool_"


def _is_number(x):
    """THPUtils_checkScalar / checkDouble: float, int (bools included), complex."""
    return isinstance(x, numbers.Number)


_DIMNAME_ARGS = frozenset({"dim", "dim0", "dim1", "out_dim", "start_dim", "end_dim", "dims"})


class Param:
    """A FunctionParameter: one parameter of one Python signature."""

    __slots__ = ("arg", "name", "kind", "size", "optional", "allow_none", "none_is_default", "keyword_only",
                 "numpy_names")

    def __init__(self, arg, rename_self):
        t = arg.type
        self.arg = arg
        self.name = "input" if (rename_self and arg.name == "self" and t.base == "Tensor" and not t.list) \
            else arg.name
        base = t.base
        if t.list:
            kind = {"Tensor": "TensorList", "int": "IntList", "SymInt": "SymIntList", "float": "FloatList",
                    "Scalar": "ScalarList", "str": "DimnameList", "Dimname": "DimnameList",
                    "bool": "BoolList"}.get(base)
        else:
            kind = {"str": "str"}.get(base, base)
        if kind is None:
            raise SchemaError(f"unsupported argument type {t}")
        self.kind = kind
        self.size = t.size or 0
        self.optional = arg.has_default
        # torchgen prints a default of [] as =None (cpp "{}"), so None passes and means the default;
        # Dimname (JIT prints it as str) takes None too (THPUtils_checkDimname).
        self.none_is_default = arg.has_default and arg.default == [] and not t.optional
        self.allow_none = (t.optional or (arg.has_default and arg.default is None) or self.none_is_default
                           or (base == "str" and not t.list and arg.name in _DIMNAME_ARGS))
        self.keyword_only = arg.kwarg_only
        self.numpy_names = _NUMPY_NAMES.get(self.name, ())

    def type_name(self):
        """FunctionParameter::type_name, as the error messages print it."""
        if self.kind == "str" and self.name in _DIMNAME_ARGS:
            return "name"  # JIT prints Dimname as str
        return {"Tensor": "Tensor", "Scalar": "Number", "int": "int", "SymInt": "SymInt", "float": "float",
                "bool": "bool", "ScalarType": "torch.dtype", "Layout": "torch.layout",
                "MemoryFormat": "torch.memory_format", "Device": "torch.device", "Generator": "torch.Generator",
                "str": "str", "Dimname": "name", "IntList": "tuple of ints", "SymIntList": "tuple of SymInts",
                "TensorList": "tuple of Tensors", "FloatList": "tuple of floats", "ScalarList": "tuple of Scalars",
                "DimnameList": "tuple of names", "BoolList": "tuple of bools", "complex": "complex",
                }.get(self.kind, self.kind)

    def python_type_str(self):
        """torchgen's argument_type_str (what the overload sort compares)."""
        t = self.arg.type
        if t.list:
            if t.base == "Tensor" and t.elem_optional:
                s = "const c10::List<c10::optional<Tensor>> &"
            else:
                s = {"int": "IntArrayRef", "SymInt": "SymIntArrayRef", "Tensor": "TensorList",
                     "Scalar": "ScalarList", "str": "DimnameList", "Dimname": "DimnameList"}.get(t.base)
                if s is None:
                    s = f"ArrayRef<{_CPP_TYPE.get(t.base, t.base)}>"
                elif t.size is not None:
                    s += f"[{t.size}]"
        else:
            s = _CPP_TYPE.get(t.base, t.base)
        if t.optional:
            s += "?"
        return s


def _fmt_default(v):
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, list):
        return "[" + ",".join(_fmt_default(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + v + '"'
    return repr(v)


def _type_sort_key(t):
    """str(Type) as torchgen compares types (JIT prints Dimname as str)."""
    return str(t).replace("str", "Dimname")


def _is_arg_smaller(t1, t2):
    """torchgen sort_overloads.is_arg_smaller: t1 has the lower priority."""
    s1, s2 = _type_sort_key(t1), _type_sort_key(t2)
    return ((s1 == "Scalar" and s2 == "Tensor") or (s1 == "Scalar?" and s2 == "Tensor?")
            or ("Dimname" in s1 and "Dimname" not in s2)
            or (s1 == "int[]" and s2 in ("int", "int?"))
            or (s1 == "Tensor[]" and "[]" in s2)
            or (s1 == "SymInt[]" and s2 == "int[]"))


class Signature:
    """A FunctionSignature: one overload's Python signature (function or method form)."""

    def __init__(self, schema, wire, method, display_name, target=None):
        self.schema = schema
        self.target = target or schema  # a deprecated signature binds to its target overload
        self.deprecated = target is not None
        self.wire = wire
        self.method = method
        self.name = display_name
        args = [a for a in schema.args if not (method and a.name == "self")]
        self.params = [Param(a, rename_self=not method) for a in args]
        self.min_args = sum(1 for p in self.params if not p.optional)
        self.max_args = len(self.params)
        self.max_pos_args = sum(1 for p in self.params if not p.keyword_only)
        self.allow_varargs_intlist = (self.max_pos_args == 1 and self.params
                                      and self.params[0].kind in ("IntList", "SymIntList"))
        self.numbers_as_tensors = schema.name in _NUMBERS_AS_TENSORS

    def signature_str(self):
        formals = []
        for p in self.params:
            s = f"{p.python_type_str()} {p.name}"
            if p.arg.has_default:
                s += "=" + _fmt_default(p.arg.default)
            formals.append(s)
        npos = self.max_pos_args
        if len(formals) > npos:
            formals.insert(npos, "*")
        return f"{self.schema.name}({', '.join(formals)})"

    def __str__(self):
        """FunctionSignature::toString, as 'expected one of' lists it."""
        parts, kw = [], False
        for p in self.params:
            s = ""
            if p.keyword_only and not kw:
                s, kw = "*, ", True
            parts.append(f"{s}{p.type_name()} {p.name}")
        return "(" + ", ".join(parts) + ")"


def sort_signatures(sigs):
    """torchgen's sort_overloads: by signature text, then topologically by the partial order."""
    sigs = sorted(sigs, key=lambda s: s.signature_str())

    def is_smaller(s1, s2):
        a1 = [p.arg.type for p in s1.params]
        a2 = [p.arg.type for p in s2.params]
        if len(a1) != len(a2):
            return False
        equal = all(str(x) == str(y) for x, y in zip(a1, a2))
        smaller_or_equal = all(str(x) == str(y) or _is_arg_smaller(x, y) for x, y in zip(a1, a2))
        return smaller_or_equal and not equal

    larger_than = collections.defaultdict(set)
    for i1, s1 in enumerate(sigs):
        for i2, s2 in enumerate(sigs):
            if is_smaller(s1, s2):
                larger_than[i1].add(i2)
    if not larger_than:
        return sigs
    n = len(sigs)
    sorted_ids = [i for i in range(n) if i not in larger_than]
    for idx in range(n):
        if idx >= len(sorted_ids):  # a cycle (cannot happen for a partial order); keep the rest
            break
        i = sorted_ids[idx]
        for j in sorted(larger_than.keys()):
            larger = larger_than[j]
            larger.discard(i)
            if not larger:
                del larger_than[j]
                sorted_ids.append(j)
    rest = [i for i in range(n) if i not in sorted_ids]
    return [sigs[i] for i in sorted_ids + rest]


# ---- parsing a call -------------------------------------------------------------------------------

def _user_stacklevel():
    """warnings' stacklevel (for the caller of this function's caller) of the first frame outside
    this package: the user's line."""
    here = os.path.dirname(os.path.abspath(__file__))
    f = sys._getframe(2)
    level = 2
    while f is not None and os.path.dirname(os.path.abspath(f.f_code.co_filename)) == here:
        f = f.f_back
        level += 1
    return level


class _Fail(Exception):
    pass


def _py_typename(adapter, x):
    if adapter.is_tensor(x):
        return "Tensor"
    if x is None:
        return "NoneType"
    return type(x).__name__


class Bound(collections.namedtuple("Bound", "op tensors attrs schema method")):
    """A bound call: the wire op name, the tensor arguments in schema order (None for an absent
    optional tensor; a list for Tensor[]), the attributes by schema name (defaults filled in), the
    overload's Schema and whether it came from the method form."""

    @property
    def num_outputs(self):
        return self.schema.num_outputs

    def torch_args(self):
        """All arguments in schema order (tensors and attributes), as torch.ops would take them."""
        it = iter(self.tensors)
        # (a factory's requires_grad is the Python binding's, not the ATen op's: index -1)
        return [next(it) if a.type.is_tensor_like else self.attrs[a.name] for a in self.schema.args
                if a.index >= 0]


class _Parser:
    def __init__(self, adapter):
        self.a = adapter

    # FunctionParameter::check
    def check(self, p, obj, sig):
        a = self.a
        k = p.kind
        if k == "Tensor":
            if a.is_tensor(obj):
                return True
            return sig.numbers_as_tensors and _is_number(obj)
        if k in ("Scalar", "complex", "float"):
            if k == "float":
                if isinstance(obj, (float, int)) and not isinstance(obj, complex):
                    return True
                if isinstance(obj, numbers.Real):
                    return True
            elif _is_number(obj):
                return True
            if a.is_tensor(obj):
                return not a.tensor_requires_grad(obj) and a.tensor_dim(obj) == 0
            return False
        if k == "int":
            if _is_int(obj):
                return True
            if a.is_tensor(obj):
                return a.tensor_kind(obj) == "int" and not a.tensor_requires_grad(obj) and a.tensor_dim(obj) == 0
            return False
        if k == "SymInt":
            return self.is_index(obj)
        if k in ("IntList", "SymIntList"):
            if isinstance(obj, (list, tuple)):
                if len(obj) == 0:
                    return True
                return self.is_index(obj[0])
            return p.size > 0 and _is_int(obj)
        if k == "TensorList":
            if not isinstance(obj, (list, tuple)):
                return False
            opt = p.arg.type.elem_optional
            for i, x in enumerate(obj):
                if not (a.is_tensor(x) or (opt and x is None)):
                    # is_tensor_list_and_append_overloaded(throw_error=true): raises while checking
                    raise TypeError(f"expected Tensor as element {i} in argument {sig.params.index(p)}, but got "
                                    f"{_py_typename(a, x)}")
            return True
        if k == "FloatList":
            if isinstance(obj, (list, tuple)):
                return all(isinstance(x, numbers.Number) for x in obj)
            return p.size > 0 and isinstance(obj, numbers.Real)
        if k == "ScalarList":
            return isinstance(obj, (list, tuple)) and all(_is_number(x) for x in obj)
        if k == "BoolList":
            return isinstance(obj, (list, tuple)) and all(isinstance(x, bool) for x in obj)
        if k == "bool":
            return isinstance(obj, bool) or type(obj).__name__ == "bool_"
        if k == "ScalarType":
            return a.is_dtype(obj) or obj in (float, int, bool, complex)
        if k == "Layout":
            return a.is_layout(obj)
        if k == "MemoryFormat":
            return a.is_memory_format(obj)
        if k == "Device":
            return _is_int(obj) or isinstance(obj, str) or a.is_device(obj)
        if k == "Generator":
            return a.is_generator(obj)
        if k in ("str", "Dimname"):
            return isinstance(obj, str)
        if k == "DimnameList":
            if isinstance(obj, (list, tuple)):
                return len(obj) == 0 or isinstance(obj[0], str) or obj[0] is None
            return p.size == 1 and (obj is None or isinstance(obj, str))  # a single Dimname (None too)
        return False

    def is_index(self, obj):
        """THPUtils_checkIndex: not a bool; an int, or anything with __index__ (1-element integral
        tensors)."""
        if isinstance(obj, bool):
            return False
        if _is_int(obj):
            return True
        if self.a.is_tensor(obj):
            try:
                return self.a.tensor_kind(obj) == "int" and self.a.tensor_numel(obj) == 1
            except Exception:  # noqa: BLE001
                return False
        return hasattr(type(obj), "__index__") and not isinstance(obj, float)

    # conversion of a checked value to the wire's attribute value
    def convert(self, p, obj, sig, name):
        a = self.a
        if obj is None:
            return None
        k = p.kind
        if k in ("int", "SymInt"):
            return int(a.item(obj)) if a.is_tensor(obj) else int(obj)
        if k == "float":
            return float(a.item(obj)) if a.is_tensor(obj) else float(obj)
        if k in ("Scalar", "complex"):
            return a.item(obj) if a.is_tensor(obj) else obj
        if k in ("IntList", "SymIntList"):
            if not isinstance(obj, (list, tuple)):
                return [int(obj)] * p.size
            out = []
            for i, x in enumerate(obj):
                # the parser checked the first element; the rest convert by __index__ (bools too)
                if not (self.is_index(x) or isinstance(x, bool)):
                    raise TypeError(f"{name}(): argument '{p.name}' must be tuple of ints, but found element "
                                    f"of type {_py_typename(a, x)} at pos {i + 1}")
                out.append(int(a.item(x)) if a.is_tensor(x) else int(x))
            if p.size > 1 and len(out) == 1:
                out = out * p.size
            return out
        if k == "FloatList":
            if not isinstance(obj, (list, tuple)):
                return [float(obj)] * p.size
            return [float(x) for x in obj]
        if k in ("TensorList", "ScalarList", "BoolList"):
            return list(obj)
        if k == "DimnameList":
            return [obj] if isinstance(obj, str) else list(obj)
        if k == "ScalarType":
            return a.dtype_from_pytype(obj) if obj in (float, int, bool, complex) else obj
        return obj

    def find_param(self, sig, key):
        for i, p in enumerate(sig.params):
            if p.name == key or key in p.numpy_names:
                return i
        return -1

    # FunctionSignature::parse
    def parse(self, sig, args, kwargs, raise_exception):
        """(values by param index) or raises TypeError (raise_exception) / _Fail."""
        name = sig.name
        nargs = len(args)
        remaining_kwargs = len(kwargs)
        arg_pos = 0
        vals = [None] * len(sig.params)
        if nargs > sig.max_pos_args and not sig.allow_varargs_intlist:
            if raise_exception:
                if sig.min_args != sig.max_pos_args:
                    raise TypeError(f"{name}() takes from {sig.min_args} to {sig.max_pos_args} positional "
                                    f"arguments but {nargs} were given")
                raise TypeError(f"{name}() takes {sig.max_pos_args} positional argument"
                                f"{'' if sig.max_pos_args == 1 else 's'} but {nargs} "
                                f"{'was' if nargs == 1 else 'were'} given")
            raise _Fail()
        i = 0
        for p in sig.params:
            obj = _MISSING
            is_kwd = False
            if arg_pos < nargs:
                if p.keyword_only:
                    if raise_exception:
                        raise TypeError(f"{name}() takes {sig.max_pos_args} positional argument"
                                        f"{'' if sig.max_pos_args == 1 else 's'} but {nargs} "
                                        f"{'was' if nargs == 1 else 'were'} given")
                    raise _Fail()
                obj = args[arg_pos]
            elif kwargs:
                if p.name in kwargs:
                    obj = kwargs[p.name]
                else:
                    for nn in p.numpy_names:
                        if nn in kwargs:
                            obj = kwargs[nn]
                            break
                is_kwd = True
            varargs_eligible = sig.allow_varargs_intlist and arg_pos == 0 and not is_kwd
            if (obj is _MISSING and p.optional) or (obj is None and p.allow_none):
                vals[i] = _MISSING if obj is _MISSING or p.none_is_default else None
                i += 1
            elif obj is _MISSING:
                if raise_exception:
                    missing = [q.name for q in sig.params[i:] if not q.optional]
                    raise TypeError(f"{name}() missing {len(missing)} required positional argument"
                                    f"{'s' if len(missing) == 1 else ''}: "
                                    + ", ".join(f'"{m}"' for m in missing))
                raise _Fail()
            elif self.check(p, obj, sig):
                vals[i] = obj
                i += 1
            elif varargs_eligible and self.is_index(obj):
                vals[i] = tuple(args)
                i += 1
                arg_pos = nargs
                continue
            elif raise_exception:
                if is_kwd:
                    raise TypeError(f"{name}(): argument '{p.name}' must be {p.type_name()}, not "
                                    f"{_py_typename(self.a, obj)}")
                raise TypeError(f"{name}(): argument '{p.name}' (position {arg_pos + 1}) must be "
                                f"{p.type_name()}, not {_py_typename(self.a, obj)}")
            else:
                raise _Fail()
            if not is_kwd:
                arg_pos += 1
            elif obj is not _MISSING:
                remaining_kwargs -= 1
        if remaining_kwargs > 0:
            if raise_exception:
                for key in kwargs:
                    idx = self.find_param(sig, key)
                    if idx < 0:
                        raise TypeError(f"{name}() got an unexpected keyword argument '{key}'")
                    if idx < nargs:
                        raise TypeError(f"{name}() got multiple values for argument '{key}'")
                raise TypeError(f"{name}() got an unexpected keyword argument")
            raise _Fail()
        return vals


_MISSING = object()


def _format_got(adapter, args, kwargs):
    """format_invalid_args' "got (...)": the types of the positional arguments, then name=type for
    the keywords (PyTorch ends a keywords-only list with ", ")."""
    pos = [_py_typename(adapter, x) for x in args]
    kw = [f"{k}={_py_typename(adapter, v)}" for k, v in kwargs.items()]
    if pos:
        return "(" + ", ".join(pos + kw) + ")"
    return "(" + "".join(k + ", " for k in kw) + ")"


class OverloadGroup:
    """The overloads of one name (the ATen name before the dot), as PyTorch's parser sees them.

    entries: (Schema, wire op name, in-place wire op name or None)."""

    def __init__(self, name, entries, adapter):
        self.name = name
        self.adapter = adapter
        self._parser = _Parser(adapter)
        self.entries = list(entries)
        bound = [(s, w, iw) for s, w, iw in self.entries if (s.name, s.overload) not in _SKIP_SIGNATURES]
        self.hidden = [s for s, _, _ in self.entries if (s.name, s.overload) in _SKIP_SIGNATURES]
        self.entries = bound or list(entries)
        self.all_function_sigs = sort_signatures([Signature(s, w, False, name) for s, w, _ in self.entries])
        self.all_method_sigs = sort_signatures([Signature(s, w, True, name) for s, w, _ in self.entries
                                                if s.has_method])
        inplace = [(s, iw) for s, _, iw in self.entries if iw and s.has_method]
        self.inplace_sigs = sort_signatures([Signature(s, iw, True, name + "_") for s, iw in inplace])
        for text in DEPRECATED_SIGNATURES.get(name, ()):
            dep = parse_schema(text + " -> Tensor")
            for s, w, iw in self.entries:
                names = {a.name: a.type.is_tensor_like for a in s.args}
                if all(names.get(a.name) == a.type.is_tensor_like for a in dep.args) and not s.is_out:
                    self.all_function_sigs.append(Signature(dep, w, False, name, target=s))
                    if s.has_method:
                        self.all_method_sigs.append(Signature(dep, w, True, name, target=s))
                    if iw and s.has_method:
                        self.inplace_sigs.append(Signature(dep, iw, True, name + "_", target=s))
                    break
        # the forms PyTorch's Python API has (torch.NAME, x.NAME, x.NAME_)
        self.function_sigs = [] if name in NO_FUNCTION else self.all_function_sigs
        self.method_sigs = [] if name in NO_METHOD else [
            s for s in self.all_method_sigs if (name, s.schema.overload) not in FUNCTION_ONLY_OVERLOADS]
        self.inplace_method_sigs = [] if name in NO_INPLACE_METHOD else self.inplace_sigs

    @property
    def has_function(self):
        return bool(self.function_sigs)

    @property
    def has_method(self):
        return bool(self.method_sigs)

    @property
    def has_inplace(self):
        """An in-place op exists (x.NAME_ or torch.NAME_ / torch._C._nn.NAME_)."""
        return bool(self.inplace_sigs)

    @property
    def has_inplace_method(self):
        return bool(self.inplace_method_sigs)

    def bind(self, args, kwargs=None, receiver=_MISSING, inplace=False, every_form=False):
        """Binds ``torch.NAME(*args, **kwargs)`` (no receiver), ``receiver.NAME(*args, **kwargs)``
        or, with inplace, ``receiver.NAME_(...)``. Returns a Bound; raises TypeError as PyTorch.

        every_form: also the forms PyTorch's Python API lacks (x.mse_loss(y), torch.view(x, 2, 3),
        x.where(c, 0.0)), with the same rules; for wrappers such as nn.functional's."""
        kwargs = dict(kwargs or {})
        args = tuple(args)
        if receiver is _MISSING:
            sigs = self.all_function_sigs if every_form else self.function_sigs
        elif inplace:
            sigs = self.inplace_sigs if every_form else self.inplace_method_sigs
        else:
            sigs = self.all_method_sigs if every_form else self.method_sigs
        if not sigs:
            what = self.name + ("_" if inplace else "")
            raise AttributeError(f"'Tensor' object has no attribute '{what}'" if receiver is not _MISSING
                                 else f"module 'torch' has no attribute '{what}'")
        p = self._parser
        if len(sigs) == 1:
            vals = p.parse(sigs[0], args, kwargs, True)
            return self._make(sigs[0], vals, receiver)
        for sig in sigs:
            try:
                vals = p.parse(sig, args, kwargs, False)
            except _Fail:
                continue
            return self._make(sig, vals, receiver)
        # print_error: the one plausible signature explains itself; else list them all
        # (deprecated signatures are hidden: neither plausible nor listed)
        num_args = len(args) + len(kwargs)
        plausible = [s for s in sigs if s.min_args <= num_args <= s.max_args and not s.deprecated]
        if len(plausible) == 1:
            p.parse(plausible[0], args, kwargs, True)
        name = sigs[0].name
        listed = [s for s in sigs if not s.deprecated]
        if len(listed) == 1:
            expected = f"expected {listed[0]}"
        else:
            expected = "expected one of:\n" + "".join(f" * {s}\n" for s in listed)
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"{_format_got(self.adapter, args, kwargs)}, but {expected}")

    def _make(self, sig, vals, receiver):
        schema = sig.target
        if sig.deprecated:
            current = [str(s) for s in (self.method_sigs if sig.method else self.function_sigs)
                       if not s.deprecated]
            warnings.warn(f"This overload of {sig.name} is deprecated:\n\t{sig.name}{sig}\nConsider using one "
                          f"of the following signatures instead:\n\t"
                          + "\n\t".join(sig.name + c for c in current), UserWarning, stacklevel=_user_stacklevel())
        by_arg = {}
        for prm, v in zip(sig.params, vals):
            by_arg[prm.arg.name] = (prm, v)
        tensors, attrs = [], {}
        for a in schema.args:
            if a.name == "self" and sig.method:
                tensors.append(receiver)
                continue
            prm, v = by_arg.get(a.name, (None, _MISSING))
            if prm is None:
                prm = Param(a, False)
            if v is _MISSING:
                if a.type.base == "ScalarType" and _is_int(a.default):
                    continue  # ATen's enum number (randint's dtype=4): the server applies its default
                v = a.default if a.has_default else None
                if a.name == "reduction" and a.type.base == "int" and v == 1:
                    # PyTorch 1.13's bindings: native_functions.yaml's `int reduction=Mean` reaches the
                    # parser as the default text "at::Reduction::Mean", which it reads as 0 (none):
                    # torch.kl_div(x, y) and torch._C._nn.mse_loss(x, y) do not reduce.
                    v = 0
                if isinstance(v, list):
                    v = list(v)
                if prm.kind in ("IntList", "SymIntList") and isinstance(v, int) and not isinstance(v, bool):
                    v = [v] * max(prm.size, 1)
            else:
                v = self._parser.convert(prm, v, sig, sig.name)
            if a.type.is_tensor_like:
                tensors.append(v)
            else:
                attrs[a.name] = v
        return Bound(sig.wire, tensors, attrs, schema, sig.method)

    def signatures(self, method=False):
        """The signatures as PyTorch's TypeError lists them, in the order they are tried."""
        return [str(s) for s in (self.method_sigs if method else self.function_sigs) if not s.deprecated]


_TENSOR_OPTIONS = {"dtype": "ScalarType", "layout": "Layout", "device": "Device", "pin_memory": "bool"}


def takes_tensor_options(schema):
    """torchgen's rule for a factory: dtype, layout, device and pin_memory, optional and keyword-only."""
    found = {a.name for a in schema.args
             if a.kwarg_only and a.type.optional and _TENSOR_OPTIONS.get(a.name) == a.type.base}
    return len(found) == len(_TENSOR_OPTIONS)


class OpTable:
    """Overload groups built from an op table: entries of (schema string, wire name, in-place wire
    name or None). Schemas whose types this module does not know are skipped (``skipped``)."""

    def __init__(self, entries, adapter=None, numbers_as_tensors=(), omittable_optionals=False):
        """numbers_as_tensors: groups whose Tensor arguments also take Python numbers (as wrapped
        0-dim tensors) -- for a server table that lacks PyTorch's .Scalar siblings of those
        overloads. omittable_optionals: an optional argument without a default (``int[1]? dim``)
        may be left out and is None -- for a table that lacks the overload without it."""
        self.adapter = adapter or Adapter()
        by_group = collections.OrderedDict()
        self.skipped = []
        self.schemas = {}
        for text, wire, inplace in entries:
            try:
                s = parse_schema(text)
                for a in s.args:
                    Param(a, False)
            except SchemaError as e:
                self.skipped.append((text, str(e)))
                continue
            if takes_tensor_options(s):
                # torchgen's Python signature of a factory ends in `bool requires_grad=False`.
                s.args.append(Arg("requires_grad", Type("bool"), False, kwarg_only=True, index=-1))
            self.schemas[wire] = s
            by_group.setdefault(s.name, []).append((s, wire, inplace))
        self.groups = collections.OrderedDict(
            (name, OverloadGroup(name, ents, self.adapter)) for name, ents in by_group.items())
        for name, g in self.groups.items():
            for sig in g.all_function_sigs + g.all_method_sigs + g.inplace_sigs:
                if name in numbers_as_tensors:
                    sig.numbers_as_tensors = True
                if omittable_optionals:
                    for prm in sig.params:
                        if not prm.optional and prm.arg.type.optional:
                            prm.optional = True
                            prm.allow_none = True
                    sig.min_args = sum(1 for prm in sig.params if not prm.optional)

    def __contains__(self, name):
        return name in self.groups

    def __getitem__(self, name):
        return self.groups[name]

    def call(self, name, /, *args, **kwargs):
        """torch.NAME(*args, **kwargs) -> Bound (torch.NAME_(x, ...): the in-place op on x)."""
        g = self.groups.get(name)
        if g is None and name.endswith("_") and name[:-1] in self.groups and self.groups[name[:-1]].has_inplace:
            g = self.groups[name[:-1]]
            if not args:
                if "input" not in kwargs:
                    raise TypeError(f'{name}() missing 1 required positional arguments: "input"')
                kwargs = dict(kwargs)
                receiver = kwargs.pop("input")
            else:
                receiver, args = args[0], args[1:]
            if not g.adapter.is_tensor(receiver):
                raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                                f"{_py_typename(g.adapter, receiver)}")
            return g.bind(args, kwargs, receiver=receiver, inplace=True, every_form=True)
        if g is None:
            raise AttributeError(f"module 'torch' has no attribute '{name}'")
        return g.bind(args, kwargs)

    def method(self, receiver, name, /, *args, **kwargs):
        """receiver.NAME(*args, **kwargs) (NAME_ for the in-place form) -> Bound."""
        if name not in self.groups and name.endswith("_") and name[:-1] in self.groups:
            return self.groups[name[:-1]].bind(args, kwargs, receiver=receiver, inplace=True)
        if name not in self.groups:
            raise AttributeError(f"'Tensor' object has no attribute '{name}'")
        return self.groups[name].bind(args, kwargs, receiver=receiver)


# ---- torch.nn.functional -----------------------------------------------------------------------

def reduction_enum(reduction):
    """torch.nn._reduction.get_enum."""
    if reduction == "none":
        return 0
    if reduction == "mean":
        return 1
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated, please use reduction='mean' instead.")
        return 1
    if reduction == "sum":
        return 2
    raise ValueError("{} is not a valid value for reduction".format(reduction))


def legacy_reduction(size_average, reduce, emit_warning=True):
    """torch.nn._reduction.legacy_get_string."""
    warning = "size_average and reduce args will be deprecated, please use reduction='{}' instead."
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(warning.format(ret))
    return ret


def _torch_size(shape):
    return "torch.Size([" + ", ".join(str(d) for d in shape) + "])"


def _softmax_dim(name, ndim, stacklevel):
    warnings.warn("Implicit dimension choice for {} has been deprecated. Change the call to include dim=X "
                  "as an argument.".format(name), stacklevel=_user_stacklevel())
    return 0 if ndim in (0, 1, 3) else 1


class Functional:
    """torch.nn.functional over an OpTable: each function returns a Bound (or raises as torch).

    ``ndim(x)`` / ``shape(x)`` give a tensor's dimension count / shape (F.softmax without dim, the
    losses' size checks); without them those checks are left to the op."""

    def __init__(self, table, ndim=None, shape=None):
        self._t = table
        self._ndim = ndim
        self._shape = shape

    def _size_warning(self, input, target):
        """The losses' warning when target and input sizes differ (they broadcast)."""
        if self._shape is None:
            return
        si, st = tuple(self._shape(input)), tuple(self._shape(target))
        if si != st:
            warnings.warn("Using a target size ({}) that is different to the input size ({}). This will likely "
                          "lead to incorrect results due to broadcasting. Please ensure they have the same "
                          "size.".format(_torch_size(st), _torch_size(si)), stacklevel=_user_stacklevel())

    def _size_check(self, input, target, message):
        if self._shape is None:
            return
        si, st = tuple(self._shape(input)), tuple(self._shape(target))
        if si != st:
            raise ValueError(message.format(_torch_size(st), _torch_size(si)))

    def _g(self, name):
        if name not in self._t.groups:
            raise NotImplementedError(f"tensord: nn.functional needs the op '{name}', which the server does "
                                      "not have")
        return self._t.groups[name]

    def _bind(self, name, *args, **kwargs):
        return self._g(name).bind(args, kwargs, every_form=True)

    def _inplace(self, name, receiver, *args, **kwargs):
        g = self._g(name)
        if not g.has_inplace:
            raise NotImplementedError(f"tensord: the op '{name}' has no in-place form on this server")
        return g.bind(args, kwargs, receiver=receiver, inplace=True, every_form=True)

    def available(self):
        """The names of the functions this table supports."""
        needs = {"linear": "linear", "relu": "relu", "softmax": "softmax", "log_softmax": "log_softmax",
                 "mse_loss": "mse_loss", "l1_loss": "l1_loss", "cross_entropy": "cross_entropy_loss",
                 "nll_loss": "nll_loss_nd", "binary_cross_entropy": "binary_cross_entropy",
                 "binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits",
                 "smooth_l1_loss": "smooth_l1_loss", "huber_loss": "huber_loss", "gelu": "gelu",
                 "silu": "silu", "leaky_relu": "leaky_relu", "sigmoid": "sigmoid", "tanh": "tanh",
                 "dropout": "dropout", "elu": "elu", "softplus": "softplus", "hardtanh": "hardtanh",
                 "relu6": "relu6" if "relu6" in self._t.groups else "hardtanh", "kl_div": "kl_div", "logsigmoid": "log_sigmoid"}
        return sorted(k for k, g in needs.items() if g in self._t.groups)

    # builtins (torch._C._nn.* / torch.*): the schema's own parser
    def linear(self, *args, **kwargs):
        return self._bind("linear", *args, **kwargs)

    def gelu(self, *args, **kwargs):
        return self._bind("gelu", *args, **kwargs)

    def logsigmoid(self, *args, **kwargs):
        return self._bind("log_sigmoid", *args, **kwargs)

    # Python functions of torch/nn/functional.py
    def relu(self, input, inplace=False):
        return self._inplace("relu", input) if inplace else self._bind("relu", input)

    def relu_(self, input):
        return self._inplace("relu", input)

    def silu(self, input, inplace=False):
        return self._inplace("silu", input) if inplace else self._bind("silu", input)

    def leaky_relu(self, input, negative_slope=0.01, inplace=False):
        if inplace:
            return self._inplace("leaky_relu", input, negative_slope)
        return self._bind("leaky_relu", input, negative_slope)

    def elu(self, input, alpha=1.0, inplace=False):
        if inplace:
            return self._inplace("elu", input, alpha)
        return self._bind("elu", input, alpha)

    def hardtanh(self, input, min_val=-1.0, max_val=1.0, inplace=False):
        if inplace:
            return self._inplace("hardtanh", input, min_val, max_val)
        return self._bind("hardtanh", input, min_val, max_val)

    def relu6(self, input, inplace=False):
        if "relu6" in self._t.groups:
            return self._inplace("relu6", input) if inplace else self._bind("relu6", input)
        return self.hardtanh(input, 0.0, 6.0, inplace)  # the same values; torch calls relu6

    def softplus(self, *args, **kwargs):
        return self._bind("softplus", *args, **kwargs)

    def sigmoid(self, input):
        warnings.warn("nn.functional.sigmoid is deprecated. Use torch.sigmoid instead.",
                      stacklevel=_user_stacklevel())
        return self._g("sigmoid").bind((), {}, receiver=input, every_form=True)

    def tanh(self, input):
        warnings.warn("nn.functional.tanh is deprecated. Use torch.tanh instead.", stacklevel=_user_stacklevel())
        return self._g("tanh").bind((), {}, receiver=input, every_form=True)

    def _softmax(self, which, input, dim, _stacklevel, dtype):
        if dim is None:
            if self._ndim is None:
                raise TypeError(f"{which}(): dim is required")
            dim = _softmax_dim(which, self._ndim(input), _stacklevel + 1)
        g = self._g(which)
        if dtype is None:
            return g.bind((dim,), {}, receiver=input, every_form=True)
        return g.bind((dim,), {"dtype": dtype}, receiver=input, every_form=True)

    def softmax(self, input, dim=None, _stacklevel=3, dtype=None):
        return self._softmax("softmax", input, dim, _stacklevel, dtype)

    def log_softmax(self, input, dim=None, _stacklevel=3, dtype=None):
        return self._softmax("log_softmax", input, dim, _stacklevel, dtype)

    def dropout(self, input, p=0.5, training=True, inplace=False):
        if p < 0.0 or p > 1.0:
            raise ValueError("dropout probability has to be between 0 and 1, but got {}".format(p))
        if inplace:
            return self._inplace("dropout", input, p, training)
        return self._bind("dropout", input, p, training)

    @staticmethod
    def _reduction(size_average, reduce, reduction):
        if size_average is not None or reduce is not None:
            reduction = legacy_reduction(size_average, reduce)
        return reduction_enum(reduction)

    def mse_loss(self, input, target, size_average=None, reduce=None, reduction="mean"):
        self._size_warning(input, target)
        return self._bind("mse_loss", input, target, self._reduction(size_average, reduce, reduction))

    def l1_loss(self, input, target, size_average=None, reduce=None, reduction="mean"):
        self._size_warning(input, target)
        return self._bind("l1_loss", input, target, self._reduction(size_average, reduce, reduction))

    def smooth_l1_loss(self, input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
        self._size_warning(input, target)
        return self._bind("smooth_l1_loss", input, target, self._reduction(size_average, reduce, reduction),
                          beta)

    def huber_loss(self, input, target, reduction="mean", delta=1.0):
        self._size_warning(input, target)
        return self._bind("huber_loss", input, target, reduction_enum(reduction), delta)

    def cross_entropy(self, input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                      reduction="mean", label_smoothing=0.0):
        return self._bind("cross_entropy_loss", input, target, weight,
                          self._reduction(size_average, reduce, reduction), ignore_index, label_smoothing)

    def nll_loss(self, input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        return self._bind("nll_loss_nd", input, target, weight, self._reduction(size_average, reduce, reduction),
                          ignore_index)

    def binary_cross_entropy(self, input, target, weight=None, size_average=None, reduce=None,
                             reduction="mean"):
        enum = self._reduction(size_average, reduce, reduction)
        self._size_check(input, target, "Using a target size ({}) that is different to the input size ({}) is "
                         "deprecated. Please ensure they have the same size.")
        return self._bind("binary_cross_entropy", input, target, weight, enum)

    def binary_cross_entropy_with_logits(self, input, target, weight=None, size_average=None, reduce=None,
                                         reduction="mean", pos_weight=None):
        enum = self._reduction(size_average, reduce, reduction)
        self._size_check(input, target, "Target size ({}) must be the same as input size ({})")
        return self._bind("binary_cross_entropy_with_logits", input, target, weight, pos_weight, enum)

    def kl_div(self, input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
        if size_average is not None or reduce is not None:
            enum = reduction_enum(legacy_reduction(size_average, reduce))
        else:
            if reduction == "mean":
                warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support "
                              "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
                              "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
                              "major release.")
            if reduction == "batchmean":
                raise NotImplementedError("tensord: kl_div(reduction='batchmean') needs a division after the op")
            enum = reduction_enum(reduction)
        return self._bind("kl_div", input, target, enum, log_target=log_target)
