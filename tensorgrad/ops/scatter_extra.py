"""More scatters, with PyTorch's semantics: scatter_reduce, masked_scatter, put.

Each writes values into a copy of input at positions it addresses; the in-place forms
(Tensor.scatter_reduce_, masked_scatter_, put_) are these through Tensor._inplace.

- masked_scatter and put address their positions by a mask / by flat indices: they are
  index.py's IndexPut at those positions, so gradients and double backward are IndexPut's.
- scatter_reduce combines every src value sent to a position (and, with include_self, the
  value already there) by sum, prod, mean, amax or amin: one op of its own, ScatterReduce,
  whose backward follows PyTorch's formulas (prod: exclusive products, so zeros are handled;
  amax/amin: the gradient split evenly among the values equal to the result).

Index and shape checks are the ones gather/scatter use (index.py), so errors read alike.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Op, check_same_device
from ..backend import xp_of
from ..tensor import Tensor
from ._pointwise import _const
from ._util import check_tensor, wrap_dim
from .arithmetic import where
from .index import (Index, IndexPut, _along_dim, _check_bounds, _check_index_shape, _index_arg, _mask_arg,
                    getitem, masked_fill)
from .shape import expand, reshape

_REDUCES = ("sum", "prod", "mean", "amax", "amin")
_COMBINE = {"prod": "multiply", "amax": "maximum", "amin": "minimum"}  # the ufunc folding repeats


# ---------------------------------------------------------------- scatter_reduce
def _identity(reduce: str, dtype):
    """The value a position starts from when include_self=False leaves input out of the reduction."""
    if reduce in ("sum", "mean"):
        return dtype.type(0)
    if reduce == "prod":
        return dtype.type(1)
    if dtype.kind == "b":
        return dtype.type(reduce == "amin")  # amax starts from False, amin from True
    if dtype.kind == "f":
        return dtype.type(-np.inf if reduce == "amax" else np.inf)
    info = np.iinfo(dtype)
    return dtype.type(info.min if reduce == "amax" else info.max)


def _counts(key, shape, dtype, include_self, xp):
    """How many values each position's mean is over (at least 1, as PyTorch divides)."""
    n = xp.full(shape, 1 if include_self else 0, dtype=dtype)
    xp.add.at(n, key, xp.ones(np.broadcast_shapes(*(k.shape for k in key)), dtype=dtype))
    return xp.maximum(n, dtype.type(1))


def _linear(key, shape, xp):
    """The flat (C-order) positions the index arrays `key` address, one per index entry."""
    lin = xp.zeros((), dtype=np.int64)
    for k, n in zip(key, shape):
        lin = lin * n + k
    return lin


def _combine_at(out, key, src, ufunc) -> None:
    """out[key] = ufunc(out[key], src) with repeated positions all combined, like ufunc.at.

    CuPy has no multiply.at, so repeats are folded without it, the same way on every device:
    sort by target position, then a tree reduction within each run of equal positions (log2(m)
    passes of elementwise ops), and one write per distinct position.
    """
    xp = xp_of(out)
    lin = xp.broadcast_to(_linear(key, out.shape, xp), src.shape).reshape(-1)
    m = lin.size
    if not m:
        return
    order = xp.argsort(lin)
    lin, v = lin[order], src.reshape(-1)[order]
    i = xp.arange(m, dtype=np.int64)
    off = i - xp.searchsorted(lin, lin)  # position within the run of equal targets
    step = 1
    while step < m:  # after this pass, run offsets divisible by 2*step hold their block's result
        j = xp.minimum(i + step, m - 1)
        fold = (off % (2 * step) == 0) & (i + step < m) & (lin[j] == lin)
        v = xp.where(fold, ufunc(v, v[j]), v)
        step *= 2
    head = off == 0
    flat = out.reshape(-1)  # out is a fresh C-contiguous copy: this is a view of it
    at = lin[head]
    flat[at] = ufunc(flat[at], v[head])


class ScatterReduce(Op):
    """A copy of x with src reduced into the positions the index arrays `key` address."""

    def __init__(self, key, reduce, include_self):
        self.ctx_arrays = key
        self.reduce, self.include_self = reduce, include_self
        if reduce in _COMBINE:  # these backwards read the values; sum and mean need none
            self.save_inputs, self.save_output = (0, 1), True

    def forward(self, x, src):
        xp = xp_of(x)
        key = self.ctx_arrays
        out = x.copy()
        if not self.include_self:
            out[key] = _identity(self.reduce, x.dtype)
        if self.reduce in _COMBINE:
            _combine_at(out, key, src, getattr(xp, _COMBINE[self.reduce]))
            return out
        xp.add.at(out, key, src)
        if self.reduce == "mean":
            if x.dtype.kind == "f":
                return out / _counts(key, x.shape, x.dtype, self.include_self, xp)
            n = _counts(key, x.shape, np.dtype(np.int64), self.include_self, xp)
            return xp.floor_divide(out, n).astype(x.dtype)  # integers: floor division, as PyTorch
        return out

    def backward(self, grad):
        key, reduce, include_self = self.saved_arrays, self.reduce, self.include_self
        positions = tuple(range(len(key)))
        xp, g = xp_of(grad._data), grad._data

        def gather(t):  # t at the positions src was sent to: index-shaped
            return Index((Ellipsis,), positions, key)(t)

        if reduce == "sum":
            gx, gsrc = grad, (gather(grad) if self.needs_input_grad[1] else None)
        elif reduce == "mean":
            gx = grad / _const(_counts(key, g.shape, g.dtype, include_self, xp))
            gsrc = gather(gx) if self.needs_input_grad[1] else None
        elif reduce == "prod":
            gx, gsrc = self._prod_grads(grad, gather)
        else:  # amax / amin: shared evenly by the values equal to the result, input's included
            x, src, out = (t._data for t in self.saved_tensors)
            x_is = (x == out).astype(g.dtype)
            src_is = (src == out[key]).astype(g.dtype)
            n = x_is.copy()
            xp.add.at(n, key, src_is)
            # as PyTorch: input's own tie counts even with include_self=False (its gradient is zeroed below)
            share = grad / _const(n)
            gx = share * _const(x_is)
            gsrc = gather(share) * _const(src_is) if self.needs_input_grad[1] else None
        if not include_self and self.needs_input_grad[0]:
            gx = IndexPut((Ellipsis,), positions, key, False)(gx, g.dtype.type(0))  # input was not used there
        return (gx if self.needs_input_grad[0] else None), gsrc

    def _prod_grads(self, grad, gather):
        """d(prod)/d(value) = the product of the others: result / value where value != 0; where it
        is 0, the product recomputed with that value replaced by 1 (PyTorch's formula)."""
        x, src, out = self.saved_tensors
        key, include_self = self.saved_arrays, self.include_self
        xp, xd, sd = xp_of(x._data), x._data, src._data
        gx = gsrc = None
        if self.needs_input_grad[0]:
            x1 = masked_fill(x, _const(xd == 0), 1)
            gx = grad * ScatterReduce(key, "prod", include_self)(x1, src) / x1
        if self.needs_input_grad[1]:
            zero = sd == 0
            zeros_at = xp.zeros(xd.shape, dtype=np.int64)
            xp.add.at(zeros_at, key, zero.astype(np.int64))
            lone = zero & (zeros_at[key] == 1)  # the only zero sent to its position
            others = ScatterReduce(key, "prod", include_self)(x, masked_fill(src, _const(lone), 1))
            gsrc = where(_const(lone), gather(grad * others),
                         gather(grad * out) / masked_fill(src, _const(zero), 1))
        return gx, gsrc


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """A copy of input with each src[i][j] (for dim=0) reduced into position [index[i][j]][j]
    by `reduce` ("sum", "prod", "mean", "amax" or "amin"), together with input's own value there
    unless include_self=False. Positions no index points at keep input's value."""
    op = "scatter_reduce"
    check_tensor(op, input)
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}(): argument 'src' must be a Tensor, not {type(src).__name__}")
    if reduce not in _REDUCES:
        raise RuntimeError(f"{op}(): reduce argument must be either sum, prod, mean, amax or amin, got {reduce!r}")
    idx = _index_arg(op, index, input)  # int64 or int32, as PyTorch takes here
    check_same_device(op, [input._data, src._data])
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape), op)
    dt = input._data.dtype
    if src._data.dtype != dt:
        raise RuntimeError(f"{op}(): expected self.dtype to be equal to src.dtype, got {input.dtype} and "
                           f"{src.dtype}")
    if reduce == "mean" and dt == np.bool_:
        raise RuntimeError(f"{op}(): reduce='mean' is not implemented for bool tensors; convert with .long() "
                           f"or .float() first")
    _check_index_shape(op, idx, dim, shape, src._data.shape)
    if src._data.shape != idx.shape:  # only the index-shaped corner of src is used
        src = reshape(src, (1,)) if src._data.ndim == 0 else src
        src = reshape(getitem(src, tuple(slice(0, n) for n in idx.shape or (1,))), idx.shape)
    x = reshape(input, (1,)) if not shape else input
    idx = _check_bounds(idx, x._data.shape[dim], dim, f"{op}(): ", RuntimeError, negative=False)
    out = ScatterReduce(_along_dim(idx, dim, x._data.ndim), reduce, bool(include_self))(x, src)
    return reshape(out, ()) if not shape else out


# ---------------------------------------------------------------- masked_scatter, put
class MaskedScatter(IndexPut):  # PyTorch's grad_fn names
    pass


class Put(IndexPut):
    pass


def _source_arg(op: str, source, input):
    if not isinstance(source, Tensor):
        raise TypeError(f"{op}(): argument 'source' must be a Tensor, not {type(source).__name__}")
    check_same_device(op, [input._data, source._data])
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"{op}(): expected self and source to have the same dtype, but got self.dtype = "
                           f"{input.dtype} and source.dtype = {source.dtype}")
    return source


def masked_scatter(input, mask, source):
    """A copy of input (broadcast with the bool mask) with source's first values, in row-major
    order, written where mask is True."""
    op = "masked_scatter"
    check_tensor(op, input)
    _source_arg(op, source, input)
    out_shape = _mask_arg(op, mask, input)
    shape = out_shape or (1,)  # a 0-d input is scattered as 1-D
    m = xp_of(mask._data).broadcast_to(mask._data, shape)
    if input._data.shape != shape:
        input = expand(input, shape)
    arrays = tuple(a.astype(np.int64, copy=False) for a in xp_of(m).nonzero(m))
    k, n = int(arrays[0].size), source.numel()
    if n < k:
        raise RuntimeError(f"{op}(): expected source to have at least as many elements as ones in mask, but "
                           f"source has {n} and mask {k}")
    values = reshape(source, (-1,))
    if n != k:
        values = getitem(values, slice(0, k))
    out = MaskedScatter((Ellipsis,), tuple(range(len(shape))), arrays, False)(input, values)
    return out if out_shape else reshape(out, ())


def put(input, index, source, accumulate=False):
    """A copy of input with source's values written (accumulate: added) at the flat, row-major
    positions `index` of input; negative indices count from the end."""
    op = "put"
    check_tensor(op, input)
    idx = _index_arg(op, index, input, (np.dtype(np.int64),))
    _source_arg(op, source, input)
    if source.numel() != idx.size:
        raise IndexError(f"{op}(): expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {idx.size}")
    n = input.numel()
    idx = _check_bounds(idx.reshape(-1), n, 0, f"{op}(): ", IndexError, negative=True)
    out = Put((Ellipsis,), (0,), (idx,), bool(accumulate))(reshape(input, (n,)), reshape(source, (-1,)))
    return reshape(out, input._data.shape)


__all__ = ["scatter_reduce", "masked_scatter", "put"]
