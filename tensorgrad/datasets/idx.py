"""Reader for IDX files (the MNIST format), gzip-compressed or not, with validation.

Header: two zero bytes, a type byte, a dims byte, then dims big-endian uint32 sizes; the data
follows big-endian. Type bytes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
0x0E float64.
"""
from __future__ import annotations

import gzip
import os

import numpy as np

__all__ = ["read_idx", "IDXError"]

_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXError(ValueError):
    """The file is not a valid IDX file (foreign, truncated or inconsistent)."""


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file name says
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise IDXError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return raw


def read_idx(path, expected_ndim=None):
    """The array stored in IDX file `path` (native byte order; uint8 stays uint8)."""
    path = os.fspath(path)
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise IDXError(f"{path}: too short for an IDX header ({len(buf)} bytes)")
    if buf[0] != 0 or buf[1] != 0:
        raise IDXError(f"{path}: bad magic number 0x{buf[:4].hex()}: not an IDX file "
                       f"(IDX files start with two zero bytes)")
    type_code, ndim = buf[2], buf[3]
    if type_code not in _TYPES:
        raise IDXError(f"{path}: unknown IDX data type 0x{type_code:02x} (magic 0x{buf[:4].hex()})")
    if ndim == 0:
        raise IDXError(f"{path}: IDX header declares 0 dimensions")
    if expected_ndim is not None and ndim != expected_ndim:
        raise IDXError(f"{path}: expected a {expected_ndim}-dimensional IDX file, header says {ndim}")
    head = 4 + 4 * ndim
    if len(buf) < head:
        raise IDXError(f"{path}: truncated header: {len(buf)} bytes, {head} needed for {ndim} dimensions")
    shape = tuple(int(s) for s in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    dt = _TYPES[type_code]
    need = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    have = len(buf) - head
    if have < need:
        raise IDXError(f"{path}: truncated data: shape {shape} of {dt.name} needs {need} bytes, "
                       f"file has {have}")
    if have > need:
        raise IDXError(f"{path}: {have - need} unexpected trailing bytes after the data for shape {shape}")
    arr = np.frombuffer(buf, dtype=dt, count=need // dt.itemsize, offset=head).reshape(shape)
    return arr.astype(dt.newbyteorder("="), copy=True)


def write_idx(path, arr):
    """Write `arr` as an IDX file (gzip-compressed if the name ends in .gz). Used by tests and tools."""
    arr = np.asarray(arr)
    code = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"write_idx: dtype {arr.dtype} has no IDX type")
    data = (bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
            + arr.astype(_TYPES[code]).tobytes())
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)
