"""Reductions over dims: sum, mean, prod, max/min, var/std, norm, logsumexp, softmax, cumsum.

Backward passes are written with tensor ops, so they are differentiable again
(create_graph=True). Non-differentiable helpers of a backward (tie masks,
one-hot index masks, zero masks) enter it as constant tensors.
"""
from __future__ import annotations

import math
import warnings
from collections import namedtuple

import numpy as np

from .. import autocast_mode as _autocast
from .. import dtypes
from ..autograd.function import Op
from ..backend import xp_of
from ..fused import reduce as fused_reduce
from ..fused import softmax as fused_softmax
from ..tensor import Tensor
from ._util import accepts_axis, check_tensor, normalize_dims, wrap_dim
from .shape import Expand

_INT64 = np.dtype(np.int64)


def _keepdim_shape(shape, dims):
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _keep(t, shape, dims, keepdim):
    """`t` (a reduction result over `dims`) reshaped so it broadcasts against the input's `shape`."""
    if keepdim or len(dims) == len(shape) or dims == tuple(range(len(dims))):
        return t  # already keepdim-shaped, 0-d, or missing only leading dims
    return t.reshape(_keepdim_shape(shape, dims))


def _const(arr) -> Tensor:
    """A constant tensor (no grad) of an array; NumPy's 0-d math gives scalars, made arrays here."""
    if isinstance(arr, np.generic):
        arr = np.asarray(arr)
    return Tensor._make(arr, None, 0, None)


_ALL_DIMS = [tuple(range(n)) for n in range(8)]


def _dims(dim, ndim, op, empty_is_all=True):
    """normalize_dims; an empty tuple/list means all dims (all/any: none), as in PyTorch."""
    if dim is None:
        return _ALL_DIMS[ndim] if ndim < len(_ALL_DIMS) else tuple(range(ndim))
    if dim.__class__ in (tuple, list):
        if not dim:
            return tuple(range(ndim)) if empty_is_all else ()
        dims = tuple(wrap_dim(d, ndim, op) for d in dim)
        if len(set(dims)) != len(dims):
            dup = next(d for d in dims if dims.count(d) > 1)
            raise RuntimeError(f"{op}(): dim {dup} appears multiple times in the list of dims {list(dim)}")
        return tuple(sorted(dims)) if ndim else ()
    return normalize_dims(dim, ndim, op)


# PyTorch's names of scalar types, used in its error messages
_TORCH_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "uint8": "Byte",
                "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}


def _tname(t) -> str:
    return _TORCH_NAMES[t.dtype.name]


def _numel(shape, dims) -> int:
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _check_nonempty(op, shape, dims):
    for d in dims:
        if shape[d] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size; the input has "
                             f"shape {list(shape)}")


# ---------------------------------------------------------------- sum, mean, prod
class Sum(Op):
    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        if fused_reduce.uses_kernel(x, self.dims):  # CUDA bias gradients: one launch (fused/reduce.py)
            shape = _keepdim_shape(x.shape, self.dims) if self.keepdim else tuple(
                n for i, n in enumerate(x.shape) if i not in self.dims)
            return fused_reduce.sum_outer_inner(x, self.dims, shape)
        return x.sum(axis=self.dims, keepdims=self.keepdim, dtype=x.dtype)  # NumPy would widen int32

    def backward(self, grad):
        return Expand(self.in_shape)(_keep(grad, self.in_shape, self.dims, self.keepdim))


@_autocast.policy(cuda="float32")
def sum(input, dim=None, keepdim=False, *, dtype=None):
    check_tensor("sum", input)
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(dtypes.int64)  # PyTorch sums bool and integer tensors in int64
    return Sum(_dims(dim, input._data.ndim, "sum"), keepdim)(input)


class Mean(Op):
    def __init__(self, dims, keepdim, n):
        self.dims, self.keepdim, self.n = dims, keepdim, n

    def forward(self, x):
        self.in_shape = x.shape
        return x.sum(axis=self.dims, keepdims=self.keepdim) / (self.n or math.nan)  # empty: nan

    def backward(self, grad):
        grad = grad * (1.0 / self.n if self.n else math.nan)
        return Expand(self.in_shape)(_keep(grad, self.in_shape, self.dims, self.keepdim))


def mean(input, dim=None, keepdim=False, *, dtype=None):
    check_tensor("mean", input)
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                           f"point or complex dtype. Got: {_tname(input)}")
    shape = input._data.shape
    dims = _dims(dim, len(shape), "mean")
    return Mean(dims, keepdim, _numel(shape, dims))(input)


class Prod(Op):
    save_inputs = (0,)
    save_output = True

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        return x.prod(axis=self.dims, keepdims=self.keepdim, dtype=x.dtype)

    def backward(self, grad):
        x, y = self.saved_tensors
        shape, dims = self.in_shape, self.dims
        if not dims:
            return grad
        grad = _keep(grad, shape, dims, self.keepdim)
        # y / x is cheaper but 0 / 0 at zeros; asking whether there are any would synchronize on
        # CUDA, so there the product of the others (exact either way) is always used
        if x._data.__class__ is np.ndarray and not (x._data == 0).any():
            return grad * _keep(y, shape, dims, self.keepdim) / x
        # with zeros, result / x is 0 / 0: use the product of the other elements instead
        if len(dims) == 1:
            return grad * _ProdOthers(dims[0])(x)
        return grad * _ProdOthers(0)(x.reshape(-1)).reshape(shape)


class _ProdOthers(Op):
    """For each element along `dim`, the product of all the other elements (exact with zeros)."""

    save_inputs = (0,)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = xp_of(x)
        xm = xp.moveaxis(x, self.dim, -1)
        out = xp.ones_like(xm)
        if xm.shape[-1] > 1:
            out[..., 1:] = xp.cumprod(xm[..., :-1], axis=-1)  # product of the elements before
            out[..., :-1] *= xp.cumprod(xm[..., :0:-1], axis=-1)[..., ::-1]  # ... and after
        return xp.moveaxis(out, -1, self.dim)

    def backward(self, grad):
        # d out_i / d x_k = prod over j not in {i, k} of x_j; by the count of zeros in the row:
        # none or one (at k): (P/x_k) (sum_i g_i/x_i - g_k/x_k), with P the product of nonzeros;
        # one (elsewhere): P/x_k g_zero; two (at k): P g_other_zero; else 0.
        (x,) = self.saved_tensors
        d = self.dim
        xa = x._data
        zm = xa == 0
        zc = zm.sum(axis=d, keepdims=True)
        dt = xa.dtype
        nz = x * _const((~zm).astype(dt)) + _const(zm.astype(dt))  # zeros replaced by ones
        ratio = prod(nz, d, True) / nz
        m_a = (zc == 0) | ((zc == 1) & zm)
        m_b = (zc == 1) & ~zm
        m_c = (zc == 2) & zm
        g_zero = (grad * _const(zm.astype(dt))).sum(d, keepdim=True)
        terms = ((grad / nz).sum(d, keepdim=True) - grad / nz) * _const(m_a.astype(dt))
        on_host = xa.__class__ is np.ndarray  # on CUDA both terms are always added: no branch on data
        if not on_host or m_b.any():
            terms = terms + g_zero * _const(m_b.astype(dt))
        if not on_host or m_c.any():
            terms = terms + (g_zero - grad) * _const(m_c.astype(dt))
        return ratio * terms


@_autocast.policy(cuda="float32", cpu="float32")
def prod(input, dim=None, keepdim=False, *, dtype=None):
    check_tensor("prod", input)
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(dtypes.int64)
    nd = input._data.ndim
    dims = tuple(range(nd)) if dim is None else normalize_dims(wrap_dim(dim, nd, "prod"), nd, "prod")
    return Prod(dims, keepdim)(input)


# ---------------------------------------------------------------- max, min, argmax, argmin
_MaxResult = namedtuple("max", ["values", "indices"])
_MinResult = namedtuple("min", ["values", "indices"])


class Extreme(Op):
    """amax/amin over dims; the gradient is shared evenly among the elements equal to the result.

    `nan_ties`: NaN inputs count as equal to a NaN result (full max()/min(), as in PyTorch).
    """

    save_inputs = (0,)
    save_output = True

    def __init__(self, dims, keepdim, is_max, nan_ties=False):
        self.dims, self.keepdim, self.is_max, self.nan_ties = dims, keepdim, is_max, nan_ties

    def forward(self, x):
        self.in_shape = x.shape
        return (x.max if self.is_max else x.min)(axis=self.dims, keepdims=self.keepdim)

    def backward(self, grad):
        x, y = self.saved_tensors
        shape, dims = self.in_shape, self.dims
        xa, ya = x._data, y._data
        if not self.keepdim and xa.ndim:
            ya = ya.reshape(_keepdim_shape(shape, dims))
        mask = xa == ya
        if self.nan_ties:
            xp = xp_of(xa)
            mask = mask | (xp.isnan(xa) & xp.isnan(ya))
        count = mask.sum(axis=dims, keepdims=True)
        # no match (a NaN result without nan_ties): NaN, PyTorch's 0/0, without a 0/0 warning
        count = xp_of(xa).where(count == 0, math.nan, count)
        w = (mask / count).astype(xa.dtype, copy=False)
        return _keep(grad, shape, dims, self.keepdim) * _const(w)


class ExtremeDim(Op):
    """max/min along one dim, returning values; the indices are kept in ctx_arrays."""

    def __init__(self, dim, keepdim, is_max):
        self.dim, self.keepdim, self.is_max = dim, keepdim, is_max

    def forward(self, x):
        xp = xp_of(x)
        d = self.dim
        self.in_shape = x.shape
        idx = (x.argmax if self.is_max else x.argmin)(axis=d, keepdims=True)
        self.ctx_arrays = (idx,)
        values = xp.take_along_axis(x, idx, axis=d)
        return values if self.keepdim else values.squeeze(d)

    def backward(self, grad):
        (idx,) = self.saved_arrays
        xp = xp_of(idx)
        d, shape = self.dim, self.in_shape
        pos = xp.arange(shape[d]).reshape((-1,) + (1,) * (len(shape) - d - 1))
        onehot = (pos == idx).astype(grad._data.dtype)
        if not self.keepdim:
            grad = grad.reshape(_keepdim_shape(shape, (d,)))
        return grad * _const(onehot)


class ArgExtreme(Op):
    differentiable = False

    def __init__(self, dim, keepdim, is_max):
        self.dim, self.keepdim, self.is_max = dim, keepdim, is_max

    def forward(self, x):
        fn = x.argmax if self.is_max else x.argmin
        if self.dim is None:
            out = fn()
            if self.keepdim:
                out = out.reshape((1,) * x.ndim)
        else:
            out = fn(axis=self.dim, keepdims=self.keepdim)
        return xp_of(x).asarray(out, dtype=_INT64)


def _minmax(op, input, dim, keepdim, other, is_max):
    if other is not None or isinstance(dim, Tensor):
        other = dim if other is None else other
        from . import arithmetic
        return (arithmetic.maximum if is_max else arithmetic.minimum)(input, other)
    check_tensor(op, input)
    shape = input._data.shape
    if dim is None:
        if keepdim:
            raise TypeError(f"{op}(): keepdim=True needs a dim: use {op}(input, dim, keepdim=True) or "
                            f"a{op}(input, keepdim=True)")
        if input._data.size == 0:
            raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0. "
                               f"Specify the reduction dim with the 'dim' argument.")
        return Extreme(tuple(range(len(shape))), False, is_max, True)(input)
    d = wrap_dim(dim, len(shape), op)
    result = _MaxResult if is_max else _MinResult
    if not shape:  # 0-d: the value itself, index 0
        from .shape import clone
        return result(clone(input), _const(xp_of(input._data).zeros((), dtype=_INT64)))
    _check_nonempty(op, shape, (d,))
    op_ = ExtremeDim(d, keepdim, is_max)
    values = op_(input)
    idx = op_.ctx_arrays[0]
    if values._node is op_:  # backward keeps its own copy: the returned indices may be changed in place
        op_.ctx_arrays = (idx.copy(),)
    return result(values, _const(idx if keepdim else idx.squeeze(d)))


def max(input, dim=None, keepdim=False, *, other=None):
    """max(input) -> 0-d max; max(input, dim, keepdim) -> (values, indices); max(input, other)."""
    return _minmax("max", input, dim, keepdim, other, True)


def min(input, dim=None, keepdim=False, *, other=None):
    """min(input) -> 0-d min; min(input, dim, keepdim) -> (values, indices); min(input, other)."""
    return _minmax("min", input, dim, keepdim, other, False)


def _amaxmin(op, input, dim, keepdim, is_max):
    check_tensor(op, input)
    shape = input._data.shape
    dims = _dims(dim, len(shape), op)
    _check_nonempty(op, shape, dims)
    return Extreme(dims, keepdim, is_max)(input)


def amax(input, dim=(), keepdim=False):
    return _amaxmin("amax", input, dim, keepdim, True)


def amin(input, dim=(), keepdim=False):
    return _amaxmin("amin", input, dim, keepdim, False)


def _arg(op, input, dim, keepdim, is_max):
    check_tensor(op, input)
    data = input._data
    if data.dtype == np.bool_:
        raise RuntimeError(f"{op}(): does not support bool input; convert it with .long() first")
    if dim is None:
        if data.size == 0:
            raise IndexError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0.")
        return ArgExtreme(None, keepdim, is_max)(input)
    d = wrap_dim(dim, data.ndim, op)
    if data.ndim == 0:
        return ArgExtreme(None, False, is_max)(input)
    _check_nonempty(op, data.shape, (d,))
    return ArgExtreme(d, keepdim, is_max)(input)


def argmax(input, dim=None, keepdim=False):
    return _arg("argmax", input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):
    return _arg("argmin", input, dim, keepdim, False)


# ---------------------------------------------------------------- var, std
class Var(Op):
    save_inputs = (0,)

    def __init__(self, dims, correction, keepdim, n, all_dims, sqrt):
        self.dims, self.correction, self.keepdim = dims, correction, keepdim
        self.n, self.all_dims, self.sqrt = n, all_dims, sqrt
        self.save_output = sqrt

    def forward(self, x):
        self.in_shape = x.shape
        fn = x.std if self.sqrt else x.var
        if self.n - self.correction > 0:
            return fn(axis=self.dims, ddof=self.correction, keepdims=self.keepdim)
        # No degrees of freedom: PyTorch divides the sum of squares by max(0, n - correction) = 0,
        # giving inf (nan where the sum is 0). NumPy's var does too, but CuPy's multiplies by a
        # factor it sets to nan there (nan everywhere), so divide by 0 here, alike on every device.
        xp = xp_of(x)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            ss = xp.square(x - x.mean(axis=self.dims, keepdims=True)).sum(axis=self.dims, keepdims=self.keepdim)
            v = xp.true_divide(ss, x.dtype.type(0))
            return xp.sqrt(v) if self.sqrt else v

    def backward(self, grad):
        saved = self.saved_tensors
        x = saved[0]
        shape, dims, keepdim = self.in_shape, self.dims, self.keepdim
        grad = _keep(grad, shape, dims, keepdim)
        if self.sqrt:  # d std = d var / (2 std), and 0 where std == 0
            y = _keep(saved[1], shape, dims, keepdim)
            zero = y._data == 0
            dt = y._data.dtype
            grad = grad * _const((~zero).astype(dt)) / (y * 2 + _const(zero.astype(dt)))
        dof = self.n - self.correction
        centered = x - mean(x, dims, True)
        if dof <= 0 and self.all_dims:  # PyTorch: nan where x equals the mean, inf elsewhere
            xa = x._data
            inf = xp_of(xa).where(centered._data == 0, math.nan, math.inf).astype(xa.dtype)
            return grad * _const(inf)
        return grad * (2.0 / dof if dof else math.inf) * centered


def _var_args(op, input, dim, unbiased, keepdim, correction):
    check_tensor(op, input)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}(): std and var only support floating point and complex dtypes, got "
                           f"{_tname(input)}")
    if isinstance(dim, bool):  # var(input, unbiased)
        if unbiased is not None:
            raise TypeError(f"{op}(): got unbiased twice (as the second argument and as unbiased=)")
        dim, unbiased = None, dim
    if unbiased is not None:
        if correction is not None:
            raise TypeError(f"{op}(): pass only one of unbiased and correction (correction=0 is "
                            f"unbiased=False, correction=1 is unbiased=True)")
        correction = 1 if unbiased else 0
    elif correction is None:
        correction = 1
    shape = input._data.shape
    dims = _dims(dim, len(shape), op)
    n = _numel(shape, dims)
    if n - correction <= 0:
        warnings.warn(f"{op}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                      f"reduction factor (input numel divided by output numel).", UserWarning, stacklevel=3)
    return Var(dims, correction, keepdim, n, dim is None or not shape, op == "std")


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """var(input, dim=None, *, correction=1, keepdim=False), or legacy var(input, dim, unbiased, keepdim)."""
    return _var_args("var", input, dim, unbiased, keepdim, correction)(input)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """std(input, dim=None, *, correction=1, keepdim=False), or legacy std(input, dim, unbiased, keepdim)."""
    return _var_args("std", input, dim, unbiased, keepdim, correction)(input)


# ---------------------------------------------------------------- norm
def _sgn(a):
    """sign(a) with sign(NaN) = 0, as PyTorch's sgn."""
    return (a > 0).astype(a.dtype) - (a < 0)


def _abspow(x, e):
    a = xp_of(x).abs(x)
    if e >= 0:
        return a ** x.dtype.type(e)
    with np.errstate(divide="ignore"):  # 0 ** negative is inf, quietly as in PyTorch
        return a ** x.dtype.type(e)


class _AbsPow(Op):
    """|x| ** e, differentiable to any order (norm's backward uses it)."""

    save_inputs = (0,)

    def __init__(self, e):
        self.e = e

    def forward(self, x):
        return _abspow(x, self.e)

    def backward(self, grad):
        if self.e == 0:
            return None
        (x,) = self.saved_tensors
        return grad * _const(_sgn(x._data)) * _AbsPow(self.e - 1)(x) * self.e


class Norm(Op):
    save_inputs = (0,)
    save_output = True

    def __init__(self, p, dims, keepdim):
        self.p, self.dims, self.keepdim = p, dims, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        xp = xp_of(x)
        p, axis, keep = self.p, self.dims, self.keepdim
        if p == 2:
            return xp.sqrt((x * x).sum(axis=axis, keepdims=keep))
        if p == 1:
            return xp.abs(x).sum(axis=axis, keepdims=keep)
        if p == math.inf:
            return xp.abs(x).max(axis=axis, keepdims=keep)
        if p == -math.inf:
            return xp.abs(x).min(axis=axis, keepdims=keep)
        if p == 0:
            return (x != 0).sum(axis=axis, keepdims=keep, dtype=x.dtype)
        return _abspow(x, p).sum(axis=axis, keepdims=keep) ** x.dtype.type(1 / p)

    def backward(self, grad):
        x, y = self.saved_tensors
        p, shape, dims = self.p, self.in_shape, self.dims
        if p == 0:
            return None
        xa = x._data
        xp = xp_of(xa)
        dt = xa.dtype
        grad = _keep(grad, shape, dims, self.keepdim)
        if p == 1:
            return grad * _const(_sgn(xa))
        y = _keep(y, shape, dims, self.keepdim)
        if math.isinf(p):  # amax/amin of |x|: shared evenly among ties, NaNs count as ties
            ax = xp.abs(xa)
            mask = (ax == y._data) | xp.isnan(ax)
            w = _sgn(xa) * mask / mask.sum(axis=dims, keepdims=True)
            return grad * _const(w.astype(dt, copy=False))
        yzero = y._data == 0
        ynz, yz = _const((~yzero).astype(dt)), _const(yzero.astype(dt))
        if p == 2:  # 0 where the norm is 0 (the subgradient PyTorch picks)
            return grad * x / (y + yz) * ynz
        if p < 1:
            xzero = xa == 0
            scaled = _const(_sgn(xa)) * _AbsPow(p - 1)(x + _const(xzero.astype(dt)))
            return scaled * grad * _AbsPow(1 - p)(y)
        if p < 2:
            scaled = _const(_sgn(xa)) * _AbsPow(p - 1)(x)
        else:
            scaled = x * _AbsPow(p - 2)(x)
        return scaled * (grad * ynz / _AbsPow(p - 1)(y + yz))


@_autocast.policy(cuda="float32")
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    check_tensor("norm", input)
    if isinstance(p, str):
        if p == "fro":
            if dim.__class__ in (tuple, list) and len(dim) > 2:
                raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                                   f"{' '.join(str(d) for d in dim)}")
            p = 2
        elif p == "nuc":  # the sum of singular values: linalg's matrix_norm over dim (default: the only two)
            from ..linalg import matrix_norm
            nd = input._data.ndim
            if dim is None and nd != 2 or dim is not None and (dim.__class__ not in (tuple, list) or len(dim) != 2):
                got = " ".join(str(d) for d in (range(nd) if dim is None else (
                    dim if dim.__class__ in (tuple, list) else (dim,))))
                raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {got}")
            return matrix_norm(input, "nuc", (0, 1) if dim is None else tuple(dim), keepdim, dtype=dtype)
        else:
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
    elif p is None:
        p = 2
    p = float(p)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_tname(input)}")
    if dtype is not None:
        dt = dtypes.as_dtype(dtype)
        if not dt.is_floating_point:
            raise RuntimeError(f"linalg.vector_norm: dtype should be floating point or complex, but got "
                               f"{_TORCH_NAMES[dt.name]}")
        input = input.to(dt)
    shape = input._data.shape
    dims = _dims(dim, len(shape), "norm")
    if (p < 0 or math.isinf(p)) and _numel(shape, dims) == 0:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p:g} norm on an empty tensor because "
                           f"the operation does not have an identity")
    return Norm(p, dims, keepdim)(input)


# ---------------------------------------------------------------- logsumexp, softmax, log_softmax
def _shifted(x, axis):
    """x minus its max along `axis`, and where that max is infinite.

    Subtracting the max keeps exp in range. A row whose max is +-inf is shifted
    by NaN instead, which quietly gives the NaN that PyTorch's softmax gives
    there (inf - inf would warn).
    """
    xp = xp_of(x)
    m = x.max(axis=axis, keepdims=True)
    inf = xp.isinf(m)
    return xp.asarray(x - xp.where(inf, x.dtype.type(math.nan), m)), m, inf  # an array even when 0-d


class LogSumExp(Op):
    save_inputs = (0,)
    save_output = True

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        xp = xp_of(x)
        dims, keep = self.dims, self.keepdim
        out_shape = _keepdim_shape(x.shape, dims) if keep else tuple(
            n for i, n in enumerate(x.shape) if i not in dims)
        if _numel(x.shape, dims) == 0:  # exp sums to 0 over nothing
            return xp.full(out_shape, -math.inf, x.dtype)
        s, m, inf = _shifted(x, dims)
        xp.exp(s, out=s)
        out = xp.log(s.sum(axis=dims, keepdims=True)) + m
        return xp.where(inf, m, out).reshape(out_shape)  # an infinite max is the result

    def backward(self, grad):
        x, y = self.saved_tensors
        shape, dims, keep = self.in_shape, self.dims, self.keepdim
        return _keep(grad, shape, dims, keep) * (x - _keep(y, shape, dims, keep)).exp()


@_autocast.policy(cuda="float32")
def logsumexp(input, dim, keepdim=False):
    check_tensor("logsumexp", input)
    if dim is None:
        raise TypeError("logsumexp(): argument 'dim' must be tuple of ints, not NoneType")
    if input._data.dtype.kind != "f":
        from .convert import cast
        input = cast(input, dtypes.get_default_dtype().np)  # PyTorch computes integers in float
    return LogSumExp(_dims(dim, input._data.ndim, "logsumexp"), keepdim)(input)


class Softmax(Op):
    """softmax along one dim: one fused kernel launch on CUDA (fused/softmax.py)."""

    save_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        return fused_softmax.softmax_forward(x, self.dim)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return SoftmaxBackward(self.dim)(y, grad)


class SoftmaxBackward(Op):
    """dx = y * (g - sum(g * y)) from softmax's output y, in one fused op. Recorded under
    create_graph=True, where its own backward (tensor ops) gives the second derivatives."""

    save_inputs = (0, 1)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, y, grad):
        return fused_softmax.softmax_backward(y, grad, self.dim)

    def backward(self, gg):
        y, grad = self.saved_tensors
        ny, ng = self.needs_input_grad
        dim = self.dim
        gy = None
        if ny:  # d/dy_j: gg_j (g_j - sum(g y)) - g_j sum(gg y)
            gy = gg * (grad - (grad * y).sum(dim, keepdim=True)) - grad * (gg * y).sum(dim, keepdim=True)
        return gy, (SoftmaxBackward(dim)(y, gg) if ng else None)  # linear in g, self-adjoint


class LogSoftmax(Op):
    """log_softmax along one dim: one fused kernel launch on CUDA (fused/softmax.py)."""

    save_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        return fused_softmax.log_softmax_forward(x, self.dim)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return LogSoftmaxBackward(self.dim)(y, grad)


class LogSoftmaxBackward(Op):
    """dx = g - exp(y) * sum(g) from log_softmax's output y, in one fused op. Recorded under
    create_graph=True, where its own backward (tensor ops) gives the second derivatives."""

    save_inputs = (0, 1)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, y, grad):
        return fused_softmax.log_softmax_backward(y, grad, self.dim)

    def backward(self, gg):
        y, grad = self.saved_tensors
        ny, ng = self.needs_input_grad
        dim = self.dim
        ggp = gg * y.exp()
        gy = -ggp * grad.sum(dim, keepdim=True) if ny else None  # d/dy_j: -gg_j exp(y_j) sum(g)
        gg_ = gg - ggp.sum(dim, keepdim=True) if ng else None    # d/dg_j: gg_j - sum(gg exp(y))
        return gy, gg_


def _softmax_args(op, input, dim, dtype):
    check_tensor(op, input)
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"{op}(): not implemented for '{_tname(input)}' input; "
                                  f"pass dtype=tensorgrad.float32 or convert the input with .float()")
    nd = input._data.ndim
    if dim is None:
        raise TypeError(f"{op}(): missing the required argument 'dim' (the dim to normalize over)")
    d = wrap_dim(dim, nd, op)
    return input, (d if nd else None)


@_autocast.policy(cuda="float32")
def softmax(input, dim, dtype=None):
    input, d = _softmax_args("softmax", input, dim, dtype)
    return Softmax(d)(input)


@_autocast.policy(cuda="float32")
def log_softmax(input, dim, dtype=None):
    input, d = _softmax_args("log_softmax", input, dim, dtype)
    return LogSoftmax(d)(input)


# ---------------------------------------------------------------- all, any
class _AllAny(Op):
    differentiable = False

    def __init__(self, dims, keepdim, is_all):
        self.dims, self.keepdim, self.is_all = dims, keepdim, is_all

    def forward(self, x):
        out = (x.all if self.is_all else x.any)(axis=self.dims, keepdims=self.keepdim)
        return out.astype(np.uint8) if x.dtype == np.uint8 else out  # PyTorch keeps uint8


def all(input, dim=None, keepdim=False):
    check_tensor("all", input)
    return _AllAny(_dims(dim, input._data.ndim, "all", False), keepdim, True)(input)


def any(input, dim=None, keepdim=False):
    check_tensor("any", input)
    return _AllAny(_dims(dim, input._data.ndim, "any", False), keepdim, False)(input)


# ---------------------------------------------------------------- cumsum
class Cumsum(Op):
    def __init__(self, dim):
        self.dim = dim  # None for a 0-d input

    def forward(self, x):
        if self.dim is None:
            return x.copy()
        return x.cumsum(axis=self.dim, dtype=x.dtype)

    def backward(self, grad):
        return _RevCumsum(self.dim)(grad)


class _RevCumsum(Op):
    """Cumulative sum from the end: cumsum's backward (and cumsum is its backward)."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        d = self.dim
        if d is None:
            return x.copy()
        xp = xp_of(x)
        return xp.flip(xp.cumsum(xp.flip(x, d), axis=d), d)

    def backward(self, grad):
        return Cumsum(self.dim)(grad)


@_autocast.policy(cuda="float32")
def cumsum(input, dim, *, dtype=None):
    check_tensor("cumsum", input)
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(dtypes.int64)
    nd = input._data.ndim
    d = wrap_dim(dim, nd, "cumsum")
    return Cumsum(d if nd else None)(input)


# axis= as an alias of dim=, as PyTorch accepts it
for _name in ("sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std", "norm",
              "logsumexp", "softmax", "log_softmax", "all", "any", "cumsum"):
    globals()[_name] = accepts_axis(globals()[_name])
del _name

__all__ = ['sum', 'mean', 'prod', 'max', 'min', 'amax', 'amin', 'argmax', 'argmin', 'var', 'std', 'norm',
           'logsumexp', 'softmax', 'log_softmax', 'all', 'any', 'cumsum']
