"""embedding_bag (torch.nn.functional's): sums, means or maxima of bags of embedding rows, without
materializing the looked-up rows for the caller.

The bags are given as a 2-D input (one fixed-length bag per row) or as a 1-D input cut at `offsets`.
Everything about the bags is settled once, on the index arrays, before the op runs: each kept
entry's row (`idx`), its bag (`bag`), its position in the flat input (`pos`), and for mode='mean'
its weight 1 / (entries in its bag). padding_idx entries are dropped there, so they neither add
to a bag nor count in its mean, and a bag left empty comes out as zeros.

One op (EmbeddingBag) each way. sum/mean: forward scatter-adds coef * weight[idx] into the bags;
backward gathers each entry's bag gradient and scatter-adds it, times coef, into the weight rows
(coef the mean's 1/count, or the per_sample_weights, whose own gradient is <bag grad, row>).
max: forward keeps, per bag and column, the row that won; backward routes the gradient to it.
The backward is written with tensor ops (Index/IndexGrad), so double backward works.
"""
from __future__ import annotations

import numpy as np

from .. import device_checks
from ..autograd.function import Op, check_same_device
from ..backend import xp_of
from ..tensor import Tensor
from ._util import check_tensor
from .index import Index, IndexGrad
from .shape import reshape

_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32))
_ROWS = (Ellipsis,)  # IndexGrad/Index: arrays index the leading dims of the whole tensor


def _const(arr) -> Tensor:
    return Tensor._make(arr, None, 0, None)


class EmbeddingBag(Op):
    """Inputs (weight, flat per_sample_weights or None); output (num_bags, embedding_dim)."""

    def __init__(self, mode, num_bags, idx, bag, pos, scale, has_psw, longest=None):
        self.mode, self.num_bags, self.longest = mode, num_bags, longest
        self.save_inputs = (0, 1) if has_psw else ()  # weight only for per_sample_weights' gradient
        self.ctx_arrays = (idx, bag, pos, scale)  # scale: the mean's 1/count per entry, else None

    def forward(self, weight, psw):
        idx, bag, pos, scale = self.ctx_arrays
        self.w_shape = weight.shape
        xp = xp_of(weight)
        out = xp.zeros((self.num_bags, weight.shape[1]), dtype=weight.dtype)
        rows = weight[idx]
        if self.mode == "max":
            return self._max_forward(xp, out, rows)
        if psw is not None:
            rows = rows * psw[pos][:, None]
        elif scale is not None:
            rows = rows * scale[:, None]
        xp.add.at(out, bag, rows)
        return out

    def _max_forward(self, xp, out, rows):
        """Lay the bags out densely (num_bags, longest bag, dim), -inf where a bag is shorter; the
        first maximum wins, as in PyTorch. Keeps the winning row per (bag, column) for backward."""
        idx, bag, _, _ = self.ctx_arrays
        n_bags, dim = out.shape
        nonempty = xp.zeros((n_bags, 1), out.dtype)
        if idx.size == 0:
            self.ctx_arrays = (xp.zeros((n_bags, dim), np.int64), None, None, nonempty)
            return out
        start = xp.searchsorted(bag, xp.arange(n_bags))  # entries are grouped by bag, in order
        slot = xp.arange(bag.size) - start[bag]  # each entry's place in its bag
        # 2-D input: its row length bounds every bag; 1-D: one host read on CUDA (the layout needs a size)
        longest = self.longest if self.longest is not None else int(slot.max()) + 1
        dense = xp.full((n_bags, longest, dim), -np.inf, dtype=out.dtype)
        dense[bag, slot] = rows
        which = dense.argmax(1)  # (bags, dim): the winning slot, the first on ties
        row_at = xp.zeros((n_bags, longest), np.int64)
        row_at[bag, slot] = idx
        nonempty[bag] = 1
        self.ctx_arrays = (row_at[xp.arange(n_bags)[:, None], which], None, None, nonempty)
        best = xp.take_along_axis(dense, which[:, None, :], 1)[:, 0, :]
        return xp.where(nonempty > 0, best, out)  # empty bags: 0, not -inf

    def backward(self, grad):
        need_w, need_psw = self.needs_input_grad
        if self.mode == "max":
            winner, _, _, nonempty = self.saved_arrays
            cols = xp_of(winner).arange(winner.shape[1])[None, :]
            return IndexGrad(_ROWS, (0, 1), (winner, cols), self.w_shape)(grad * _const(nonempty)), None
        idx, bag, pos, scale = self.saved_arrays
        weight, psw = self.saved_tensors if self.save_inputs else (None, None)
        g_rows = Index(_ROWS, (0,), (bag,))(grad)  # each entry's bag gradient
        gw = gpsw = None
        if need_w:
            if psw is not None:
                coef = reshape(Index(_ROWS, (0,), (pos,))(psw), (-1, 1))
            elif scale is not None:
                coef = _const(scale[:, None])
            else:
                coef = None
            gw = IndexGrad(_ROWS, (0,), (idx,), self.w_shape)(g_rows if coef is None else g_rows * coef)
        if need_psw:
            per_entry = (g_rows * Index(_ROWS, (0,), (idx,))(weight)).sum(1)
            gpsw = IndexGrad(_ROWS, (0,), (pos,), tuple(psw.shape))(per_entry)
        return gw, gpsw


EmbeddingBagBackward0 = EmbeddingBag  # PyTorch's grad_fn name


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Per bag, the sum, mean or max of the rows of `weight` (num_embeddings, embedding_dim) at the
    indices of the bag: (B, N) input -> B bags of N; 1-D input -> bags input[offsets[i]:offsets[i + 1]]
    (the last to the end, or with include_last_offset=True offsets holds B + 1 bounds). Returns
    (B, embedding_dim); per_sample_weights (input's shape, mode='sum' only) weight each entry."""
    check_tensor("embedding_bag", input)
    check_tensor("embedding_bag", weight, "weight")
    if max_norm is not None:
        raise NotImplementedError("embedding_bag(max_norm=...) (renormalizing rows in place) is not supported "
                                  "by tensorgrad")
    if sparse:
        raise NotImplementedError("embedding_bag(sparse=True) is not supported by tensorgrad (it has no sparse "
                                  "gradients): use sparse=False, which gives the same values as a dense gradient")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    if weight._data.dtype.kind != "f":
        raise RuntimeError(f"embedding_bag(): expected a floating point weight, got {weight.dtype}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if scale_grad_by_freq:
        if mode == "max":
            raise ValueError("max mode does not support scaling the gradient by the frequency")
        raise NotImplementedError("embedding_bag(scale_grad_by_freq=True) is not supported by tensorgrad")
    if per_sample_weights is not None:
        check_tensor("embedding_bag", per_sample_weights, "per_sample_weights")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: If per_sample_weights ({list(per_sample_weights.shape)}) is not "
                             f"None, then it must have the same shape as the input ({list(input.shape)})")
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}'). Please open a feature "
                                      f"request on GitHub.")
        if per_sample_weights.dtype != weight.dtype:
            raise RuntimeError(f"embedding_bag(): expected per_sample_weights to have weight's dtype "
                               f"{weight.dtype}, got {per_sample_weights.dtype}")
    idx = input._data
    if idx.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.dtype} instead (while checking arguments for embedding_bag)")
    check_same_device("embedding_bag", [weight._data, idx] + [t._data for t in (offsets, per_sample_weights)
                                                              if isinstance(t, Tensor)])
    xp = xp_of(idx)
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets)}")
        num_bags, per_bag = idx.shape
        bag = xp.repeat(xp.arange(num_bags, dtype=np.int64), per_bag)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        check_tensor("embedding_bag", offsets, "offsets")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        bag, num_bags = _bags_from_offsets(offsets, idx, include_last_offset)
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {idx.ndim}")

    num = weight.shape[0]
    idx = idx.reshape(-1).astype(np.int64, copy=False)
    if idx.size:
        device_checks.check_value((idx < 0) | (idx >= num), idx, lambda v: IndexError(
            f"embedding_bag(): index out of range in self: index {v} for an embedding table of {num} rows"),
            "embedding_bag()")
        if idx.__class__ is not np.ndarray:  # on CUDA the check is deferred: stay inside the table meanwhile
            idx = device_checks.clamp_index(idx, max(num, 1))
    pos = xp.arange(idx.size, dtype=np.int64)
    keep = bag < num_bags  # include_last_offset: entries past the last bound belong to no bag
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise RuntimeError(f"padding_idx must be within the number of embeddings, {-num} through {num - 1}, "
                               f"but got {padding_idx}")
        keep &= idx != padding_idx % num
    idx, bag, pos = idx[keep], bag[keep], pos[keep]
    scale = None
    if mode == "mean":
        counts = xp.bincount(bag, minlength=num_bags)
        scale = (1.0 / counts[bag]).astype(weight._data.dtype)
    psw = None if per_sample_weights is None else reshape(per_sample_weights, (-1,))
    longest = per_bag if input._data.ndim == 2 else None
    return EmbeddingBag(mode, num_bags, idx, bag, pos, scale, psw is not None, longest)(weight, psw)


def _bags_from_offsets(offsets, idx, include_last_offset):
    """Each flat position's bag (num_bags where it falls past the last bound), and the bag count."""
    off = offsets._data
    if off.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f"embedding_bag(): offsets must be an integer (Long or Int) tensor, got {offsets.dtype}")
    off = off.astype(np.int64, copy=False)
    n = idx.shape[0]
    num_bags = off.shape[0] - 1 if include_last_offset else off.shape[0]
    if num_bags < 0 or (include_last_offset and num_bags == 0 and n):
        raise ValueError("embedding_bag(): include_last_offset=True needs offsets with at least 2 entries "
                         f"(num_bags + 1 bounds), got {off.shape[0]}")
    if off.size:
        device_checks.check_value(off[:1] != 0, off[:1], lambda v: RuntimeError(
            f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from position 0. "
            f"However, got {v}"), "embedding_bag()")
        if include_last_offset:  # PyTorch's own modes disagree past the last bound: require the documented form
            device_checks.check_value(off[-1:] != n, off[-1:], lambda v: ValueError(
                f"embedding_bag(): with include_last_offset=True the last offset closes the last bag and must "
                f"equal input's length {n}, but got offsets[-1] of {v}"), "embedding_bag()")
        device_checks.check_value(off[-1:] > n, off[-1:], lambda v: RuntimeError(
            f"offsets[-1] can not be greater than input's length {n} but got offsets[-1] of {v}"), "embedding_bag()")
        device_checks.check_value(off[1:] < off[:-1], off[1:], lambda v: RuntimeError(
            f"embedding_bag(): offsets must be non-decreasing, but offset {v} follows a larger one"),
            "embedding_bag()")
    xp = xp_of(off)
    if num_bags == 0:
        return xp.zeros(n, np.int64), 0
    bag = xp.searchsorted(off, xp.arange(n, dtype=np.int64), side="right") - 1
    return xp.clip(bag, 0, num_bags), num_bags  # (clip: a bad offsets[0] is reported, not indexed with)


__all__ = ["embedding_bag"]
