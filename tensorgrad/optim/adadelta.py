"""Adadelta (rho, eps, lr=1.0), as torch.optim.Adadelta."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _bump, _incr_step, _step_tensor, _step_wrapper, _zeros_like


class Adadelta(Optimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("maximize", False)

    @_step_wrapper
    def step(self):
        for group in self.param_groups:
            lr, rho, eps = group["lr"], group["rho"], group["eps"]
            wd, maximize = group["weight_decay"], group["maximize"]
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["square_avg"] = _zeros_like(p)
                    state["acc_delta"] = _zeros_like(p)
                d = p._data
                xp = backend.xp_of(d)
                _incr_step(state["step"])
                if maximize:
                    g = -g
                if wd != 0:
                    g = g + wd * d
                sq, acc = state["square_avg"]._data, state["acc_delta"]._data
                sq *= rho
                sq += (1 - rho) * (g * g)
                std = xp.sqrt(sq + eps)
                delta = xp.sqrt(acc + eps)
                delta /= std
                delta *= g
                acc *= rho
                acc += (1 - rho) * (delta * delta)
                d -= lr * delta
                _bump(state["square_avg"])
                _bump(state["acc_delta"])
                _bump(p)
