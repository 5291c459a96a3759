"""Rprop (resilient backpropagation), as torch.optim.Rprop.

Each weight has its own step size, grown by etaplus while its gradient keeps its sign and shrunk
by etaminus when the sign flips (clamped to step_sizes). Only the gradient's sign moves the weight;
after a flip the weight stays put for that step and its gradient is remembered as zero, so the
next step neither grows nor shrinks the step size.
"""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _bump, _fill_group_defaults, _full_like, _incr_step, _step_tensor, _step_wrapper
from .optimizer import _zeros_like


class Rprop(Optimizer):
    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        _fill_group_defaults(self, foreach=None, maximize=False, differentiable=False, capturable=False)

    @_step_wrapper
    def step(self):
        for group in self.param_groups:
            etaminus, etaplus = group["etas"]
            step_min, step_max = group["step_sizes"]
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["prev"] = _zeros_like(p)
                    state["step_size"] = _full_like(p, group["lr"])
                xp = backend.xp_of(g)
                if group["maximize"]:
                    g = -g
                _incr_step(state["step"])
                prev, step_size = state["prev"]._data, state["step_size"]._data
                sign = xp.sign(g * prev)
                factor = xp.where(sign > 0, etaplus, xp.where(sign < 0, etaminus, 1.0)).astype(g.dtype)
                step_size *= factor
                xp.clip(step_size, step_min, step_max, out=step_size)
                g = xp.where(sign < 0, 0, g).astype(g.dtype, copy=False)  # a flipped sign: no move this step
                p._data -= xp.sign(g) * step_size
                prev[...] = g
                _bump(state["prev"])
                _bump(state["step_size"])
                _bump(p)
