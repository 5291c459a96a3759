"""RAdam (Adam with variance rectification), as torch.optim.RAdam."""
from __future__ import annotations

from .. import backend
from .optimizer import (Optimizer, _begin_update, _bump, _check_adam_like, _fill_group_defaults, _lerp_,
                        _step_wrapper)


class RAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_adam_like(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        _fill_group_defaults(self, foreach=None, maximize=False, differentiable=False,
                             decoupled_weight_decay=False, capturable=False)

    @_step_wrapper
    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, maximize, decoupled = group["weight_decay"], group["maximize"], group["decoupled_weight_decay"]
            rho_inf = 2 / (1 - beta2) - 1  # maximum length of the approximated SMA
            for p, g in self._params_with_grad(group):
                state, step, g = _begin_update(self, p, g, maximize, lr, wd, decoupled, "exp_avg", "exp_avg_sq")
                d = p._data
                xp = backend.xp_of(d)
                m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                _lerp_(m, g, 1 - beta1)
                v *= beta2
                v += (1 - beta2) * (g * g)
                _bump(state["exp_avg"])
                _bump(state["exp_avg_sq"])
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                m_hat = m / bias_correction1
                rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2  # length of the approximated SMA
                if rho_t > 5.0:  # variance is tractable: rectified adaptive step
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    denom = xp.sqrt(v)
                    denom += eps
                    d -= m_hat * lr * ((bias_correction2 ** 0.5) / denom) * rect
                else:  # early steps: un-adapted momentum SGD
                    d -= m_hat * lr
                _bump(p)
