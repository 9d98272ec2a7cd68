"""t.save / t.load (safetensors checkpoints) on the client's side and the server's, checked with a
reader and a writer written here from the format's specification (no safetensors package), and
against PyTorch for the values."""
import json
import os
import struct
import tempfile

import pytest
import torch

import tensord
from conftest import Server

_CODES = {"F32": ("<f", 4, torch.float32), "F64": ("<d", 8, torch.float64),
          "I64": ("<q", 8, torch.int64), "BOOL": ("<?", 1, torch.bool)}


def read_safetensors(path):
    """An independent reader: {name: torch tensor}, metadata."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    covered = 0
    for name, e in header.items():
        fmt, size, dt = _CODES[e["dtype"]]
        b, end = e["data_offsets"]
        count = 1
        for d in e["shape"]:
            count *= d
        assert end - b == count * size
        covered += end - b
        vals = [struct.unpack_from(fmt, data, b + i * size)[0] for i in range(count)]
        out[name] = torch.tensor(vals, dtype=dt).reshape(e["shape"])
    assert covered == len(data)
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """An independent writer from torch tensors."""
    names = {torch.float32: ("F32", "<f"), torch.float64: ("F64", "<d"), torch.int64: ("I64", "<q"),
             torch.bool: ("BOOL", "<?")}
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, x in tensors.items():
        code, fmt = names[x.dtype]
        raw = b"".join(struct.pack(fmt, v) for v in x.flatten().tolist())
        header[name] = {"dtype": code, "shape": list(x.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def as_torch(x):
    return torch.tensor(x.tolist(), dtype=getattr(torch, repr(x.dtype).split(".")[1]))


@pytest.fixture(scope="module")
def ckpt_server():
    d = tempfile.mkdtemp(prefix="tensord-ckpt-")
    s = Server(f"--checkpoint_dir={d}")
    s.dir = d
    yield s
    s.stop()


def test_client_side_save_is_read_by_an_independent_reader(t, tmp_path):
    w = t.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (w * w).sum().backward()
    state = {"w": w, "d": t.tensor(2.5, dtype=t.float64), "i": t.tensor([1, -2, 1 << 40]),
             "m": t.tensor([True, False]), "e": t.zeros(0, 3)}
    path = tmp_path / "a.safetensors"
    t.save(state, path, include_grad=True)
    got, meta = read_safetensors(path)
    assert torch.equal(got["w"], torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert torch.equal(got["w.grad"], torch.tensor([[2.0, 4.0], [6.0, 8.0]]))
    assert got["d"].shape == () and got["d"].item() == 2.5 and got["d"].dtype == torch.float64
    assert torch.equal(got["i"], torch.tensor([1, -2, 1 << 40]))
    assert torch.equal(got["m"], torch.tensor([True, False]))
    assert got["e"].shape == (0, 3)
    assert meta["tensord.requires_grad.w"] == "true" and meta["tensord.grad.w"] == "w.grad"
    assert "tensord.requires_grad.d" not in meta


def test_load_of_an_independently_written_file_matches_torch(t, tmp_path):
    ref = {"a": torch.tensor([[0.5, -1.0, 2.0]]), "b": torch.tensor(3.0, dtype=torch.float64),
           "c": torch.arange(6).reshape(2, 3), "m": torch.tensor([[True], [False]]), "z": torch.zeros(2, 0)}
    path = tmp_path / "in.safetensors"
    write_safetensors(path, ref, {"tensord.requires_grad.a": "true"})
    got = t.load(path)
    assert set(got) == set(ref)
    for k, v in ref.items():
        assert torch.equal(as_torch(got[k]), v), k
        assert tuple(got[k].shape) == tuple(v.shape)
    assert got["a"].requires_grad and got["a"].is_leaf and got["a"].grad_fn is None
    assert not got["b"].requires_grad


def test_round_trip_larger_than_4mib_through_chunked_transfer(t, tmp_path):
    x = t.arange(1_500_000, dtype=t.float32) * 0.5  # 6 MB: Download and Upload in chunks
    path = tmp_path / "big.safetensors"
    t.save({"x": x}, path)
    assert os.path.getsize(path) > 6_000_000
    got, _ = read_safetensors_fast(path)
    assert got == (6_000_000, "F32")
    y = t.load(path)["x"]
    assert y.shape == x.shape and y.dtype == x.dtype
    assert (y == x).sum().item() == 1_500_000


def read_safetensors_fast(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        h = json.loads(f.read(n))
    b, e = h["x"]["data_offsets"]
    return (e - b, h["x"]["dtype"]), None


def test_training_state_round_trips_with_grads(t, tmp_path):
    w = t.randn(3, requires_grad=True)
    (w * 2).sum().backward()
    t.save({"w": w}, tmp_path / "s.safetensors", include_grad=True)
    back = t.load(tmp_path / "s.safetensors")["w"]
    assert back.requires_grad
    assert back.grad.tolist() == [2.0, 2.0, 2.0]
    assert back.tolist() == w.tolist()
    # Not asked for: no grad saved.
    t.save({"w": w}, tmp_path / "n.safetensors")
    assert t.load(tmp_path / "n.safetensors")["w"].grad is None


@pytest.mark.parametrize("blob", [
    b"", b"\x01\x00", struct.pack("<Q", 1 << 60) + b"{}", struct.pack("<Q", 5) + b"{bad}",
    struct.pack("<Q", 52) + b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' + b"1234",
    struct.pack("<Q", 52) + b'{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}' + b"12345678",
    struct.pack("<Q", 52) + b'{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}' + b"12345678",
])
def test_bad_files_raise_and_create_nothing(t, tmp_path, blob):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(blob)
    before = t.describe().tensors
    with pytest.raises(ValueError):
        t.load(path)
    after = t.describe().tensors
    assert after == before


def test_server_side_save_and_load(ckpt_server, tmp_path):
    t = tensord.connect(ckpt_server.address, seed=1)
    try:
        w = t.tensor([1.0, 2.0], requires_grad=True)
        t.save({"w": w, "n": t.tensor([7])}, "runs/one.safetensors", server=True)
        got, meta = read_safetensors(os.path.join(ckpt_server.dir, "runs", "one.safetensors"))
        assert got["w"].tolist() == [1.0, 2.0] and got["n"].tolist() == [7]
        back = t.load("runs/one.safetensors", server=True)
        assert back["w"].tolist() == [1.0, 2.0] and back["w"].requires_grad
        write_safetensors(os.path.join(ckpt_server.dir, "mine.safetensors"), {"q": torch.tensor([1.5])})
        assert t.load("mine.safetensors", server=True)["q"].tolist() == [1.5]
        for bad in ["../x.safetensors", "/etc/passwd", "a/../../b"]:
            with pytest.raises(tensord.TensordError):
                t.load(bad, server=True)
            with pytest.raises(tensord.TensordError):
                t.save({"w": w}, bad, server=True)
    finally:
        t.close()
