"""Checkpoints: ``t.save({"w": w, "b": b}, path)`` / ``t.load(path)``, shaped like torch.save /
torch.load for a dict of tensors, in the safetensors format (an 8-byte little-endian header length,
a JSON header, raw little-endian bytes), so files open in the wider ecosystem.

Files on the client's side travel through the chunked transfer (Download / Upload for large
tensors); ``server=True`` saves or loads a file under the server's ``--checkpoint_dir`` instead,
without moving the bytes over the network. ``requires_grad`` is kept in the header's
``__metadata__`` (``"tensord.requires_grad.<name>": "true"``) and, with ``include_grad=True``, each
``.grad`` as the tensor named in ``"tensord.grad.<name>"`` (``"<name>.grad"``).
"""
import json
import os
import struct
import tempfile

from tensord import _dtypes
from tensord.v1 import tensord_pb2 as pb

MAX_HEADER_BYTES = 100_000_000  # the format's own bound
_CODES = {"F32": _dtypes.float32, "F64": _dtypes.float64, "I64": _dtypes.int64, "BOOL": _dtypes.bool}
_CODE_OF = {v._name: k for k, v in _CODES.items()}
REQUIRES_GRAD = "tensord.requires_grad."
RETAINS_GRAD = "tensord.retains_grad."
GRAD = "tensord.grad."


def _bad(what):
    return ValueError("not a valid safetensors file: " + what)


def encode_header(entries, metadata):
    """entries: [(name, dtype, shape, nbytes)] -> the file's first bytes (length + padded JSON)."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, dt, shape, nbytes in entries:
        header[name] = {"dtype": _CODE_OF[dt._name], "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def parse_header(f, size):
    """Reads and checks the header of a file object of `size` bytes: [(name, dtype, shape, begin,
    end)] sorted by offset, the metadata, and where the data starts."""
    if size < 8:
        raise _bad("shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", f.read(8))
    if n > MAX_HEADER_BYTES or n > size - 8 or n < 2:
        raise _bad(f"header length {n} is out of range for a file of {size} bytes")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _bad("the header is not valid JSON") from None
    if not isinstance(header, dict):
        raise _bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _bad("__metadata__ must map strings to strings")
    entries = []
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise _bad(f"entry {name!r} must have exactly dtype, shape, data_offsets")
        dt = _CODES.get(e["dtype"]) if isinstance(e["dtype"], str) else None
        if dt is None:
            raise ValueError(f"safetensors dtype {e['dtype']!r} is not supported by tensord (F32, F64, I64, BOOL)")
        shape, offs = e["shape"], e["data_offsets"]
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise _bad(f"entry {name!r}: shape is not a list of sizes")
        if not isinstance(offs, list) or len(offs) != 2 or not all(type(o) is int and o >= 0 for o in offs):
            raise _bad(f"entry {name!r}: data_offsets is not [begin, end]")
        count = 1
        for d in shape:
            count *= d
        if offs[1] - offs[0] != count * dt.itemsize:
            raise _bad(f"entry {name!r}: data_offsets span {offs[1] - offs[0]} bytes, dtype and shape need "
                       f"{count * dt.itemsize}")
        entries.append((name, dt, tuple(shape), offs[0], offs[1]))
    entries.sort(key=lambda e: (e[3], e[4]))
    at = 0
    for name, _, _, begin, end in entries:
        if begin != at:
            raise _bad(f"entry {name!r} starts at {begin}, not at {at} (overlapping or with a gap)")
        at = end
    if at != size - 8 - n:
        raise _bad(f"the tensors cover {at} bytes but the data section has {size - 8 - n}")
    return entries, metadata, 8 + n


def _named(obj):
    from tensord._tensor import Tensor
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        raise TypeError("tensord save() takes a dict of str -> Tensor (a state dict)")
    return sorted(obj.items())


def save(session, obj, f, include_grad=False, metadata=None, server=False):
    items = _named(obj)
    for _, t in items:
        if t._s is not session:
            raise RuntimeError("tensord: this tensor belongs to another session")
    if server:
        req = pb.SaveRequest(path=os.fspath(f), include_grad=include_grad)
        for name, t in items:
            req.tensors[name] = t._id
        for k, v in (metadata or {}).items():
            req.metadata[str(k)] = str(v)
        session._check_inputs([t._id for _, t in items])
        session._run(pb.Command(save=req), "save", inputs=[t._id for _, t in items])
        return
    meta = {"format": "pt", **{str(k): str(v) for k, v in (metadata or {}).items()}}
    datas, taken = [], {name for name, _ in items}
    for name, t in items:
        datas.append((name, session._fetch_data(t._id)))
        if t.requires_grad:
            meta[REQUIRES_GRAD + name] = "true"
        if include_grad:
            g = session._fetch_data(t._id, grad=True)
            if g is not None:
                gname = name + ".grad"
                while gname in taken:
                    gname += "_"
                taken.add(gname)
                meta[GRAD + name] = gname
                datas.append((gname, g))
    entries = [(name, _dtypes.from_wire(d.dtype), tuple(d.shape), len(d.data)) for name, d in datas]
    head = encode_header(entries, meta)
    if hasattr(f, "write"):
        f.write(head)
        for _, d in datas:
            f.write(d.data)
        return
    path = os.fspath(f)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix="." + os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(head)
            for _, d in datas:
                out.write(d.data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(session, f, server=False):
    if server:
        r = session._run(pb.Command(load=pb.LoadRequest(path=os.fspath(f))), "load")
        out = {}
        for name, info in zip(r.load.names, r.load.tensors):
            out[name] = session._wrap(info.id)
            session._infos[info.id] = (info, session._mut)
        return out
    if hasattr(f, "read"):
        return _load_file(session, f)
    with open(os.fspath(f), "rb") as fh:
        return _load_file(session, fh)


def _load_file(session, fh):
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    entries, metadata, start = parse_header(fh, size)
    grads = {}
    for k, v in metadata.items():
        if k.startswith(GRAD):
            owner = k[len(GRAD):]
            if owner == v or not any(e[0] == owner for e in entries) or not any(e[0] == v for e in entries):
                raise _bad(f"metadata {k!r} names no tensor's grad")
            grads[owner] = v
    raws = {}
    for name, dt, shape, begin, end in entries:
        fh.seek(start + begin)
        raw = fh.read(end - begin)
        if len(raw) != end - begin:
            raise _bad("truncated")
        if dt is _dtypes.bool:
            raw = bytes(b != 0 for b in raw)
        raws[name] = (raw, shape, dt)
    grad_names = set(grads.values())
    out = {}
    for name, _, _, _, _ in entries:
        if name in grad_names:
            continue
        raw, shape, dt = raws[name]
        rg = metadata.get(REQUIRES_GRAD + name) == "true"
        t = session._create_raw(raw, shape, dt, requires_grad=rg, what="load")
        if name in grads:
            graw, gshape, gdt = raws[grads[name]]
            t.grad = session._create_raw(graw, gshape, gdt, what="load")
        out[name] = t
    return out
