"""Accumulating and rearranging along dims, and matrix-product helpers, with PyTorch's semantics:
cumprod, logcumsumexp, diff, count_nonzero; roll, repeat_interleave, diag/diagonal/trace,
meshgrid, tensor_split, rot90, tril/triu_indices; addmm, baddbmm, tensordot, kron, cdist.

Where composing existing ops gives the right gradient, a function is just that composition (its
double backward comes for free); the Op classes here are the ones that need a forward of their
own, and their backwards are tensor ops again.
"""
from __future__ import annotations

import numpy as np

from .. import autocast_mode as _autocast
from .. import dtypes
from ..autograd import grad_mode
from ..autograd.function import Op
from ..backend import logaddexp_accumulate, writable_diagonal, xp_of
from ..tensor import Tensor
from ._pointwise import _const, _float_only
from ._util import check_tensor, is_scalar, normalize_dims, wrap_dim
from .arithmetic import where
from .elementwise import exp, log
from .index import index_select
from .linalg import bmm, mm
from .reduce import _RevCumsum, norm
from .shape import cat, flip, narrow, reshape, transpose


# ---------------------------------------------------------------- scans and counts
def _scan_input(op, input, dtype):
    check_tensor(op, input)
    if dtype is not None:
        input = input.to(dtype)
    return input


class Cumprod(Op):
    save_inputs = (0,)
    save_output = True

    def __init__(self, dim):
        self.dim = dim  # None for a 0-d input

    def forward(self, x):
        if self.dim is None:
            return x.copy()
        acc = np.float32 if x.dtype == np.float16 else x.dtype  # float16 accumulates in float32, as PyTorch
        return x.cumprod(axis=self.dim, dtype=acc).astype(x.dtype, copy=False)

    def backward(self, grad):
        x, y = self.saved_tensors
        return grad if self.dim is None else _cumprod_grad(x, y, grad, self.dim)


def _cumprod_grad(x, y, grad, d):
    """dx_k = sum_{j>=k} g_j prod_{i<=j, i!=k} x_i in tensor ops, exact with zeros (PyTorch's cases):
    before the first zero z of a slice, revcumsum(g * y) / x; at z, sum_{j>=z} g_j y1_j with y1 the
    cumprod of x with x_z set to 1; after z, x_z (= 0) times the same gradient at that x1, which
    is only worth computing when the backward is recorded (its derivative in x_z is not 0)."""
    zero = x._data == 0
    if not bool(zero.any()):  # the common case
        return _RevCumsum(d)(grad * y) / x
    nz = zero.cumsum(axis=d)
    before, first = _const(nz == 0), _const(zero & (nz == 1))
    x1 = where(first, 1.0, x)
    y1 = Cumprod(d)(x1)
    at_z = (grad * where(before, 0.0, y1)).sum(d, keepdim=True)
    after = 0.0
    if grad_mode.is_grad_enabled():  # create_graph: one more level per zero in a slice
        after = where(first, x, 0.0).sum(d, keepdim=True) * _cumprod_grad(x1, y1, grad, d)
    return where(before, _RevCumsum(d)(grad * y) / where(before, x, 1.0), where(first, at_z, after))


@_autocast.policy(cuda="float32")
def cumprod(input, dim, *, dtype=None):
    """Cumulative product along `dim` (integers and bools give int64, as cumsum)."""
    input = _scan_input("cumprod", input, dtype)
    if dtype is None and input._data.dtype.kind in "biu":
        input = input.to(dtypes.int64)
    nd = input._data.ndim
    d = wrap_dim(dim, nd, "cumprod")
    return Cumprod(d if nd else None)(input)


class LogCumSumExp(Op):
    save_inputs = (0,)
    save_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        d = self.dim
        if d is None:
            return x.copy()
        if x.dtype == np.float16:  # accumulated in float32, as PyTorch
            return logaddexp_accumulate(x.astype(np.float32), d).astype(np.float16)
        return logaddexp_accumulate(x, d)

    def backward(self, grad):
        # PyTorch's (and TensorFlow's) form: exp(x_k + logsumexp_{j>=k}(log|g_j| - y_j)), split by
        # the sign of g so only logs of positive numbers are taken; tensor ops all the way down
        x, y = self.saved_tensors
        d = self.dim
        if d is None:
            return grad
        low = float(np.finfo(grad._data.dtype).min) / 4  # exp of it is 0; low - y can't overflow
        pos, neg = grad > 0, grad < 0
        log_abs = log(where(pos | neg, grad.abs(), 1.0))

        def part(mask):
            lg = where(mask, log_abs, low) - y
            return exp(flip(LogCumSumExp(d)(flip(lg, d)), d) + x)
        return part(pos) - part(neg)


def logcumsumexp(input, dim):
    """log(cumsum(exp(input), dim)) without overflow."""
    _float_only("logcumsumexp", input)  # PyTorch has no integer kernel
    nd = input._data.ndim
    d = wrap_dim(dim, nd, "logcumsumexp")
    return LogCumSumExp(d if nd else None)(input)


def count_nonzero(input, dim=None):
    """The number of nonzero entries (over all dims, or `dim`: an int or a tuple), as int64."""
    check_tensor("count_nonzero", input)
    x = input._data
    dims = normalize_dims(dim, x.ndim, "count_nonzero")
    return _const((x != 0).sum(axis=dims).astype(np.int64))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along `dim` (bools: xor), after concatenating prepend/append."""
    check_tensor("diff", input)
    if input._data.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = wrap_dim(dim, input._data.ndim, "diff")
    parts = [p for p in (prepend, input, append) if p is not None]
    for p, name in ((prepend, "prepend"), (append, "append")):
        if p is not None and (not isinstance(p, Tensor) or p._data.ndim != input._data.ndim):
            got = f"{p._data.ndim}-dim tensor" if isinstance(p, Tensor) else type(p).__name__
            raise RuntimeError(f"diff expects {name} to be a tensor with as many dims as input "
                               f"({input._data.ndim}), got {got}")
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        m = x._data.shape[d]
        if m == 0:
            break
        hi, lo = narrow(x, d, 1, m - 1), narrow(x, d, 0, m - 1)
        x = hi != lo if x._data.dtype.kind == "b" else hi - lo
    return x


# ---------------------------------------------------------------- shape and indexing
class Roll(Op):
    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def forward(self, x):
        if x.ndim == 0:
            return x.copy()
        return xp_of(x).roll(x, self.shifts, axis=self.dims)

    def backward(self, grad):
        neg = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return Roll(neg, self.dims)(grad)


def _int_list(v, op, name):
    vals = (v,) if isinstance(v, (int, np.integer)) else tuple(v)
    for s in vals:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{op}(): argument '{name}' must be an int or a tuple of ints, got {v!r}")
    return tuple(int(s) for s in vals)


def roll(input, shifts, dims=None):
    """Shift entries along `dims` cyclically (dims=None: over the flattened tensor, shape kept)."""
    check_tensor("roll", input)
    shifts = _int_list(shifts, "roll", "shifts")
    nd = input._data.ndim
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: 0 "
                               f"(with dims=None, pass a single shift)")
        return Roll(shifts[0], None)(input)
    dims = tuple(wrap_dim(d, nd, "roll") for d in _int_list(dims, "roll", "dims"))
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    return Roll(shifts, dims)(input)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each entry along `dim` (None: of the flattened input) `repeats` times (an int, or a
    0-d/1-D integer tensor with one count per entry). repeat_interleave(counts) alone gives
    arange(len(counts)) repeated by counts."""
    check_tensor("repeat_interleave", input)
    if repeats is None:  # the one-argument form
        return repeat_interleave(_const(xp_of(input._data).arange(input._data.shape[0] if input._data.ndim
                                                                   else 1)), input, 0)
    xp = xp_of(input._data)
    if dim is None:
        input, d = reshape(input, (-1,)), 0
    else:
        d = wrap_dim(dim, input._data.ndim, "repeat_interleave")
        if input._data.ndim == 0:
            input = reshape(input, (1,))
    n = input._data.shape[d]
    if isinstance(repeats, Tensor):
        r = repeats._data
        if r.dtype.kind not in "iu" or r.ndim > 1:
            raise RuntimeError(f"repeat_interleave: repeats must be an int or a 0-dim or 1-dim integer tensor, "
                               f"got a {r.ndim}-dim {repeats.dtype.name} tensor")
        r = r.reshape(-1)
        if r.size != 1 and r.size != n:
            raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim {d}: "
                               f"got {r.size} repeats for size {n}")
    elif isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        r = xp.asarray([int(repeats)])
    else:
        raise TypeError(f"repeat_interleave(): argument 'repeats' must be an int or a Tensor, not "
                        f"{type(repeats).__name__}")
    if bool((r < 0).any()):
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    idx = xp.repeat(xp.arange(n), r if r.size == n else int(r[0]))
    if output_size is not None and idx.size != output_size:
        raise RuntimeError(f"repeat_interleave: output_size {output_size} does not match the {idx.size} entries "
                           f"the repeats give")
    return index_select(input, d, _const(idx.astype(np.int64)))


class Diagonal(Op):
    """The diagonal (offset) of dims d1, d2 as the last dim: a view, as PyTorch's, so in-place ops
    on it (A.diagonal().add_(eps)) write into the input."""

    is_view = True

    def __init__(self, offset, d1, d2):
        self.args = (offset, d1, d2)

    def forward(self, x):
        self.in_shape = x.shape
        return writable_diagonal(x, *self.args)

    def backward(self, grad):
        return DiagonalScatter(self.in_shape, *self.args)(grad)


class DiagonalScatter(Op):
    """Zeros of `shape` with the last dim of g written on the diagonal: Diagonal's adjoint."""

    def __init__(self, shape, offset, d1, d2):
        self.shape, self.args = tuple(shape), (offset, d1, d2)

    def forward(self, g):
        xp = xp_of(g)
        offset, d1, d2 = self.args
        z = xp.zeros(self.shape, g.dtype)
        zv = xp.moveaxis(z, (d1, d2), (-2, -1))
        k = xp.arange(g.shape[-1])
        zv[..., k + max(-offset, 0), k + max(offset, 0)] = g
        return z

    def backward(self, gg):
        return Diagonal(*self.args)(gg)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal entries of dims dim1, dim2 (moved to the end); offset > 0 is above the main one."""
    check_tensor("diagonal", input)
    nd = input._data.ndim
    d1, d2 = wrap_dim(dim1, nd, "diagonal"), wrap_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal(int(offset), d1, d2)(input)


def diag(input, diagonal=0):
    """1-D -> the 2-D matrix with input on diagonal `diagonal`; 2-D -> that diagonal, as 1-D."""
    check_tensor("diag", input)
    nd = input._data.ndim
    k = int(diagonal)
    if nd == 1:
        m = input._data.shape[0] + abs(k)
        return DiagonalScatter((m, m), k, 0, 1)(input)
    if nd == 2:
        return Diagonal(k, 0, 1)(input)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")


@_autocast.policy(cpu="float32")
def trace(input):
    """The sum of a matrix's main diagonal."""
    check_tensor("trace", input)
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    return Diagonal(0, 0, 1)(input).sum()


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids of 0-d/1-D tensors: 'ij' (matrix) or 'xy' (Cartesian: first two dims swapped)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        check_tensor("meshgrid", t, f"tensors[{i}]")
        if t._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: "
                               f"{t._data.ndim}-dim tensor of shape {list(t.shape)}")
        if t._data.dtype != tensors[0]._data.dtype or t.device != tensors[0].device:
            raise RuntimeError(f"meshgrid expects all tensors to have the same dtype and device: got "
                               f"{tensors[0].dtype.name} on {tensors[0].device} and {t.dtype.name} on {t.device}")
    shape = tuple(t._data.size for t in tensors)
    k = len(tensors)
    grids = [reshape(t, (1,) * i + (-1,) + (1,) * (k - i - 1)).expand(*shape) for i, t in enumerate(tensors)]
    if indexing == "xy" and k >= 2:
        grids = [transpose(g, 0, 1) for g in grids]
    return tuple(grids)


def tensor_split(input, indices_or_sections, dim=0):
    """Split into `sections` near-equal pieces (the first n % sections one longer), or at the
    given indices (Python slice semantics: out-of-range gives empty pieces)."""
    check_tensor("tensor_split", input)
    if input._data.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = wrap_dim(dim, input._data.ndim, "tensor_split")
    n = input._data.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios._data.dtype != np.int64 or ios._data.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor of dtype long, but got a {ios._data.ndim}-dim "
                               f"{ios.dtype.name} tensor")
        ios = int(ios.item()) if ios._data.ndim == 0 else [int(v) for v in ios.tolist()]
    if isinstance(ios, (int, np.integer)) and not isinstance(ios, bool):
        s = int(ios)
        if s <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {s}")
        q, r = divmod(n, s)
        bounds, start = [], 0
        for i in range(s):
            bounds.append((start, start + q + (i < r)))
            start += q + (i < r)
    elif isinstance(ios, (list, tuple)):
        cuts = [int(v) for v in _int_list(ios, "tensor_split", "indices_or_sections")]
        edges = [0] + cuts + [None]
        bounds = [slice(a, b).indices(n)[:2] for a, b in zip(edges[:-1], edges[1:])]
    else:
        raise TypeError(f"tensor_split(): argument 'indices_or_sections' must be an int, a sequence of ints or "
                        f"a long tensor, not {type(ios).__name__}")
    return tuple(narrow(input, d, a, max(b - a, 0)) for a, b in bounds)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90° k times in the plane of `dims`, from the first towards the second."""
    check_tensor("rot90", input)
    dims = list(dims)
    nd = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    d0, d1 = (wrap_dim(v, nd, "rot90") for v in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k = int(k) % 4
    if k == 1:
        return transpose(flip(input, d1), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return transpose(flip(input, d0), d0, d1)
    return input.clone()


def _tri_indices(op, fn, row, col, offset, dtype, device):
    for v, name in ((row, "row"), (col, "col")):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise RuntimeError(f"{op}: {name} must be a non-negative int, got {v!r}")
    dt = dtypes.as_dtype(dtype) if dtype is not None else dtypes.int64
    if dt.np not in (np.dtype(np.int64), np.dtype(np.int32)):
        raise RuntimeError(f"\"{op}\" not implemented for '{dt.name}': pass dtype=int64 or int32")
    r, c = fn(int(row), int(offset), int(col))
    out = _const(np.stack([r, c]).astype(dt.np).reshape(2, -1))
    return out if device is None else out.to(device)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, N) coordinates of the lower triangle (diagonal `offset`) of a row x col matrix."""
    return _tri_indices("tril_indices", np.tril_indices, row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, N) coordinates of the upper triangle (diagonal `offset`) of a row x col matrix."""
    return _tri_indices("triu_indices", np.triu_indices, row, col, offset, dtype, device)


# ---------------------------------------------------------------- linear algebra helpers
class _Ignored(Op):
    """Zeros in x's place with a zero gradient: beta=0 ignores input (NaN included), as PyTorch."""

    def forward(self, x):
        return xp_of(x).zeros_like(x)

    def backward(self, grad):
        return grad * 0


def _add_scaled(op, input, prod, beta, alpha):
    check_tensor(op, input)
    if input._data.dtype != prod._data.dtype:
        raise RuntimeError(f"{op}: expected input to have dtype {prod.dtype.name} (the product's), got "
                           f"{input.dtype.name}")
    try:
        np.broadcast_shapes(input._data.shape, prod._data.shape)
    except ValueError:
        raise RuntimeError(f"{op}: input of shape {list(input.shape)} does not broadcast to the product's shape "
                           f"{list(prod.shape)}") from None
    if input._data.ndim > prod._data.ndim or np.broadcast_shapes(input._data.shape,
                                                                prod._data.shape) != prod._data.shape:
        raise RuntimeError(f"{op}: input of shape {list(input.shape)} does not broadcast to the product's shape "
                           f"{list(prod.shape)}")
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        return prod + _Ignored()(input)
    return prod + (input if beta == 1 else input * beta)


@_autocast.policy(cuda="lower", cpu="lower")
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2); input broadcasts to the product's shape."""
    return _add_scaled("addmm", input, mm(mat1, mat2), beta, alpha)


@_autocast.policy(cuda="lower", cpu="lower")
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * bmm(batch1, batch2); input broadcasts to the product's shape."""
    return _add_scaled("baddbmm", input, bmm(batch1, batch2), beta, alpha)


@_autocast.policy(cuda="promote")
def tensordot(a, b, dims=2):
    """Sum over the last `dims` dims of a and the first of b, or over the listed dims pairs
    (dims=([a dims], [b dims]))."""
    check_tensor("tensordot", a, "a")
    check_tensor("tensordot", b, "b")
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(na, nb):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(na - dims, na)), list(range(dims))
    else:
        da, db = ([v] if isinstance(v, (int, np.integer)) else list(v) for v in dims)
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length, got {len(da)} and {len(db)}")
    da = [wrap_dim(v, na, "tensordot") for v in da]
    db = [wrap_dim(v, nb, "tensordot") for v in db]
    for i, j in zip(da, db):
        if a._data.shape[i] != b._data.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a._data.shape[i]} in "
                               f"dim {i} and second has size {b._data.shape[j]} in dim {j}")
    fa = [i for i in range(na) if i not in da]
    fb = [j for j in range(nb) if j not in db]
    k = int(np.prod([a._data.shape[i] for i in da], dtype=np.int64))
    sa = [a._data.shape[i] for i in fa]
    sb = [b._data.shape[j] for j in fb]
    a2 = reshape(a.permute(*(fa + da)), (int(np.prod(sa, dtype=np.int64)), k))
    b2 = reshape(b.permute(*(db + fb)), (k, int(np.prod(sb, dtype=np.int64))))
    return reshape(mm(a2, b2), tuple(sa + sb))


def kron(input, other):
    """The Kronecker product: block (i, j, ...) of the result is input[i, j, ...] * other, the
    shorter shape padded with leading 1s. A broadcast product of interleaved shapes, reshaped."""
    check_tensor("kron", input)
    check_tensor("kron", other, "other")
    nd = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (nd - input._data.ndim) + input._data.shape
    sb = (1,) * (nd - other._data.ndim) + other._data.shape
    a = reshape(input, tuple(n for m in sa for n in (m, 1)))  # (a0, 1, a1, 1, ...)
    b = reshape(other, tuple(n for m in sb for n in (1, m)))  # (1, b0, 1, b1, ...)
    return reshape(a * b, tuple(m * n for m, n in zip(sa, sb)))


@_autocast.policy(cuda="float32", cpu="float32")
def cdist(x1, x2, p=2.0, compute_mode=None):
    """The p-norm distance of each row of x1 (..., P, M) to each row of x2 (..., R, M): (..., P, R)."""
    check_tensor("cdist", x1, "x1")
    check_tensor("cdist", x2, "x2")
    for t, name in ((x1, "X1"), (x2, "X2")):
        if t._data.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t._data.ndim}D")
        if t._data.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {t.dtype.name}")
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1._data.shape[-1]} "
                           f"X2: {x2._data.shape[-1]}")
    if not is_scalar(p) or p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    diff_ = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., P, R, M)
    out = norm(diff_, float(p), dim=-1)
    return out + _Ignored()(diff_).sum(-1) if p == 0 else out  # p=0 counts: a zero gradient, as PyTorch


__all__ = ["cumprod", "logcumsumexp", "count_nonzero", "diff", "roll", "repeat_interleave", "diag", "diagonal",
           "trace", "meshgrid", "tensor_split", "rot90", "tril_indices", "triu_indices", "addmm", "baddbmm",
           "tensordot", "kron", "cdist"]
