"""Tensor.__repr__ in PyTorch's style: tensor([1., 2.], device='cuda:0', grad_fn=<AddBackward0>)."""
from __future__ import annotations

import numpy as np

from . import dtypes

_PREFIX = "tensor("


def _float_formatter(arr):
    finite = arr[np.isfinite(arr)].astype(np.float64)
    if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        return lambda v: (f"{v:.0f}." if np.isfinite(v) else _nonfinite(v))
    if finite.size:
        nz = np.abs(finite[finite != 0])
        big, small = (nz.max(), nz.min()) if nz.size else (0.0, 0.0)
        if big >= 1e8 or (small and big / small > 1000) or (small and small < 1e-4):
            return lambda v: (f"{v:.4e}" if np.isfinite(v) else _nonfinite(v))
    return lambda v: (f"{v:.4f}" if np.isfinite(v) else _nonfinite(v))


def _nonfinite(v):
    return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")


def format_tensor(t) -> str:
    arr = t._data
    host = arr if isinstance(arr, np.ndarray) else arr.get()
    suffix = []
    if t.is_cuda:
        suffix.append(f"device='{t.device}'")
    if host.size == 0 and host.ndim != 1:
        body = "[]"
        suffix.insert(0, f"size={tuple(host.shape)}")
    else:
        if host.dtype.kind == "f":
            fmt = _float_formatter(host)
        elif host.dtype.kind == "b":
            fmt = lambda v: " True" if v else "False"  # noqa: E731
        else:
            fmt = str
        kind = "float_kind" if host.dtype.kind == "f" else ("bool" if host.dtype.kind == "b" else "int_kind")
        body = np.array2string(host, separator=", ", prefix=_PREFIX, formatter={kind: fmt},
                               threshold=1000, edgeitems=3, max_line_width=80)
    dt = t.dtype
    if dt not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_) or (host.size == 0 and dt is not dtypes.get_default_dtype() and host.ndim == 1):
        suffix.append(f"dtype={dt!r}")
    if t._node is not None:
        suffix.append(f"grad_fn=<{t._node.name()}>")
    elif t._requires_grad:
        suffix.append("requires_grad=True")
    return _PREFIX + body + "".join(", " + s for s in suffix) + ")"
