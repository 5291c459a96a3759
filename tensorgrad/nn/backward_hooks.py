"""Module backward hooks (register_full_backward_hook / register_full_backward_pre_hook).

A module with such hooks runs its forward between two identity autograd Functions, as PyTorch
does: the one on its outputs sees the gradients arriving at the outputs (grad_output; pre-hooks
may replace them), the one on its inputs sees the gradients leaving through the inputs
(grad_input; hooks may replace them). grad_input has one entry per positional argument of
forward, None for arguments that are not tensors requiring grad.
"""
from __future__ import annotations

import warnings

from ..autograd import grad_mode
from ..autograd.function import Function
from ..tensor import Tensor


class _State:
    def __init__(self, module, n_args, positions):
        self.module, self.n_args, self.positions = module, n_args, positions
        self.grad_output = None

    def run_hooks(self, grads):
        """The full hooks on grad_input (laid out per positional argument); returns the grads for
        the hooked positions, as replaced by the hooks."""
        grad_input = [None] * self.n_args
        for pos, g in zip(self.positions, grads):
            grad_input[pos] = g
        grad_input = tuple(grad_input)
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
                if len(result) != len(grad_input):
                    raise RuntimeError(f"backward hook {getattr(hook, '__name__', hook)!r} returned "
                                       f"{len(result)} gradients; it must return one per positional argument "
                                       f"of forward ({len(grad_input)}), or None")
                grad_input = result
        return tuple(grad_input[p] for p in self.positions)


class _OnInputs(Function):
    @staticmethod
    def forward(ctx, state, *inputs):
        ctx.state = state
        return inputs

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + ctx.state.run_hooks(grads)


class _OnOutputs(Function):
    @staticmethod
    def forward(ctx, state, *outputs):
        ctx.state = state
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        st = ctx.state
        for hook in list(st.module._backward_pre_hooks.values()):
            result = hook(st.module, grads)
            if result is not None:
                grads = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        st.grad_output = grads
        if not st.positions:  # no input takes a gradient: the full hooks run here, with grad_input all None
            if st.module._backward_hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with respect to module "
                              "outputs since no inputs require gradients.", UserWarning, stacklevel=2)
            st.run_hooks(())
        return (None,) + tuple(grads)


def hook_inputs(module, args):
    """Before forward: the args with those that take gradients routed through _OnInputs, and
    the state the output side needs (None when grad mode is off)."""
    if not grad_mode.is_grad_enabled():
        return args, None
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    state = _State(module, len(args), positions)
    if positions:
        hooked = _OnInputs.apply(state, *[args[i] for i in positions])
        args = list(args)
        for i, t in zip(positions, hooked):
            args[i] = t
        args = tuple(args)
    return args, state


def hook_outputs(state, out):
    """After forward and its forward hooks: the output (a tensor or a tuple, as PyTorch hooks)
    routed through _OnOutputs."""
    if state is None:
        return out
    single = isinstance(out, Tensor)
    outs = (out,) if single else (out if isinstance(out, tuple) else None)
    if outs is None or not any(isinstance(o, Tensor) and o.requires_grad for o in outs):
        return out
    where = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
    hooked = _OnOutputs.apply(state, *[outs[i] for i in where])
    outs = list(outs)
    for i, t in zip(where, hooked):
        outs[i] = t
    return outs[0] if single else type(out)(outs)
