"""Adamax (Adam with the infinity norm), as torch.optim.Adamax."""
from __future__ import annotations

from .. import backend
from .optimizer import (Optimizer, _begin_update, _bump, _check_adam_like, _fill_group_defaults, _lerp_,
                        _step_wrapper)


class Adamax(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_adam_like(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        _fill_group_defaults(self, foreach=None, maximize=False, differentiable=False, capturable=False)

    @_step_wrapper
    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, maximize = group["weight_decay"], group["maximize"]
            for p, g in self._params_with_grad(group):
                state, step, g = _begin_update(self, p, g, maximize, lr, wd, False, "exp_avg", "exp_inf")
                d = p._data
                xp = backend.xp_of(d)
                m, u = state["exp_avg"]._data, state["exp_inf"]._data
                _lerp_(m, g, 1 - beta1)
                u *= beta2
                norm = xp.abs(g)
                norm += eps
                xp.maximum(u, norm, out=u)
                clr = lr / (1 - beta1 ** step)
                d += (-clr) * m / u
                _bump(state["exp_avg"])
                _bump(state["exp_inf"])
                _bump(p)
