"""NAdam (Nesterov-accelerated Adam with momentum decay), as torch.optim.NAdam."""
from __future__ import annotations

from .. import backend
from .optimizer import (Optimizer, _begin_update, _bump, _check_adam_like, _fill_group_defaults, _lerp_,
                        _step_wrapper)


class NAdam(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_adam_like(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        _fill_group_defaults(self, maximize=False, foreach=None, capturable=False, differentiable=False,
                             decoupled_weight_decay=False)

    @_step_wrapper
    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, momentum_decay, maximize = group["weight_decay"], group["momentum_decay"], group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for p, g in self._params_with_grad(group):
                # mu_product: a CPU scalar in the step's dtype, like torch's: the product is rounded there each step
                state, step, g = _begin_update(self, p, g, maximize, lr, wd, decoupled, "exp_avg", "exp_avg_sq",
                                               scalars=("mu_product",))
                d = p._data
                xp = backend.xp_of(d)
                bias_correction2 = 1 - beta2 ** step
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                mp = state["mu_product"]
                mp._data *= mu
                _bump(mp)
                mu_product = float(mp._data)
                mu_product_next = mu_product * mu_next
                m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                _lerp_(m, g, 1 - beta1)
                v *= beta2
                v += (1 - beta2) * (g * g)
                denom = xp.sqrt(v / bias_correction2)
                denom += eps
                d += (-lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
                d += ((-lr * mu_next) / (1.0 - mu_product_next)) * m / denom
                _bump(state["exp_avg"])
                _bump(state["exp_avg_sq"])
                _bump(p)
