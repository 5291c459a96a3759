"""save / load: checkpoints of tensors in nested containers, without pickle.

    tg.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, "ckpt.tg")
    state = tg.load("ckpt.tg", map_location="cpu")

What can be saved: Tensors (and nn.Parameters); dicts (OrderedDict kept as such, order preserved),
lists, tuples, sets and frozensets; ``int``, ``float`` (nan/inf and -0.0 exact), ``complex``, ``bool``,
``str``, ``bytes``, ``bytearray``, ``None``; nested freely. Also what training scripts put next to the
weights, each restored as the same type and value:

* NumPy arrays (``np.ndarray`` of bool, integer, float, complex, bytes, str, datetime64 or timedelta64
  dtype, byte order kept) come back as NumPy arrays of the same dtype and shape, not as Tensors; NumPy
  scalars (``np.float64(0.9)``, ``np.int64(3)``, ``np.bool_``) as the same NumPy scalar type, bits exact.
  So ``np.random.get_state()`` and ``random.getstate()`` round-trip and can be passed to ``set_state``.
  Byte order is kept (pickle, so torch.save, turns ``>i2`` into native ``<i2``); ``np.longlong`` shares
  ``int64``'s dtype and comes back as ``np.int64``, as it does from torch.load.
  Object and structured (void) arrays are refused: object arrays would need pickle.
* ``argparse.Namespace`` (``'args': args``) comes back as a Namespace with the same attributes.
* ``collections.defaultdict`` comes back as a defaultdict when its ``default_factory`` is None or a
  builtin type (``list``, ``dict``, ``set``, ``int``, ``float``, ...); any other factory (a lambda, a
  function) is code, not data, and is refused: save ``dict(d)`` instead.

PyTorch's ``torch.load(weights_only=True)`` refuses NumPy arrays and scalars, Namespaces, frozensets and
defaultdicts (they need ``weights_only=False``, i.e. unpickling); this format needs no pickle for any of
them, so they load with the default. Dict keys may be str, int, float, complex, bool, bytes, None, NumPy
scalars, or tuples/frozensets of those. Subclasses of these types (except int/float/complex/str
subclasses, saved as the base type) and anything else raise a TypeError naming where the object sits
inside the saved object (``state['layers'][2]``). A NumPy array object that appears several times is
stored once and comes back as one array appearing several times, like tensors.

Format: a NumPy ``.npz`` archive (a zip). Each tensor is one ``.npy`` entry (``t0``, ``t1``, ...)
holding a host copy of its data, each NumPy array one entry too (``a2``, ...; ``map_location`` does
not apply to them: they stay NumPy arrays in host memory); NumPy scalars live in the header as
their exact bytes. One more entry, ``__tensorgrad__``, holds a JSON header (as
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

import argparse
import io
import json
import os
import tempfile
import zipfile
from collections import OrderedDict, defaultdict

import numpy as np

from . import backend
from .tensor import Tensor

_HEADER = "__tensorgrad__"
_FORMAT = "tensorgrad-checkpoint"
_VERSION = 1
_DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"}
_KEY_KINDS = (str, int, float, complex, bool, bytes, type(None), np.generic)
# NumPy dtype kinds that .npy stores without pickle: bool, int, uint, float, complex, bytes, str, times
_NP_KINDS = set("biufcSUmM")
_DICT_KINDS = {dict: "dict", OrderedDict: "odict", defaultdict: "ddict"}
# a defaultdict's default_factory is code; these builtins are the ones a checkpoint may name
_FACTORIES = {"None": None, "list": list, "dict": dict, "set": set, "tuple": tuple, "int": int, "float": float,
              "str": str, "bool": bool, "complex": complex, "bytes": bytes, "frozenset": frozenset,
              "OrderedDict": OrderedDict}


class _Encoder:
    def __init__(self):
        self.arrays = {}
        self.seen = {}  # id(tensor or ndarray) -> key
        self.keep = []  # keep tensors/arrays alive so ids stay unique while encoding

    def encode(self, obj, path):
        if isinstance(obj, Tensor):
            return self.tensor(obj)
        if isinstance(obj, np.generic):  # before the builtins: np.float64 is a float, np.str_ a str
            return self.np_scalar(obj, path)
        if type(obj) is np.ndarray:
            return self.ndarray(obj, path)
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": obj}
        if isinstance(obj, int):
            return {"t": "int", "v": hex(int(obj)), "hex": True}  # any size, exact (decimal str() stops at 4300 digits)
        if isinstance(obj, float):
            return {"t": "float", "v": float(obj).hex()}  # exact, nan/inf included
        if isinstance(obj, complex):
            return {"t": "complex", "v": [obj.real.hex(), obj.imag.hex()]}
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if type(obj) in (bytes, bytearray):
            return {"t": type(obj).__name__, "v": bytes(obj).hex()}
        if type(obj) in (list, tuple):
            return {"t": type(obj).__name__,
                    "v": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if type(obj) in (set, frozenset):
            return {"t": type(obj).__name__, "v": [self.encode(v, f"{path}{{...}}") for v in obj]}
        if type(obj) in (dict, OrderedDict, defaultdict):
            node = {"t": _DICT_KINDS[type(obj)], "v": self.items(obj, path)}
            if type(obj) is defaultdict:
                node["factory"] = self.factory(obj, path)
            return node
        if type(obj) is argparse.Namespace:  # 'args': args in training scripts
            return {"t": "namespace",
                    "v": [[k, self.encode(v, f"{path}.{k}")] for k, v in vars(obj).items()]}
        hint = ""
        if hasattr(obj, "state_dict"):  # a module or an optimizer: checkpoints hold arrays, never pickled code
            hint = (f"; save its state_dict() instead (tg.save(obj.state_dict(), path)) and load it into a new "
                    f"{type(obj).__name__} with load_state_dict")
        elif isinstance(obj, np.ndarray):
            hint = "; convert it to a plain array with np.asarray first"
        raise TypeError(f"save(): cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__} "
                        f"at {path}: supported are Tensors, NumPy arrays and scalars, dict/OrderedDict/"
                        f"defaultdict, list, tuple, set, frozenset, argparse.Namespace, int, float, complex, "
                        f"bool, str, bytes, bytearray and None{hint}")

    def items(self, d, path):
        return [[self.key(k, path), self.encode(v, f"{path}[{k!r}]")] for k, v in d.items()]

    def factory(self, d, path):
        f = d.default_factory
        for name, cls in _FACTORIES.items():
            if f is cls:
                return name
        raise TypeError(f"save(): cannot save the defaultdict at {path}: its default_factory {f!r} is code, and "
                        f"checkpoints hold only data; supported factories are None and "
                        f"{', '.join(n for n in _FACTORIES if n != 'None')}; or save dict(d) instead")

    def key(self, k, path):
        if type(k) in (tuple, frozenset):
            return {"t": type(k).__name__, "v": [self.key(v, path) for v in k]}
        if isinstance(k, _KEY_KINDS):
            return self.encode(k, path)
        raise TypeError(f"save(): unsupported dict key {k!r} of type {type(k).__name__} in {path}: keys must "
                        f"be str, int, float, complex, bool, bytes, None, NumPy scalars or tuples/frozensets "
                        f"of those")

    def np_scalar(self, x, path):
        dt = x.dtype
        if dt.kind not in _NP_KINDS:
            raise TypeError(f"save(): cannot save the NumPy scalar of dtype {dt} at {path}: supported are "
                            f"bool, integer, float, complex, bytes, str, datetime64 and timedelta64 scalars")
        if dt.kind == "U":  # str_('') has itemsize 0, which frombuffer cannot read back
            return {"t": "npscalar", "dtype": dt.str, "v": str.__str__(x)}  # str(x) would drop trailing NULs
        if dt.kind == "S":  # and frombuffer would strip trailing NULs off bytes_
            return {"t": "npscalar", "dtype": dt.str, "v": bytes(x).hex()}
        return {"t": "npscalar", "dtype": dt.str, "v": x.tobytes().hex()}  # exact bits, byte order in dtype

    def ndarray(self, a, path):
        if a.dtype.kind not in _NP_KINDS:
            why = "object arrays need pickle, which tensorgrad never uses" if a.dtype.hasobject else \
                "structured/void dtypes are not supported"
            raise TypeError(f"save(): cannot save the numpy.ndarray of dtype {a.dtype} at {path}: {why}; "
                            f"supported are bool, integer, float, complex, bytes, str, datetime64 and "
                            f"timedelta64 arrays")
        key = self.seen.get(id(a))
        if key is None:
            key = f"a{len(self.arrays)}"
            self.seen[id(a)] = key
            self.keep.append(a)
            self.arrays[key] = a if a.flags.c_contiguous else np.array(a, order="C")
        return {"t": "ndarray", "key": key, "dtype": a.dtype.str, "shape": list(a.shape)}

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
    """Save `obj` (tensors and NumPy data in nested containers, numbers, strings; see the module doc)."""
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
        self.tensors = {}  # entry key -> the Tensor or ndarray already loaded from it

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
            return int(v, 16) if node.get("hex") else int(v)
        if kind == "float":
            return float.fromhex(v)
        if kind == "str":
            if not isinstance(v, str):
                raise self.bad("malformed string")
            return v
        if kind == "complex":
            re, im = v
            return complex(float.fromhex(re), float.fromhex(im))
        if kind in ("bytes", "bytearray"):
            return (bytes if kind == "bytes" else bytearray)(bytes.fromhex(v))
        if kind in ("list", "tuple", "set", "frozenset"):
            items = [self.decode(x) for x in v]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
        if kind in ("dict", "odict", "ddict"):
            if kind == "ddict":
                if node.get("factory") not in _FACTORIES:
                    raise self.bad(f"unknown defaultdict factory {node.get('factory')!r}")
                out = defaultdict(_FACTORIES[node["factory"]])
            else:
                out = OrderedDict() if kind == "odict" else {}
            for k, val in v:
                out[self.decode(k)] = self.decode(val)
            return out
        if kind == "namespace":
            ns = argparse.Namespace()
            for k, val in v:
                if not isinstance(k, str):
                    raise self.bad("malformed namespace attribute name")
                setattr(ns, k, self.decode(val))
            return ns
        if kind == "npscalar":
            dt = self.np_dtype(node.get("dtype"))
            if dt.kind in "US":
                # NumPy drops trailing NULs from str_/bytes_ values (so 'a\x00' reads back as 'a'), and the
                # scalar's dtype follows the value: only the kind is checked
                return np.str_(v) if dt.kind == "U" else np.bytes_(bytes.fromhex(v))
            raw = bytes.fromhex(v)
            if len(raw) != dt.itemsize:
                self._bad_scalar(dt)
            return np.frombuffer(raw, dtype=dt)[0]
        if kind == "tensor":
            return self.tensor(node)
        if kind == "ndarray":
            return self.ndarray(node)
        raise self.bad(f"unknown entry type {kind!r}")

    def _bad_scalar(self, dt):
        raise self.bad(f"malformed NumPy scalar of dtype {dt}")

    def np_dtype(self, s):
        if not isinstance(s, str):
            raise self.bad(f"malformed NumPy dtype {s!r}")
        try:
            dt = np.dtype(s)  # parses a description; never runs code
        except (TypeError, ValueError):
            raise self.bad(f"unknown NumPy dtype {s!r}") from None
        if dt.kind not in _NP_KINDS or dt.str != s:
            raise self.bad(f"unsupported NumPy dtype {s!r}")
        return dt

    def entry(self, key):
        """Read one .npy entry of the archive; pickled (object) entries are refused, never loaded."""
        try:
            return self.npz[key]
        except KeyError:
            raise self.bad(f"entry {key!r} is missing") from None
        except ValueError as e:
            if "allow_pickle" in str(e) or "Object arrays" in str(e):
                raise RuntimeError(f"load(): {self.name}: entry {key!r} is an object array, which would need "
                                   f"pickle to load; refused (tensorgrad never unpickles)") from None
            raise self.bad(f"entry {key!r} is corrupt ({e})") from None
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise self.bad(f"entry {key!r} is truncated or corrupt ({e})") from None

    def ndarray(self, node):
        key = node.get("key")
        if key in self.tensors:
            return self.tensors[key]
        dt = self.np_dtype(node.get("dtype"))
        arr = self.entry(key)
        if arr.dtype != dt or arr.dtype.str != dt.str or list(arr.shape) != list(node.get("shape", [])):
            raise self.bad(f"entry {key!r} holds {arr.dtype.str}{list(arr.shape)}, the header says "
                           f"{dt.str}{node.get('shape')}")
        self.tensors[key] = arr
        return arr

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
        arr = self.entry(key)
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
