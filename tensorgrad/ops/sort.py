"""Ordering along a dim: sort, argsort, msort, topk, kthvalue, and unique.

The values of sort, topk and kthvalue are a gather of the input at the sorting indices (one
`Index` op, ops/index.py), so their backward scatters the gradient back to where each
value came from, and double backward comes with it; the indices are int64 constants. The order
is NumPy's (and CuPy's) stable sort: NaN sorts above +inf, as in PyTorch, and a descending sort
is the ascending sort of the reversed dim, reversed again, so it stays stable and puts NaN first.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..backend import argsort_stable, xp_of
from ..tensor import Tensor
from ._util import check_tensor, wrap_dim
from .index import Index, _along_dim

_SortResult = namedtuple("sort", ["values", "indices"])
_TopkResult = namedtuple("topk", ["values", "indices"])
_KthvalueResult = namedtuple("kthvalue", ["values", "indices"])


class Sort(Index):
    """The values of sort/topk/kthvalue: the input gathered at the sorting indices."""


def _const(arr) -> Tensor:
    return Tensor._make(arr, None, 0, None)


def _order(x, dim: int, descending: bool):
    """int64 indices sorting the array x along dim (stable; NaN largest)."""
    if not descending:
        return argsort_stable(x, dim).astype(np.int64, copy=False)
    xp = xp_of(x)
    asc = argsort_stable(xp.flip(x, axis=dim), dim)
    return (x.shape[dim] - 1) - xp.flip(asc, axis=dim).astype(np.int64, copy=False)


def _gather_sorted(input, idx, dim):
    data = input._data
    return Sort((Ellipsis,), tuple(range(data.ndim)), _along_dim(idx, dim, data.ndim))(input)


def _checked(op, input, dim):
    check_tensor(op, input)
    data = input._data
    if data.dtype.kind == "c":
        raise RuntimeError(f"{op}(): complex tensors have no order")
    return wrap_dim(dim, max(data.ndim, 1), op)  # a 0-d tensor takes dim 0 or -1, as in PyTorch


def _check_k(what, k, low, data, d, dim):
    """k an int in [low, size of dim d]; `what` begins the message ('topk(): selected index')."""
    size = data.shape[d] if data.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{what.split(':')[0]}: k must be an int, got {type(k).__name__}")
    if not low <= k <= size:
        raise RuntimeError(f"{what} k={k} is out of range for dim {dim} of size {size} (input shape "
                           f"{list(data.shape)}); k must be in [{low}, {size}]")


def sort(input, dim=-1, descending=False, *, stable=False):
    """(values, indices) of input sorted along dim, ascending unless `descending`. The sort is
    always stable (equal values keep their order), which `stable=False` allows too."""
    d = _checked("sort", input, dim)
    if input._data.ndim == 0:
        return _SortResult(input.clone(), _const(xp_of(input._data).zeros((), np.int64)))
    idx = _order(input._data, d, bool(descending))
    return _SortResult(_gather_sorted(input, idx, d), _const(idx))


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort input along dim (sort(...).indices)."""
    d = _checked("argsort", input, dim)
    if input._data.ndim == 0:
        return _const(xp_of(input._data).zeros((), np.int64))
    return _const(_order(input._data, d, bool(descending)))


def msort(input):
    """input sorted along dim 0 (the values only)."""
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (or, with largest=False, smallest) entries along dim,
    in order (largest first; `sorted=False` allows any order and gets this one)."""
    d = _checked("topk", input, dim)
    data = input._data
    _check_k("topk(): selected index", k, 0, data, d, dim)
    if data.ndim == 0:  # the value itself, for k 0 or 1 alike (as PyTorch)
        return _TopkResult(input.clone(), _const(xp_of(data).zeros((), np.int64)))
    idx = _order(data, d, bool(largest))
    idx = idx[(slice(None),) * d + (slice(0, k),)]
    return _TopkResult(_gather_sorted(input, idx, d), _const(idx))


def kthvalue(input, k, dim=-1, keepdim=False):
    """(values, indices) of the k-th smallest entry (k from 1) along dim."""
    d = _checked("kthvalue", input, dim)
    data = input._data
    _check_k("kthvalue(): selected number", k, 1, data, d, dim)
    if data.ndim == 0:
        return _KthvalueResult(input.clone(), _const(xp_of(data).zeros((), np.int64)))
    idx = _order(data, d, False)[(slice(None),) * d + (slice(k - 1, k),)]
    vals = _gather_sorted(input, idx, d)
    if not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    return _KthvalueResult(vals, _const(idx))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of input (flattened), ascending; with return_inverse, each element's
    position among them (input's shape); with return_counts, how often each occurs. Not
    differentiable. The number of distinct values is data: on CUDA this waits for the GPU, as in
    PyTorch. `dim` (unique slices) is not supported."""
    check_tensor("unique", input)
    if dim is not None:
        raise NotImplementedError("unique(): dim= (unique slices along a dim) is not supported; "
                                  "unique(input) gives the unique elements of the flattened input")
    data = input._data
    xp = xp_of(data)
    # equal_nan=False: every NaN is a value of its own, as in PyTorch (NumPy merges them by default)
    vals, inverse, counts = xp.unique(data.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False)
    out = [_const(vals)]
    if return_inverse:
        out.append(_const(inverse.reshape(data.shape).astype(np.int64, copy=False)))
    if return_counts:
        out.append(_const(counts.astype(np.int64, copy=False)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive elements (flattened), or of equal consecutive slices along
    dim: values, with return_inverse each element's (slice's) run index, with return_counts each
    run's length. Not differentiable; NaNs never equal each other, as in PyTorch."""
    check_tensor("unique_consecutive", input)
    data = input._data
    xp = xp_of(data)
    if dim is None:
        rows, shape = data.reshape(-1, 1), data.shape
    else:
        if data.ndim == 0:
            raise IndexError(f"unique_consecutive(): Dimension specified as {dim} but tensor has no dimensions")
        d = wrap_dim(dim, data.ndim, "unique_consecutive")
        moved = xp.moveaxis(data, d, 0)
        width = int(np.prod(moved.shape[1:], dtype=np.int64))  # explicit: -1 is ambiguous when empty
        rows, shape = moved.reshape(moved.shape[0], width), (moved.shape[0],)
    n = rows.shape[0]
    starts = xp.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = (rows[1:] != rows[:-1]).any(axis=1) if rows.shape[1] else False
    kept = rows[starts]
    if dim is None:
        vals = kept.reshape(-1)
    else:
        vals = xp.moveaxis(kept.reshape((kept.shape[0],) + moved.shape[1:]), 0, d)
    out = [_const(xp.ascontiguousarray(vals))]
    if return_inverse:
        out.append(_const((xp.cumsum(starts) - 1).reshape(shape).astype(np.int64)))
    if return_counts:
        first = xp.nonzero(starts)[0]
        out.append(_const(xp.diff(xp.concatenate([first, xp.asarray([n])])).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "unique", "unique_consecutive"]
