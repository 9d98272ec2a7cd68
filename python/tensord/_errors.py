"""Exceptions: the server's message (PyTorch's text) in a Python exception of PyTorch's type."""
import grpc


class TensordError(Exception):
    """Base of every error the server reports.

    ``str(e)`` is the server's message. ``e.code`` is the ``grpc.StatusCode``; ``e.op`` names the
    command that failed (an op name such as ``"view"``, or ``"backward"``, ``"tensor"``, ...), and
    ``e.where`` is the ``(file, line)`` of the call that issued it when it was known.
    """

    def __init__(self, message, code=None, op=None, where=None):
        super().__init__(message)
        self.code = code
        self.op = op
        self.where = where


class TensordRuntimeError(TensordError, RuntimeError):
    """INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, ... (PyTorch raises RuntimeError)."""


class TensordIndexError(TensordError, IndexError):
    """OUT_OF_RANGE: a bad dim or index (PyTorch raises IndexError)."""


for _cls in (TensordError, TensordRuntimeError, TensordIndexError):
    _cls.__module__ = "tensord"  # tracebacks print tensord.TensordRuntimeError

_CODES = {c.value[0]: c for c in grpc.StatusCode}


def status_code(number):
    return _CODES.get(number, grpc.StatusCode.UNKNOWN)


def make_error(code, message, op=None, where=None):
    if isinstance(code, int):
        code = status_code(code)
    cls = TensordIndexError if code == grpc.StatusCode.OUT_OF_RANGE else TensordRuntimeError
    err = cls(message, code=code, op=op, where=where)
    if op is not None:
        site = f" (issued at {where[0]}:{where[1]})" if where else ""
        note = f"tensord: raised by the command '{op}'{site}; server status {code.name}"
        if hasattr(err, "add_note"):  # Python >= 3.11
            err.add_note(note)
        else:
            err.__notes__ = [note]
    return err


def from_rpc_error(e, op=None, where=None):
    """A grpc.RpcError (a whole call failed) as a tensord exception."""
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    details = e.details() if hasattr(e, "details") else str(e)
    return make_error(code, details or str(code), op=op, where=where)
