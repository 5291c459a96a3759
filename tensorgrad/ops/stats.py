"""median, var_mean / std_mean, bincount: PyTorch's, composed of existing ops (median's values are
kthvalue's, so their gradient goes to the median element)."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..tensor import Tensor
from ._util import check_tensor, wrap_dim
from .reduce import mean, std, var
from .sort import kthvalue

_MedianResult = namedtuple("median", ["values", "indices"])


def median(input, dim=None, keepdim=False):
    """The lower median (of an even count, the smaller middle value): of all elements, or
    (values, indices) along dim. A slice holding NaN has median NaN, as in PyTorch."""
    check_tensor("median", input)
    if dim is None:
        flat = input.reshape(-1)
        if flat.numel() == 0:
            raise IndexError("median() input tensor cannot be empty")
        out = kthvalue(flat, (flat.numel() + 1) // 2, 0).values
        if input.is_floating_point():
            from .arithmetic import where
            out = where(flat.isnan().any(), float("nan"), out).to(input.dtype)
        return out
    d = wrap_dim(dim, max(input.dim(), 1), "median")
    n = input.shape[d] if input.dim() else 1
    vals, idx = kthvalue(input, (n + 1) // 2, d, keepdim)
    if input.is_floating_point():
        from .arithmetic import where
        nan = input.isnan()
        has_nan = nan.any(d, keepdim=keepdim)
        first_nan = nan.to(input.dtype).argmax(d, keepdim=keepdim) if input.dim() else idx
        vals = where(has_nan, float("nan"), vals).to(input.dtype)
        idx = where(has_nan, first_nan, idx)
    return _MedianResult(vals, idx)


def var_mean(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """(var, mean) over dim, in one call (torch.var_mean)."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return var(input, dim, keepdim=keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """(std, mean) over dim, in one call (torch.std_mean)."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return std(input, dim, keepdim=keepdim, correction=correction), mean(input, dim, keepdim)


def bincount(input, weights=None, minlength=0):
    """Counts of each value of a 1-D non-negative integer tensor (or the sums of `weights` per
    value), of length max(input) + 1 or minlength. Not differentiable, as in PyTorch."""
    check_tensor("bincount", input)
    d = input._data
    if d.ndim != 1 or d.dtype.kind not in "iub":
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got {input.dim()}-d "
                           f"{input.dtype}")
    if d.size and bool((d < 0).any()):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs: a negative value was given")
    from ..backend import xp_of
    xp = xp_of(d)
    w = None
    if weights is not None:
        if tuple(weights.shape) != tuple(input.shape):
            raise RuntimeError(f"weights should be 1-d and have the same length as input, got weights of shape "
                               f"{list(weights.shape)} for input of shape {list(input.shape)}")
        w = weights._data
    out = xp.bincount(d.astype(np.int64), weights=w, minlength=minlength)
    if w is not None:
        out = out.astype(w.dtype if w.dtype.kind == "f" else np.float64, copy=False)
    return Tensor._make(out, None, 0, None)


__all__ = ["median", "var_mean", "std_mean", "bincount"]
