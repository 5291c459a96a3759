"""pad's non-constant modes (torch.nn.functional.pad): reflect, replicate and circular.

Each padded dim is one index_select of source positions (mirrored, clamped or wrapped), so the
backward scatter-adds the gradient onto the positions a padded value came from, as PyTorch's
backward kernels do, and double backward comes with it. The source indices are computed once per
(size, padding, mode, device) and kept on the device.
"""
from __future__ import annotations

import numpy as np

from .index import IndexSelect

_cache: dict = {}


def _source(n: int, lo: int, hi: int, mode: str):
    i = np.arange(-lo, n + hi)
    if mode == "reflect":
        i = np.abs(i)
        return np.where(i >= n, 2 * (n - 1) - i, i)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    # circular: a negative side crops first, and the other side then wraps around what is left (PyTorch)
    start, stop = max(-lo, 0), n - max(-hi, 0)
    m = stop - start
    return np.arange(-max(lo, 0), m + max(hi, 0)) % m + start


def _indices(n, lo, hi, mode, device):
    key = (n, lo, hi, mode, str(device))
    hit = _cache.get(key)
    if hit is None:
        from ..creation import tensor
        if len(_cache) > 512:
            _cache.clear()
        hit = _cache[key] = tensor(_source(n, lo, hi, mode).astype(np.int64), device=device)._data
    return hit


def index_pad(input, pad, mode: str):
    """input padded on its last len(pad) // 2 dims by `mode` (reflect, replicate or circular)."""
    k = len(pad) // 2
    nd = input.dim()
    if len(pad) % 2 or not 1 <= k <= 3 or nd not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {nd}D input tensor.\n"
            f"Supported combinations for non-constant padding:\n"
            f"  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            f"  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            f"  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    out = input
    for i in range(k):
        d = nd - 1 - i
        lo, hi = int(pad[2 * i]), int(pad[2 * i + 1])
        n = input.shape[d]
        if mode == "reflect" and not (lo < n and hi < n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {d} of input {list(input.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError(f"Padding value causes wrapping around more than once: padding ({lo}, {hi}) at "
                               f"dimension {d} of input {list(input.shape)}")
        kept = n - max(-lo, 0) - max(-hi, 0)  # what negative padding (a crop) leaves
        if n + lo + hi < 1 or kept < 1:
            raise RuntimeError(f"pad(): negative padding ({lo}, {hi}) leaves an empty dimension {d} of input "
                               f"{list(input.shape)} (input size {n}, output size {n + lo + hi})")
        if lo == 0 and hi == 0:
            continue
        out = IndexSelect((Ellipsis,), (d,), (_indices(n, lo, hi, mode, input.device),))(out)
    return out if out is not input else input.clone()


__all__: list = []
