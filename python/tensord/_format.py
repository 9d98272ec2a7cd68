"""PyTorch 1.13's tensor repr (torch/_tensor_str.py), computed on fetched values.

Values arrive as a flat row-major list of Python numbers (float32 values are exactly
representable as Python floats, and torch formats them through ``item()`` too), so every rule of
torch's formatter can be replayed on plain Python numbers.
"""
import math


class PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


PRINT_OPTS = PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """torch.set_printoptions for tensord tensors."""
    if profile is not None:
        if profile == "default":
            PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, 1000, 3, 80
        elif profile == "short":
            PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 2, 1000, 2, 80
        elif profile == "full":
            PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, math.inf, 3, 80
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


class _Array:
    """A read-only n-d view of a flat value list (just enough indexing for the formatter)."""

    __slots__ = ("flat", "shape", "offset", "strides")

    def __init__(self, flat, shape, offset=0, strides=None):
        self.flat = flat
        self.shape = tuple(shape)
        self.offset = offset
        if strides is None:
            strides, s = [], 1
            for d in reversed(self.shape):
                strides.append(s)
                s *= d
            strides = tuple(reversed(strides))
        self.strides = strides

    def dim(self):
        return len(self.shape)

    def __getitem__(self, i):
        return _Array(self.flat, self.shape[1:], self.offset + i * self.strides[0], self.strides[1:])

    def item(self):
        return self.flat[self.offset]

    def values(self):
        """All values, row-major."""
        if not self.shape:
            return [self.flat[self.offset]]
        if len(self.shape) == 1:
            st = self.strides[0]
            return self.flat[self.offset:self.offset + st * self.shape[0]:st] if st else \
                [self.flat[self.offset]] * self.shape[0]
        out = []
        for i in range(self.shape[0]):
            out.extend(self[i].values())
        return out

    def summarized_values(self):
        """torch's get_summarized_data, flattened."""
        e = PRINT_OPTS.edgeitems
        if not self.shape:
            return [self.item()]
        n = self.shape[0]
        if len(self.shape) == 1:
            vals = self.values()
            return vals[:e] + vals[-e:] if n > 2 * e else vals
        idx = list(range(e)) + list(range(n - e, n)) if n > 2 * e else range(n)
        out = []
        for i in idx:
            out.extend(self[i].summarized_values())
        return out


class _Formatter:
    def __init__(self, values, floating):
        self.floating_dtype = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        precision = PRINT_OPTS.precision
        if not floating:
            for value in values:
                self.max_width = max(self.max_width, len("{}".format(value)))
        else:
            nonzero_finite = [v for v in values if math.isfinite(v) and v != 0]
            if not nonzero_finite:
                self._apply_sci_option()
                return
            abs_vals = [abs(v) for v in nonzero_finite]
            nz_min, nz_max = min(abs_vals), max(abs_vals)
            for value in nonzero_finite:
                if value != math.ceil(value):
                    self.int_mode = False
                    break
            if self.int_mode:
                if nz_max / nz_min > 1000.0 or nz_max > 1.0e8:
                    self.sci_mode = True
                    for value in nonzero_finite:
                        self.max_width = max(self.max_width, len(("{{:.{}e}}").format(precision).format(value)))
                else:
                    for value in nonzero_finite:
                        self.max_width = max(self.max_width, len("{:.0f}".format(value)) + 1)
            else:
                if nz_max / nz_min > 1000.0 or nz_max > 1.0e8 or nz_min < 1.0e-4:
                    self.sci_mode = True
                    for value in nonzero_finite:
                        self.max_width = max(self.max_width, len(("{{:.{}e}}").format(precision).format(value)))
                else:
                    for value in nonzero_finite:
                        self.max_width = max(self.max_width, len(("{{:.{}f}}").format(precision).format(value)))
        self._apply_sci_option()

    def _apply_sci_option(self):
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def width(self):
        return self.max_width

    def format(self, value):
        if self.floating_dtype:
            if self.sci_mode:
                ret = ("{{:{}.{}e}}").format(self.max_width, PRINT_OPTS.precision).format(value)
            elif self.int_mode:
                ret = "{:.0f}".format(value)
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = ("{{:.{}f}}").format(PRINT_OPTS.precision).format(value)
        else:
            ret = "{}".format(value)
        return (self.max_width - len(ret)) * " " + ret


def _vector_str(arr, indent, summarize, formatter):
    element_length = formatter.width() + 2
    elements_per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / element_length)))
    e = PRINT_OPTS.edgeitems
    vals = arr.values()
    if summarize and arr.shape[0] > 2 * e:
        data = [formatter.format(v) for v in vals[:e]] + [" ..."] + [formatter.format(v) for v in vals[-e:]]
    else:
        data = [formatter.format(v) for v in vals]
    data_lines = [data[i:i + elements_per_line] for i in range(0, len(data), elements_per_line)]
    lines = [", ".join(line) for line in data_lines]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(arr, indent, summarize, formatter):
    dim = arr.dim()
    if dim == 0:
        return formatter.format(arr.item())
    if dim == 1:
        return _vector_str(arr, indent, summarize, formatter)
    e = PRINT_OPTS.edgeitems
    n = arr.shape[0]
    if summarize and n > 2 * e:
        slices = ([_tensor_str_with_formatter(arr[i], indent + 1, summarize, formatter) for i in range(0, e)]
                  + ["..."]
                  + [_tensor_str_with_formatter(arr[i], indent + 1, summarize, formatter) for i in range(n - e, n)])
    else:
        slices = [_tensor_str_with_formatter(arr[i], indent + 1, summarize, formatter) for i in range(n)]
    tensor_str = ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices)
    return "[" + tensor_str + "]"


def tensor_str(flat, shape, floating, indent):
    numel = 1
    for d in shape:
        numel *= d
    if numel == 0:
        return "[]"
    arr = _Array(flat, shape)
    summarize = numel > PRINT_OPTS.threshold
    formatter = _Formatter(arr.summarized_values() if summarize else flat, floating)
    return _tensor_str_with_formatter(arr, indent, summarize, formatter)


def _add_suffixes(tensor_str_, suffixes, indent, force_newline):
    tensor_strs = [tensor_str_]
    last_line_len = len(tensor_str_) - tensor_str_.rfind("\n") + 1
    for suffix in suffixes:
        suffix_len = len(suffix)
        if force_newline or last_line_len + suffix_len + 2 > PRINT_OPTS.linewidth:
            tensor_strs.append(",\n" + " " * indent + suffix)
            last_line_len = indent + suffix_len
            force_newline = False
        else:
            tensor_strs.append(", " + suffix)
            last_line_len += suffix_len + 2
    tensor_strs.append(")")
    return "".join(tensor_strs)


def tensor_repr(flat, shape, dtype, default_float_dtype, requires_grad, grad_fn_name):
    """repr(tensor) exactly as PyTorch 1.13 prints a CPU tensor.

    flat: row-major values (float / int / bool); dtype: a tensord dtype; grad_fn_name: the node's
    name ("MulBackward0", "torch::autograd::CopyBackwards") or "" for none.
    """
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    numel = 1
    for d in shape:
        numel *= d
    has_default_dtype = dtype is default_float_dtype or dtype._name in ("int64", "bool")
    if numel == 0:
        if len(shape) != 1:
            suffixes.append("size=" + str(tuple(shape)))
        if dtype is not default_float_dtype:
            suffixes.append("dtype=" + str(dtype))
        body = "[]"
    else:
        if not has_default_dtype:
            suffixes.append("dtype=" + str(dtype))
        body = tensor_str(flat, shape, dtype.is_floating_point, indent)
    if grad_fn_name:
        suffixes.append("grad_fn=<{}>".format(grad_fn_name.rsplit("::", 1)[-1]))
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent, force_newline=False)
