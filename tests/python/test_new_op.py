"""A new op reaches the Python client with no client change.

tests/support/extra_op.cc adds hypot to the engine's table of tensord_extra_op (CTest passes its
path in TENSORD_EXTRA_OP_BINARY; by hand it is found next to TENSORD_BINARY's build tree). The
Python client has no hypot anywhere: it binds torch.hypot / x.hypot from the schema ListOps gives,
with PyTorch's argument parsing, and the results and gradients agree with torch.
"""
import os

import pytest
import torch

import tensord
from conftest import Server

from helpers import close


def _extra_op_binary():
    path = os.environ.get("TENSORD_EXTRA_OP_BINARY")
    if not path:
        base = os.environ.get("TENSORD_BINARY") or os.path.join(os.path.dirname(__file__), "..", "..", "build",
                                                                  "server", "tensord")
        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(base))), "tests", "tensord_extra_op")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"the test build's server ({path}) is missing: build target tensord_extra_op")
    return path


@pytest.fixture(scope="module")
def extra_server():
    s = Server(binary=_extra_op_binary())
    yield s
    assert s.stop() == 0


def test_new_op_is_bound_from_its_schema(extra_server):
    t = tensord.connect(extra_server.address, seed=1)
    try:
        assert "hypot" in dir(t)
        x = t.tensor([3.0, 5.0, 8.0], requires_grad=True)
        y = t.tensor([4.0, 12.0, 15.0])
        tx = torch.tensor([3.0, 5.0, 8.0], requires_grad=True)
        ty = torch.tensor([4.0, 12.0, 15.0])
        for ours, theirs in ((t.hypot(x, y), torch.hypot(tx, ty)), (x.hypot(y), tx.hypot(ty)),
                             (t.hypot(input=x, other=y), torch.hypot(input=tx, other=ty))):
            assert close(ours.tolist(), theirs.tolist())
        t.hypot(x, y).sum().backward()
        torch.hypot(tx, ty).sum().backward()
        assert close(x.grad.tolist(), tx.grad.tolist())
        # PyTorch's parser, from the schema: the same TypeError for a wrong call
        with pytest.raises(TypeError) as ours:
            t.hypot(x)
        with pytest.raises(TypeError) as theirs:
            torch.hypot(tx)
        assert str(ours.value) == str(theirs.value)
    finally:
        t.close()


def test_the_regular_server_has_no_such_op(t):
    with pytest.raises(AttributeError):
        t.hypot
