"""Shape ops: reshape/view, permute/transpose, squeeze/unsqueeze, expand, cat/stack/split, flip.

View ops (``is_view``) return arrays that alias their input, and the result
shares the input's version counter, as PyTorch's views do.
"""
from __future__ import annotations

from ..autograd.function import Op
from ..backend import xp_of
from ._util import shape_arg, wrap_dim


class Reshape(Op):
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, grad):
        return grad.reshape(self.in_shape)


def _infer_shape(shape, numel, op):
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred (-1), got shape {list(shape)}")
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape {list(shape)} is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{op}: invalid shape dimension {s} in {list(shape)}")
        n *= s
    if n != numel:
        raise RuntimeError(f"{op}: shape {list(shape)} is invalid for input of size {numel}")
    return shape


def reshape(input, *shape):
    shape = _infer_shape(shape_arg(shape, "reshape"), input._data.size, "reshape")
    if shape == input._data.shape:
        return input
    return Reshape(shape)(input)


class Expand(Op):
    is_view = True

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return xp_of(x).broadcast_to(x, self.shape)

    def backward(self, grad):
        return grad  # the engine sums it back to the input's shape


def expand(input, *sizes):
    sizes = shape_arg(sizes, "expand")
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = []
    for i, s in enumerate(sizes):
        cur = shape[i - lead] if i >= lead else None
        if s == -1:
            if cur is None:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension ({i})")
            s = cur
        elif cur is not None and cur != s and cur != 1:
            raise RuntimeError(f"expand: the expanded size of the tensor ({s}) must match the existing size "
                               f"({cur}) at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                               f"Tensor sizes: {list(shape)}")
        out.append(s)
    out = tuple(out)
    if out == shape:
        return input
    return Expand(out)(input)


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
        return grad.permute(tuple(inv))


def permute(input, *dims):
    dims = shape_arg(dims, "permute")
    nd = input._data.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                           f"the length of the desired ordering of dimensions i.e. input.dim() = {nd} is "
                           f"not equal to len(dims) = {len(dims)}".replace("(sparse_coo)", ""))
    dims = tuple(wrap_dim(d, nd, "permute") for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError(f"permute: repeated dim in {list(dims)}")
    return Permute(dims)(input)


def transpose(input, dim0, dim1):
    nd = input._data.ndim
    d0, d1 = wrap_dim(dim0, nd, "transpose"), wrap_dim(dim1, nd, "transpose")
    if nd < 2 or d0 == d1:
        return input
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute(tuple(dims))(input)


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


def contiguous(input):
    return Contiguous()(input)


# ---- not yet implemented (TODO: replace each stub with the real op)


def view(*args, **kwargs):
    raise NotImplementedError("view is not implemented yet")


def flatten(*args, **kwargs):
    raise NotImplementedError("flatten is not implemented yet")


def unflatten(*args, **kwargs):
    raise NotImplementedError("unflatten is not implemented yet")


def swapaxes(*args, **kwargs):
    raise NotImplementedError("swapaxes is not implemented yet")


def squeeze(*args, **kwargs):
    raise NotImplementedError("squeeze is not implemented yet")


def unsqueeze(*args, **kwargs):
    raise NotImplementedError("unsqueeze is not implemented yet")


def broadcast_to(*args, **kwargs):
    raise NotImplementedError("broadcast_to is not implemented yet")


def repeat(*args, **kwargs):
    raise NotImplementedError("repeat is not implemented yet")


def flip(*args, **kwargs):
    raise NotImplementedError("flip is not implemented yet")


def split(*args, **kwargs):
    raise NotImplementedError("split is not implemented yet")


def chunk(*args, **kwargs):
    raise NotImplementedError("chunk is not implemented yet")


def unbind(*args, **kwargs):
    raise NotImplementedError("unbind is not implemented yet")


def narrow(*args, **kwargs):
    raise NotImplementedError("narrow is not implemented yet")


def movedim(*args, **kwargs):
    raise NotImplementedError("movedim is not implemented yet")


def tile(*args, **kwargs):
    raise NotImplementedError("tile is not implemented yet")


def cat(*args, **kwargs):
    raise NotImplementedError("cat is not implemented yet")


def stack(*args, **kwargs):
    raise NotImplementedError("stack is not implemented yet")


__all__ = ['reshape', 'expand', 'permute', 'transpose', 'clone', 'contiguous', 'view', 'flatten', 'unflatten', 'swapaxes', 'squeeze', 'unsqueeze', 'broadcast_to', 'repeat', 'flip', 'split', 'chunk', 'unbind', 'narrow', 'movedim', 'tile', 'cat', 'stack']
