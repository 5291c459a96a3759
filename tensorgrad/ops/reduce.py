"""Reductions over dims: sum, mean, prod, max/min, var/std, norm, logsumexp, softmax."""
from __future__ import annotations

from .. import dtypes
from ..autograd.function import Op
from ._util import normalize_dims


def _keepdim_shape(shape, dims):
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


class Sum(Op):
    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        self.in_shape = x.shape
        return x.sum(axis=self.dims, keepdims=self.keepdim)

    def backward(self, grad):
        if not self.keepdim and self.dims and self.dims != tuple(range(len(self.dims))):
            grad = grad.reshape(_keepdim_shape(self.in_shape, self.dims))
        return grad.expand(self.in_shape)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "biu":
        input = input.to(dtypes.int64)  # PyTorch sums bool and integer tensors in int64
    return Sum(normalize_dims(dim, input._data.ndim, "sum"), keepdim)(input)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                           f"point or complex dtype. Got: {input.dtype}")
    dims = normalize_dims(dim, input._data.ndim, "mean")
    n = 1
    for d in dims:
        n *= input._data.shape[d]
    return Sum(dims, keepdim)(input) / n if n else Sum(dims, keepdim)(input) * float("nan")


# ---- not yet implemented (TODO: replace each stub with the real op)


def prod(*args, **kwargs):
    raise NotImplementedError("prod is not implemented yet")


def max(*args, **kwargs):
    raise NotImplementedError("max is not implemented yet")


def min(*args, **kwargs):
    raise NotImplementedError("min is not implemented yet")


def amax(*args, **kwargs):
    raise NotImplementedError("amax is not implemented yet")


def amin(*args, **kwargs):
    raise NotImplementedError("amin is not implemented yet")


def argmax(*args, **kwargs):
    raise NotImplementedError("argmax is not implemented yet")


def argmin(*args, **kwargs):
    raise NotImplementedError("argmin is not implemented yet")


def var(*args, **kwargs):
    raise NotImplementedError("var is not implemented yet")


def std(*args, **kwargs):
    raise NotImplementedError("std is not implemented yet")


def norm(*args, **kwargs):
    raise NotImplementedError("norm is not implemented yet")


def logsumexp(*args, **kwargs):
    raise NotImplementedError("logsumexp is not implemented yet")


def softmax(*args, **kwargs):
    raise NotImplementedError("softmax is not implemented yet")


def log_softmax(*args, **kwargs):
    raise NotImplementedError("log_softmax is not implemented yet")


def all(*args, **kwargs):
    raise NotImplementedError("all is not implemented yet")


def any(*args, **kwargs):
    raise NotImplementedError("any is not implemented yet")


def cumsum(*args, **kwargs):
    raise NotImplementedError("cumsum is not implemented yet")


__all__ = ['sum', 'mean', 'prod', 'max', 'min', 'amax', 'amin', 'argmax', 'argmin', 'var', 'std', 'norm', 'logsumexp', 'softmax', 'log_softmax', 'all', 'any', 'cumsum']
