"""Binary search into sorted values, with PyTorch's semantics: searchsorted and bucketize.

Both return integer positions (int64, or int32 with out_int32) and are never recorded.
One vectorized binary search serves the 1-D and the batched (N-D) form on NumPy and CuPy
alike: every value keeps its own [lo, hi) interval into its row of the sequence, and each
step halves all intervals at once. It compares the way PyTorch's kernel does (`!(s >= v)`
for the left side, `!(s > v)` for the right), so NaNs land where PyTorch puts them.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd.function import Op
from ..backend import xp_of
from ..tensor import Tensor
from ._util import check_tensor, is_scalar
from .index import _check_bounds


class SearchSorted(Op):
    differentiable = False

    def __init__(self, right: bool, out_int32: bool, scalar_dtype=None):
        self.right, self.out_int32, self.scalar_dtype = right, out_int32, scalar_dtype

    def forward(self, seq, values, sorter):
        xp = xp_of(seq)
        if self.scalar_dtype is not None:  # a Python number: compared in the promoted dtype, as PyTorch
            values = xp.asarray(values).astype(self.scalar_dtype)  # (0.1 as float32; -1 wraps in uint8)
            seq = seq.astype(self.scalar_dtype, copy=False)
        if sorter is not None:
            seq = xp.take_along_axis(seq, sorter, axis=-1)
        n = seq.shape[-1]
        if not n or not values.size:
            lo = xp.zeros(values.shape, dtype=np.int64)
        else:
            b = seq.size // n  # one row per batch entry (1 for a 1-D sequence)
            v = values.reshape(b, -1)  # (B, M)
            lo = xp.zeros(v.shape, dtype=np.int64)
            hi = xp.full(v.shape, n, dtype=np.int64)
            flat = seq.reshape(-1)
            base = (xp.arange(b, dtype=np.int64) * n)[:, None]
            for _ in range(n.bit_length()):  # enough halvings for an interval of n
                active = lo < hi
                mid = (lo + hi) // 2
                s = flat.take(base + xp.minimum(mid, n - 1))
                go_right = active & ~(s > v if self.right else s >= v)
                hi = xp.where(active & ~go_right, mid, hi)
                lo = xp.where(go_right, mid + 1, lo)
        out = lo.reshape(values.shape)
        return out.astype(np.int32) if self.out_int32 else out


def _side(side, right) -> bool:
    if side is None:
        return bool(right)
    if side not in ("left", "right"):
        raise RuntimeError(f"searchsorted(): side can only be 'left' or 'right' but got {side!r}")
    if side == "left" and right:
        raise RuntimeError("searchsorted(): side and right can't be set to opposites, got side of left while "
                           "right was True")
    return side == "right"


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """The index at which each value of `input` would be inserted into the innermost dim of
    `sorted_sequence` to keep it sorted: the first such index (side='left'), or the last
    (side='right' / right=True).

    A 1-D sequence serves any `input` shape (or a number, giving a 0-d result); an N-D sequence
    needs input's leading dims equal to its own, each row searched in its own row. `sorter`
    (int64, the sequence's shape) gives the ascending order of an unsorted sequence, as argsort
    would; positions are then into that sorted order.
    """
    check_tensor("searchsorted", sorted_sequence, "sorted_sequence")
    right = _side(side, right)
    seq_shape = sorted_sequence._data.shape
    if not seq_shape:
        raise RuntimeError("searchsorted(): boundaries tensor should have positive dimension, but got 0 "
                           "dimension")
    if isinstance(input, Tensor):
        in_shape = input._data.shape
    elif is_scalar(input):
        in_shape = ()
    else:
        raise TypeError(f"searchsorted(): argument 'input' must be a Tensor or a number, not "
                        f"{type(input).__name__}")
    if len(seq_shape) > 1:
        if not in_shape:
            raise RuntimeError(f"searchsorted(): input value can be a scalar only when boundaries tensor "
                               f"dimension is 1, but we got boundaries tensor dim({len(seq_shape)}) and input "
                               f"value's dim(0) numel(1)")
        if len(in_shape) != len(seq_shape) or in_shape[:-1] != seq_shape[:-1]:
            raise RuntimeError(f"searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                               f"dimensions of boundaries tensor and input value tensor must match, but we got "
                               f"boundaries tensor {list(seq_shape)} and input value tensor {list(in_shape)}")
    if sorter is not None:
        check_tensor("searchsorted", sorter, "sorter")
        s = sorter._data
        if s.dtype != np.int64:
            raise RuntimeError(f"searchsorted(): sorter must be a tensor of long dtype but got dtype "
                               f"{sorter.dtype.name}")
        if s.shape != seq_shape:
            raise RuntimeError(f"searchsorted(): boundary and sorter must have the same size, but got boundary "
                               f"tensor {list(seq_shape)} and got sorter tensor {list(s.shape)}")
        # the checked copy (clamped meanwhile where the CUDA check is deferred) is what gets used
        checked = _check_bounds(s, seq_shape[-1], len(seq_shape) - 1, "searchsorted(): sorter ",
                                RuntimeError, negative=False)
        sorter = Tensor._make(checked, None, 0, None)
    scalar_dtype = None if isinstance(input, Tensor) else dtypes.result_type(sorted_sequence, input).np
    return SearchSorted(right, bool(out_int32), scalar_dtype)(sorted_sequence, input, sorter)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value of `input` among the ascending 1-D `boundaries`: i such that
    boundaries[i-1] < x <= boundaries[i] (right=True: boundaries[i-1] <= x < boundaries[i])."""
    check_tensor("bucketize", boundaries, "boundaries")
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"bucketize(): boundaries tensor must be 1 dimension, but got "
                           f"dim({boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


__all__ = ["searchsorted", "bucketize"]
