"""save / load: checkpoints of tensors in nested containers, without pickle.

    tg.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, "ckpt.tg")
    state = tg.load("ckpt.tg", map_location="cpu")

What can be saved: Tensors (and nn.Parameters), dicts (OrderedDict kept as such, order preserved),
lists, tuples, ``int``, ``float``, ``bool``, ``str``, ``None``, nested freely. Dict keys may be
strings, numbers, bools, None or tuples of those. Anything else raises a TypeError naming where it
sits inside the object (``state['layers'][2]``).

Format: a NumPy ``.npz`` archive (a zip). Each tensor is one ``.npy`` entry (``t0``, ``t1``, ...)
holding a host copy of its data; one more entry, ``__tensorgrad__``, holds a JSON header (as
bytes) that describes the structure, and each tensor's dtype, shape, device and requires_grad.
``load`` reads it with ``allow_pickle=False``: it never unpickles and never executes code, and it
refuses object arrays. A tensor object that appears several times in the saved object is stored
once and comes back as one tensor appearing several times; distinct tensors (views of one another
included) are stored and restored separately, each with its own values.

Writes to a path are atomic: the archive goes to a temporary file in the same directory, which is
flushed and fsynced, then renamed over the target with ``os.replace``, and the directory is
fsynced. A crash mid-write leaves any previous file intact. ``f`` may also be a writable/readable
binary file object (written in place; atomicity is then the caller's business).

``map_location`` (load): ``None`` restores each tensor to the device it was saved from; a device
(``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``tg.device(...)``) puts every tensor there; a dict maps
saved device strings to devices (``{'cuda:0': 'cpu'}``), devices not in it stay as saved.
Callables are not supported. ``weights_only`` is accepted for PyTorch compatibility: this format
only ever holds data, so loading is always weights-only.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

from . import backend
from .tensor import Tensor

_HEADER = "__tensorgrad__"
_FORMAT = "tensorgrad-checkpoint"
_VERSION = 1
_DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"}
_KEY_KINDS = (str, int, float, bool, type(None))


class _Encoder:
    def __init__(self):
        self.arrays = {}
        self.seen = {}  # id(tensor) -> key
        self.keep = []  # keep tensors alive so ids stay unique while encoding

    def encode(self, obj, path):
        if isinstance(obj, Tensor):
            return self.tensor(obj)
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": obj}
        if isinstance(obj, int):
            return {"t": "int", "v": str(int(obj))}  # arbitrary size, exact
        if isinstance(obj, float):
            return {"t": "float", "v": float(obj).hex()}  # exact, nan/inf included
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if isinstance(obj, (list, tuple)) and type(obj) in (list, tuple):
            return {"t": type(obj).__name__,
                    "v": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if type(obj) in (dict, OrderedDict):
            items = []
            for k, v in obj.items():
                items.append([self.key(k, path), self.encode(v, f"{path}[{k!r}]")])
            return {"t": "odict" if type(obj) is OrderedDict else "dict", "v": items}
        hint = ""
        if hasattr(obj, "state_dict"):  # a module or an optimizer: checkpoints hold arrays, never pickled code
            hint = (f"; save its state_dict() instead (tg.save(obj.state_dict(), path)) and load it into a new "
                    f"{type(obj).__name__} with load_state_dict")
        raise TypeError(f"save(): cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__} "
                        f"at {path}: supported are Tensors, dict/OrderedDict, list, tuple, int, float, bool, "
                        f"str and None{hint}")

    def key(self, k, path):
        if isinstance(k, _KEY_KINDS):
            return self.encode(k, path)
        if type(k) is tuple:
            return {"t": "tuple", "v": [self.key(v, path) for v in k]}
        raise TypeError(f"save(): unsupported dict key {k!r} of type {type(k).__name__} in {path}: keys must "
                        f"be str, int, float, bool, None or tuples of those")

    def tensor(self, t):
        key = self.seen.get(id(t))
        if key is None:
            key = f"t{len(self.arrays)}"
            self.seen[id(t)] = key
            self.keep.append(t)
            data = t._data
            host = data if data.__class__ is np.ndarray else backend.to_device(data, backend.CPU)
            self.arrays[key] = host if host.flags.c_contiguous else np.array(host, order="C")  # 0-d stays 0-d
        from .nn.parameter import Parameter
        dev = t.device
        return {"t": "tensor", "key": key, "dtype": t._data.dtype.name, "shape": list(t._data.shape),
                "device": str(dev), "requires_grad": bool(t.requires_grad),
                "parameter": isinstance(t, Parameter)}


def _write_archive(fh, arrays, header_bytes):
    """Write the .npz (zip) archive: the header entry first, then one .npy entry per tensor."""
    entries = {_HEADER: np.frombuffer(header_bytes, dtype=np.uint8)}
    entries.update(arrays)
    np.savez(fh, **entries)


def save(obj, f) -> None:
    """Save `obj` (tensors in nested dicts/lists/tuples, numbers, strings, None) to path or file `f`."""
    enc = _Encoder()
    root = enc.encode(obj, "obj")
    header = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root}).encode("utf-8")
    if hasattr(f, "write"):
        _write_archive(f, enc.arrays, header)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        _chmod_like_open(fd, path)
        with os.fdopen(fd, "wb") as fh:
            _write_archive(fh, enc.arrays, header)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _chmod_like_open(fd, path):
    """Give the temporary file (mkstemp makes it 0600) the mode the checkpoint would have had from open():
    the existing file's mode when overwriting, else 0666 minus the umask."""
    if not hasattr(os, "fchmod"):
        return
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.fchmod(fd, mode)


def _fsync_dir(directory):
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:  # platforms that cannot open directories (Windows)
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# ---------------------------------------------------------------- load
class _Decoder:
    def __init__(self, npz, name, map_location):
        self.npz, self.name, self.map_location = npz, name, map_location
        self.tensors = {}

    def bad(self, why):
        return RuntimeError(f"load(): {self.name} is not a valid tensorgrad checkpoint: {why}")

    def decode(self, node):
        if not isinstance(node, dict) or "t" not in node:
            raise self.bad("malformed header")
        kind, v = node["t"], node.get("v")
        if kind == "none":
            return None
        if kind == "bool":
            return bool(v)
        if kind == "int":
            return int(v)
        if kind == "float":
            return float.fromhex(v)
        if kind == "str":
            if not isinstance(v, str):
                raise self.bad("malformed string")
            return v
        if kind in ("list", "tuple"):
            items = [self.decode(x) for x in v]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "odict"):
            out = OrderedDict() if kind == "odict" else {}
            for k, val in v:
                out[self.decode(k)] = self.decode(val)
            return out
        if kind == "tensor":
            return self.tensor(node)
        raise self.bad(f"unknown entry type {kind!r}")

    def device_for(self, saved):
        m = self.map_location
        if m is None:
            return backend.as_device(saved)
        if isinstance(m, dict):
            target = m.get(saved)
            return backend.as_device(saved if target is None else target)
        return backend.as_device(m)

    def tensor(self, node):
        key = node.get("key")
        if key in self.tensors:
            return self.tensors[key]
        dtype = node.get("dtype")
        if dtype not in _DTYPES:
            raise self.bad(f"unsupported dtype {dtype!r}")
        try:
            arr = self.npz[key]
        except KeyError:
            raise self.bad(f"tensor entry {key!r} is missing") from None
        except ValueError as e:
            if "allow_pickle" in str(e) or "Object arrays" in str(e):
                raise RuntimeError(f"load(): {self.name}: entry {key!r} is an object array, which would need "
                                   f"pickle to load; refused (tensorgrad never unpickles)") from None
            raise self.bad(f"entry {key!r} is corrupt ({e})") from None
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise self.bad(f"entry {key!r} is truncated or corrupt ({e})") from None
        if arr.dtype.name != dtype or list(arr.shape) != list(node.get("shape", [])):
            raise self.bad(f"entry {key!r} holds {arr.dtype.name}{list(arr.shape)}, the header says "
                           f"{dtype}{node.get('shape')}")
        dev = backend.normalize_device(self.device_for(node.get("device", "cpu")))
        data = arr if dev.type == "cpu" else backend.to_device(arr, dev)
        t = Tensor._make(data, None, 0, None)
        if node.get("parameter"):
            from .nn.parameter import Parameter
            t = Parameter(t, bool(node.get("requires_grad")))
        elif node.get("requires_grad"):
            t.requires_grad_(True)
        self.tensors[key] = t
        return t


def _check_map_location(m):
    if m is None or isinstance(m, (str, backend.Device)):
        return
    if isinstance(m, dict):
        for k, v in m.items():
            if not isinstance(k, str) or not isinstance(v, (str, backend.Device)):
                raise TypeError("load(): a map_location dict maps saved device strings ('cuda:0') to devices "
                                "('cpu', 'cuda:1' or tensorgrad.device)")
        return
    raise TypeError(f"load(): map_location must be None, a device ('cpu', 'cuda', 'cuda:1', tensorgrad.device) "
                    f"or a dict of saved device -> device; got {type(m).__name__} (callables are not supported)")


def load(f, map_location=None, weights_only=True):
    """Load an object saved by `save` from path or binary file object `f` (never unpickles)."""
    _check_map_location(map_location)
    if hasattr(f, "read"):
        name = getattr(f, "name", "the file object")
        raw = f.read()
    else:
        name = repr(os.fspath(f))
        with open(f, "rb") as fh:
            raw = fh.read()
    if len(raw) < 4 or raw[:4] != b"PK\x03\x04":
        if len(raw) == 0:
            raise RuntimeError(f"load(): {name} is empty: truncated or not a tensorgrad checkpoint")
        raise RuntimeError(f"load(): {name} is not a tensorgrad checkpoint (not a zip/.npz archive)")
    try:
        npz = np.load(io.BytesIO(raw), allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
        raise RuntimeError(f"load(): {name} is truncated or corrupt: {e}") from None
    with npz:
        if _HEADER not in npz.files:
            raise RuntimeError(f"load(): {name} is not a tensorgrad checkpoint (a zip/.npz archive without the "
                               f"{_HEADER!r} header entry)")
        try:
            hb = npz[_HEADER]
            if hb.dtype != np.uint8 or hb.ndim != 1:
                raise ValueError("header entry is not bytes")
            header = json.loads(hb.tobytes().decode("utf-8"))
        except (zipfile.BadZipFile, ValueError, EOFError, OSError, UnicodeDecodeError) as e:
            raise RuntimeError(f"load(): {name} is truncated or corrupt (unreadable header: {e})") from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT:
            raise RuntimeError(f"load(): {name} is not a tensorgrad checkpoint (unknown header format)")
        if header.get("version") != _VERSION:
            raise RuntimeError(f"load(): {name} is a tensorgrad checkpoint of format version "
                               f"{header.get('version')}, this tensorgrad reads version {_VERSION}")
        dec = _Decoder(npz, name, map_location)
        try:
            return dec.decode(header.get("root"))
        except (TypeError, KeyError, AttributeError, ValueError) as e:
            raise dec.bad(f"malformed header ({type(e).__name__}: {e})") from None


__all__ = ["save", "load"]
