"""More shape and indexing ops, with PyTorch's semantics: atleast_1d/2d/3d, ravel, t, adjoint,
vsplit/hsplit/dsplit, dstack/column_stack/row_stack, block_diag; take, select, narrow_copy;
select_scatter, slice_scatter, diagonal_scatter, diag_embed, diagflat, index_reduce; and the
Tensor methods unfold (sliding windows) and fill_diagonal_.

Almost all are compositions of existing ops (reshape, cat, pad, tensor_split, index.py's
Index/IndexPut, arrange.py's Diagonal/DiagonalScatter, scatter_reduce), so their gradients and
double backward come with those. The view ops (select, ravel of a contiguous tensor, the atleast
forms, t/adjoint, unfold) return views sharing the input's memory and version counter, as in
PyTorch. Tensor.unfold is the one op of its own here: a strided view whose backward adds every
window back where it came from (overlaps sum).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.function import Op, check_same_device
from ..backend import writable_diagonal, xp_of
from ..tensor import Tensor
from ._pointwise import _const
from ._util import check_tensor, wrap_dim
from .arithmetic import where
from .arrange import DiagonalScatter, diag, tensor_split
from .convert import cast
from .index import Index, IndexPut, _check_bounds, _index_arg, masked_fill, pad
from .scatter_extra import scatter_reduce
from .shape import Clone, _as_int, _tensor_list, cat, narrow, reshape, transpose, vstack


# ---------------------------------------------------------------- atleast_nd, ravel, t, adjoint
def _atleast(op, one, tensors):
    """One tensor -> one result; several tensors (or one list/tuple of them) -> a tuple."""
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return one(tensors[0])
    seq = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    for i, t in enumerate(seq):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected Tensors (or one list/tuple of Tensors), but argument {i} is "
                            f"{type(t).__name__}")
    return tuple(one(t) for t in seq)


def atleast_1d(*tensors):
    """0-d tensors as shape (1,), others unchanged (the same tensor)."""
    return _atleast("atleast_1d", lambda t: reshape(t, (1,)) if t._data.ndim == 0 else t, tensors)


def atleast_2d(*tensors):
    """0-d as (1, 1), 1-D (n,) as (1, n), others unchanged."""
    def one(t):
        nd = t._data.ndim
        return reshape(t, (1, 1)) if nd == 0 else reshape(t, (1,) + t._data.shape) if nd == 1 else t
    return _atleast("atleast_2d", one, tensors)


def atleast_3d(*tensors):
    """0-d as (1, 1, 1), 1-D (n,) as (1, n, 1), 2-D (m, n) as (m, n, 1), others unchanged."""
    def one(t):
        s = t._data.shape
        new = {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}.get(len(s))
        return t if new is None else reshape(t, new)
    return _atleast("atleast_3d", one, tensors)


def ravel(input):
    """The flattened tensor: a view when input is contiguous, else a copy (as reshape(-1))."""
    check_tensor("ravel", input)
    return reshape(input, (-1,))


def t(input):
    """torch.t: the transpose of a matrix; 0-D and 1-D tensors come back as they are (views)."""
    check_tensor("t", input)
    return input.t()


def adjoint(input):
    """The conjugate transpose of the last two dims (real dtypes: transpose(-2, -1)), a view."""
    check_tensor("adjoint", input)
    nd = input._data.ndim
    if nd == 0:
        warnings.warn("adjoint() is deprecated on 0-D tensors (it returns the tensor itself)", UserWarning,
                      stacklevel=2)
        return reshape(input, ())
    if nd == 1:
        raise RuntimeError("adjoint(): tensor.adjoint() is only supported on matrices or batches of matrices. "
                           "Got 1-D tensor.")
    return transpose(input, -2, -1)


# ---------------------------------------------------------------- directional splits and stacks
def _dir_split(op, input, indices_or_sections, dim, min_dims):
    """tensor_split along `dim`, except that an int count must divide the size evenly."""
    check_tensor(op, input)
    nd = input._data.ndim
    if nd < min_dims:
        raise RuntimeError(f"torch.{op} requires a tensor with at least {min_dims} dimension, but got a tensor "
                           f"with {nd} dimensions!")
    ios = indices_or_sections
    if isinstance(ios, (int, np.integer)) and not isinstance(ios, bool):
        n = input._data.shape[dim]
        if ios == 0 or n % ios:
            raise RuntimeError(f"torch.{op} attempted to split along dimension {dim}, but the size of the "
                               f"dimension {n} is not divisible by the split_size {ios}!")
    elif not isinstance(ios, (list, tuple)):
        raise TypeError(f"{op}(): argument 'indices_or_sections' must be an int or a list of ints, not "
                        f"{type(ios).__name__}")
    return tensor_split(input, ios, dim)


def vsplit(input, indices_or_sections):
    """Split along dim 0 (input at least 2-D) into equal pieces or at the given indices."""
    return _dir_split("vsplit", input, indices_or_sections, 0, 2)


def hsplit(input, indices_or_sections):
    """Split along dim 1 (dim 0 for 1-D input) into equal pieces or at the given indices."""
    check_tensor("hsplit", input)
    return _dir_split("hsplit", input, indices_or_sections, 1 if input._data.ndim > 1 else 0, 1)


def dsplit(input, indices_or_sections):
    """Split along dim 2 (input at least 3-D) into equal pieces or at the given indices."""
    return _dir_split("dsplit", input, indices_or_sections, 2, 3)


def _nonempty(op, tensors) -> list:
    tensors = _tensor_list(tensors, op)
    if not tensors:
        raise RuntimeError(f"{op} expects a non-empty TensorList")
    return tensors


def dstack(tensors):
    """cat along dim 2 of the tensors made at least 3-D (atleast_3d)."""
    return cat([atleast_3d(t) for t in _nonempty("dstack", tensors)], 2)


def column_stack(tensors):
    """cat along dim 1, 0-D and 1-D tensors read as columns (n, 1)."""
    return cat([reshape(t, (-1, 1)) if t._data.ndim < 2 else t for t in _nonempty("column_stack", tensors)], 1)


def row_stack(tensors):
    """vstack's other name."""
    return vstack(tensors)


def block_diag(*tensors):
    """The tensors (0-D as 1x1, 1-D as a row, 2-D as is) as blocks on the diagonal of one matrix,
    zeros elsewhere, in the promoted dtype: each block is padded to the full width, then the rows
    are concatenated."""
    mats = []
    for i, x in enumerate(tensors):
        check_tensor("block_diag", x, f"tensors[{i}]")
        nd = x._data.ndim
        if nd > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{nd} dimensions (shape {list(x.shape)})")
        mats.append(x if nd == 2 else reshape(x, (1, x._data.size)))
    if not mats:
        from ..creation import zeros
        return zeros(1, 0)
    width = sum(m._data.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        w = m._data.shape[1]
        rows.append(pad(m, (left, width - left - w)))
        left += w
    return cat(rows, 0)


# ---------------------------------------------------------------- take, select, narrow_copy
def take(input, index):
    """input read as 1-D at the (int64) positions `index`; the result has index's shape.
    Negative positions count from the end."""
    check_tensor("take", input)
    if not isinstance(index, Tensor):
        raise TypeError(f"take(): argument 'index' must be a Tensor, not {type(index).__name__}")
    check_same_device("take", [input._data, index._data])
    if index._data.dtype != np.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {index.dtype}")
    flat = reshape(input, (-1,))
    idx = _check_bounds(index._data, flat._data.shape[0], 0, "take(): ")
    return Index((Ellipsis,), (0,), (idx,))(flat)


def _select_index(op, input, dim, index):
    """The basic index (:, ..., :, i, ...) selecting `index` of `dim`, both checked."""
    shape = input._data.shape
    if not shape:
        raise IndexError(f"{op}(): select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape), op)
    i = _as_int(index, op, "index")
    n = shape[d]
    if not -n <= i < n:
        raise IndexError(f"{op}(): index {i} out of range for tensor of size {list(shape)} at dimension {d}")
    return (slice(None),) * d + (i % n, Ellipsis)


def select(input, dim, index):
    """The slice input[..., index, ...] at `dim`, that dim removed: a view."""
    check_tensor("select", input)
    return Index(_select_index("select", input, dim, index), (), ())(input)


def narrow_copy(input, dim, start, length):
    """narrow(input, dim, start, length) as a new tensor (not a view)."""
    check_tensor("narrow_copy", input)
    try:
        view = narrow(input, dim, start, length)
    except (IndexError, RuntimeError) as e:
        raise type(e)(f"narrow_copy(): {e}") from None
    return Clone()(view)


# ---------------------------------------------------------------- *_scatter: embed src in a copy
def _src_for(op, input, src, want):
    """src, checked to have the embedded part's shape `want` and cast to input's dtype."""
    check_tensor(op, input)
    check_tensor(op, src, "src")
    check_same_device(op, [input._data, src._data])
    if src._data.shape != tuple(want):
        raise RuntimeError(f"{op}(): expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(want)}")
    return src if src._data.dtype == input._data.dtype else cast(src, input._data.dtype)


def select_scatter(input, src, dim, index):
    """A copy of input with src written at input.select(dim, index)."""
    check_tensor("select_scatter", input)
    basic = _select_index("select_scatter", input, dim, index)
    want = input._data[basic].shape
    return IndexPut(basic, (), (), False)(input, _src_for("select_scatter", input, src, want))


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """A copy of input with src written at input[..., start:end:step, ...] along `dim`."""
    op = "slice_scatter"
    check_tensor(op, input)
    shape = input._data.shape
    if not shape:
        raise IndexError(f"{op}(): slice() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape), op)
    start, end, step = (None if v is None else _as_int(v, op, name)
                        for v, name in ((start, "start"), (end, "end"), (step, "step")))
    if step is not None and step <= 0:
        raise RuntimeError(f"{op}(): slice step must be positive, got {step}")
    basic = (slice(None),) * d + (slice(*slice(start, end, step).indices(shape[d])), Ellipsis)
    want = input._data[basic].shape
    return IndexPut(basic, (), (), False)(input, _src_for(op, input, src, want))


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """A copy of input with src written on its diagonal (offset, dim1, dim2); src has the shape
    input.diagonal(offset, dim1, dim2) has. A where() between input and src placed on the
    diagonal, so both values and gradients are exact."""
    op = "diagonal_scatter"
    check_tensor(op, input)
    shape = input._data.shape
    d1, d2 = wrap_dim(dim1, len(shape), op), wrap_dim(dim2, len(shape), op)
    if d1 == d2:
        raise RuntimeError(f"{op}(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    offset = _as_int(offset, op, "offset")
    xp = xp_of(input._data)
    mask = xp.zeros(shape, dtype=bool)
    on_diag = writable_diagonal(mask, offset, d1, d2)
    src = _src_for(op, input, src, on_diag.shape)
    on_diag[...] = True
    return where(_const(mask), DiagonalScatter(shape, offset, d1, d2)(src), input)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor with one more dim whose diagonal (offset, dim1, dim2) holds input's last dim,
    zeros elsewhere (so out.diagonal(offset, dim1, dim2) == input)."""
    op = "diag_embed"
    check_tensor(op, input)
    shape = input._data.shape
    nd = len(shape) + 1
    d1, d2 = wrap_dim(dim1, nd, op), wrap_dim(dim2, nd, op)
    if d1 == d2:
        raise RuntimeError(f"{op}(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    offset = _as_int(offset, op, "offset")
    if not shape:
        raise IndexError(f"{op}(): input must have at least 1 dimension, got a 0-dim tensor")
    n = shape[-1] + abs(offset)
    out = list(shape[:-1])
    for d in sorted((d1, d2)):
        out.insert(d, n)
    return DiagonalScatter(tuple(out), offset, d1, d2)(input)


def diagflat(input, offset=0):
    """The flattened input on diagonal `offset` of a square matrix."""
    check_tensor("diagflat", input)
    return diag(reshape(input, (-1,)), _as_int(offset, "diagflat", "offset"))


# ---------------------------------------------------------------- index_reduce
_INDEX_REDUCES = ("prod", "mean", "amax", "amin")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """A copy of input with each slice source[..., i, ...] (along dim) reduced into slice
    index[i] by `reduce` ("prod", "mean", "amax" or "amin"), together with input's own value
    unless include_self=False. It is scatter_reduce with the index spread over source's shape."""
    op = "index_reduce"
    check_tensor(op, input)
    check_tensor(op, source, "source")
    if reduce not in _INDEX_REDUCES:
        raise RuntimeError(f"{op}(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    idx = _index_arg(op, index, input)
    check_same_device(op, [input._data, source._data])
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape {list(idx.shape)}")
    shape, sshape = input._data.shape, source._data.shape
    dim = wrap_dim(dim, len(shape), op)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"{op}(): self ({input.dtype}) and source ({source.dtype}) must have the same "
                           f"scalar type")
    if len(sshape) != len(shape) or any(a != b for k, (a, b) in enumerate(zip(shape, sshape)) if k != dim):
        raise RuntimeError(f"{op}(): source tensor shape must match self tensor shape, excluding the specified "
                           f"dimension. Got self.shape = {list(shape)} source.shape = {list(sshape)}")
    idx = idx.reshape(-1)
    count = sshape[dim] if shape else 1  # a 0-d input and source: one index, 0
    if idx.size != count:
        raise RuntimeError(f"{op}(): Number of indices ({idx.size}) should be equal to source.size(dim): "
                           f"({count}), for dim: {dim}")
    idx = _check_bounds(idx, shape[dim] if shape else 1, dim, f"{op}(): ", negative=False)
    if not shape:
        return scatter_reduce(input, 0, _const(idx.reshape(())), source, reduce, include_self=include_self)
    spread = xp_of(idx).broadcast_to(idx.reshape((1,) * dim + (-1,) + (1,) * (len(shape) - dim - 1)), sshape)
    return scatter_reduce(input, dim, _const(xp_of(idx).ascontiguousarray(spread)), source, reduce,
                          include_self=include_self)


def index_reduce_(input, dim, index, source, reduce, *, include_self=True):
    """index_reduce written into input (in place)."""
    return input._inplace(index_reduce, dim, index, source, reduce, include_self=include_self)


# ---------------------------------------------------------------- Tensor.unfold: sliding windows
class Unfold(Op):
    """Windows of `size` every `step` along `dim`, as a strided view: dim becomes the window
    count and a new last dim the position in the window."""

    is_view = True

    def __init__(self, dim, size, step):
        self.dim, self.size, self.step = dim, size, step

    def forward(self, x):
        self.in_shape = x.shape
        d, st = self.dim, x.strides
        count = (x.shape[d] - self.size) // self.step + 1
        shape = x.shape[:d] + (count,) + x.shape[d + 1:] + (self.size,)
        strides = st[:d] + (st[d] * self.step,) + st[d + 1:] + (st[d],)
        return xp_of(x).lib.stride_tricks.as_strided(x, shape, strides)

    def backward(self, grad):
        return UnfoldGrad(self.in_shape, self.dim, self.size, self.step)(grad)


class UnfoldGrad(Op):
    """Unfold's adjoint: every window added back at its place (overlapping windows sum)."""

    def __init__(self, shape, dim, size, step):
        self.shape, self.dim, self.size, self.step = shape, dim, size, step

    def forward(self, g):
        xp = xp_of(g)
        out = xp.zeros_like(g, shape=self.shape)
        d, size, step = self.dim, self.size, self.step
        count = g.shape[d]
        lead = (slice(None),) * d
        if count < size:  # few long windows: add each one whole
            for i in range(count):
                out[lead + (slice(i * step, i * step + size),)] += xp.moveaxis(g[lead + (i,)], -1, d)
        else:  # element k of every window: distinct positions, so one strided slice each
            for k in range(size):
                out[lead + (slice(k, k + step * (count - 1) + 1, step),)] += g[..., k]
        return out

    def backward(self, grad):
        return Unfold(self.dim, self.size, self.step)(grad)


def unfold(input, dimension, size, step):
    """Tensor.unfold: all windows of `size` elements along `dimension`, `step` apart, as a view of
    shape input.shape with that dim's size replaced by the window count and `size` appended."""
    op = "unfold"
    shape = input._data.shape
    d = wrap_dim(dimension, len(shape), op)
    size, step = _as_int(size, op, "size"), _as_int(step, op, "step")
    n = shape[d] if shape else 1
    if size < 0:
        raise RuntimeError(f"{op}(): size is {size} but must be >= 0")
    if size > n:
        raise RuntimeError(f"{op}(): maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"{op}(): step is {step} but must be > 0")
    if not shape:  # a 0-d tensor has one window: shape (size,)
        return narrow(reshape(input, (1,)), 0, 0, size)
    return Unfold(d, size, step)(input)


# ---------------------------------------------------------------- Tensor.fill_diagonal_
def _diagonal_mask(shape, wrap, xp):
    """Where fill_diagonal_ writes: flat positions 0, s, 2s, ... with s the sum of the (element)
    strides; in a tall matrix only the first square unless `wrap` (then it restarts below)."""
    numel = int(np.prod(shape))
    step = sum(int(np.prod(shape[k + 1:])) for k in range(len(shape)))
    end = numel if wrap or len(shape) > 2 else min(numel, shape[1] * shape[1])
    mask = xp.zeros(numel, dtype=bool)
    mask[:end:step] = True
    return mask.reshape(shape)


def _fill_diagonal(input, fill_value, wrap):
    return masked_fill(input, _const(_diagonal_mask(input._data.shape, wrap, xp_of(input._data))), fill_value)


_fill_diagonal.__name__ = "fill_diagonal"  # _inplace's errors then name fill_diagonal_


def fill_diagonal_(input, fill_value, wrap=False):
    """Write `fill_value` on the main diagonal (all dims equal beyond 2-D), in place. In a tall
    matrix, wrap=True restarts the diagonal N+1 rows further down, as PyTorch (and NumPy) do."""
    op = "fill_diagonal_"
    shape = input._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"{op}(): dimensions must larger than 1, got a {len(shape)}-D tensor")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError(f"{op}(): all dimensions of input must be of equal length, got shape {list(shape)}")
    return input._inplace(_fill_diagonal, fill_value, bool(wrap))


__all__ = ["atleast_1d", "atleast_2d", "atleast_3d", "ravel", "t", "adjoint", "vsplit", "hsplit", "dsplit",
           "dstack", "column_stack", "row_stack", "block_diag", "take", "select", "narrow_copy",
           "select_scatter", "slice_scatter", "diagonal_scatter", "diag_embed", "diagflat", "index_reduce"]
# Tensor.t exists already; unfold, index_reduce_ and fill_diagonal_ are methods only, as in PyTorch
TENSOR_METHODS = ("ravel adjoint vsplit hsplit dsplit take select narrow_copy select_scatter slice_scatter "
                  "diagonal_scatter diag_embed diagflat index_reduce index_reduce_ unfold fill_diagonal_")
