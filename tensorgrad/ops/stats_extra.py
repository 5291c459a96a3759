"""More reductions and statistics, PyTorch's: NaN-ignoring reductions (nansum, nanmean,
nanmedian, nanquantile), quantile, mode, cummax/cummin, aminmax, cov/corrcoef, trapezoid rules,
dist, renorm, isin, combinations and cartesian_prod (histc and histogram are in histogram.py).

Almost everything is composed of existing differentiable ops, so the backward comes for free.
Where a result *selects* input elements (mode, nanmedian, cummax, quantile's neighbours), the
positions are found on raw arrays and the values are a `gather` of the input at them: the
gradient goes to the element taken, as in PyTorch, and double backward works too.
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..autograd.function import Op, check_same_device
from ..backend import argsort_stable, xp_of
from ..tensor import Tensor
from ._util import check_tensor, is_scalar, wrap_dim
from .arithmetic import where
from .index import gather, index_select
from .reduce import amax, amin, norm, sum as _sum
from .sort import sort
from .stats import median

_ModeResult = namedtuple("mode", ["values", "indices"])
_NanmedianResult = namedtuple("nanmedian", ["values", "indices"])
_CummaxResult = namedtuple("cummax", ["values", "indices"])
_CumminResult = namedtuple("cummin", ["values", "indices"])
_AminmaxResult = namedtuple("aminmax", ["min", "max"])

_TORCH_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char", "uint8": "Byte",
                "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}


def _tname(t) -> str:
    return _TORCH_NAMES.get(t._data.dtype.name, t._data.dtype.name)


def _const(arr) -> Tensor:
    return Tensor._make(arr, None, 0, None)


def _index0(t) -> Tensor:
    """The int64 index 0 as a 0-d tensor on t's device (the index of a 0-d input's only value)."""
    return _const(xp_of(t._data).zeros((), np.int64))


def _is_float(t) -> bool:
    return t._data.dtype.kind == "f"


# ---------------------------------------------------------------- NaN-ignoring sum and mean
class _ZeroNaN(Op):
    """x with NaNs replaced by 0. The backward multiplies by the not-NaN mask (rather than
    selecting), as PyTorch's nansum does: an infinite incoming gradient gives NaN at a NaN."""

    def forward(self, x):
        nan = xp_of(x).isnan(x)
        self.ctx_arrays = (~nan,)
        return xp_of(x).where(nan, x.dtype.type(0), x)

    def backward(self, grad):
        (keep,) = self.saved_arrays
        return grad * _const(keep.astype(grad._data.dtype))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum treating NaN as zero; the gradient at a NaN is 0."""
    check_tensor("nansum", input)
    if _is_float(input):
        input = _ZeroNaN()(input)
    return _sum(input, dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of the non-NaN elements (NaN where there are none)."""
    check_tensor("nanmean", input)
    if dtype is not None:
        input = input.to(dtype)
    if not _is_float(input):
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{_tname(input)}")
    count = _sum(input.isnan().logical_not(), dim, keepdim).to(input.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):  # no non-NaN values: NaN, quietly as PyTorch
        return nansum(input, dim, keepdim) / count


# ---------------------------------------------------------------- selections: nanmedian, mode
class _SharedAmongEqual(Op):
    """A value chosen from all of x (a full median): its gradient is shared evenly among the
    elements equal to it (NaNs, if it is NaN), as PyTorch's full-reduction median does."""

    def __init__(self, value):
        self.value = value

    def forward(self, x):
        xp = xp_of(x)
        v = self.value
        mask = (x == v) | (xp.isnan(x) & xp.isnan(v))
        self.ctx_arrays = ((mask / mask.sum()).astype(x.dtype),)
        return v.copy()

    def backward(self, grad):
        (w,) = self.saved_arrays
        return grad * _const(w)


def _select_along(input, d, idx, keepdim, result):
    """(values, indices) of `input` at the keepdim-shaped int64 positions `idx` along dim d."""
    vals = gather(input, d, _const(idx))
    if not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    return result(vals, _const(idx))


def _reduce_dim(op, input, dim):
    """dim wrapped; a 0-d input takes dim 0 or -1. Raises for an empty reduced dim."""
    d = wrap_dim(dim, input._data.ndim, op)
    if input._data.ndim and input._data.shape[d] == 0:
        raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size; the input has shape "
                         f"{list(input.shape)}")
    return d


def nanmedian(input, dim=None, keepdim=False):
    """The lower median of the non-NaN values: of all elements, or (values, indices) along dim.
    A slice of NaNs only has median NaN (index of its first NaN)."""
    check_tensor("nanmedian", input)
    if not _is_float(input):
        return median(input, dim, keepdim)  # no NaN to skip
    if dim is None:
        if input.numel() == 0:
            raise IndexError("nanmedian() input tensor cannot be empty")
        value = nanmedian(input.detach().reshape(-1), 0).values._data
        return _SharedAmongEqual(value)(input)
    d = _reduce_dim("nanmedian", input, dim)
    if input.dim() == 0:
        return _NanmedianResult(input.clone(), _index0(input))
    x = input._data
    xp = xp_of(x)
    order = argsort_stable(x, d).astype(np.int64, copy=False)  # NaN last
    count = (~xp.isnan(x)).sum(axis=d, keepdims=True)
    pos = xp.maximum(count - 1, 0) // 2  # the lower middle of the non-NaN values; all NaN: the first NaN
    return _select_along(input, d, xp.take_along_axis(order, pos, axis=d), keepdim, _NanmedianResult)


def mode(input, dim=-1, keepdim=False):
    """(values, indices): the most frequent value along dim (the smallest of equally frequent
    ones) and the index of its last occurrence, as PyTorch on the CPU. NaNs count as one value.
    The gradient goes to that occurrence."""
    check_tensor("mode", input)
    d = _reduce_dim("mode", input, dim)
    if input.dim() == 0:
        return _ModeResult(input.clone(), _index0(input))
    x = input._data
    xp = xp_of(x)
    n = x.shape[d]
    outer = tuple(n_ for i, n_ in enumerate(x.shape) if i != d)
    if x.size == 0:  # no slices (dim d itself is not empty)
        return _select_along(input, d, xp.zeros(x.shape[:d] + (1,) + x.shape[d + 1:], np.int64), keepdim,
                             _ModeResult)
    rows = xp.moveaxis(x, d, -1).reshape(-1, n)
    order = argsort_stable(rows, 1)
    s = xp.take_along_axis(rows, order, axis=1)
    same = s[:, 1:] == s[:, :-1]
    if x.dtype.kind == "f":
        same |= xp.isnan(s[:, 1:]) & xp.isnan(s[:, :-1])
    # runs of equal values in each sorted row: a global run id per element, its run's length
    starts = xp.ones(s.shape, dtype=bool)
    starts[:, 1:] = ~same
    run = xp.cumsum(starts.reshape(-1)) - 1
    length = xp.bincount(run)[run].reshape(s.shape)
    first = length.argmax(axis=1)  # the longest run; the first one found is the smallest value
    last = first + xp.take_along_axis(length, first[:, None], axis=1)[:, 0] - 1
    idx = xp.take_along_axis(order, last[:, None], axis=1)  # the sort is stable: the last occurrence
    idx = xp.expand_dims(idx.reshape(outer), d).astype(np.int64, copy=False)
    return _select_along(input, d, idx, keepdim, _ModeResult)


# ---------------------------------------------------------------- cummax, cummin
def _cum_extreme(op, input, dim, is_max, result):
    check_tensor(op, input)
    d = wrap_dim(dim, input._data.ndim, op)
    if input.dim() == 0:
        return result(input.clone(), _index0(input))
    x = input._data
    xp = xp_of(x)
    n = x.shape[d]
    shape = [1] * x.ndim
    shape[d] = n
    vals = x.copy()
    idx = xp.broadcast_to(xp.arange(n, dtype=np.int64).reshape(shape), x.shape).copy()
    is_float = x.dtype.kind == "f"
    # Hillis-Steele scan in log2(n) vectorized steps (no ufunc.accumulate, which CuPy lacks). The
    # earlier partial result wins only when strictly better, so ties and NaNs take the latest index
    # (PyTorch's choice); NaN beats every number, so it propagates.
    step = 1
    while step < n:
        head = (slice(None),) * d + (slice(0, n - step),)
        tail = (slice(None),) * d + (slice(step, n),)
        pv, cv = vals[head], vals[tail]
        earlier = (pv > cv) if is_max else (pv < cv)
        if is_float:
            earlier = earlier | (xp.isnan(pv) & ~xp.isnan(cv))
        new_vals, new_idx = vals.copy(), idx.copy()
        new_vals[tail] = xp.where(earlier, pv, cv)
        new_idx[tail] = xp.where(earlier, idx[head], idx[tail])
        vals, idx = new_vals, new_idx
        step *= 2
    return result(gather(input, d, _const(idx)), _const(idx))


def cummax(input, dim):
    """(values, indices) of the running maximum along dim; the gradient goes to the index taken."""
    return _cum_extreme("cummax", input, dim, True, _CummaxResult)


def cummin(input, dim):
    """(values, indices) of the running minimum along dim; the gradient goes to the index taken."""
    return _cum_extreme("cummin", input, dim, False, _CumminResult)


# ---------------------------------------------------------------- aminmax
def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) over all elements or along dim; gradients as amin/amax (shared among ties)."""
    check_tensor("aminmax", input)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(f"aminmax(): cannot compute aminmax over an empty dimension as the operation "
                               f"has no identity; the input has shape {list(input.shape)}")
    else:
        _reduce_dim("aminmax", input, dim)
    if dim is None and keepdim:
        return _AminmaxResult(amin(input, tuple(range(input.dim())), True), amax(input, tuple(range(input.dim())), True))
    return _AminmaxResult(amin(input, dim, keepdim), amax(input, dim, keepdim))


# ---------------------------------------------------------------- quantile, nanquantile
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _q_array(op, q, input):
    """q as a 1-D array on input's device, and whether q was a scalar (no q dim in the result)."""
    x = input._data
    xp = xp_of(x)
    if isinstance(q, Tensor):
        if q.dim() > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor, got a {q.dim()}-D tensor of shape "
                               f"{list(q.shape)}")
        if q._data.dtype != x.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor: q is {_tname(q)}, "
                               f"input is {_tname(input)}")
        check_same_device(op, [x, q._data])
        qa = q._data.reshape(-1)
        if qa.size and bool(((qa < 0) | (qa > 1)).any()):  # a data-dependent check, as in PyTorch
            raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
        return qa, q.dim() == 0
    if not is_scalar(q) or isinstance(q, bool):
        raise TypeError(f"{op}(): q must be a float or a Tensor, got {type(q).__name__}")
    if not 0 <= q <= 1:
        raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {q}")
    return xp.asarray([q], dtype=x.dtype), True


def _quantile(op, input, q, dim, keepdim, interpolation, ignore_nan):
    check_tensor(op, input)
    if input._data.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype, got {_tname(input)}")
    if input.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty, got shape {list(input.shape)}")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    qa, scalar_q = _q_array(op, q, input)
    nd = input.dim()
    if dim is None:
        x, d = input.reshape(-1), 0
        kept = (1,) * nd
    else:
        d = wrap_dim(dim, nd, op)
        x = input.reshape(1) if nd == 0 else input
        kept = tuple(1 if i == d else s for i, s in enumerate(input.shape))
    xa = x._data
    xp = xp_of(xa)
    nan = xp.isnan(xa)
    n = xa.shape[d]
    # the last position to interpolate to: of the non-NaN values (nanquantile; 0 if none), or n - 1
    last = xp.maximum((~nan).sum(axis=d, keepdims=True) - 1, 0).astype(xa.dtype) if ignore_nan else n - 1
    # positions in the sorted slice (NaN sorts last), one per q: the q dim replaces dim d
    qshape = [1] * xa.ndim
    qshape[d] = qa.size
    rank = qa.reshape(qshape) * last
    if not ignore_nan:  # a slice with NaN has quantile NaN: point at its last (a NaN) element
        rank = xp.where(nan.any(axis=d, keepdims=True), xa.dtype.type(n - 1), rank)
    lo, hi = xp.floor(rank), xp.ceil(rank)
    srt = sort(x, d).values
    if interpolation in ("lower", "higher", "nearest"):
        pos = {"lower": lo, "higher": hi, "nearest": xp.round(rank)}[interpolation]  # round half to even
        out = gather(srt, d, _const(pos.astype(np.int64)))
    else:
        below = gather(srt, d, _const(lo.astype(np.int64)))
        above = gather(srt, d, _const(hi.astype(np.int64)))
        weight = rank - lo if interpolation == "linear" else xp.full_like(rank, 0.5)
        out = below.lerp(above, _const(weight.astype(xa.dtype, copy=False)))
    out = out.movedim(d, 0)  # the q dim first, as in PyTorch
    if dim is None or nd == 0:
        out = out.reshape((qa.size,) + (kept if keepdim else ()))
    elif keepdim:
        out = out.reshape((qa.size,) + kept)
    return out.squeeze(0) if scalar_q else out


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles (q a float or a 1-D tensor in [0, 1]) of all elements or along dim; a
    slice holding NaN gives NaN. With a tensor q, its dim comes first in the result. The gradient
    goes to the (one or two) sorted neighbours; among tied values, to the one a stable sort puts
    there (PyTorch's sort of over 16 elements is not stable, so it may pick another tied one)."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile ignoring NaNs (a slice of NaNs only gives NaN)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


# ---------------------------------------------------------------- cov, corrcoef
def _check_weights(kind, w, n_obs, integral):
    if w.dim() > 1:
        raise RuntimeError(f"cov(): expected {kind} to have one or fewer dimensions but got {kind} with "
                           f"{w.dim()} dimensions")
    if integral and w._data.dtype.kind not in "iu":
        raise RuntimeError(f"cov(): expected {kind} to have integral dtype but got {kind} with {_tname(w)} dtype")
    if not integral and not _is_float(w):
        raise RuntimeError(f"cov(): expected {kind} to have floating point dtype but got {kind} with "
                           f"{_tname(w)} dtype")
    if w.numel() != n_obs:
        raise RuntimeError(f"cov(): expected {kind} to have the same numel as there are observations in the "
                           f"input but got {w.numel()} != {n_obs}")
    if bool((w._data < 0).any()):
        raise RuntimeError(f"cov(): {kind} cannot be negative")


def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in input's rows (observations in columns); one
    variable (a 1-D input, or one row) gives a 0-d result. fweights (integer repeat counts) and aweights
    (float observation weights) weight the observations, as numpy.cov."""
    check_tensor("cov", input)
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.dim()} dimensions (shape {list(input.shape)})")
    x = input.reshape(1, -1) if input.dim() < 2 else input
    if not _is_float(x):
        x = x.to(dtypes.get_default_dtype())
    n_obs = x.shape[1]
    w = None
    if fweights is not None:
        check_tensor("cov", fweights, "fweights")
        _check_weights("fweights", fweights, n_obs, True)
        w = fweights
    if aweights is not None:
        check_tensor("cov", aweights, "aweights")
        _check_weights("aweights", aweights, n_obs, False)
        w = aweights if w is None else w * aweights
    if w is None:
        avg = x.mean(1)
        w_sum = n_obs
        norm_factor = n_obs - correction
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1) / w_sum
        if correction == 0:
            norm_factor = w_sum
        elif aweights is None:
            norm_factor = w_sum - correction
        else:
            norm_factor = w_sum - correction * (w * aweights).sum() / w_sum
    if bool(norm_factor <= 0):
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number "
                      "of observations.", UserWarning, stacklevel=2)
        norm_factor = norm_factor * 0 if isinstance(norm_factor, Tensor) else 0.0
    centered = x - avg.unsqueeze(1)
    c = (centered if w is None else centered * w).matmul(centered.t())
    with np.errstate(divide="ignore", invalid="ignore"):  # no degrees of freedom: inf / nan, as PyTorch
        c = c / norm_factor if isinstance(norm_factor, Tensor) else c * (1.0 / norm_factor if norm_factor
                                                                          else math.inf)
    return c.squeeze()  # as PyTorch: a single variable (1-D input or one row) gives a 0-d result


def corrcoef(input):
    """Pearson correlation coefficients of the variables in input's rows, clipped to [-1, 1]."""
    check_tensor("corrcoef", input)
    c = cov(input)
    if c.dim() == 0:
        return c / c  # one variable: 1 (NaN where its variance is 0 or NaN), as PyTorch
    sd = c.diagonal().sqrt()
    c = c / sd.unsqueeze(1) / sd.unsqueeze(0)
    return c.clamp(-1, 1)


# ---------------------------------------------------------------- trapezoid rules, dist, renorm
def _trapezoid_args(op, y, x, dx, dim):
    check_tensor(op, y)
    if x is not None and dx is not None:
        raise TypeError(f"{op}(): pass either x (sample points) or dx (their spacing), not both")
    if y.dim() == 0:
        raise IndexError(f"{op}(): y must have at least one dim, got a 0-d tensor")
    d = wrap_dim(dim, y.dim(), op)
    if x is None:
        return d, None
    check_tensor(op, x, "x")
    n = y.shape[d]
    if x.dim() == 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point: x has {x.shape[0]}, "
                               f"y has {n} along dim {d} (y shape {list(y.shape)})")
        shape = [1] * y.dim()
        shape[d] = n - 1 if n else 0
        return d, x.diff().reshape(shape)
    return d, x.diff(dim=dim)


def _pair_sums(y, d):
    n = y.shape[d]
    return y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along dim: with sample points x (1-D, or broadcasting with y) or a
    constant spacing dx (default 1)."""
    d, xd = _trapezoid_args("trapezoid", y, x, dx, dim)
    if y.shape[d] == 0:
        return _sum(y, d) * 1.0  # nothing to integrate: zeros (float)
    if xd is None:
        step = 1 if dx is None else dx
        return (_sum(y, d) - (y.select(d, 0) + y.select(d, -1)) * 0.5) * step
    return _sum(_pair_sums(y, d) * xd, d) / 2.0


def trapz(y, x=None, *, dx=None, dim=-1):
    """trapezoid (its older name)."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal rule along dim (one value fewer than y has)."""
    d, xd = _trapezoid_args("cumulative_trapezoid", y, x, dx, dim)
    if y.shape[d] == 0:
        return y * 1.0
    if xd is None:
        step = 1 if dx is None else dx
        return (_pair_sums(y, d) * (step / 2.0)).cumsum(d)
    return (_pair_sums(y, d) * xd).cumsum(d) / 2.0


def dist(input, other, p=2):
    """The p-norm of input - other (broadcast)."""
    check_tensor("dist", input)
    check_tensor("dist", other, "other")
    return norm(input - other, float(p))


def renorm(input, p, dim, maxnorm):
    """Each slice along dim whose p-norm exceeds maxnorm scaled down to norm maxnorm."""
    check_tensor("renorm", input)
    if not _is_float(input):
        raise RuntimeError(f"renorm(): expected a floating point input, got {_tname(input)}")
    if not p > 0:
        raise RuntimeError(f"renorm(): non-positive-norm not supported, got p={p}")
    if not maxnorm >= 0:
        raise RuntimeError(f"renorm(): expected maxnorm to be >= 0 but got {maxnorm}")
    if input.dim() < 2:
        raise RuntimeError(f"renorm(): input needs at least 2 dimensions, got {input.dim()} dimensions")
    d = wrap_dim(dim, input.dim(), "renorm")
    n = norm(input, float(p), tuple(i for i in range(input.dim()) if i != d), keepdim=True)
    over = _const(n._data > maxnorm)
    return input * where(over, maxnorm / (n + 1e-7), 1.0).to(input.dtype)  # PyTorch's 1e-7 guard


# ---------------------------------------------------------------- isin, combinations, cartesian_prod
def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of `elements` occurs in `test_elements` (either may be a scalar)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): expected elements or test_elements to be a Tensor, got "
                        f"{type(elements).__name__} and {type(test_elements).__name__}")
    ref = elements if isinstance(elements, Tensor) else test_elements
    xp = xp_of(ref._data)
    arrays = []
    for name, v in (("elements", elements), ("test_elements", test_elements)):
        if isinstance(v, Tensor):
            arrays.append(v._data)
        elif is_scalar(v):
            arrays.append(xp.asarray(v))
        else:
            raise TypeError(f"isin(): {name} must be a Tensor or a number, got {type(v).__name__}")
    check_same_device("isin", arrays)
    ea, ta = arrays
    out = xp.isin(ea, ta.reshape(-1), assume_unique=assume_unique, invert=invert)
    return _const(xp.asarray(out).reshape(ea.shape))


def combinations(input, r=2, with_replacement=False):
    """The length-r combinations of a 1-D tensor's elements, one per row (itertools' order)."""
    check_tensor("combinations", input)
    if input.dim() != 1:
        raise RuntimeError(f"combinations(): expect a 1D vector, but got shape {list(input.shape)}")
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
        raise RuntimeError(f"combinations(): expect a non-negative number as r, but got {r!r}")
    if r == 0:
        return input[:0] * 1  # PyTorch: an empty 1-D tensor
    make = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.fromiter(itertools.chain.from_iterable(make(range(input.shape[0]), r)), dtype=np.int64)
    idx = _const(xp_of(input._data).asarray(idx))
    return index_select(input, 0, idx).reshape(-1, r)


def cartesian_prod(*tensors):
    """The Cartesian product of 1-D tensors, one combination per row (a single tensor: itself)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("cartesian_prod(): expects at least one tensor")
    for i, t in enumerate(tensors):
        check_tensor("cartesian_prod", t, f"tensors[{i}]")
        if t.dim() != 1:
            raise RuntimeError(f"cartesian_prod(): expect a 1D vector, but got shape {list(t.shape)} for "
                               f"tensor {i}")
    if len(tensors) == 1:
        return tensors[0]
    dts = {t.dtype for t in tensors}
    if len(dts) > 1:
        raise RuntimeError(f"cartesian_prod(): expects all tensors to have the same dtype, got "
                           f"{[_tname(t) for t in tensors]}")
    from .arrange import meshgrid
    from .shape import stack
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


__all__ = ["nansum", "nanmean", "nanmedian", "mode", "cummax", "cummin", "aminmax", "quantile",
           "nanquantile", "cov", "corrcoef", "trapezoid", "trapz", "cumulative_trapezoid", "dist",
           "renorm", "isin", "combinations", "cartesian_prod"]
TENSOR_METHODS = ("nansum nanmean nanmedian mode cummax cummin aminmax quantile nanquantile cov "
                  "corrcoef dist renorm")
