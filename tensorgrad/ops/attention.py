"""scaled_dot_product_attention (torch.nn.functional's), composed of differentiable ops:
softmax(q @ k^T * scale + mask) @ v, so its backward and double backward come from them.

The mask follows PyTorch: a boolean attn_mask says which positions may be attended to (True =
attend), a float one is added to the scores; is_causal masks the positions after each query's
own (the lower triangle of an (L, S) matrix). A query that may attend to nothing (every score
-inf) gets a zero output and zero gradients, as PyTorch's (since 2.5), not NaN.
"""
from __future__ import annotations

import math

import numpy as np

from .. import autocast_mode as _autocast
from ._util import check_tensor


def _bool():
    from .. import dtypes
    return dtypes.bool_


def safe_softmax(scores):
    """softmax over the last dim, with 0 (and a zero gradient) for rows whose scores are all -inf."""
    dead = (scores == float("-inf")).all(-1, keepdim=True)
    if dead._data.__class__ is np.ndarray and not dead._data.any():
        return scores.softmax(-1)  # the CPU skips the masking when no row is dead (CUDA: no device read)
    return scores.masked_fill(dead, 0.0).softmax(-1).where(dead.logical_not(), scores.new_zeros(()))


@_autocast.policy(cuda="lower", cpu="lower")
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """Attention of query (..., L, E) over key (..., S, E) and value (..., S, Ev): (..., L, Ev)."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        check_tensor("scaled_dot_product_attention", t, name)
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(f"scaled_dot_product_attention(): query, key and value need at least 2 dims "
                           f"(..., L, E), got shapes {list(query.shape)}, {list(key.shape)}, {list(value.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention(): query (..., L, E) and key (..., S, E) must share E, "
                           f"key and value (..., S, Ev) must share S; got shapes {list(query.shape)}, "
                           f"{list(key.shape)}, {list(value.shape)}")
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention(): enable_gqa (grouped-query attention) is not "
                                  "supported; repeat key and value over the head dim instead")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    l_len, s_len = query.shape[-2], key.shape[-2]
    factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * factor
    if is_causal:
        from ..creation import ones
        attn_mask = ones(l_len, s_len, dtype=_bool(), device=query.device).tril()
    if attn_mask is not None:
        check_tensor("scaled_dot_product_attention", attn_mask, "attn_mask")
        if attn_mask.dtype is _bool():
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        elif attn_mask.dtype is query.dtype:
            scores = scores + attn_mask
        else:
            raise RuntimeError(f"scaled_dot_product_attention(): expected attn_mask dtype to be bool or {query.dtype} "
                               f"(the query's), but got attn_mask.dtype: {attn_mask.dtype}")
    weights = safe_softmax(scores)
    if dropout_p > 0.0:
        from .dropout import dropout
        weights = dropout(weights, dropout_p, True)
    return weights @ value


__all__ = ["scaled_dot_product_attention"]  # (safe_softmax: for nn.MultiheadAttention)
