"""Indexing: x[index], x[index] = v, gather/scatter, index_select, masks, tril/triu, pad, one_hot.

Every indexing form is reduced to one normalized index, applied in PyTorch's two
stages: first the basic part (ints, slices, None) — a view — then the index
arrays (integer tensors, masks as their nonzero positions) at given dims of that
view, following NumPy's advanced-indexing rules (which are PyTorch's once ints
have been applied first). Three ops share it:

- `Index`:    out = x[basic][key]             backward: IndexGrad
- `IndexGrad`: zeros with the gradient scatter-added (repeats accumulate); backward: Index
- `IndexPut`: out = copy of x with out[basic][key] = v (or += v); backward: IndexPut/Index

gather, scatter(_add), index_select, take_along_dim and masked_select are such
indexes too (index arrays built along one dim), so they get backward and double
backward from the same three ops. Indices are checked before anything is written.
"""
from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np

from .. import autocast_mode as _autocast
from .. import device_checks
from ..autograd.function import Op, check_same_device
from ..backend import xp_of
from ..tensor import Tensor
from ._util import broadcast_error, check_tensor, is_scalar, wrap_dim
from .convert import cast
from .shape import expand, reshape

_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32))


class _Index(NamedTuple):
    """A normalized index: x[basic] (a view), then `arrays` at dims `positions` of it."""

    basic: tuple  # ints (non-negative), slices (positive steps), None; ends with Ellipsis
    positions: tuple  # dims of x[basic] indexed by arrays, increasing
    arrays: tuple  # int64, non-negative, in range
    shape: tuple  # shape of the result


def _key(positions, arrays) -> tuple:
    key = [slice(None)] * (positions[-1] + 1)
    for p, a in zip(positions, arrays):
        key[p] = a
    return tuple(key)


# ---------------------------------------------------------------- the three ops
class Index(Op):
    def __init__(self, basic, positions, arrays):
        self.basic, self.positions = basic, positions
        self.ctx_arrays = arrays or None  # None: nothing to free, backward can run again
        self.is_view = not arrays  # basic indexing aliases the input

    def forward(self, x):
        self.in_shape = x.shape
        view = x[self.basic]
        return view[_key(self.positions, self.ctx_arrays)] if self.ctx_arrays else view

    def backward(self, grad):
        return IndexGrad(self.basic, self.positions, self.saved_arrays, self.in_shape)(grad)


class IndexGrad(Op):
    """Zeros of `shape` with `grad` added at the indexed positions (repeated indices accumulate)."""

    def __init__(self, basic, positions, arrays, shape):
        self.basic, self.positions, self.shape = basic, positions, shape
        self.ctx_arrays = arrays or None

    def forward(self, grad):
        xp = xp_of(grad)
        out = xp.zeros_like(grad, shape=self.shape)
        target = out[self.basic]
        if self.ctx_arrays:
            xp.add.at(target, _key(self.positions, self.ctx_arrays), grad)
        else:
            target[...] = grad
        return out

    def backward(self, grad):
        return Index(self.basic, self.positions, self.saved_arrays)(grad)


class IndexPut(Op):
    """A copy of x with v written (or, with `accumulate`, added) at the indexed positions."""

    def __init__(self, basic, positions, arrays, accumulate):
        self.basic, self.positions, self.accumulate = basic, positions, accumulate
        self.ctx_arrays = arrays or None

    def forward(self, x, v):
        out = x.copy()
        target = out[self.basic]
        if self.ctx_arrays:
            key = _key(self.positions, self.ctx_arrays)
            if self.accumulate:
                xp_of(x).add.at(target, key, v)
            else:
                target[key] = v
        elif self.accumulate:
            target += v
        else:
            target[...] = v
        return out

    def backward(self, grad):
        arrays = self.saved_arrays
        gx = gv = None
        if self.needs_input_grad[0]:
            gx = grad if self.accumulate else IndexPut(self.basic, self.positions, arrays, False)(
                grad, grad._data.dtype.type(0))
        if self.needs_input_grad[1]:
            gv = Index(self.basic, self.positions, arrays)(grad)  # the engine sums broadcast dims
        return gx, gv


# PyTorch's grad_fn names for the ops built on these
class Gather(Index):
    pass


class IndexSelect(Index):
    pass


class MaskedSelect(Index):
    pass


class Scatter(IndexPut):
    pass


class ScatterAdd(IndexPut):
    pass


# ---------------------------------------------------------------- index normalization
def _check_bounds(a, n: int, dim: int, op: str, err=IndexError, negative=True):
    """`a` as int64 with negatives wrapped, after checking every entry is in range for size n."""
    if not a.size:
        return a.astype(np.int64, copy=False)
    bad = (a < (-n if negative else 0)) | (a >= n)
    on_host = a.__class__ is np.ndarray
    if on_host or n == 0:  # n == 0: every entry is out of bounds, no need to look
        if bad.any():
            raise err(f"{op}index {int(a[bad][0])} is out of bounds for dimension {dim} with size {n}")
    else:  # CUDA: deferred, the indices clamped meanwhile so that no gather or scatter leaves the array
        device_checks.check_value(bad, a, lambda v: err(
            f"{op}index {v} is out of bounds for dimension {dim} with size {n}"), op.rstrip(": ") or "indexing")
    if negative:
        a = xp_of(a).where(a < 0, a + n, a)
    if not on_host:
        a = device_checks.clamp_index(a, n)
    return a.astype(np.int64, copy=False)


def _seq_as_tuple(index) -> bool:
    """PyTorch (like old NumPy) reads a list holding sequences, tensors, slices, None or ... as a tuple."""
    return len(index) < 32 and any(isinstance(i, (Tensor, list, tuple, np.ndarray, slice, range))
                                   or i is None or i is Ellipsis for i in index)


def _classify(item, x):
    """(kind, value): kind one of none, ellipsis, bool, int, slice, mask, ints."""
    if item is None:
        return "none", None
    if item is Ellipsis:
        return "ellipsis", None
    if isinstance(item, (bool, np.bool_)):
        return "bool", bool(item)
    if isinstance(item, (int, np.integer)):
        return "int", int(item)
    if isinstance(item, slice):
        return "slice", item
    xp = xp_of(x._data)
    if isinstance(item, Tensor):
        check_same_device("index", [x._data, item._data])
        arr = item._data
    elif isinstance(item, (list, tuple, np.ndarray, range)):  # range: t[range(n), cls], as PyTorch
        arr = np.asarray(item)
        if arr.size == 0 and not isinstance(item, np.ndarray):
            arr = arr.astype(np.int64)  # [] indexes nothing, as an empty long tensor
        arr = xp.asarray(arr)
    else:
        raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                         f"are valid indices (got {type(item).__name__})")
    is_mask = arr.dtype.kind == "b" or arr.dtype == np.uint8  # uint8: PyTorch's deprecated mask type
    if arr.ndim == 0 and arr.dtype.kind in "biu":
        return ("bool", bool(arr)) if is_mask else ("int", int(arr))
    if is_mask:
        return "mask", arr.astype(bool, copy=False)
    if arr.dtype not in _INDEX_DTYPES:
        raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors (got {arr.dtype})")
    return "ints", arr


def _slice(s: slice, n: int):
    start, stop, step = (None if v is None else operator.index(v) for v in (s.start, s.stop, s.step))
    if step is not None and step <= 0:
        raise ValueError("step must be greater than zero" if step < 0 else "slice step cannot be zero")
    start, stop, step = slice(start, stop, step).indices(n)
    return slice(start, stop, step), len(range(start, stop, step))


def _parse_index(x, index) -> _Index:
    """Normalize a PyTorch index for `x`, checking every int and index array against its dim."""
    if isinstance(index, tuple):
        items = index
    elif isinstance(index, list) and _seq_as_tuple(index):
        items = tuple(index)
    else:
        items = (index,)
    parsed = [_classify(item, x) for item in items]
    shape = x._data.shape
    ndim = len(shape)
    consumed = sum(v.ndim if k == "mask" else 1 for k, v in parsed if k in ("int", "slice", "ints", "mask"))
    if consumed > ndim:
        if ndim == 0:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if sum(k == "ellipsis" for k, _ in parsed) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    xp = xp_of(x._data)
    dim = 0
    basic, mid, positions, arrays = [], [], [], []  # mid: shape of x[basic]
    for kind, v in parsed:
        if kind == "none":
            basic.append(None)
            mid.append(1)
        elif kind == "ellipsis":
            k = ndim - consumed
            basic += [slice(None)] * k
            mid += shape[dim:dim + k]
            dim += k
        elif kind == "bool":  # a new dim of size 1, kept (True) or emptied (False), as PyTorch does
            basic.append(None)
            positions.append(len(mid))
            mid.append(1)
            arrays.append(xp.zeros(1 if v else 0, dtype=np.int64))
        elif kind == "int":
            n = shape[dim]
            if not -n <= v < n:
                raise IndexError(f"index {v} is out of bounds for dimension {dim} with size {n}")
            basic.append(v + n if v < 0 else v)
            dim += 1
        elif kind == "slice":
            s, n = _slice(v, shape[dim])
            basic.append(s)
            mid.append(n)
            dim += 1
        elif kind == "mask":
            want = shape[dim:dim + v.ndim]
            if v.shape != want:
                j = next(j for j in range(v.ndim) if v.shape[j] != want[j])
                raise IndexError(f"The shape of the mask {list(v.shape)} at index {j} does not match the "
                                 f"shape of the indexed tensor {list(shape)} at index {dim + j}")
            for j, nz in enumerate(xp.nonzero(v)):
                positions.append(len(mid) + j)
                arrays.append(nz.astype(np.int64, copy=False))
            basic += [slice(None)] * v.ndim
            mid += want
            dim += v.ndim
        else:  # ints
            positions.append(len(mid))
            arrays.append(_check_bounds(v, shape[dim], dim, ""))
            basic.append(slice(None))
            mid.append(shape[dim])
            dim += 1
    mid += shape[dim:]
    return _Index(tuple(basic) + (Ellipsis,), tuple(positions), tuple(arrays),
                  _result_shape(tuple(mid), positions, arrays))


def _result_shape(mid, positions, arrays) -> tuple:
    """The shape NumPy's (= PyTorch's) advanced indexing gives: broadcast index shape in place
    of the indexed dims when they are adjacent, else in front."""
    if not arrays:
        return mid
    try:
        b = np.broadcast_shapes(*(a.shape for a in arrays))
    except ValueError:
        shapes = ", ".join(str(list(a.shape)) for a in arrays)
        raise IndexError(f"shape mismatch: indexing tensors could not be broadcast together with shapes "
                         f"{shapes}") from None
    rest = tuple(n for d, n in enumerate(mid) if d not in positions)
    if positions[-1] - positions[0] + 1 == len(positions):
        return mid[:positions[0]] + b + mid[positions[-1] + 1:]
    return b + rest


# ---------------------------------------------------------------- x[index], x[index] = v
def getitem(input, index):
    """``input[index]`` with PyTorch's rules; ints, slices, None and ... give a view."""
    ix = _parse_index(input, index)
    return Index(ix.basic, ix.positions, ix.arrays)(input)


@_autocast.policy(cuda="promote")
def index_put(input, indices, values, accumulate=False):
    """Out of place ``input[indices] = values`` (``+=`` with accumulate); ``x[i] = v`` runs this in place.

    `values` (a Tensor or a number) is cast to input's dtype and broadcast to the indexed shape.
    With repeated indices and accumulate=False the last write wins.
    """
    ix, values = _put_operands(input, indices, values)
    return IndexPut(ix.basic, ix.positions, ix.arrays, bool(accumulate))(input, values)


def setitem_(input, indices, values):
    """``input[indices] = values`` written straight into input's memory (nothing recorded).

    The fast path of ``Tensor.__setitem__`` when no gradient is involved; the checks are index_put's.
    """
    from ..tensor import _check_writable
    _check_writable(input)
    ix, values = _put_operands(input, indices, values)
    v = values
    if isinstance(values, Tensor):
        check_same_device("index_put_", [input._data, values._data])
        v = values._data
    target = input._data[ix.basic]
    if ix.arrays:
        target[_key(ix.positions, ix.arrays)] = v
    else:
        target[...] = v
    input._vc[0] += 1
    return input


def _put_operands(input, indices, values):
    """The parsed index and `values` cast to input's dtype, checked to broadcast to the indexed shape."""
    check_tensor("index_put", input)
    ix = _parse_index(input, indices)
    dt = input._data.dtype
    if isinstance(values, Tensor):
        if values._data.dtype != dt:
            values = cast(values, dt)
        vs, rs = values._data.shape, ix.shape
        lead = len(vs) - len(rs)
        if (lead > 0 and any(n != 1 for n in vs[:lead])) or any(
                a != 1 and a != b for a, b in zip(vs[::-1], rs[::-1])):
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(vs)} cannot be broadcast to "
                               f"indexing result of shape {list(rs)}")
        if lead > 0:  # leading size-1 dims are dropped, as PyTorch and NumPy do
            values = reshape(values, vs[lead:])
    elif is_scalar(values):
        values = dt.type(values)
    else:
        raise TypeError(f"can't assign a {type(values).__name__} to a Tensor: use a number or a Tensor "
                        f"(wrap data with tensorgrad.tensor())")
    return ix, values


# ---------------------------------------------------------------- along one dim
def _index_arg(op: str, index, x, dtypes=_INDEX_DTYPES):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be a Tensor, not {type(index).__name__}")
    check_same_device(op, [x._data, index._data])
    if index._data.dtype not in dtypes:
        names = " or ".join(str(d) for d in sorted({d.name for d in dtypes}, reverse=True))
        raise RuntimeError(f"{op}(): expected dtype {names} for index, got {index.dtype}")
    return index._data


def _along_dim(idx, dim: int, ndim: int) -> tuple:
    """Index arrays picking x[i_0, ..., idx[i], ..., i_n] for every position i of idx."""
    if ndim <= 1:
        return (idx,)
    xp = xp_of(idx)
    return tuple(idx if d == dim else xp.arange(n).reshape((n,) + (1,) * (ndim - 1 - d))
                 for d, n in enumerate(idx.shape))


def _check_index_shape(op: str, idx, dim: int, shape, src_shape=None) -> None:
    """PyTorch's gather/scatter rule: index no larger than input (apart from dim) and than src.

    A 0-dim tensor counts as 1-D of size 1 here, as in PyTorch.
    """
    nd = max(idx.ndim, 1)
    if max(len(shape), 1) != nd or (src_shape is not None and max(len(src_shape), 1) != nd):
        src = "" if src_shape is None else f", src {list(src_shape)}"
        raise RuntimeError(f"{op}(): index tensor must have the same number of dimensions as input tensor: "
                           f"index {list(idx.shape)}, input {list(shape)}{src}")
    i_shape, x_shape = idx.shape or (1,), shape or (1,)
    s_shape = (src_shape or (1,)) if src_shape is not None else None
    for d in range(nd):
        if (d != dim and i_shape[d] > x_shape[d]) or (s_shape is not None and i_shape[d] > s_shape[d]):
            src = "" if src_shape is None else f" and to be no larger than src {list(src_shape)}"
            raise RuntimeError(f"{op}(): size does not match at dimension {d}: expected index "
                               f"{list(idx.shape)} to be no larger than self {list(shape)} apart from "
                               f"dimension {dim}{src}")


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j][k] = input[index[i][j][k]][j][k] (for dim=0); out has index's shape."""
    check_tensor("gather", input)
    idx = _index_arg("gather", index, input)
    dim = wrap_dim(dim, input._data.ndim, "gather")
    _check_index_shape("gather", idx, dim, input._data.shape)
    return _gather(input, dim, idx, "gather", negative=False)


def _gather(input, dim, idx, op, negative):
    if input._data.ndim == 0:
        input = reshape(input, (1,))
    idx = _check_bounds(idx, input._data.shape[dim], dim, f"{op}(): ", RuntimeError, negative)
    return Gather((Ellipsis,), tuple(range(max(idx.ndim, 1))), _along_dim(idx, dim, input._data.ndim))(input)


def _scatter(op: str, cls, input, dim, index, src, accumulate):
    check_tensor(op, input)
    idx = _index_arg(op, index, input)
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape), op)
    if isinstance(src, Tensor):
        if src._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op}(): expected self.dtype to be equal to src.dtype, got {input.dtype} "
                               f"and {src.dtype}")
        _check_index_shape(op, idx, dim, shape, src._data.shape)
        if src._data.shape != idx.shape:  # only the index-shaped corner of src is used
            src = reshape(src, (1,)) if src._data.ndim == 0 else src
            src = reshape(getitem(src, tuple(slice(0, n) for n in idx.shape or (1,))), idx.shape)
    elif is_scalar(src):
        _check_index_shape(op, idx, dim, shape)
        src = input._data.dtype.type(src)
    else:
        raise TypeError(f"{op}(): src must be a Tensor or a number, got {type(src).__name__}")
    x = reshape(input, (1,)) if not shape else input
    idx = _check_bounds(idx, x._data.shape[dim], dim, f"{op}(): ", RuntimeError, negative=False)
    out = cls((Ellipsis,), tuple(range(max(idx.ndim, 1))), _along_dim(idx, dim, x._data.ndim),
              accumulate)(x, src)
    return reshape(out, ()) if not shape else out


@_autocast.policy(cuda="promote")
def scatter_add(input, dim, index, src):
    """A copy of input with src[i][j] added at [index[i][j]][j] (for dim=0); repeats accumulate."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' must be a Tensor, not {type(src).__name__}")
    return _scatter("scatter_add", ScatterAdd, input, dim, index, src, True)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of input with src (a Tensor, or the number `value`) written at index along dim."""
    if reduce is not None:
        raise NotImplementedError(f"scatter(reduce={reduce!r}) is not supported by tensorgrad; use "
                                  f"scatter_add for 'add'")
    if (src is None) == (value is None):
        raise TypeError("scatter(): give exactly one of src (a Tensor or a number) and value")
    return _scatter("scatter", Scatter, input, dim, index, value if src is None else src, False)


def index_select(input, dim, index):
    """The entries of input at positions `index` (a vector) along dim."""
    check_tensor("index_select", input)
    idx = _index_arg("index_select", index, input)
    if idx.ndim > 1:
        raise IndexError(f"index_select(): index is supposed to be a vector, got shape {list(idx.shape)}")
    idx = idx.reshape(-1)
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape), "index_select")
    if not shape and idx.size != 1:
        raise RuntimeError(f"index_select(): index to scalar can have only 1 value, got {idx.size} value(s)")
    x = reshape(input, (1,)) if not shape else input
    idx = _check_bounds(idx, x._data.shape[dim], dim, "index_select(): ", negative=False)
    out = IndexSelect((Ellipsis,), (dim,), (idx,))(x)
    return reshape(out, ()) if not shape else out


def _index_along(op, input, dim, index, source_shape=None):
    """(dim, the checked index vector) for index_add/_copy/_fill; `source_shape` (if any) must be
    input's shape with len(index) at dim."""
    check_tensor(op, input)
    idx = _index_arg(op, index, input)
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape {list(idx.shape)}")
    shape = input._data.shape
    dim = wrap_dim(dim, max(len(shape), 1), op)
    if source_shape is not None:
        want = list(shape[:dim]) + [idx.size] + list(shape[dim + 1:]) if shape else [idx.size]
        if list(source_shape) != want and not (not shape and list(source_shape) in ([], [1])):
            raise RuntimeError(f"{op}(): source of shape {list(source_shape)} does not match: it must have the "
                               f"input's shape {list(shape)} with the index's length {idx.size} at dim {dim}")
    n = shape[dim] if shape else 1
    return dim, _check_bounds(idx.reshape(-1), n, dim, f"{op}(): ", negative=True)


def index_add(input, dim, index, source, *, alpha=1):
    """A copy of input with alpha * source added at positions `index` along dim (repeats add up)."""
    dim, idx = _index_along("index_add", input, dim, index, source.shape)
    src = source * alpha if alpha != 1 else source
    return IndexPut((Ellipsis,), (dim,), (idx,), True)(input, src) if input.dim() else input + src.reshape(())


def index_copy(input, dim, index, source):
    """A copy of input with source written at positions `index` along dim."""
    dim, idx = _index_along("index_copy", input, dim, index, source.shape)
    return IndexPut((Ellipsis,), (dim,), (idx,), False)(input, source) if input.dim() else source.reshape(()) * 1


def index_fill(input, dim, index, value):
    """A copy of input with `value` (a number or a 0-d tensor) at positions `index` along dim."""
    dim, idx = _index_along("index_fill", input, dim, index)
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise IndexError(f"index_fill_(): only supports a 0-dimensional value tensor, but got tensor with "
                             f"{value.dim()} dimension(s).")
        return IndexPut((Ellipsis,), (dim,), (idx,), False)(input, value.to(input.dtype))
    return IndexPut((Ellipsis,), (dim,), (idx,), False)(input, input._data.dtype.type(value))


def argwhere(input):
    """The indices of input's nonzero entries, one row each (nonzero(input))."""
    return nonzero(input)


def take_along_dim(input, indices, dim=None):
    """gather with input and indices broadcast against each other (apart from dim), negative indices
    wrapping once; with dim=None, gather from the flattened input (no wrapping, as in PyTorch)."""
    check_tensor("take_along_dim", input)
    idx = _index_arg("take_along_dim", indices, input, (np.dtype(np.int64),))
    if dim is None:
        return _gather(reshape(input, (-1,)), 0, idx.reshape(-1), "take_along_dim", negative=False)
    shape = input._data.shape
    dim = wrap_dim(dim, len(shape), "take_along_dim")
    if idx.ndim != len(shape):
        raise RuntimeError(f"take_along_dim(): input and indices should have the same number of "
                           f"dimensions, but got {len(shape)} dimensions for input, and {idx.ndim} "
                           f"dimensions for indices")
    if not shape:
        return _gather(input, 0, idx, "take_along_dim", negative=True)
    a = shape[:dim] + (1,) + shape[dim + 1:]
    b = idx.shape[:dim] + (1,) + idx.shape[dim + 1:]
    try:
        common = list(np.broadcast_shapes(a, b))
    except ValueError:
        raise broadcast_error("take_along_dim", input, indices) from None
    common[dim] = shape[dim]
    if tuple(common) != shape:
        input = expand(input, tuple(common))
    common[dim] = idx.shape[dim]
    idx = xp_of(idx).broadcast_to(idx, tuple(common))
    return _gather(input, dim, idx, "take_along_dim", negative=True)


# ---------------------------------------------------------------- masks
class MaskedFill(Op):
    """where(mask, value, x); with `invert`, where(mask, x, value)."""

    save_inputs = (1,)

    def __init__(self, invert=False):
        self.invert = invert

    def forward(self, x, mask, value):
        xp = xp_of(x)
        return xp.where(mask, x, value) if self.invert else xp.where(mask, value, x)

    def backward(self, grad):
        (mask,) = self.saved_tensors
        zero = grad._data.dtype.type(0)
        gx = MaskedFill(self.invert)(grad, mask, zero) if self.needs_input_grad[0] else None
        gv = MaskedFill(not self.invert)(grad, mask, zero).sum() if self.needs_input_grad[2] else None
        return gx, None, gv


def _mask_arg(op: str, mask, x):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be a Tensor, not {type(mask).__name__}")
    if mask._data.dtype != bool:
        raise RuntimeError(f"{op}(): expected a bool mask, but got mask with dtype {mask.dtype}")
    check_same_device(op, [x._data, mask._data])
    try:
        return np.broadcast_shapes(x._data.shape, mask._data.shape)
    except ValueError:
        raise broadcast_error(op, x, mask) from None


def masked_fill(input, mask, value):
    """A copy of input with `value` (a number or a 0-dim tensor) where the bool `mask` is True."""
    check_tensor("masked_fill", input)
    _mask_arg("masked_fill", mask, input)
    dt = input._data.dtype
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill(): only supports a 0-dimensional value tensor, but got tensor "
                               f"with {value._data.ndim} dimension(s)")
        if value._data.dtype != dt:
            value = cast(value, dt)
    elif is_scalar(value):
        value = dt.type(value)
    else:
        raise TypeError(f"masked_fill(): value must be a number or a 0-dim Tensor, got "
                        f"{type(value).__name__}")
    return MaskedFill()(input, mask, value)


def masked_select(input, mask):
    """The entries of input (broadcast with mask) where mask is True, as a 1-D tensor."""
    check_tensor("masked_select", input)
    shape = _mask_arg("masked_select", mask, input) or (1,)
    m = xp_of(mask._data).broadcast_to(mask._data, shape)
    if input._data.shape != shape:
        input = expand(input, shape)
    arrays = tuple(a.astype(np.int64, copy=False) for a in xp_of(m).nonzero(m))
    return MaskedSelect((Ellipsis,), tuple(range(len(shape))), arrays)(input)


class Nonzero(Op):
    differentiable = False

    def __init__(self, as_tuple):
        self.as_tuple = as_tuple

    def forward(self, x):
        xp = xp_of(x)
        nz = tuple(a.astype(np.int64, copy=False) for a in xp.nonzero(x.reshape(-1) if x.ndim == 0 else x))
        if self.as_tuple:
            return nz
        if x.ndim == 0:
            return xp.zeros((nz[0].size, 0), dtype=np.int64)
        return xp.stack(nz, axis=1)


def nonzero(input, *, as_tuple=False):
    """Indices of the nonzero entries: an (n, ndim) int64 tensor, or one 1-D tensor per dim."""
    check_tensor("nonzero", input)
    return Nonzero(bool(as_tuple))(input)


# ---------------------------------------------------------------- triangles, padding, one_hot
class Tril(Op):
    def __init__(self, diagonal):
        self.diagonal = diagonal

    def forward(self, x):
        return xp_of(x).tril(x, self.diagonal)

    def backward(self, grad):
        return Tril(self.diagonal)(grad)


class Triu(Op):
    def __init__(self, diagonal):
        self.diagonal = diagonal

    def forward(self, x):
        return xp_of(x).triu(x, self.diagonal)

    def backward(self, grad):
        return Triu(self.diagonal)(grad)


def _triangle(op, cls, input, diagonal):
    check_tensor(op, input)
    if input._data.ndim < 2:
        raise RuntimeError(f"{op}(): input tensor must have at least 2 dimensions, got shape "
                           f"{list(input._data.shape)}")
    return cls(operator.index(diagonal))(input)


def tril(input, diagonal=0):
    """The lower triangle of the last two dims (entries j <= i + diagonal kept, others zero)."""
    return _triangle("tril", Tril, input, diagonal)


def triu(input, diagonal=0):
    """The upper triangle of the last two dims (entries j >= i + diagonal kept, others zero)."""
    return _triangle("triu", Triu, input, diagonal)


class ConstantPadNd(Op):
    """Pad (or, for negative amounts, crop) each dim by (before, after), filling with `value`."""

    def __init__(self, pads, value):
        self.pads, self.value = pads, value

    def forward(self, x):
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, self.pads))
        out = xp_of(x).full_like(x, self.value, shape=shape)
        src = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, self.pads))
        dst = tuple(slice(max(lo, 0), m - max(hi, 0)) for m, (lo, hi) in zip(shape, self.pads))
        out[dst] = x[src]
        return out

    def backward(self, grad):
        return ConstantPadNd(tuple((-lo, -hi) for lo, hi in self.pads), 0)(grad)  # crops what was padded


def pad(input, pad, mode="constant", value=None):
    """torch.nn.functional.pad: `pad` = (before, after) pairs starting from the LAST dim; negative crops."""
    check_tensor("pad", input)
    if not isinstance(pad, (tuple, list)) or any(
            not isinstance(p, (int, np.integer)) or isinstance(p, bool) for p in pad):
        raise TypeError(f"pad(): argument 'pad' must be a tuple of ints, got {pad!r}")
    if mode != "constant":
        if mode in ("reflect", "replicate", "circular"):
            if value:
                raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument.")
            from .pad import index_pad  # by index_select of mirrored / clamped / wrapped positions
            return index_pad(input, pad, mode)
        raise NotImplementedError(f"pad(): unrecognised padding mode {mode!r}; use 'constant', 'reflect', "
                                  f"'replicate' or 'circular'")
    shape = input._data.shape
    if len(pad) % 2:
        raise RuntimeError(f"pad(): padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > len(shape):
        raise RuntimeError(f"pad(): padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension {len(shape)}")
    pads = [(0, 0)] * len(shape)
    for i in range(len(pad) // 2):
        d = len(shape) - 1 - i
        lo, hi = int(pad[2 * i]), int(pad[2 * i + 1])
        if shape[d] + min(lo, 0) + min(hi, 0) < 0:
            raise RuntimeError(f"pad(): the input size {shape[d]} at dimension {d}, plus negative padding "
                               f"{lo} and {hi}, resulted in a negative output size")
        pads[d] = (lo, hi)
    return ConstantPadNd(tuple(pads), 0 if value is None else value)(input)


class OneHot(Op):
    differentiable = False

    def __init__(self, num_classes):
        self.num_classes = num_classes

    def forward(self, x):
        xp = xp_of(x)
        return (x[..., None] == xp.arange(self.num_classes)).astype(np.int64)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding: a new last dim of size num_classes (-1: max class + 1)."""
    check_tensor("one_hot", tensor, "tensor")
    x = tensor._data
    if x.dtype != np.int64:
        raise RuntimeError(f"one_hot(): only applicable to index tensors of type int64 (LongTensor), got "
                           f"{tensor.dtype}")
    if x.size == 0:
        if num_classes <= 0:
            raise RuntimeError("one_hot(): can not infer total number of classes from empty tensor; pass "
                               "num_classes")
    elif num_classes != -1 and x.__class__ is not np.ndarray:
        # CUDA with num_classes given: deferred (an out-of-range class gets an all-zero row meanwhile);
        # num_classes=-1 has to read the maximum, a synchronization, as in PyTorch
        lo, hi = x.min(), x.max()
        nc = int(num_classes)
        device_checks.check((lo < 0) | (hi >= nc), lambda: RuntimeError(
            f"one_hot(): class values must be non-negative, got {int(lo)}" if int(lo) < 0 else
            f"one_hot(): class values must be smaller than num_classes ({nc}), got {int(hi)}"), "one_hot()")
    else:
        lo, hi = int(x.min()), int(x.max())
        if lo < 0:
            raise RuntimeError(f"one_hot(): class values must be non-negative, got {lo}")
        if num_classes == -1:
            num_classes = hi + 1
        elif hi >= num_classes:
            raise RuntimeError(f"one_hot(): class values must be smaller than num_classes ({num_classes}), "
                               f"got {hi}")
    return OneHot(int(num_classes))(tensor)


__all__ = ['getitem', 'index_put', 'gather', 'scatter', 'scatter_add', 'index_select', 'index_add', 'index_copy',
           'index_fill', 'argwhere', 'masked_fill',
           'masked_select', 'nonzero', 'tril', 'triu', 'take_along_dim', 'pad', 'one_hot']
