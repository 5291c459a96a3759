"""Recurrent layers (torch.nn's): RNN, LSTM, GRU and their cells RNNCell, LSTMCell, GRUCell.

PyTorch's parameter names (weight_ih_l0, weight_hh_l0_reverse, bias_ih_l1, ...), shapes, gate
order (LSTM i, f, g, o; GRU r, z, n) and default initialisation U(-1/sqrt(H), 1/sqrt(H)), so
state dicts move between the two frameworks unchanged.

The sequence layers run each (layer, direction) as one op (ops/rnn.py RecurrentLayer): the loop
over time steps is inside it, forward and backward. An LSTM with projections (proj_size > 0,
h_t = W_hr (o_t * tanh(c_t))) has no fused kernel: it runs step by step on recorded ops. The cells are built from recorded ops, a
product and the fused pointwise step, for loops written by hand (truncated BPTT, decoders).
"""
from __future__ import annotations

import math
import numbers
import warnings

from .. import creation
from ..ops.linalg import linear
from ..ops.rnn import LSTMStep, gru_cell, lstm_cell, recurrent_layer, rnn_cell
from ..ops.shape import cat, stack
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _shape(t) -> list:
    return list(t.shape)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, checks, and the loop over layers and directions."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        for arg, v in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name}: {arg} should be of type int, got: {type(v).__name__}")
        if hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be greater than zero, got {hidden_size}")
        if num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be greater than zero, got {num_layers}")
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability "
                             f"of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}")
        if not isinstance(proj_size, int) or isinstance(proj_size, bool) or proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a positive integer or zero to disable projections, "
                             f"got {proj_size!r}")
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, got proj_size={proj_size} "
                             f"and hidden_size={hidden_size}")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        real_hidden = proj_size or hidden_size  # the size of h (and of each layer's output per direction)
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                for kind, shape in shapes:
                    pname = f"{kind}_l{layer}{suffix}"
                    setattr(self, pname, Parameter(creation.empty(shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(pname)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """Per (layer, direction): [weight_ih, weight_hh, bias_ih, bias_hh, weight_hr] (biases, weight_hr
        if any)."""
        per = self._per_direction()
        w = self._flat_weights
        return [w[i:i + per] for i in range(0, len(w), per)]

    def _per_direction(self) -> int:
        return (4 if self.bias else 2) + (1 if self.proj_size else 0)

    def flatten_parameters(self) -> None:
        """A no-op (cuDNN's contiguous weight buffer has no counterpart here)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------------ forward
    def _name(self) -> str:
        return f"{self._get_name()}({self.extra_repr()})"

    def _check_input(self, x, packed: bool):
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._name()}: expected the input to be a Tensor or a PackedSequence, got "
                            f"{type(x).__name__}")
        if packed and x.dim() != 2:
            raise ValueError(f"{self._name()}: a PackedSequence's data must be 2-D (sum of lengths, input_size), "
                             f"got data of shape {_shape(x)}")
        if not packed and x.dim() not in (2, 3):
            raise ValueError(f"{self._name()}: Expected input to be 2D (unbatched: seq_len, input_size) or 3D "
                             f"(batched), got {x.dim()}D instead (input shape {_shape(x)})")
        if not packed and x.shape[1 if self.batch_first and x.dim() == 3 else 0] == 0:
            raise RuntimeError(f"{self._name()}: Expected sequence length to be larger than 0 in RNN (input shape "
                               f"{_shape(x)}, batch_first={self.batch_first})")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"{self._name()}: input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]} (input shape {_shape(x)})")
        w = self.weight_ih_l0
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"{self._name()}: expected a floating point input of type {w.dtype} like the "
                               f"parameters, got {x.dtype}; convert the input with .to({w.dtype})")
        if x.dtype != w.dtype:
            raise RuntimeError(f"{self._name()}: input must have the type {w.dtype} of the parameters, got "
                               f"type {x.dtype}; convert the input with .to({w.dtype}) or the module with "
                               f".to({x.dtype})")
        if x.device != w.device:
            raise RuntimeError(f"{self._name()}: input is on {x.device} but the parameters are on {w.device}; "
                               f"move one with .to(device)")

    def _check_state(self, h, which: str, expected: tuple, unbatched: bool):
        if not isinstance(h, Tensor):
            raise TypeError(f"{self._name()}: {which} must be a Tensor, got {type(h).__name__}")
        want = 2 if unbatched else 3
        if h.dim() != want:
            kind = "unbatched 2-D" if unbatched else "batched 3-D"
            raise RuntimeError(f"{self._name()}: for {kind} input, {which} should also be {want}-D but got "
                               f"{h.dim()}-D tensor of shape {_shape(h)}")
        shape = (expected[0], expected[2]) if unbatched else expected
        if tuple(h.shape) != tuple(shape):
            raise RuntimeError(f"{self._name()}: Expected {which} size {tuple(shape)}, got {_shape(h)}")
        w = self.weight_ih_l0
        if h.dtype != w.dtype or h.device != w.device:
            raise RuntimeError(f"{self._name()}: {which} must be {w.dtype} on {w.device} like the parameters, "
                               f"got {h.dtype} on {h.device}")

    def forward(self, input, hx=None):
        from .utils.rnn import PackedSequence, _packed_to_padded, _padded_to_packed
        packed = isinstance(input, PackedSequence)
        lstm = self.mode == "LSTM"
        if packed:
            self._check_input(input.data, True)
            x, batch_sizes = _packed_to_padded(input)
            unbatched = False
        else:
            self._check_input(input, False)
            unbatched = input.dim() == 2
            x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
            batch_sizes = None
        batch = x.shape[1]
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, batch, self.hidden_size)
        expected_h = (expected[0], batch, self.proj_size or self.hidden_size)  # h is projected, c is not
        if hx is None:
            h0 = creation.zeros(expected_h, dtype=x.dtype, device=x.device)
            c0 = creation.zeros(expected, dtype=x.dtype, device=x.device) if self.proj_size else h0
            states = (h0, c0) if lstm else (h0,)
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{self._name()}: hx must be a tuple (h_0, c_0) of two Tensors, got "
                                    f"{type(hx).__name__}")
                self._check_state(hx[0], "hidden[0] (h_0)", expected_h, unbatched)
                self._check_state(hx[1], "hidden[1] (c_0)", expected, unbatched)
                states = tuple(hx)
            else:
                self._check_state(hx, "hx", expected, unbatched)
                states = (hx,)
            if unbatched:
                states = tuple(s.unsqueeze(1) for s in states)
            elif packed and input.sorted_indices is not None:
                states = tuple(s.index_select(1, input.sorted_indices) for s in states)

        h_first = states[0].unbind(0)
        c_first = states[1].unbind(0) if lstm else [None] * len(h_first)
        weights = self._flat_weights
        per = self._per_direction()
        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                w = weights[k * per:(k + 1) * per]
                if self.proj_size:
                    y, h, c = _projected_lstm_layer(layer_input, h_first[k], c_first[k], w,
                                                    direction == 1, batch_sizes)
                else:
                    y, h, c = recurrent_layer(self.mode, layer_input, h_first[k], c_first[k], *w,
                                              reverse=direction == 1, batch_sizes=batch_sizes)
                outs.append(y)
                h_n.append(h)
                c_n.append(c)
            layer_input = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        states = (stack(h_n, 0), stack(c_n, 0)) if lstm else (stack(h_n, 0),)

        if packed:
            output = PackedSequence(_padded_to_packed(layer_input, batch_sizes), input.batch_sizes,
                                    input.sorted_indices, input.unsorted_indices)
            if input.unsorted_indices is not None:
                states = tuple(s.index_select(1, input.unsorted_indices) for s in states)
        elif unbatched:
            output = layer_input.squeeze(1)
            states = tuple(s.squeeze(1) for s in states)
        else:
            output = layer_input.transpose(0, 1) if self.batch_first else layer_input
        return output, (states if lstm else states[0])


def _projected_lstm_layer(x, h, c, weights, reverse: bool, batch_sizes):
    """One layer, one direction of an LSTM with projections, step by step on recorded ops (so
    the gradients come from them): x (T, B, I), h (B, P), c (B, H), weights [w_ih, w_hh, (b_ih,
    b_hh,) w_hr]. Returns (y (T, B, P), h_n, c_n). With batch_sizes (packed input, sorted by
    length) step t updates only the first batch_sizes[t] rows: the others keep their state,
    the last one (forward) or the initial one (reverse, where they have not started yet)."""
    w_ih, w_hh, w_hr = weights[0], weights[1], weights[-1]
    b_ih, b_hh = (weights[2], weights[3]) if len(weights) == 5 else (None, None)
    t_len, batch = x.shape[:2]
    sizes = batch_sizes or [batch] * t_len
    outs = [None] * t_len
    for t in (range(t_len - 1, -1, -1) if reverse else range(t_len)):
        n = sizes[t]
        h_run, c_run = (h, c) if n == batch else (h[:n], c[:n])
        z = linear(x[t, :n], w_ih, b_ih) + linear(h_run, w_hh, b_hh)
        h_full, c_new = LSTMStep()(z, c_run)
        h_new = linear(h_full, w_hr)
        if n == batch:
            h, c = h_new, c_new
            outs[t] = h_new
        else:  # padding rows of the output are zeros, as _packed_to_padded's
            h, c = cat([h_new, h[n:]], 0), cat([c_new, c[n:]], 0)
            outs[t] = cat([h_new, creation.zeros((batch - n, h.shape[1]), dtype=x.dtype, device=x.device)], 0)
    return stack(outs, 0), h, c


class RNN(RNNBase):
    """Elman RNN: h_t = tanh (or relu)(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), per layer."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, proj_size=None):
        if proj_size is not None:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o (PyTorch's order); forward(input, (h_0, c_0)) returns
    (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit: gates r, z, n (PyTorch's order), n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, proj_size=None):
        if proj_size is not None:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


# ---------------------------------------------------------------------- cells
class RNNCellBase(Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(creation.empty((num_chunks * hidden_size, input_size), device=device,
                                                  dtype=dtype))
        self.weight_hh = Parameter(creation.empty((num_chunks * hidden_size, hidden_size), device=device,
                                                  dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _name(self) -> str:
        return f"{self._get_name()}({self.extra_repr()})"

    def _prepare(self, input, states: tuple, which: tuple):
        """Checks; returns (input as 2-D, states as 2-D (zeros when None), was it unbatched)."""
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._name()}: expected input to be a Tensor, got {type(input).__name__}")
        if input.dim() not in (1, 2):
            raise ValueError(f"{self._name()}: Expected input to be 1D or 2D, got {input.dim()}D instead "
                             f"(input shape {_shape(input)})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{self._name()}: input has inconsistent input_size: got {input.shape[-1]}, "
                               f"expected {self.input_size} (input shape {_shape(input)})")
        w = self.weight_ih
        if input.dtype != w.dtype or input.device != w.device:
            raise RuntimeError(f"{self._name()}: input must be {w.dtype} on {w.device} like the parameters, got "
                               f"{input.dtype} on {input.device}")
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        out = []
        for h, name in zip(states, which):
            if h is None:
                out.append(creation.zeros((x.shape[0], self.hidden_size), dtype=x.dtype, device=x.device))
                continue
            if not isinstance(h, Tensor):
                raise TypeError(f"{self._name()}: {name} must be a Tensor, got {type(h).__name__}")
            if h.dim() != input.dim():
                raise RuntimeError(f"{self._name()}: {name} must be {input.dim()}-D like the input (input shape "
                                   f"{_shape(input)}), got shape {_shape(h)}")
            h = h.unsqueeze(0) if unbatched else h
            if h.shape[1] != self.hidden_size:
                raise RuntimeError(f"{self._name()}: {name} has inconsistent hidden_size: got {h.shape[1]}, "
                                   f"expected {self.hidden_size} (shape {_shape(h)})")
            if h.shape[0] != x.shape[0]:
                raise RuntimeError(f"{self._name()}: Input batch size {x.shape[0]} doesn't match {name} batch "
                                   f"size {h.shape[0]} (input shape {_shape(input)}, {name} shape {_shape(h)})")
            if h.dtype != w.dtype or h.device != w.device:
                raise RuntimeError(f"{self._name()}: {name} must be {w.dtype} on {w.device} like the parameters, "
                                   f"got {h.dtype} on {h.device}")
            out.append(h)
        return x, out, unbatched


class RNNCell(RNNCellBase):
    """h' = tanh (or relu)(x W_ih^T + b_ih + h W_hh^T + b_hh)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity: {nonlinearity}. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, (hx,), ("hx",))
        out = rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)
        return out.squeeze(0) if unbatched else out


class LSTMCell(RNNCellBase):
    """One LSTM step: forward(input, (h, c)) returns (h', c'); the pointwise part is one fused op."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{self._name()}: hx must be a tuple (h, c) of two Tensors, got {type(hx).__name__}")
        x, (h, c), unbatched = self._prepare(input, (None, None) if hx is None else tuple(hx), ("hx[0]", "hx[1]"))
        h, c = lstm_cell(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step: forward(input, h) returns h'; the pointwise part is one fused op."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, (hx,), ("hx",))
        out = gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out.squeeze(0) if unbatched else out


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
