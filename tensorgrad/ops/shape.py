"""Shape ops: reshape/view, permute/transpose, squeeze/unsqueeze, expand, cat/stack/split, flip.

View ops (``is_view``) return arrays that alias their input, and the result
shares the input's version counter, as PyTorch's views do. Every view op's
forward returns a new array object (never the input array itself), and every
non-view op returns fresh memory, so aliasing always matches the declaration.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd.function import Op
from ..backend import broadcast_to as broadcast_to_view, xp_of
from ..tensor import Size as _Size, Tensor
from ._util import accepts_axis, shape_arg, wrap_dim


def _as_int(v, op: str, name: str) -> int:
    """A Python/NumPy integer (or a 0-dim integer tensor) as int; bools and floats are refused."""
    if isinstance(v, Tensor):
        if v._data.ndim != 0 or v._data.dtype.kind not in "iu":
            raise RuntimeError(f"{op}(): {name} must be an int or a 0-dim integral Tensor, got a "
                               f"{v.dtype} tensor of shape {list(v.shape)}")
        return int(v._data.item())
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise TypeError(f"{op}(): argument '{name}' must be int, not {type(v).__name__}")
    return v.__index__()


def _sizes(args, op: str) -> tuple:
    """The shape of f(x, 2, 3) / f(x, (2, 3)); at least one argument is required, like PyTorch."""
    if not args:
        raise TypeError(f"{op}() missing 1 required positional argument: 'size' (give the sizes as "
                        f"{op}(2, 3) or {op}((2, 3)))")
    shape = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
    for s in shape:  # fast path for plain ints (array shapes, the engine's calls)
        if s.__class__ is not int:
            return shape_arg(args, op)
    return tuple(shape)


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


# ---------------------------------------------------------------- reshape / view
class Reshape(Op):
    """A view with a new shape; `strides` (bytes) given when the input is not contiguous."""

    is_view = True

    def __init__(self, shape, strides=None):
        self.shape = shape
        self.strides = strides

    def forward(self, x):
        self.in_shape = x.shape
        if self.strides is None:
            return x.reshape(self.shape)
        return xp_of(x).lib.stride_tricks.as_strided(x, self.shape, self.strides)

    def backward(self, grad):
        return reshape(grad, self.in_shape)


class ReshapeCopy(Reshape):
    """reshape of a tensor whose strides allow no view: a contiguous copy (not a view)."""

    is_view = False

    def forward(self, x):
        self.in_shape = x.shape
        return xp_of(x).ascontiguousarray(x).reshape(self.shape)


def _infer_shape(shape, numel, op, mismatch=None):
    """Resolve one -1 in `shape` and check it holds `numel` elements (PyTorch's infer_size).

    `mismatch`: the error text when the sizes cannot hold `numel` elements.
    """
    infer = None
    known = 1
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got shape {list(shape)}")
            infer = i
        elif s < 0:
            raise RuntimeError(f"{op}: invalid shape dimension {s} at index {i} of shape {list(shape)}")
        else:
            known *= s
    if infer is not None:
        if known == 0:
            if numel == 0:
                raise RuntimeError(f"{op}: cannot reshape tensor of 0 elements into shape {list(shape)} "
                                   f"because the unspecified dimension size -1 can be any value and is "
                                   f"ambiguous")
        elif numel % known == 0:
            return shape[:infer] + (numel // known,) + shape[infer + 1:]
    elif known == numel:
        return shape
    raise RuntimeError(mismatch or f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")


def _view_strides(shape, strides, new_shape, itemsize):
    """Byte strides viewing memory of `shape`/`strides` as `new_shape`, or None when no view can.

    PyTorch's computeStride: each run of dims that is contiguous in memory
    ("chunk") must be rebuilt exactly by consecutive new dims.
    """
    if not shape or _numel(shape) == 0:  # 0-d or empty: any strides describe it
        out, acc = [], itemsize
        for s in reversed(new_shape):
            out.append(acc)
            acc *= max(s, 1)
        return tuple(reversed(out))
    new = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base = strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != tensor_numel * chunk_base):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new[view_d] = view_numel * chunk_base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                chunk_base = strides[d - 1]
                tensor_numel = view_numel = 1
    return tuple(new) if view_d == -1 else None


def _reshape(input, shape):
    """A view of `input` with `shape` (already resolved) when the strides allow one, else None."""
    data = input._data
    if data.flags.c_contiguous:
        return Reshape(shape)(input)
    strides = _view_strides(data.shape, data.strides, shape, data.itemsize)
    return None if strides is None else Reshape(shape, strides)(input)


def reshape(input, *shape):
    """A view when the strides allow one (always for contiguous input), else a copy."""
    shape = _infer_shape(_sizes(shape, "reshape"), input._data.size, "reshape")
    out = _reshape(input, shape)
    return out if out is not None else ReshapeCopy(shape)(input)


def view(input, *shape):
    """A view with a new shape; never copies (raises where reshape would have to)."""
    if len(shape) == 1 and isinstance(shape[0], (dtypes.dtype, np.dtype, type, str)):
        raise NotImplementedError(f"view(dtype) (reinterpreting the bytes as {shape[0]}) is not supported by "
                                  f"tensorgrad; use .to(dtype) for a converting copy")
    shape = _infer_shape(_sizes(shape, "view"), input._data.size, "view")
    out = _reshape(input, shape)
    if out is None:
        raise RuntimeError(f"view size is not compatible with input tensor's size and stride (at least one "
                           f"dimension spans across two contiguous subspaces): cannot view shape "
                           f"{list(input._data.shape)} with strides {list(input.stride())} as "
                           f"{list(shape)}. Use .reshape(...) instead.")
    return out


def flatten(input, start_dim=0, end_dim=-1):
    nd = input._data.ndim
    s, e = wrap_dim(start_dim, nd, "flatten"), wrap_dim(end_dim, nd, "flatten")
    if nd == 0:
        return reshape(input, (1,))
    if s > e:
        raise RuntimeError(f"flatten() has invalid args: start_dim cannot come after end_dim (got start_dim="
                           f"{start_dim}, end_dim={end_dim} for a {nd}-d tensor)")
    if s == e:
        return input  # PyTorch returns the tensor itself here
    shape = input._data.shape
    return reshape(input, shape[:s] + (_numel(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(input, dim, sizes):
    """Split dim `dim` into `sizes` (one may be -1); always a view."""
    shape = input._data.shape
    d = wrap_dim(dim, len(shape), "unflatten")
    if not isinstance(sizes, (tuple, list)):
        raise TypeError(f"unflatten(): sizes must be a tuple or list of ints, got {type(sizes).__name__}")
    sizes = shape_arg((sizes,), "unflatten")
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    sizes = _infer_shape(sizes, shape[d], "unflatten",
                         f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
                         f"({shape[d]}) in the input tensor")
    return view(input, shape[:d] + sizes + shape[d + 1:])


# ---------------------------------------------------------------- squeeze / unsqueeze
class Squeeze(Op):
    is_view = True

    def __init__(self, dims):
        self.dims = dims  # size-1 dims to drop

    def forward(self, x):
        self.in_shape = x.shape
        # basic indexing always makes a view; the Ellipsis keeps a 0-d result an array
        return x[tuple(0 if i in self.dims else slice(None) for i in range(x.ndim)) + (Ellipsis,)]

    def backward(self, grad):
        return reshape(grad, self.in_shape)


class Unsqueeze(Op):
    is_view = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        return x[(slice(None),) * self.dim + (None, Ellipsis)]

    def backward(self, grad):
        return Squeeze((self.dim,))(grad)


def squeeze(input, dim=None):
    """Drop size-1 dims: all of them, or those among `dim` (an int or a tuple)."""
    shape = input._data.shape
    if dim is None:
        dims = range(len(shape))
    else:
        dims = [wrap_dim(d, len(shape), "squeeze") for d in (dim if isinstance(dim, (tuple, list)) else (dim,))]
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"squeeze(): dim appears multiple times in the list of dims {list(dim)}")
    return Squeeze(tuple(d for d in dims if shape and shape[d] == 1))(input)


def unsqueeze(input, dim):
    return Unsqueeze(wrap_dim(dim, input._data.ndim + 1, "unsqueeze"))(input)


# ---------------------------------------------------------------- expand / repeat
class Expand(Op):
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return broadcast_to_view(x, self.shape)

    def backward(self, grad):
        return grad  # the engine sums it back to the input's shape


def expand(input, *sizes):
    """A broadcast view (no copy): -1 keeps a size, size-1 dims stretch, new dims lead."""
    sizes = _sizes(sizes, "expand")
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)}); sizes {list(sizes)}, "
                           f"tensor shape {list(shape)}")
    lead = len(sizes) - len(shape)
    out = list(sizes)
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"expand: the expanded size of the tensor ({s}) isn't allowed in a leading, "
                                   f"non-existing dimension {i}.  Target sizes: {list(sizes)}")
            continue
        cur = shape[i - lead]
        if s == -1:
            out[i] = cur
        elif s < 0 or (cur != s and cur != 1):
            raise RuntimeError(f"expand: the expanded size of the tensor ({s}) must match the existing size "
                               f"({cur}) at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                               f"Tensor sizes: {list(shape)}")
    return Expand(tuple(out))(input)


def broadcast_to(input, size):
    return expand(input, size)


def broadcast_shapes(*shapes):
    """The shape the given shapes broadcast to (torch.broadcast_shapes), or a RuntimeError naming them."""
    try:
        return _Size(np.broadcast_shapes(*[tuple(s) if isinstance(s, (tuple, list)) else (s,) for s in shapes]))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape: "
                           f"{', '.join(str(list(s)) for s in shapes)}") from None


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape (views; gradients sum back)."""
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t if tuple(t.shape) == tuple(shape) else expand(t, shape) for t in tensors)


class Repeat(Op):
    def __init__(self, reps):
        self.reps = reps

    def forward(self, x):
        self.in_shape = x.shape
        return xp_of(x).tile(x, self.reps)  # a copy, even when every repeat is 1

    def backward(self, grad):
        # view the output as (r0, s0, r1, s1, ...) and sum over the repeat axes
        full = (1,) * (len(self.reps) - len(self.in_shape)) + self.in_shape
        pairs = tuple(n for rs in zip(self.reps, full) for n in rs)
        g = reshape(grad, pairs).sum(dim=tuple(range(0, len(pairs), 2)))
        return reshape(g, self.in_shape)


def repeat(input, *sizes):
    """Tile the data `sizes[i]` times along dim i (leading sizes add dims); always copies."""
    reps = _sizes(sizes, "repeat")
    nd = input._data.ndim
    if len(reps) < nd:
        raise RuntimeError(f"repeat: number of dimensions of repeat dims ({len(reps)}) can not be smaller than "
                           f"number of dimensions of tensor ({nd}); got repeats {list(reps)} for shape "
                           f"{list(input._data.shape)}")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"repeat: repeats must be non-negative, got {list(reps)}")
    return Repeat(reps)(input)


def tile(input, *dims):
    """Like repeat, but fewer `dims` than the tensor has dims are padded with leading 1s."""
    if not dims:
        raise TypeError("tile() missing 1 required positional argument: 'dims'")
    reps = shape_arg(dims, "tile")
    nd = input._data.ndim
    return repeat(input, (1,) * (nd - len(reps)) + reps)


# ---------------------------------------------------------------- permute / transpose / movedim
class Permute(Op):
    is_view = True

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, grad):
        inv = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inv[d] = i
        return Permute(tuple(inv))(grad)


def permute(input, *dims):
    dims = _sizes(dims, "permute")
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(): number of dims don't match: input.dim() = {nd} is not equal to "
                           f"len(dims) = {len(dims)} (dims {list(dims)})")
    dims = tuple(wrap_dim(d, nd, "permute") for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError(f"permute(): duplicate dims are not allowed, got {list(dims)}")
    return Permute(dims)(input)


def transpose(input, dim0, dim1):
    nd = input._data.ndim
    d0, d1 = wrap_dim(dim0, nd, "transpose"), wrap_dim(dim1, nd, "transpose")
    dims = list(range(nd))
    if nd:
        dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute(tuple(dims))(input)


def swapaxes(input, axis0, axis1):
    return transpose(input, axis0, axis1)


def swapdims(input, dim0, dim1):
    return transpose(input, dim0, dim1)


def _dim_list(dims, nd, op, name):
    dims = [dims] if not isinstance(dims, (tuple, list)) else list(dims)
    out = [wrap_dim(d, nd, op) for d in dims]
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: repeated dim in `{name}` ({list(dims)})")
    return out


def movedim(input, source, destination):
    """Move dims `source` to positions `destination`; the others keep their order."""
    nd = input._data.ndim
    src = _dim_list(source, nd, "movedim", "source")
    dst = _dim_list(destination, nd, "movedim", "destination")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
                           f"contain the same number of dims as destination ({list(dst)} dims)")
    perm = [-1] * nd
    for s, d in zip(src, dst):
        perm[d] = s
    rest = iter(d for d in range(nd) if d not in src)
    perm = [p if p >= 0 else next(rest) for p in perm]
    return Permute(tuple(perm))(input)


moveaxis = movedim


# ---------------------------------------------------------------- flip
class Flip(Op):
    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return xp_of(x).flip(x, axis=self.dims).copy()  # PyTorch's flip copies

    def backward(self, grad):
        return Flip(self.dims)(grad)


def flip(input, *dims, **kwargs):
    """Reverse the order along `dims` (a tuple, or several ints as a method, or dims=); returns a copy."""
    if "dims" in kwargs:
        if dims:
            raise TypeError("flip() got multiple values for argument 'dims'")
        dims = (kwargs.pop("dims"),)
    if kwargs:
        raise TypeError(f"flip() got an unexpected keyword argument {next(iter(kwargs))!r}")
    if not dims:
        raise TypeError("flip() missing 1 required positional argument: 'dims'")
    dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    nd = input._data.ndim
    wrapped = tuple(wrap_dim(d, nd, "flip") for d in dims)
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"flip(): dim appears multiple times in the list of dims {list(dims)}")
    return Flip(wrapped if nd else ())(input)


# ---------------------------------------------------------------- narrow / split / unbind
class Narrow(Op):
    is_view = True

    def __init__(self, dim, start, length):
        self.dim, self.start, self.length = dim, start, length

    def forward(self, x):
        self.in_shape = x.shape
        return x[(slice(None),) * self.dim + (slice(self.start, self.start + self.length),)]

    def backward(self, grad):
        return NarrowGrad(self.in_shape, self.dim, self.start)(grad)


class NarrowGrad(Op):
    """Narrow's backward: the gradient placed in a zero tensor of the input's shape."""

    def __init__(self, shape, dim, start):
        self.shape, self.dim, self.start = shape, dim, start

    def forward(self, g):
        self.length = g.shape[self.dim]
        out = xp_of(g).zeros_like(g, shape=self.shape)
        out[(slice(None),) * self.dim + (slice(self.start, self.start + self.length),)] = g
        return out

    def backward(self, grad):
        return Narrow(self.dim, self.start, self.length)(grad)


def narrow(input, dim, start, length):
    """The view input[..., start:start + length, ...] along `dim`; `start` may be negative."""
    shape = input._data.shape
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape), "narrow")
    start, length = _as_int(start, "narrow", "start"), _as_int(length, "narrow", "length")
    n = shape[d]
    if not -n <= start <= n:
        raise IndexError(f"narrow(): start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, got {length}.")
    if start + length > n:
        raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({n}) of dim "
                           f"{d} in a tensor of shape {list(shape)}.")
    return Narrow(d, start, length)(input)


class Split(Op):
    """Consecutive pieces of `sizes` along `dim`, one output each (views)."""

    is_view = True

    def __init__(self, dim, sizes):
        self.dim, self.sizes = dim, sizes

    def forward(self, x):
        lead = (slice(None),) * self.dim
        out, start = [], 0
        for n in self.sizes:
            out.append(x[lead + (slice(start, start + n),)])
            start += n
        return tuple(out)

    def backward(self, *grads):  # the engine passes zeros for pieces that got no gradient
        return Cat(self.dim, self.sizes)(*grads)


def _split(input, sizes, dim):
    return Split(dim, tuple(sizes))(input) if sizes else ()


def _split_dim(input, dim, op):
    nd = input._data.ndim
    if nd == 0:
        raise RuntimeError(f"{op} expects at least a 1-dimensional tensor")
    return wrap_dim(dim, nd, op)


def _even_sizes(n, size):
    """Pieces of `size` covering n, the last one smaller (PyTorch: at least one piece)."""
    count = max(-(-n // size), 1) if size else 1
    return [size] * (count - 1) + [n - size * (count - 1)]


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of size `split_size_or_sections` (an int; the last may be smaller) or of the given sizes."""
    d = _split_dim(tensor, dim, "split")
    n = tensor._data.shape[d]
    if isinstance(split_size_or_sections, (tuple, list)):
        sizes = [_as_int(s, "split", "split_size_or_sections") for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                               f"split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                               f"at dimension {d}), but got split_sizes={sizes}")
        return _split(tensor, sizes, d)
    size = _as_int(split_size_or_sections, "split", "split_size_or_sections")
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0 and n != 0:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
    return _split(tensor, _even_sizes(n, size), d)


def chunk(input, chunks, dim=0):
    """At most `chunks` pieces of equal size ceil(n / chunks) (the last may be smaller)."""
    chunks = _as_int(chunks, "chunk", "chunks")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _split_dim(input, dim, "chunk")
    n = input._data.shape[d]
    if n == 0:
        return _split(input, [0] * chunks, d)  # `chunks` empty pieces, like PyTorch
    return _split(input, _even_sizes(n, -(-n // chunks)), d)


class Unbind(Op):
    is_view = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        lead = (slice(None),) * self.dim
        return tuple(x[lead + (i, Ellipsis)] for i in range(x.shape[self.dim]))

    def backward(self, *grads):  # the engine passes zeros for slices that got no gradient
        return Stack(self.dim)(*grads)


def unbind(input, dim=0):
    """The slices along `dim`, with that dim removed (views)."""
    nd = input._data.ndim
    if nd == 0:
        raise IndexError("unbind(): dimension specified as 0 but tensor has no dimensions")
    d = wrap_dim(dim, nd, "unbind")
    return Unbind(d)(input) if input._data.shape[d] else ()


# ---------------------------------------------------------------- cat / stack
class Cat(Op):
    """Join along `dim`; `sizes` holds each input's extent there, None for PyTorch's legacy
    skipped 1-D empty tensors (which still get an empty gradient)."""

    def __init__(self, dim, sizes):
        self.dim, self.sizes = dim, sizes

    def forward(self, *xs):
        kept = [x for x, n in zip(xs, self.sizes) if n is not None]
        return xp_of(kept[0]).concatenate(kept, axis=self.dim)

    def backward(self, grad):
        pieces = iter(Split(self.dim, tuple(n for n in self.sizes if n is not None))(grad))
        return tuple(next(pieces) if n is not None else _empty_like_grad(grad)
                     for n in self.sizes)


def _empty_like_grad(grad):
    return Tensor._make(xp_of(grad._data).zeros_like(grad._data, shape=(0,)), None, 0, None)


def _tensor_list(tensors, op: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (tuple, list)):
        raise TypeError(f"{op}(): argument 'tensors' must be a tuple or list of Tensors, not "
                        f"{type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): expected a Tensor as element {i} of 'tensors', but got {type(t).__name__}")
    return list(tensors)


def _promote(tensors):
    """Cast every tensor to the PyTorch result dtype of them all (differentiably)."""
    first = tensors[0]._data.dtype
    if all(t._data.dtype == first for t in tensors):
        return tensors
    from .convert import cast
    dt = dtypes.result_type(*tensors).np
    return [t if t._data.dtype == dt else cast(t, dt) for t in tensors]


def cat(tensors, dim=0):
    """Join tensors along an existing dim; all other sizes must match.

    As in PyTorch, 1-D tensors of size 0 are skipped when checking shapes (legacy rule).
    """
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be concatenated; "
                               f"use stack() or unsqueeze it first")
    kept = [i for i, t in enumerate(tensors) if t._data.shape != (0,)]
    if not kept:  # nothing but legacy empty tensors
        return Cat(0, tuple(0 for _ in tensors))(*_promote(tensors))
    ref = tensors[kept[0]]._data.shape
    d = wrap_dim(dim, len(ref), "cat")
    sizes = [None] * len(tensors)
    for i in kept:
        shape = tensors[i]._data.shape
        if len(shape) != len(ref):
            raise RuntimeError(f"cat(): tensors must have same number of dimensions: got {len(ref)} and "
                               f"{len(shape)} (tensor number {i} in the list has shape {list(shape)}, tensor "
                               f"number {kept[0]} has shape {list(ref)})")
        for k, (a, b) in enumerate(zip(ref, shape)):
            if k != d and a != b:
                raise RuntimeError(f"cat(): Sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{a} but got size {b} for tensor number {i} in the list.")
        sizes[i] = shape[d]
    return Cat(d, tuple(sizes))(*_promote(tensors))


def concat(tensors, dim=0):
    return cat(tensors, dim)


def concatenate(tensors, axis=0):
    return cat(tensors, axis)


class Stack(Op):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        return xp_of(xs[0]).stack(xs, axis=self.dim)

    def backward(self, grad):
        return Unbind(self.dim)(grad)


def stack(tensors, dim=0):
    """Join equal-shaped tensors along a new dim."""
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(ref)} at entry 0 and "
                               f"{list(t._data.shape)} at entry {i}")
    d = wrap_dim(dim, len(ref) + 1, "stack")
    return Stack(d)(*_promote(tensors))


def hstack(tensors):
    """cat along dim 1 (dim 0 for 1-D tensors), 0-d tensors read as 1-D."""
    tensors = _tensor_list(tensors, "hstack")
    if not tensors:
        raise RuntimeError("hstack expects a non-empty TensorList")
    tensors = [t if t._data.ndim else reshape(t, (1,)) for t in tensors]
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    """cat along dim 0, 0-d and 1-D tensors read as rows (1, n)."""
    tensors = _tensor_list(tensors, "vstack")
    if not tensors:
        raise RuntimeError("vstack expects a non-empty TensorList")
    return cat([t if t._data.ndim >= 2 else reshape(t, (1, -1)) for t in tensors], 0)


# ---------------------------------------------------------------- copies
class Clone(Op):
    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad


def clone(input):
    return Clone()(input)


class Contiguous(Op):
    def forward(self, x):
        return xp_of(x).ascontiguousarray(x)

    def backward(self, grad):
        return grad


def contiguous(input, memory_format=None):
    """The tensor itself when already C-contiguous (as in PyTorch), else a contiguous copy. Any
    memory_format gives C order (channels_last is a layout hint tensorgrad does not keep)."""
    from ..memory_format import check as _check_format
    _check_format(memory_format, "contiguous()", input.dim())
    return input if input._data.flags.c_contiguous else Contiguous()(input)


# axis= as an alias of dim=, as PyTorch accepts it
cat, concat, stack = accepts_axis(cat), accepts_axis(concat), accepts_axis(stack)

__all__ = ["reshape", "view", "flatten", "unflatten", "permute", "transpose", "swapaxes", "swapdims",
           "squeeze", "unsqueeze", "expand", "broadcast_to", "broadcast_shapes", "broadcast_tensors", "repeat", "tile", "flip", "split", "chunk",
           "unbind", "narrow", "movedim", "moveaxis", "cat", "concat", "concatenate", "stack", "hstack",
           "vstack", "clone", "contiguous"]
