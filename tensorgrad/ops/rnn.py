"""Recurrent ops: one fused LSTM/GRU step (recorded per step), and a whole recurrent layer.

Two levels, both on the fused pointwise math of tensorgrad/rnn_cells.py:

* Step ops, `LSTMStep` and `GRUStep`: one step's pointwise math as one recorded op with a
  fused backward. nn.LSTMCell / nn.GRUCell put the gate products (linear) in front; a Python
  loop over a cell is backpropagation through time on the tape, a few nodes per step, and the
  engine's heap walk has no recursion, so 1,000 steps are as easy as 10.

* The layer op, `RecurrentLayer`: one layer and one direction of nn.RNN / nn.LSTM / nn.GRU over
  a whole (T, B, features) sequence, with the loop over time inside one op, as cuDNN does it.
  The input projections of all steps are one product; each step is a product with W_hh and the
  fused pointwise call; the backward walks the steps in reverse and forms the weight gradients
  as one product over all steps at the end. It keeps per step only the activated gates, the
  cell state (LSTM) or W_hn h + b_hn (GRU), and the output: memory linear in T.
  Variable-length batches (sorted by decreasing length) pass `batch_sizes`, the number of
  sequences still running at each step: a step only touches those rows, so every sequence's
  final state is taken at its own last step and outputs past its end stay zero.
  On CUDA an LSTM or GRU layer with H <= 1024 runs the whole time loop as one kernel launch each way
  (fused/rnn_seq.py, kernels/rnn_seq.cu), saving and consuming the same arrays.
  Like cuDNN's RNN it has no double backward (a gradient taken with create_graph=True through it
  cannot be differentiated again); the step ops have one. It keeps its output for the backward
  (the previous hidden state of each step), so changing that output in place before the backward
  raises the usual error instead of corrupting the gradient (PyTorch's CPU layers keep a copy).

The unfused compositions `lstm_step_composed` and `gru_step_composed` are the reference the
tests hold the fused ops to.
"""
from __future__ import annotations

from .. import autocast_mode as _autocast
from ..fused import rnn_cells, rnn_seq
from ..autograd import grad_mode
from ..autograd.function import Op
from ..backend import xp_of
from .linalg import linear
from .shape import cat


def _wrap(arr):
    from ..tensor import Tensor
    return Tensor._make(arr, None, 0, None)


def _array(grad):
    """A gradient tensor's array, C-contiguous (the fused calls index flat memory)."""
    d = grad._data
    return d if d.flags.c_contiguous else xp_of(d).ascontiguousarray(d)


# ---------------------------------------------------------------- unfused references
def lstm_step_composed(z, c_prev):
    """One LSTM step from gate pre-activations z (B, 4H) = x W_ih^T + b_ih + h W_hh^T + b_hh,
    as plain tensor ops: (h, c)."""
    i, f, g, o = z.chunk(4, 1)
    c = f.sigmoid() * c_prev + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def gru_step_composed(gi, gh, h_prev):
    """One GRU step from gi = x W_ih^T + b_ih and gh = h W_hh^T + b_hh (B, 3H), as tensor ops."""
    ir, iz, in_ = gi.chunk(3, 1)
    hr, hz, hn = gh.chunk(3, 1)
    r = (ir + hr).sigmoid()
    z = (iz + hz).sigmoid()
    n = (in_ + r * hn).tanh()
    return (1 - z) * n + z * h_prev


# ---------------------------------------------------------------- step ops
class LSTMStep(Op):
    """(h, c) = the LSTM pointwise step of z (B, 4H) and c_prev (B, H), fused both ways.
    Keeps z and c_prev only: the backward recomputes the gates (cheaper than storing them)."""

    save_inputs = (0, 1)

    def forward(self, z, c_prev):
        _, h, c = rnn_cells.lstm_cell_forward(z, c_prev)
        return h, c

    def backward(self, dh, dc):
        z, c_prev = self.saved_tensors
        if grad_mode.is_grad_enabled():  # create_graph: the same derivative as differentiable ops
            return _lstm_step_backward_composed(z, c_prev, dh, dc)
        act, _, c = rnn_cells.lstm_cell_forward(z._data, c_prev._data)
        dz, dc_prev = rnn_cells.lstm_cell_backward(act, c_prev._data, c, _array(dh), _array(dc))
        need = self.needs_input_grad
        return (_wrap(dz) if need[0] else None), (_wrap(dc_prev) if need[1] else None)


def _lstm_step_backward_composed(z, c_prev, dh, dc):
    i, f, g, o = z.chunk(4, 1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    tc = (f * c_prev + i * g).tanh()
    dct = dc + dh * o * (1 - tc * tc)
    dz = cat([dct * g * i * (1 - i), dct * c_prev * f * (1 - f), dct * i * (1 - g * g),
              dh * tc * o * (1 - o)], 1)
    return dz, dct * f


class GRUStep(Op):
    """h = the GRU pointwise step of gi, gh (B, 3H) and h_prev (B, H), fused both ways."""

    save_inputs = (0, 1, 2)

    def forward(self, gi, gh, h_prev):
        return rnn_cells.gru_cell_forward(gi, gh, h_prev)[1]

    def backward(self, dh):
        gi, gh, h_prev = self.saved_tensors
        if grad_mode.is_grad_enabled():
            return _gru_step_backward_composed(gi, gh, h_prev, dh)
        hid = h_prev.shape[1]
        act, _ = rnn_cells.gru_cell_forward(gi._data, gh._data, h_prev._data)
        gh_n = xp_of(act).ascontiguousarray(gh._data[:, 2 * hid:])
        dgi, dgh, dh_prev = rnn_cells.gru_cell_backward(act, gh_n, h_prev._data, _array(dh))
        need = self.needs_input_grad
        return tuple(_wrap(a) if n else None for a, n in zip((dgi, dgh, dh_prev), need))


def _gru_step_backward_composed(gi, gh, h_prev, dh):
    ir, iz, in_ = gi.chunk(3, 1)
    hr, hz, hn = gh.chunk(3, 1)
    r = (ir + hr).sigmoid()
    z = (iz + hz).sigmoid()
    n = (in_ + r * hn).tanh()
    dn = dh * (1 - z) * (1 - n * n)
    dz = dh * (h_prev - n) * z * (1 - z)
    dr = dn * hn * r * (1 - r)
    return cat([dr, dz, dn], 1), cat([dr, dz, dn * r], 1), dh * z


# ---------------------------------------------------------------- the layer op
MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")


class RecurrentLayer(Op):
    """One layer, one direction: inputs (x (T, B, I), h0 (B, H), c0 (B, H) or None, w_ih, w_hh,
    b_ih, b_hh (or None)); outputs (y (T, B, H), h_n) and, for the LSTM, c_n.

    `reverse` runs the steps from T-1 down to 0 (the backward direction of a bidirectional
    layer); `batch_sizes` (a list, non-increasing) makes step t use only its first
    batch_sizes[t] rows."""

    save_inputs = (0, 1, 2, 3, 4)
    save_output = True
    double_backward = False

    def __init__(self, mode: str, reverse: bool = False, batch_sizes=None):
        self.mode, self.reverse, self.batch_sizes = mode, reverse, batch_sizes

    def _steps(self, t_len):
        return range(t_len - 1, -1, -1) if self.reverse else range(t_len)

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = xp_of(x)
        t_len, batch = x.shape[:2]
        hid = w_hh.shape[1]
        mode = self.mode
        sizes = self.batch_sizes or [batch] * t_len
        # every step's input part of the gates in one product; the activated gates replace it
        pre = xp.matmul(x.reshape(t_len * batch, x.shape[2]), w_ih.T).reshape(t_len, batch, w_ih.shape[0])
        if b_ih is not None:
            pre += b_ih if mode == "GRU" else b_ih + b_hh  # the GRU's b_hn sits inside r * (...)
        packed = bool(self.batch_sizes)
        if mode == "LSTM" and rnn_seq.supported(pre, hid):  # the whole loop in one launch
            y, extra, h, c = rnn_seq.lstm_seq_forward(pre, w_hh, h0, c0, self.batch_sizes, self.reverse)
            self.ctx_arrays = (pre, extra)
            return y, h, c
        if mode == "GRU" and rnn_seq.supported(pre, hid):
            y, extra, h = rnn_seq.gru_seq_forward(pre, w_hh, b_hh, h0, self.batch_sizes, self.reverse)
            self.ctx_arrays = (pre, extra)
            return y, h
        y = (xp.zeros if packed else xp.empty)((t_len, batch, hid), dtype=x.dtype)
        # the running state: with every row running, the last step's outputs themselves; with a
        # packed batch, buffers whose rows keep each sequence's last state
        h = h0.copy() if packed else h0
        c = c0.copy() if packed and mode == "LSTM" else c0
        w_hh_t = w_hh.T
        extra = None
        if mode in ("LSTM", "GRU"):  # the cell states; or W_hn h + b_hn per step
            extra = xp.empty((t_len, batch, hid), dtype=x.dtype)
        for t in self._steps(t_len):
            n = sizes[t]
            rec = xp.matmul(h[:n], w_hh_t)
            z = pre[t, :n]
            if mode == "LSTM":
                z += rec
                rnn_cells.lstm_cell_forward(z, c[:n], act=z, h=y[t, :n], c=extra[t, :n])
                if packed:
                    c[:n] = extra[t, :n]
                else:
                    c = extra[t]
            elif mode == "GRU":
                if b_hh is not None:
                    rec += b_hh
                rnn_cells.gru_cell_forward(z, rec, h[:n], act=z, h=y[t, :n])
                extra[t, :n] = rec[:, 2 * hid:]
            else:
                z += rec
                if mode == "RNN_TANH":
                    xp.tanh(z, out=y[t, :n])
                else:
                    xp.maximum(z, 0, out=y[t, :n])
            if packed:
                h[:n] = y[t, :n]
            else:
                h = y[t]
        self.ctx_arrays = (pre, extra)
        # final states of their own: views into y or the saved cell states would share their memory
        h = h if packed else h.copy()
        if mode != "LSTM":
            return y, h
        return y, h, (c if packed else c.copy())

    def _previous(self, seq, init):
        """(T, B, H): the state each step started from, per row: the state after the step before
        it where that row was running then, else the initial state."""
        xp = xp_of(seq)
        prev = xp.empty_like(seq)
        if self.reverse:
            prev[:-1], prev[-1] = seq[1:], init
        else:
            prev[1:], prev[0] = seq[:-1], init
        if self.batch_sizes and self.reverse:  # rows whose (shorter) sequence starts at step t
            sizes = self.batch_sizes
            for t in range(len(sizes) - 1):
                if sizes[t + 1] < sizes[t]:
                    prev[t, sizes[t + 1]:sizes[t]] = init[sizes[t + 1]:sizes[t]]
        return prev

    def backward(self, gy, gh_n, gc_n=None):
        x, h0, c0, w_ih, w_hh, y = (s if s is None else s._data for s in self.saved_tensors)
        act, extra = self.saved_arrays
        xp = xp_of(act)
        mode = self.mode
        t_len, batch = x.shape[:2]
        sizes = self.batch_sizes or [batch] * t_len
        gy = _array(gy)
        if mode == "LSTM" and rnn_seq.supported(act, w_hh.shape[1]):  # the whole loop in one launch
            d_pre, dh, dc = rnn_seq.lstm_seq_backward(act, extra, c0, gy, w_hh, gh_n._data, gc_n._data,
                                                      self.batch_sizes, self.reverse)
            return self._grads(x, w_ih, d_pre, None, self._previous(y, h0), dh, dc)
        if mode == "GRU" and rnn_seq.supported(act, w_hh.shape[1]):
            d_pre, d_rec, dh = rnn_seq.gru_seq_backward(act, extra, y, h0, gy, w_hh, gh_n._data,
                                                        self.batch_sizes, self.reverse)
            return self._grads(x, w_ih, d_pre, d_rec, self._previous(y, h0), dh, None)
        d_pre = (xp.zeros_like if self.batch_sizes else xp.empty_like)(act)
        dh = gh_n._data.copy()
        h_prev = self._previous(y, h0)
        if mode == "LSTM":
            dc = gc_n._data.copy()
            c_prev = self._previous(extra, c0)
        elif mode == "GRU":
            d_rec = xp.zeros_like(act) if self.batch_sizes else xp.empty_like(act)
        for t in reversed(self._steps(t_len)):
            n = sizes[t]
            g = dh[:n]
            g += gy[t, :n]
            dz = d_pre[t, :n]
            if mode == "LSTM":
                rnn_cells.lstm_cell_backward(act[t, :n], c_prev[t, :n], extra[t, :n], g, dc[:n],
                                             dz=dz, dc_prev=dc[:n])
                xp.matmul(dz, w_hh, out=dh[:n])
            elif mode == "GRU":
                rnn_cells.gru_cell_backward(act[t, :n], extra[t, :n], h_prev[t, :n], g,
                                            dgi=dz, dgh=d_rec[t, :n], dh_prev=g)
                g += xp.matmul(d_rec[t, :n], w_hh)
            else:
                if mode == "RNN_TANH":
                    xp.multiply(y[t, :n], y[t, :n], out=dz)
                    xp.subtract(1, dz, out=dz)
                    dz *= g
                else:
                    xp.multiply(g, y[t, :n] > 0, out=dz)
                xp.matmul(dz, w_hh, out=dh[:n])
        return self._grads(x, w_ih, d_pre, d_rec if mode == "GRU" else None, h_prev, dh,
                           dc if mode == "LSTM" else None)

    def _grads(self, x, w_ih, d_pre, d_rec, h_prev, dh, dc):
        """The input, state and weight gradients from the gate gradients of all steps: d_pre of the
        input part, d_rec of the recurrent part (the GRU's; d_pre for the others)."""
        xp = xp_of(d_pre)
        t_len, batch = x.shape[:2]
        mode = self.mode
        need = self.needs_input_grad
        d_in = d_pre.reshape(t_len * batch, d_pre.shape[2])        # d(input part of the gates)
        d_hid = d_rec.reshape(t_len * batch, d_pre.shape[2]) if d_rec is not None else d_in
        grads = [
            xp.matmul(d_in, w_ih).reshape(x.shape) if need[0] else None,
            dh if need[1] else None,
            dc if mode == "LSTM" and need[2] else None,
            xp.matmul(d_in.T, x.reshape(t_len * batch, x.shape[2])) if need[3] else None,
            xp.matmul(d_hid.T, h_prev.reshape(t_len * batch, h_prev.shape[2])) if need[4] else None,
        ]
        if len(need) > 5:
            grads += [d_in.sum(0) if need[5] else None, d_hid.sum(0) if need[6] else None]
        return tuple(None if a is None else _wrap(a) for a in grads)


@_autocast.policy(cuda="lower")  # PyTorch's CUDA autocast runs the recurrent layers in float16
def recurrent_layer(mode, x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False, batch_sizes=None):
    """Run RecurrentLayer; returns (y, h_n, c_n) with c_n None for RNN and GRU."""
    op = RecurrentLayer(mode, reverse, batch_sizes)
    args = (x, h0, c0, w_ih, w_hh) + ((b_ih, b_hh) if b_ih is not None else ())
    out = op(*args)
    return out if mode == "LSTM" else (out[0], out[1], None)


# One step of each cell, as the cell modules run it (torch's lstm_cell / gru_cell / rnn_*_cell);
# whole functions so that CUDA autocast casts the state along with the input, as PyTorch does.
@_autocast.policy(cuda="lower")
def lstm_cell(input, hx, cx, w_ih, w_hh, b_ih=None, b_hh=None):
    """(h', c') of one LSTM step, gates i, f, g, o; the pointwise part is one fused op."""
    return LSTMStep()(linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh), cx)


@_autocast.policy(cuda="lower")
def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' of one GRU step, gates r, z, n; the pointwise part is one fused op."""
    return GRUStep()(linear(input, w_ih, b_ih), linear(hx, w_hh, b_hh), hx)


@_autocast.policy(cuda="lower")
def rnn_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """h' = tanh (or relu)(input W_ih^T + b_ih + hx W_hh^T + b_hh)."""
    z = linear(input, w_ih, b_ih) + linear(hx, w_hh, b_hh)
    return z.tanh() if nonlinearity == "tanh" else z.relu()


__all__ = ["lstm_step_composed", "gru_step_composed", "LSTMStep", "GRUStep", "RecurrentLayer",
           "recurrent_layer", "lstm_cell", "gru_cell", "rnn_cell"]
