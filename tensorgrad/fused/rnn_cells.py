"""The pointwise math of one LSTM or GRU step, fused: NumPy references and their CUDA twins.

A recurrent step is a matrix product (the gates' pre-activations) followed by a dozen
elementwise operations. Here those elementwise operations are one call each way: on the CPU a
short sequence of whole-array NumPy passes, on CUDA one kernel of kernels/rnn_cells.cu (same
math, one thread per hidden unit). ops/rnn.py builds the recorded cell ops and the sequence
layers on them; tests compare both paths with the unfused composition of tensor ops.

Layouts are PyTorch's: the gate blocks along the last axis, LSTM (i, f, g, o), GRU (r, z, n).
All arrays are 2-D (batch, k*H), C-contiguous for the CUDA kernels; `out` arguments may alias
inputs where the docstrings say so (each element is read before its own output is written).

  LSTM  i, f, o = sigmoid(z_i, z_f, z_o), g = tanh(z_g)
        c = f * c_prev + i * g,  h = o * tanh(c)
  GRU   r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r * gh_n)
        h = (1 - z) * n + z * h_prev          (gi = x W_ih^T + b_ih, gh = h_prev W_hh^T + b_hh)

sigmoid(x) is computed as (1 + tanh(x / 2)) / 2: no overflow for large |x|, on both paths.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import backend, kernels

_THREADS = 256
_MAX_BLOCKS = 65536


# ---------------------------------------------------------------- NumPy references
@lru_cache(maxsize=64)
def _lstm_constants(h: int, dtype) -> tuple:
    """Per-column constants over the (i, f, g, o) blocks, for whole-row passes:
    scale, shift: sigmoid(x) = 0.5 * tanh(0.5 x) + 0.5 on i, f, o, while g stays tanh(x);
    one, zero_one: the activations' derivatives from their values as act * (one - act) + zero_one,
    s * (1 - s) for a sigmoid and 1 - g * g for the tanh."""
    def blocks(sig, tanh):
        a = np.full(4 * h, sig, dtype)
        a[2 * h:3 * h] = tanh
        return a
    return blocks(0.5, 1.0), blocks(0.5, 0.0), blocks(1.0, 0.0), blocks(0.0, 1.0)


def _lstm_forward_ref(z, c_prev, act, h, c):
    hid = c_prev.shape[1]
    scale, shift, _, _ = _lstm_constants(hid, np.dtype(z.dtype))
    np.multiply(z, scale, out=act)                    # act may be z itself
    np.tanh(act, out=act)
    act *= scale
    act += shift
    i, f, g, o = (act[:, k * hid:(k + 1) * hid] for k in range(4))
    np.multiply(f, c_prev, out=c)
    c += i * g
    np.tanh(c, out=h)
    h *= o
    return act, h, c


def _lstm_backward_ref(act, c_prev, c, dh, dc, dz, dc_prev):
    hid = c_prev.shape[1]
    _, _, one, zero_one = _lstm_constants(hid, np.dtype(act.dtype))
    i, f, g, o = (act[:, k * hid:(k + 1) * hid] for k in range(4))
    di, df, dg, do = (dz[:, k * hid:(k + 1) * hid] for k in range(4))
    tc = np.tanh(c)
    dct = tc * tc
    np.subtract(1.0, dct, out=dct)
    dct *= o
    dct *= dh
    dct += dc                                         # dL/dc, through h and from the next step
    np.multiply(dct, g, out=di)                       # dL/d(each activated gate)
    np.multiply(dct, c_prev, out=df)
    np.multiply(dct, i, out=dg)
    np.multiply(dh, tc, out=do)
    deriv = np.subtract(one, act)                     # times each activation's derivative,
    deriv *= act                                      # all four blocks in one pass
    deriv += zero_one
    dz *= deriv
    np.multiply(dct, f, out=dc_prev)                  # dc_prev may be dc itself: dc was read above
    return dz, dc_prev


def _gru_forward_ref(gi, gh, h_prev, act, h):
    hid = h_prev.shape[1]
    rz = act[:, :2 * hid]
    np.add(gi[:, :2 * hid], gh[:, :2 * hid], out=rz)  # act may be gi itself
    rz *= 0.5
    np.tanh(rz, out=rz)
    rz *= 0.5
    rz += 0.5
    r, z, n = act[:, :hid], act[:, hid:2 * hid], act[:, 2 * hid:]
    np.multiply(r, gh[:, 2 * hid:], out=h)            # h as scratch before it is h
    np.add(gi[:, 2 * hid:], h, out=n)
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)
    h *= z
    h += n
    return act, h


def _gru_backward_ref(act, gh_n, h_prev, dh, dgi, dgh, dh_prev):
    hid = h_prev.shape[1]
    r, z, n = act[:, :hid], act[:, hid:2 * hid], act[:, 2 * hid:]
    dr, dzz, dn = dgi[:, :hid], dgi[:, hid:2 * hid], dgi[:, 2 * hid:]
    np.subtract(1.0, z, out=dn)
    dn *= dh                                          # dL/dn
    np.subtract(h_prev, n, out=dzz)
    dzz *= dh                                         # dL/dz
    dzz *= z
    dzz *= 1.0 - z
    dn *= 1.0 - n * n                                 # dL/d(pre-activation of n)
    np.multiply(dn, gh_n, out=dr)
    dr *= r
    dr *= 1.0 - r
    dgh[:, :2 * hid] = dgi[:, :2 * hid]
    np.multiply(dn, r, out=dgh[:, 2 * hid:])
    np.multiply(dh, z, out=dh_prev)                   # dh_prev may be dh itself: dh was read above
    return dgi, dgh, dh_prev


# ---------------------------------------------------------------- dispatch
def _fresh(out, like, shape):
    return backend.xp_of(like).empty(shape, dtype=like.dtype) if out is None else out


def _launch(function: str, n: int, hidden: int, arrays):
    if n == 0:
        return
    x = arrays[0]
    with x.device:
        k = kernels.get_kernel("rnn_cells", function, x.dtype, x.device.id)
        blocks = min((n + _THREADS - 1) // _THREADS, _MAX_BLOCKS)
        k((blocks,), (_THREADS,), (*arrays, np.int64(n), np.int64(hidden)))


def _on_cpu(a) -> bool:
    return a.__class__ is np.ndarray or a.dtype.name not in kernels.kernel_dtypes("rnn_cells")


def _flat(*inputs):
    """The CUDA kernels index flat memory (the NumPy references take any strides): inputs in
    C order, copied only where they are not."""
    return [a if a.flags.c_contiguous else backend.xp_of(a).ascontiguousarray(a) for a in inputs]


def _contiguous(*outputs):
    for a in outputs:
        if not a.flags.c_contiguous:
            raise ValueError(f"rnn_cells: output arrays must be C-contiguous, got strides {a.strides} for shape "
                             f"{a.shape}")


def lstm_cell_forward(z, c_prev, act=None, h=None, c=None):
    """LSTM step from pre-activations z (B, 4H) and c_prev (B, H): returns (act, h, c), where act
    holds the activated gates (i, f, g, o). `act` may be `z` (overwritten in place)."""
    b, hid = c_prev.shape
    act, h, c = _fresh(act, z, z.shape), _fresh(h, c_prev, (b, hid)), _fresh(c, c_prev, (b, hid))
    if _on_cpu(z):
        return _lstm_forward_ref(z, c_prev, act, h, c)
    z, c_prev = _flat(z, c_prev)
    _contiguous(act, h, c)
    _launch("lstm_cell_forward", b * hid, hid, (z, c_prev, act, h, c))
    return act, h, c


def lstm_cell_backward(act, c_prev, c, dh, dc, dz=None, dc_prev=None):
    """Gradients of an LSTM step: from the activated gates, c_prev, c and the gradients dh, dc of
    h and c, returns (dz (B, 4H), dc_prev (B, H)). `dc_prev` may be `dc`."""
    b, hid = c_prev.shape
    dz, dc_prev = _fresh(dz, act, act.shape), _fresh(dc_prev, c_prev, (b, hid))
    if _on_cpu(act):
        return _lstm_backward_ref(act, c_prev, c, dh, dc, dz, dc_prev)
    act, c_prev, c, dh, dc = _flat(act, c_prev, c, dh, dc)
    _contiguous(dz, dc_prev)
    _launch("lstm_cell_backward", b * hid, hid, (act, c_prev, c, dh, dc, dz, dc_prev))
    return dz, dc_prev


def gru_cell_forward(gi, gh, h_prev, act=None, h=None):
    """GRU step from gi, gh (B, 3H) and h_prev (B, H): returns (act, h), act holding (r, z, n).
    `act` may be `gi`."""
    b, hid = h_prev.shape
    act, h = _fresh(act, gi, gi.shape), _fresh(h, h_prev, (b, hid))
    if _on_cpu(gi):
        return _gru_forward_ref(gi, gh, h_prev, act, h)
    gi, gh, h_prev = _flat(gi, gh, h_prev)
    _contiguous(act, h)
    _launch("gru_cell_forward", b * hid, hid, (gi, gh, h_prev, act, h))
    return act, h


def gru_cell_backward(act, gh_n, h_prev, dh, dgi=None, dgh=None, dh_prev=None):
    """Gradients of a GRU step: from (r, z, n), gh's n block gh_n (B, H), h_prev and dh, returns
    (dgi, dgh (B, 3H), dh_prev (B, H)), dh_prev holding only the direct path z * dh (the caller
    adds dgh @ W_hh). `dh_prev` may be `dh`."""
    b, hid = h_prev.shape
    dgi, dgh = _fresh(dgi, act, act.shape), _fresh(dgh, act, act.shape)
    dh_prev = _fresh(dh_prev, h_prev, (b, hid))
    if _on_cpu(act):
        return _gru_backward_ref(act, gh_n, h_prev, dh, dgi, dgh, dh_prev)
    act, gh_n, h_prev, dh = _flat(act, gh_n, h_prev, dh)
    _contiguous(dgi, dgh, dh_prev)
    _launch("gru_cell_backward", b * hid, hid, (act, gh_n, h_prev, dh, dgi, dgh, dh_prev))
    return dgi, dgh, dh_prev
