"""Dropout with a counter-based RNG: the keep mask is a pure function of (seed, offset, index).

On CUDA nothing is stored between forward and backward: both call ``dropout_apply`` with the
same (seed, offset), which regenerates the same mask. On the CPU the forward keeps the mask packed
to one bit per entry for the backward (``dropout_forward`` / ``dropout_apply_bits``): the same
mask, drawn once.

CPU masks come in two modes (``set_cpu_masks``, or TENSORGRAD_DROPOUT_CPU=fast|philox):
- "fast" (the default): NumPy's own Philox4x64-10 bit generator (C code) keyed by (seed, offset),
  its 32-bit words under the same threshold rule; reproducible from ``tg.manual_seed`` but not the
  mask CUDA draws for that seed (PyTorch's devices don't agree either);
- "philox": exactly the mask the CUDA kernel draws for (seed, offset), computed below in NumPy at
  3-6x the cost (the MLP training step measured 6.98 against PyTorch's 5.16 ms with it); for
  comparing dropout runs across devices.
The CUDA random numbers come from Philox4x32-10
(Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11), a
bijection of a 128-bit counter under a 64-bit key:

  key      = (lo32(seed), hi32(seed))                     the generator's seed
  counter  = (lo32(m >> 2), hi32(m >> 2), lo32(offset), hi32(offset))
  word     = output word (m & 3) of Philox(counter, key)  for mask index m
  keep(m)  = (word >> 8) < threshold,  threshold = round((1 - p) * 2**24)

so one Philox evaluation serves four consecutive mask indices, and a call at another offset
draws from counters no other offset touches. The decision stays in integers, so the NumPy
reference here (the CPU path and the tests' oracle) and kernels/dropout.cu agree bit for bit.
The generator hands out (seed, offset) and advances the offset by the counters a call uses
(backend.Generator.philox_draw).

A mask index covers ``inner`` consecutive elements: element i uses mask index i // inner
(inner = 1 for dropout, H*W for dropout2d on (N, C, H, W)). The result is
x * (scale if keep else 0), computed in the data's math type (float32 for float16), so NaN
and inf in a dropped element give NaN, as x * mask does in PyTorch.
"""
from __future__ import annotations

import os

import numpy as np

from .. import backend
from ..kernels import _MAX_BLOCKS, _THREADS, get_kernel

# Philox4x32 constants (Salmon et al. 2011, section 4.2): round multipliers and the Weyl
# sequence increments that bump the key between rounds.
PHILOX_M0, PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
PHILOX_W0, PHILOX_W1 = 0x9E3779B9, 0xBB67AE85
PHILOX_ROUNDS = 10
THRESHOLD_BITS = 24  # the keep test compares a word's top 24 bits with the threshold

CPU_MASK_MODES = ("fast", "philox")
_cpu_masks = [os.environ.get("TENSORGRAD_DROPOUT_CPU", "fast").strip().lower() or "fast"]
if _cpu_masks[0] not in CPU_MASK_MODES:
    raise ValueError(f"TENSORGRAD_DROPOUT_CPU={_cpu_masks[0]!r}: expected one of {', '.join(CPU_MASK_MODES)}")


def set_cpu_masks(mode: str) -> str:
    """How dropout draws its masks on the CPU: "fast" (NumPy's C Philox4x64, the default) or
    "philox" (the very masks CUDA draws for the same seed). Returns the previous mode."""
    if mode not in CPU_MASK_MODES:
        raise ValueError(f"set_cpu_masks: mode must be one of {', '.join(CPU_MASK_MODES)}, got {mode!r}")
    before, _cpu_masks[0] = _cpu_masks[0], mode
    return before


def cpu_masks() -> str:
    return _cpu_masks[0]

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_MUL = np.array([[PHILOX_M0], [PHILOX_M1]], np.uint64)
_WEYL = np.array([[PHILOX_W0], [PHILOX_W1]], np.uint64)
_BLOCK = 16384  # counters per pass: the few (2, block) uint64 temporaries stay in L2


# ---------------------------------------------------------------- NumPy reference
def philox4x32(counter, key, rounds: int = PHILOX_ROUNDS):
    """Philox4x32-`rounds` of counters given as four broadcastable arrays (or ints) of 32-bit
    words, under a key of two 32-bit ints: the four output words as uint64 arrays.

    Vectorized: the two multiplies of a round are one uint64 product of the (c0, c2) lanes by
    (M0, M1), whose high and low halves give mulhi and mullo."""
    c0, c1, c2, c3 = (np.asarray(c, np.uint64) for c in counter)
    shape = np.broadcast_shapes(c0.shape, c1.shape, c2.shape, c3.shape)
    lanes = np.stack([np.broadcast_to(c0, shape), np.broadcast_to(c2, shape)])  # multiplied lanes
    other = np.stack([np.broadcast_to(c1, shape), np.broadcast_to(c3, shape)])  # xored-in lanes
    _philox_rounds(lanes, other, key, rounds)
    return lanes[0], other[0], lanes[1], other[1]


def _philox_rounds(lanes, other, key, rounds):
    """In place on (2, ...) uint64 arrays: lanes = (c0, c2), other = (c1, c3). One round is
    (c0, c1, c2, c3) <- (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1, lo(M0 c0))."""
    expand = (slice(None),) + (None,) * (lanes.ndim - 1)
    k = np.array([key[0] & 0xFFFFFFFF, key[1] & 0xFFFFFFFF], np.uint64)[expand]
    mul = _MUL.reshape(2)[expand]
    weyl = _WEYL.reshape(2)[expand]
    prod = np.empty_like(lanes)
    hi = np.empty_like(lanes)
    for r in range(rounds):
        if r:
            k = (k + weyl) & _M32
        np.multiply(lanes, mul, out=prod)
        np.right_shift(prod, _S32, out=hi)
        np.bitwise_xor(hi[::-1], other, out=lanes)  # the lanes swap: c0 takes c2's product
        lanes ^= k
        np.bitwise_and(prod[::-1], _M32, out=other)


def keep_threshold(p: float) -> int:
    """The integer keep threshold for drop probability p: keep iff (word >> 8) < threshold."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return int(round((1.0 - p) * (1 << THRESHOLD_BITS)))


def philox_counters(n_mask: int) -> int:
    """Counters a mask of n_mask entries uses: one per four entries."""
    return (n_mask + 3) // 4


def keep_mask_ref(seed: int, offset: int, n_mask: int, threshold: int) -> np.ndarray:
    """The keep mask (bool, n_mask entries) of (seed, offset), as the kernel draws it."""
    n_ctr = philox_counters(n_mask)
    keep = np.empty((n_ctr, 4), bool)  # row c holds mask indices 4c .. 4c+3
    if threshold <= 0 or n_ctr == 0:
        keep[...] = False
        return keep.reshape(-1)[:n_mask]
    limit = np.uint64(threshold << (32 - THRESHOLD_BITS))  # (w >> 8) < t  <=>  w < t << 8
    key = (seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF)
    lanes = np.empty((2, _BLOCK), np.uint64)
    other = np.empty((2, _BLOCK), np.uint64)
    for start in range(0, n_ctr, _BLOCK):
        stop = min(start + _BLOCK, n_ctr)
        m = stop - start
        ln, ot = lanes[:, :m], other[:, :m]
        idx = np.arange(start, stop, dtype=np.uint64)
        np.bitwise_and(idx, _M32, out=ln[0])
        np.right_shift(idx, _S32, out=ot[0])
        ln[1] = offset & 0xFFFFFFFF
        ot[1] = (offset >> 32) & 0xFFFFFFFF
        _philox_rounds(ln, ot, key, PHILOX_ROUNDS)
        rows = keep[start:stop]
        for w, word in enumerate((ln[0], ot[0], ln[1], ot[1])):
            np.less(word, limit, out=rows[:, w])
    return keep.reshape(-1)[:n_mask]


def keep_mask_fast(seed: int, offset: int, n_mask: int, threshold: int) -> np.ndarray:
    """The "fast" CPU keep mask of (seed, offset): NumPy's Philox4x64-10 bit generator keyed by
    the two 64-bit integers, its output read as 32-bit words, keep iff (word >> 8) < threshold."""
    if threshold <= 0 or n_mask == 0:
        return np.zeros(n_mask, bool)
    key = np.array([seed & 0xFFFFFFFFFFFFFFFF, offset & 0xFFFFFFFFFFFFFFFF], np.uint64)
    words = np.random.Philox(key=key).random_raw((n_mask + 1) // 2).view(np.uint32)[:n_mask]
    if threshold >= 1 << THRESHOLD_BITS:  # p == 0: every word passes (t << 8 would not fit 32 bits)
        return np.ones(n_mask, bool)
    return words < np.uint32(threshold << (32 - THRESHOLD_BITS))


def cpu_keep_mask(seed: int, offset: int, n_mask: int, threshold: int) -> np.ndarray:
    """The CPU keep mask in the current mode (see the module docstring)."""
    if _cpu_masks[0] == "philox":
        return keep_mask_ref(seed, offset, n_mask, threshold)
    return keep_mask_fast(seed, offset, n_mask, threshold)


def _math_dtype(dtype):
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def dropout_apply_ref(x, seed: int, offset: int, threshold: int, scale: float, inner: int = 1):
    """x * (scale where kept else 0), the mask over x's flat index // inner; in x's dtype,
    the product taken in the math type (float32 for float16) and rounded once."""
    n_mask = x.size // inner if inner else 0
    return _apply_keep(x, keep_mask_ref(seed, offset, n_mask, threshold), scale, inner)


def _apply_keep(x, keep, scale: float, inner: int):
    """x * (scale where keep else 0), keep (bool) over x's flat index // inner."""
    n_mask = keep.size
    keep = keep.reshape(n_mask, 1)
    math = _math_dtype(x.dtype)
    factor = np.multiply(keep, math.type(scale))  # bool * float: scale or 0 in the math type
    y = np.multiply(x.reshape(n_mask, inner), factor, dtype=math)
    return y.astype(x.dtype, copy=False).reshape(x.shape)


# ---------------------------------------------------------------- dispatch
def dropout_forward(x, seed: int, offset: int, threshold: int, scale: float, inner: int = 1):
    """(dropout_apply's result, what the backward can reuse): on the CPU the keep mask packed to
    one bit per entry (Philox in NumPy costs ~16 ns an entry, unpacking the bits ~1), on CUDA
    None: there the kernel regenerates the mask, which costs less than storing it."""
    if x.__class__ is not np.ndarray:
        return dropout_apply(x, seed, offset, threshold, scale, inner), None
    _check_inner(x, inner)
    keep = cpu_keep_mask(seed, offset, x.size // inner if inner else 0, threshold)
    return _apply_keep(x, keep, scale, inner), np.packbits(keep)


def dropout_apply_bits(x, keep_bits, n_mask: int, scale: float, inner: int = 1):
    """x * keep * scale with the keep mask from dropout_forward's packed bits (CPU arrays)."""
    _check_inner(x, inner)
    keep = np.unpackbits(keep_bits, count=n_mask).view(bool)
    return _apply_keep(x, keep, scale, inner)


def _check_inner(x, inner):
    if x.size and x.size % inner:
        raise ValueError(f"dropout: inner={inner} does not divide the input's {x.size} elements "
                         f"(shape {x.shape})")



def dropout_apply(x, seed: int, offset: int, threshold: int, scale: float, inner: int = 1):
    """x * keep * scale with the Philox mask of (seed, offset): kernels/dropout.cu for CuPy
    arrays, the reference for NumPy. The forward of dropout and, on the gradient, its backward.
    The launch does not wait for the GPU: the mask parameters are host integers."""
    _check_inner(x, inner)
    if x.__class__ is np.ndarray:  # the CPU's mask, in its mode
        _check_inner(x, inner)
        return _apply_keep(x, cpu_keep_mask(seed, offset, x.size // inner if inner else 0, threshold), scale, inner)
    cp = backend._cupy
    shape = x.shape  # ascontiguousarray makes a 0-d array 1-d
    with x.device:
        x = cp.ascontiguousarray(x)  # the kernel indexes flat memory
        y = cp.empty(shape, x.dtype)
        if x.size:
            n_mask = x.size // inner
            work = philox_counters(n_mask) * inner  # one thread per (counter, inner position)
            k = get_kernel("dropout", "dropout_apply", x.dtype, x.device.id)
            blocks = min((work + _THREADS - 1) // _THREADS, _MAX_BLOCKS)
            k((blocks,), (_THREADS,), (x, y, np.int64(n_mask), np.int64(inner),
                                       np.uint64(seed & 0xFFFFFFFFFFFFFFFF), np.uint64(offset & 0xFFFFFFFFFFFFFFFF),
                                       np.uint64(threshold), _math_dtype(x.dtype).type(scale)))
    return y
