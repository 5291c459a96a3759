"""A whole LSTM or GRU layer's time loop (one layer, one direction) as one CUDA launch each way.

ops/rnn.py's RecurrentLayer runs the loop over time in Python: per step a product h W_hh^T, an
add and the fused cell kernel of fused/rnn_cells.py, ~100 µs of host time a step however small the
layer. Here the whole loop is one kernel (kernels/rnn_seq.cu): a block per batch row keeps the
row's h in shared memory, and each thread computes its hidden unit's four gate sums, the cell,
and in the backward the gate gradients and its unit of dh W_hh, step after step. What the op
saves and consumes is unchanged, so the input products before and the weight products after stay
single GEMMs over all steps:

  pre   (T, B, 4H)  in: x_t W_ih^T + b_ih + b_hh; out: the activated gates (i, f, g, o) of the rows
                    each step ran (the op's `act`)
  y     (T, B, H)   each step's h;  c_seq (T, B, H): each step's c (the op's `extra`)
  dz    (T, B, 4H)  the gradients of the gate pre-activations (the op's `d_pre`)

and for the GRU (gates r, z, n; n = tanh(gi_n + r * (W_hn h + b_hn)), as PyTorch):

  pre   (T, B, 3H)  in: gi = x_t W_ih^T + b_ih; out: the activated gates (r, z, n)
  y     (T, B, H)   each step's h;  ghn (T, B, H): each step's W_hn h + b_hn (the op's `extra`)
  dgi, dgh (T, B, 3H)  the gradients of gi and of gh = h W_hh^T + b_hh (`d_pre`, `d_rec`)

Rows b >= batch_sizes[t] skip step t and keep their state (a packed batch, sorted by decreasing
length); their rows of y, c_seq, pre and dz are not written. `reverse` walks t from T-1 to 0.

The NumPy references are exactly the op's loops (on the cell references of fused/rnn_cells.py):
the oracle for the kernels in tests; the CPU op keeps its own code. The kernels need H <= 1024
(`supported`): one thread per unit in a block of up to 1024 threads.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import backend, kernels
from . import rnn_cells

MAX_HIDDEN = 1024
_MAX_BLOCKS = 65535
_sizes_cache: dict = {}  # (batch sizes, device) -> the device int64 array


def _order(t_len, reverse):
    return range(t_len - 1, -1, -1) if reverse else range(t_len)


def _sizes_list(batch_sizes, t_len, batch):
    return [int(n) for n in batch_sizes] if batch_sizes else [batch] * t_len


# ---------------------------------------------------------------- NumPy references
def lstm_seq_forward_ref(pre, w_hh, h0, c0, batch_sizes, reverse, y, c_seq, h_n, c_n):
    """The LSTM layer's forward loop: pre (overwritten with the activated gates), w_hh (4H, H),
    h0, c0 (B, H) into y, c_seq (T, B, H), h_n, c_n (B, H)."""
    t_len, batch = pre.shape[:2]
    sizes = _sizes_list(batch_sizes, t_len, batch)
    h_n[...] = h0
    c_n[...] = c0
    for t in _order(t_len, reverse):
        n = sizes[t]
        z = pre[t, :n]
        z += h_n[:n] @ w_hh.T
        rnn_cells._lstm_forward_ref(z, c_n[:n], z, y[t, :n], c_seq[t, :n])
        c_n[:n] = c_seq[t, :n]
        h_n[:n] = y[t, :n]
    return y, c_seq, h_n, c_n


def _state_before(seq, init, order, sizes, s, n):
    """The state the first n rows started the s-th step (in running order) from: for rows that ran
    the step before, its entry of `seq` (c_seq or y), for the others `init` (c0 or h0)."""
    prev = init[:n].copy()
    if s > 0:
        tp = order[s - 1]
        m = min(n, sizes[tp])
        prev[:m] = seq[tp, :m]
    return prev


def lstm_seq_backward_ref(act, c_seq, c0, gy, w_hh, batch_sizes, reverse, dz, dh, dc):
    """The LSTM layer's backward loop: from the forward's act, c_seq and c0, the gradient gy of y
    and w_hh, writes dz (T, B, 4H) and turns dh, dc (B, H) from the gradients of h_n, c_n into those
    of h0, c0."""
    t_len, batch = act.shape[:2]
    sizes = _sizes_list(batch_sizes, t_len, batch)
    order = list(_order(t_len, reverse))
    for s in range(t_len - 1, -1, -1):
        t = order[s]
        n = sizes[t]
        c_prev = _state_before(c_seq, c0, order, sizes, s, n)
        g = dh[:n]
        g += gy[t, :n]
        rnn_cells._lstm_backward_ref(act[t, :n], c_prev, c_seq[t, :n], g, dc[:n], dz[t, :n], dc[:n])
        dh[:n] = dz[t, :n] @ w_hh
    return dz, dh, dc


def gru_seq_forward_ref(pre, w_hh, b_hh, h0, batch_sizes, reverse, y, ghn, h_n):
    """The GRU layer's forward loop: pre (gi, overwritten with the activated gates r, z, n), w_hh
    (3H, H), b_hh (3H) or None, h0 (B, H) into y, ghn (T, B, H: W_hn h + b_hn) and h_n (B, H)."""
    t_len, batch = pre.shape[:2]
    hid = h0.shape[1]
    sizes = _sizes_list(batch_sizes, t_len, batch)
    h_n[...] = h0
    for t in _order(t_len, reverse):
        n = sizes[t]
        rec = h_n[:n] @ w_hh.T
        if b_hh is not None:
            rec += b_hh
        rnn_cells._gru_forward_ref(pre[t, :n], rec, h_n[:n], pre[t, :n], y[t, :n])
        ghn[t, :n] = rec[:, 2 * hid:]
        h_n[:n] = y[t, :n]
    return y, ghn, h_n


def gru_seq_backward_ref(act, ghn, y, h0, gy, w_hh, batch_sizes, reverse, dgi, dgh, dh):
    """The GRU layer's backward loop: writes dgi, dgh (T, B, 3H) and turns dh (B, H) from the
    gradient of h_n into that of h0."""
    t_len, batch = act.shape[:2]
    sizes = _sizes_list(batch_sizes, t_len, batch)
    order = list(_order(t_len, reverse))
    for s in range(t_len - 1, -1, -1):
        t = order[s]
        n = sizes[t]
        h_prev = _state_before(y, h0, order, sizes, s, n)
        g = dh[:n]
        g += gy[t, :n]
        rnn_cells._gru_backward_ref(act[t, :n], ghn[t, :n], h_prev, g, dgi[t, :n], dgh[t, :n], g)
        g += dgh[t, :n] @ w_hh
    return dgi, dgh, dh


# ---------------------------------------------------------------- dispatch
def supported(x, hidden: int) -> bool:
    """Whether the sequence kernels take this layer: CuPy arrays of a kernel dtype, H <= 1024."""
    return (x.__class__ is not np.ndarray and 0 < hidden <= MAX_HIDDEN
            and x.dtype.name in kernels.kernel_dtypes("rnn_seq"))


def _device_sizes(batch_sizes, t_len, batch, like):
    cp = backend.xp_of(like)
    key = (tuple(_sizes_list(batch_sizes, t_len, batch)), like.device.id)
    arr = _sizes_cache.get(key)
    if arr is None:
        if len(_sizes_cache) > 256:
            _sizes_cache.clear()
        with like.device:  # on the arrays' device, whichever is current
            arr = _sizes_cache[key] = cp.asarray(np.array(key[0], dtype=np.int64))
    return arr


def _launch(function, batch, hidden, shared_per_unit, like, args):
    if batch == 0 or hidden == 0:
        return
    acc = 8 if like.dtype == np.float64 else 4
    threads = min((hidden + 31) // 32 * 32, 1024)
    with like.device:
        k = kernels.get_kernel("rnn_seq", function, like.dtype, like.device.id)
        k((min(batch, _MAX_BLOCKS),), (threads,), args, shared_mem=shared_per_unit * hidden * acc)


def _c(a):
    return a if a.flags.c_contiguous else backend.xp_of(a).ascontiguousarray(a)


def _on_device_of(a):
    """The device context of a CuPy array (its allocations and copies go there, whichever device is
    current: a kernel reads only its own device's memory); no context for a NumPy array."""
    return contextlib.nullcontext() if a.__class__ is np.ndarray else a.device


def lstm_seq_forward(pre, w_hh, h0, c0, batch_sizes=None, reverse=False, w_hh_t=None):
    """Run the LSTM layer's forward loop. pre (T, B, 4H), C-contiguous, is overwritten with the
    activated gates; returns (y, c_seq, h_n, c_n). A packed batch's y is zero past each sequence's end.
    `w_hh_t` may pass w_hh.T C-contiguous (the kernel's layout) when the caller has it."""
    with _on_device_of(pre):
        xp = backend.xp_of(pre)
        t_len, batch, gates = pre.shape
        hid = gates // 4
        y = (xp.zeros if batch_sizes else xp.empty)((t_len, batch, hid), dtype=pre.dtype)
        c_seq = xp.empty((t_len, batch, hid), dtype=pre.dtype)
        h_n, c_n = xp.empty((batch, hid), dtype=pre.dtype), xp.empty((batch, hid), dtype=pre.dtype)
        if pre.__class__ is np.ndarray:
            return lstm_seq_forward_ref(pre, w_hh, h0, c0, batch_sizes, reverse, y, c_seq, h_n, c_n)
        if not pre.flags.c_contiguous:
            raise ValueError("lstm_seq_forward: pre must be C-contiguous (it is written in place)")
        w_hh_t = _c(w_hh.T) if w_hh_t is None else _c(w_hh_t)
        sizes = _device_sizes(batch_sizes, t_len, batch, pre)
        _launch("lstm_seq_forward", batch, hid, 2, pre,
                (pre, w_hh_t, _c(h0), _c(c0), sizes, y, c_seq, h_n, c_n, np.int64(t_len), np.int64(batch),
                 np.int64(hid), np.int32(bool(reverse))))
        return y, c_seq, h_n, c_n


def lstm_seq_backward(act, c_seq, c0, gy, w_hh, dh_n, dc_n, batch_sizes=None, reverse=False):
    """Run the LSTM layer's backward loop: returns (dz (T, B, 4H), dh0, dc0). dz is zero in the rows
    a step skipped. dh_n and dc_n are not modified."""
    with _on_device_of(act):
        xp = backend.xp_of(act)
        t_len, batch, gates = act.shape
        hid = gates // 4
        dz = (xp.zeros_like if batch_sizes else xp.empty_like)(act)
        dh, dc = xp.array(dh_n, order="C", copy=True), xp.array(dc_n, order="C", copy=True)
        if act.__class__ is np.ndarray:
            return lstm_seq_backward_ref(act, c_seq, c0, gy, w_hh, batch_sizes, reverse, dz, dh, dc)
        sizes = _device_sizes(batch_sizes, t_len, batch, act)
        _launch("lstm_seq_backward", batch, hid, 4, act,
                (_c(act), _c(c_seq), _c(c0), _c(gy), _c(w_hh), sizes, dz, dh, dc, np.int64(t_len), np.int64(batch),
                 np.int64(hid), np.int32(bool(reverse))))
        return dz, dh, dc


def gru_seq_forward(pre, w_hh, b_hh, h0, batch_sizes=None, reverse=False, w_hh_t=None):
    """Run the GRU layer's forward loop. pre (T, B, 3H) = gi, C-contiguous, is overwritten with the
    activated gates; returns (y, ghn, h_n). b_hh may be None."""
    with _on_device_of(pre):
        xp = backend.xp_of(pre)
        t_len, batch, gates = pre.shape
        hid = gates // 3
        y = (xp.zeros if batch_sizes else xp.empty)((t_len, batch, hid), dtype=pre.dtype)
        ghn = xp.empty((t_len, batch, hid), dtype=pre.dtype)
        h_n = xp.empty((batch, hid), dtype=pre.dtype)
        if pre.__class__ is np.ndarray:
            return gru_seq_forward_ref(pre, w_hh, b_hh, h0, batch_sizes, reverse, y, ghn, h_n)
        if not pre.flags.c_contiguous:
            raise ValueError("gru_seq_forward: pre must be C-contiguous (it is written in place)")
        w_hh_t = _c(w_hh.T) if w_hh_t is None else _c(w_hh_t)
        b_hh = xp.zeros(gates, dtype=pre.dtype) if b_hh is None else _c(b_hh)
        sizes = _device_sizes(batch_sizes, t_len, batch, pre)
        _launch("gru_seq_forward", batch, hid, 2, pre,
                (pre, w_hh_t, b_hh, _c(h0), sizes, y, ghn, h_n, np.int64(t_len), np.int64(batch), np.int64(hid),
                 np.int32(bool(reverse))))
        return y, ghn, h_n


def gru_seq_backward(act, ghn, y, h0, gy, w_hh, dh_n, batch_sizes=None, reverse=False):
    """Run the GRU layer's backward loop: returns (dgi, dgh (T, B, 3H), dh0); dgi and dgh are zero
    in the rows a step skipped. dh_n is not modified."""
    with _on_device_of(act):
        xp = backend.xp_of(act)
        t_len, batch, gates = act.shape
        hid = gates // 3
        alloc = xp.zeros_like if batch_sizes else xp.empty_like
        dgi, dgh = alloc(act), alloc(act)
        dh = xp.array(dh_n, order="C", copy=True)
        if act.__class__ is np.ndarray:
            return gru_seq_backward_ref(act, ghn, y, h0, gy, w_hh, batch_sizes, reverse, dgi, dgh, dh)
        sizes = _device_sizes(batch_sizes, t_len, batch, act)
        _launch("gru_seq_backward", batch, hid, 3, act,
                (_c(act), _c(ghn), _c(y), _c(h0), _c(gy), _c(w_hh), sizes, dgi, dgh, dh, np.int64(t_len),
                 np.int64(batch), np.int64(hid), np.int32(bool(reverse))))
        return dgi, dgh, dh


__all__ = ["MAX_HIDDEN", "supported", "lstm_seq_forward", "lstm_seq_backward", "lstm_seq_forward_ref",
           "lstm_seq_backward_ref", "gru_seq_forward", "gru_seq_backward", "gru_seq_forward_ref",
           "gru_seq_backward_ref"]
