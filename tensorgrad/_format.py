"""Tensor.__repr__ in PyTorch's style: tensor([1., 2.], device='cuda:0', grad_fn=<AddBackward0>).

A port of ``torch/_tensor_str.py`` (default print options) to NumPy arrays, so
that a tensorgrad tensor prints exactly as the same torch tensor does, with
``tensorgrad.`` in place of ``torch.``: one formatter per tensor chooses
integer mode (``1.``), fixed point (``1.5000``) or scientific notation
(``1.0000e+08``) and a common width; long tensors are summarized with ``...``.
"""
from __future__ import annotations

import math

import numpy as np

from . import dtypes

_PREFIX = "tensor("
PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80
SCI_MODE = None  # True/False forces scientific notation on or off; None chooses per tensor


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """PyTorch's print options for tensor reprs; profile 'default', 'short' or 'full' sets the others."""
    global PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH, SCI_MODE
    profiles = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}
    if profile is not None:
        if profile not in profiles:
            raise ValueError(f"set_printoptions(): profile must be one of {', '.join(profiles)}, got {profile!r}")
        PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = profiles[profile]
    PRECISION = PRECISION if precision is None else int(precision)
    THRESHOLD = THRESHOLD if threshold is None else threshold
    EDGEITEMS = EDGEITEMS if edgeitems is None else int(edgeitems)
    LINEWIDTH = LINEWIDTH if linewidth is None else int(linewidth)
    SCI_MODE = sci_mode


class _Formatter:
    """torch._tensor_str._Formatter over a host array (already summarized when large)."""

    def __init__(self, arr):
        self.floating = arr.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = arr.reshape(-1)
        if not self.floating:
            if flat.size:
                if arr.dtype.kind == "b":
                    self.max_width = 5 if not flat.all() else 4
                else:
                    self.max_width = max(len(str(flat.max().item())), len(str(flat.min().item())))
            return
        vals = flat[np.isfinite(flat) & (flat != 0)]
        if vals.size == 0:
            return
        absd = np.abs(vals.astype(np.float64))
        vmin, vmax = absd.min(), absd.max()
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        self.sci_mode = bool(vmax / vmin > 1000.0 or vmax > 1.0e8 or vmin < 1.0e-4) if SCI_MODE is None else SCI_MODE
        values = vals.tolist()
        if self.sci_mode:
            self.max_width = max(len(f"{v:.{PRECISION}e}") for v in values)
        elif self.int_mode:
            self.max_width = max(len(f"{v:.0f}") + 1 for v in values)
        else:
            self.max_width = max(len(f"{v:.{PRECISION}f}") for v in values)

    def format(self, value) -> str:
        if self.floating:
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{PRECISION}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{PRECISION}f}"
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _vector_str(arr, n, indent, summarize, fmt) -> str:
    element_length = fmt.max_width + 2
    per_line = max(1, math.floor((LINEWIDTH - indent) / element_length))
    vals = arr.tolist()
    if summarize and n > 2 * EDGEITEMS:
        data = ([fmt.format(v) for v in vals[:EDGEITEMS]] + [" ..."]
                + [fmt.format(v) for v in vals[-EDGEITEMS:]])
    else:
        data = [fmt.format(v) for v in vals]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str(arr, shape, indent, summarize, fmt) -> str:
    """`arr` holds the printed elements of a tensor of `shape` (edge items only where summarized)."""
    dim = len(shape)
    if dim == 0:
        return fmt.format(arr.item())
    if dim == 1:
        return _vector_str(arr, shape[0], indent, summarize, fmt)
    rows = [_tensor_str(arr[i], shape[1:], indent + 1, summarize, fmt) for i in range(arr.shape[0])]
    if summarize and shape[0] > 2 * EDGEITEMS:
        rows = rows[:EDGEITEMS] + ["..."] + rows[EDGEITEMS:]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(rows) + "]"


def _host_elements(arr, summarize):
    """The elements that get printed, on the host: all of them, or the edge items of each dim."""
    if summarize:
        idx_mod = np if isinstance(arr, np.ndarray) else _xp(arr)
        for d, n in enumerate(arr.shape):
            if n > 2 * EDGEITEMS:
                idx = idx_mod.concatenate([idx_mod.arange(EDGEITEMS), idx_mod.arange(n - EDGEITEMS, n)])
                arr = arr.take(idx, axis=d)
    return arr if isinstance(arr, np.ndarray) else arr.get()


def _xp(arr):
    from .backend import xp_of
    return xp_of(arr)


def _add_suffixes(tensor_str, suffixes, indent) -> str:
    out = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            out.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            out.append(", " + suffix)
            last_line_len += len(suffix) + 2
    out.append(")")
    return "".join(out)


def format_tensor(t) -> str:
    arr = t._data
    indent = len(_PREFIX)
    suffixes = []
    if t.is_cuda:
        suffixes.append(f"device='{t.device}'")
    dt = t.dtype
    default = dtypes.get_default_dtype()
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if dt is not default:
            suffixes.append(f"dtype={dt!r}")
        body = "[]"
    else:
        if dt not in (default, dtypes.int64, dtypes.bool_):
            suffixes.append(f"dtype={dt!r}")
        summarize = arr.size > THRESHOLD
        host = _host_elements(arr, summarize)
        body = _tensor_str(host, arr.shape, indent, summarize, _Formatter(host))
    if t._node is not None:
        suffixes.append(f"grad_fn=<{t._node.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(_PREFIX + body, suffixes, indent)
