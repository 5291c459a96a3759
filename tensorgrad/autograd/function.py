"""Op: the base of every built-in differentiable op, and the public autograd.Function.

A built-in op is one class with ``forward`` and ``backward`` side by side (the
Chainer/DeZero shape). ``forward`` gets raw arrays — NumPy or CuPy, the array
module comes from the data — so one op serves both devices. ``backward`` gets
gradient Tensors and returns one gradient Tensor (or None) per input, written
with tensor ops: under ``create_graph=True`` the engine runs it with grad
enabled, so the backward is itself recorded and second derivatives work.

What an op keeps for backward is declared, not ad hoc: ``save_inputs`` (input
positions) and ``save_output``, kept as version-checked SavedTensors only when
the op is recorded; extra non-differentiable arrays go in ``self.ctx_arrays``.
"""
from __future__ import annotations

import numpy as np

from . import grad_mode
from .anomaly import _mode as _anomaly, forward_stack
from .engine import Node, SavedTensor, accumulator_for, edge_of, next_seq, _creation_counter as _counter

from ..backend import _cupy

# what an op's forward may return as is; anything else (NumPy scalars from 0-d math) is wrapped
_ARRAY_TYPES: tuple = (np.ndarray,) if _cupy is None else (np.ndarray, _cupy.ndarray)


def check_same_device(op_name: str, arrays) -> None:
    first = arrays[0]
    cls = first.__class__
    for a in arrays[1:]:
        if a.__class__ is not cls or (cls is not np.ndarray and a.device.id != first.device.id):
            from ..backend import device_of
            raise RuntimeError(
                f"{op_name}: expected all tensors to be on the same device, but found tensors on "
                f"{device_of(first)} and {device_of(a)}; tensorgrad never copies between devices "
                f"implicitly: move one with .to(device) first")


class Op(Node):
    save_inputs: tuple = ()  # positions of inputs the backward needs
    save_output: bool = False  # whether the backward needs the (first) output
    is_view: bool = False  # output aliases input 0's memory (shares its version counter)
    differentiable: bool = True  # False for comparisons, argmax, ...: never recorded

    def forward(self, *arrays):
        raise NotImplementedError

    @property
    def needs_input_grad(self) -> tuple:
        """Which inputs get a gradient (derived from the edges; read in backward only)."""
        return tuple([e is not None for e in self.next_functions])

    def __call__(self, *inputs):
        """Run forward on the inputs' arrays; record on the tape if any input requires grad.

        Inputs are Tensors, or constants (NumPy scalars, Python numbers) passed through as is.
        This is the hottest path of the library: written out plainly, in one pass over the
        inputs, with no generators.
        """
        Tensor = _tensor_cls[0]
        track = self.differentiable and grad_mode._state.enabled
        data = []
        edges = []
        requires = False
        first = None
        for t in inputs:
            if isinstance(t, Tensor):
                d = t._data
                if first is None:
                    first = d
                elif d.__class__ is not first.__class__ or (
                        d.__class__ is not np.ndarray and d.device.id != first.device.id):
                    check_same_device(type(self).__name__, [x._data for x in inputs if isinstance(x, Tensor)])
                data.append(d)
                if track:
                    node = t._node
                    if node is not None:
                        edges.append((node, t._out_idx))
                        requires = True
                    elif t._requires_grad:
                        edges.append((accumulator_for(t), 0))
                        requires = True
                    else:
                        edges.append(None)
            else:
                data.append(t)
                edges.append(None)
        try:
            out = self.forward(*data)
        except ValueError as e:  # NumPy/CuPy broadcast failure: say which op and which shapes
            self._raise_broadcast_error(e, inputs)
        view_of = inputs[0] if self.is_view else None
        if out.__class__ is tuple:
            return self._finish_multi(inputs, out, edges if requires else None, view_of)
        if out.__class__ not in _ARRAY_TYPES:
            out = np.asarray(out)  # NumPy's 0-d math returns scalars
        if not requires or out.dtype.kind != "f":
            return Tensor._make(out, None, 0, None, view_of)
        self.next_functions = tuple(edges)
        self._seq = next(_counter)
        if _anomaly[0]:
            self._forward_stack = forward_stack()
        self._out_meta = ((out.shape, out.dtype),)
        if view_of is not None:
            self._view_of_vc = (view_of._vc, view_of._vc[1])
        res = Tensor._make(out, self, 0, None, view_of)
        if self.save_output or self.save_inputs:
            self._save(inputs, res)
        return res

    def _save(self, inputs, out):
        """Keep the declared inputs (and the first output) as version-checked SavedTensors."""
        Tensor = _tensor_cls[0]
        saved = [SavedTensor(inputs[i]) if isinstance(inputs[i], Tensor) else _Constant(inputs[i])
                 for i in self.save_inputs]
        if self.save_output:
            saved.append(SavedTensor(out, 0))
        self._saved = saved

    def _finish_multi(self, inputs, outs, edges, view_of):
        """The multi-output tail of __call__: integer outputs (indices) never get a grad_fn."""
        make = _tensor_cls[0]._make
        outs = tuple(o if o.__class__ in _ARRAY_TYPES else np.asarray(o) for o in outs)
        if edges is None or outs[0].dtype.kind != "f":
            return tuple(make(o, None, 0, None, view_of) for o in outs)
        self.next_functions = tuple(edges)
        self._seq = next(_counter)
        if _anomaly[0]:
            self._forward_stack = forward_stack()
        self._out_meta = tuple((o.shape, o.dtype) for o in outs)
        if view_of is not None:
            self._view_of_vc = (view_of._vc, view_of._vc[1])
        res = tuple(make(o, self, i, None, view_of) if o.dtype.kind == "f" else make(o, None, 0, None, view_of)
                    for i, o in enumerate(outs))
        if self.save_output or self.save_inputs:
            self._save(inputs, res[0])
        return res

    def _raise_broadcast_error(self, e, inputs):
        tensors = [t for t in inputs if isinstance(t, _tensor_cls[0])]
        if "broadcast" not in str(e) or len(tensors) < 2:
            raise e
        from ..ops._util import broadcast_error
        name = getattr(self, "op_name", None) or type(self).__name__.lower()
        raise broadcast_error(name, tensors[0], tensors[1]) from None


_tensor_cls: list = []  # [Tensor], filled in by tensor.py (which imports this module first)


class _Constant:
    """A non-tensor input (a scalar) kept for backward as it is."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def unpack(self, node):
        return self.value


# ------------------------------------------------------------------ public Function
class FunctionCtx(Node):
    """The ``ctx`` of a user-defined Function: also the node recorded on the tape."""

    def __init__(self, fn_cls):
        self._fn = fn_cls
        self._saved = None
        self._to_save = None
        self._non_diff = ()

    def name(self) -> str:
        return self._fn.__name__ + "Backward"

    def save_for_backward(self, *tensors) -> None:
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_diff = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors) -> None:
        raise NotImplementedError("mark_dirty (in-place custom Functions) is not supported by tensorgrad; "
                                  "return a new tensor from forward instead")

    def backward(self, *grads):
        if self._n_outputs != len(grads):  # non-tensor outputs get None, one slot per forward output
            full = [None] * self._n_outputs
            for pos, g in zip(self._tensor_positions, grads):
                full[pos] = g
            grads = full
        out = self._fn.backward(self, *grads)
        out = out if isinstance(out, tuple) else (out,)
        n = len(self.next_functions)
        if len(out) > n and all(g is None for g in out[n:]):
            out = out[:n]
        if len(out) != n:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(out)}): return one per forward argument, "
                               f"None for non-tensor ones")
        return out


class Function:
    """User-defined differentiable op, PyTorch style::

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):
                (y,) = ctx.saved_tensors
                return grad * y

        y = Exp.apply(x)
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must implement backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _tensor_cls[0]
        ctx = FunctionCtx(cls)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with grad_mode.no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        record = grad_mode.is_grad_enabled() and any(ctx.needs_input_grad)
        if not record:
            return out
        ctx.next_functions = tuple(edge_of(a) if isinstance(a, Tensor) else None for a in args)
        ctx._seq = next_seq()
        tensor_outs = [o for o in outs if isinstance(o, Tensor)]
        ctx._n_outputs = len(outs)
        ctx._tensor_positions = [i for i, o in enumerate(outs) if isinstance(o, Tensor)]
        ctx._out_meta = tuple((o._data.shape, o._data.dtype) for o in tensor_outs)
        non_diff = {id(t) for t in ctx._non_diff}
        wrapped, pos = [], {}
        for o in outs:
            if isinstance(o, Tensor):
                i = len(pos)
                pos[id(o)] = i
                if id(o) in non_diff or not o.is_floating_point():
                    wrapped.append(Tensor._make(o._data, None, 0, o._vc))
                else:
                    wrapped.append(Tensor._make(o._data, ctx, i, o._vc))
            else:
                wrapped.append(o)
        if ctx._to_save:
            ctx._saved = [SavedTensor(t, pos[id(t)]) if id(t) in pos else SavedTensor(t)
                          for t in ctx._to_save]
        ctx._to_save = None
        return tuple(wrapped) if multi else wrapped[0]
