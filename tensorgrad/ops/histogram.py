"""histc and histogram: PyTorch's binning, computed in the input's dtype as torch does so that bin
edges match exactly. Counting is not differentiable."""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ..autograd.function import check_same_device
from ..backend import xp_of
from ..tensor import Tensor
from ._util import check_tensor
from .stats_extra import _const, _tname

# ---------------------------------------------------------------- histc
def histc(input, bins=100, min=0, max=0):
    """Counts of the elements in `bins` equal-width bins over [min, max] (min = max: the data's
    range); elements outside the range and NaNs are ignored. Not differentiable."""
    check_tensor("histc", input)
    lo, hi = min, max  # PyTorch's argument names shadow the builtins; say what they are here
    x = input._data
    if x.dtype.kind != "f":
        raise NotImplementedError(f"histc(): not implemented for '{_tname(input)}' input; convert it "
                                  f"with .float() first")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins <= 0:
        raise RuntimeError(f"histc(): bins must be an int > 0, but got {bins!r}")
    if hi < lo:
        raise RuntimeError(f"histc(): max must be larger than min, got min={lo} and max={hi}")
    xp = xp_of(x)
    flat = x.reshape(-1)
    if lo == hi and flat.size:
        lo, hi = float(flat.min()), float(flat.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"histc(): range of [{lo}, {hi}] is not finite")
    lo_, hi_ = x.dtype.type(lo), x.dtype.type(hi)
    inside = flat[(flat >= lo_) & (flat <= hi_)]  # NaN is never inside
    pos = ((inside - lo_) * x.dtype.type(bins) / (hi_ - lo_)).astype(np.int64)  # in input's dtype, as PyTorch
    pos = xp.minimum(pos, bins - 1)  # max itself belongs to the last bin
    return _const(xp.bincount(pos, minlength=bins).astype(x.dtype))


_HistogramResult = namedtuple("histogram", ["hist", "bin_edges"])


def _linspace(lo, hi, steps, dtype, xp):
    """PyTorch's linspace: from both ends toward the middle, in the output dtype."""
    lo, hi = dtype.type(lo), dtype.type(hi)
    step = (hi - lo) / dtype.type(steps - 1)
    i = xp.arange(steps)
    half = steps // 2
    out = xp.where(i < half, lo + step * i.astype(dtype), hi - step * (steps - 1 - i).astype(dtype))
    return out.astype(dtype, copy=False)


def histogram(input, bins, *, range=None, weight=None, density=False):
    """(hist, bin_edges): counts (or summed weights) of input's elements in bins given as a count
    of equal-width bins over `range` (default: the data's range) or as a 1-D tensor of increasing
    edges. Each bin holds [left, right), the last also its right edge. Not differentiable."""
    check_tensor("histogram", input)
    span = range  # PyTorch's argument name shadows the builtin
    x = input._data
    if x.dtype.kind != "f":
        raise NotImplementedError(f"histogram(): not implemented for '{_tname(input)}' input; convert it "
                                  f"with .float() first")
    xp = xp_of(x)
    flat = x.reshape(-1)
    if isinstance(bins, Tensor):
        if bins.dim() != 1 or bins.numel() < 1:
            raise RuntimeError(f"histogram(): bins tensor should have one dimension and at least one edge, "
                               f"got shape {list(bins.shape)}")
        if bins._data.dtype != x.dtype:
            raise RuntimeError(f"histogram(): input tensor and bins tensor should have the same dtype, but got "
                               f"input {_tname(input)} and bins {_tname(bins)}")
        check_same_device("histogram", [x, bins._data])
        edges = bins._data
        if edges.size > 1 and bool((edges[1:] < edges[:-1]).any()):
            raise RuntimeError("histogram(): bin edges must increase monotonically")
    else:
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins <= 0:
            raise RuntimeError(f"histogram(): bins must be an int > 0 or a 1-D tensor of edges, got {bins!r}")
        if span is not None:
            lo, hi = float(span[0]), float(span[1])
            if lo > hi:
                raise RuntimeError(f"histogram(): min should not exceed max, but got min {lo} max {hi}")
        elif flat.size:
            lo, hi = float(flat.min()), float(flat.max())
        else:
            lo, hi = 0.0, 1.0
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise RuntimeError(f"histogram(): range [{lo}, {hi}] is not finite")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = _linspace(lo, hi, int(bins) + 1, x.dtype, xp)
    w = None
    if weight is not None:
        check_tensor("histogram", weight, "weight")
        if tuple(weight.shape) != tuple(input.shape):
            raise RuntimeError(f"histogram(): weight should have the same shape as input, but got input of "
                               f"shape {list(input.shape)} and weight of shape {list(weight.shape)}")
        check_same_device("histogram", [x, weight._data])
        w = weight._data.reshape(-1)
    nbins = edges.size - 1
    inside = (flat >= edges[0]) & (flat <= edges[-1])  # NaN is never inside
    pos = xp.searchsorted(edges, flat, side="right") - 1
    pos = xp.minimum(pos, nbins - 1)  # the last edge belongs to the last bin
    keep = inside & (pos >= 0)
    hist = xp.bincount(pos[keep], weights=None if w is None else w[keep], minlength=max(nbins, 0))
    hist = hist[:max(nbins, 0)].astype(x.dtype)
    if density:
        with np.errstate(divide="ignore", invalid="ignore"):
            hist = (hist / (hist.sum() * xp.diff(edges))).astype(x.dtype)
    return _HistogramResult(_const(hist), _const(edges.copy()))


__all__ = ["histc", "histogram"]
TENSOR_METHODS = "histc histogram"
