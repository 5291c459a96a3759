"""RMSprop (alpha, eps, momentum, centered), as torch.optim.RMSprop."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer, _bump, _incr_step, _lerp_, _step_tensor, _step_wrapper, _zeros_like


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("maximize", False)

    @_step_wrapper
    def step(self):
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            wd, momentum, centered, maximize = (group["weight_decay"], group["momentum"], group["centered"],
                                                group["maximize"])
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["square_avg"] = _zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = _zeros_like(p)
                    if centered:
                        state["grad_avg"] = _zeros_like(p)
                d = p._data
                xp = backend.xp_of(d)
                if maximize:
                    g = -g
                _incr_step(state["step"])
                if wd != 0:
                    g = g + wd * d
                sq = state["square_avg"]._data
                sq *= alpha
                sq += (1 - alpha) * (g * g)
                _bump(state["square_avg"])
                if centered:
                    ga = state["grad_avg"]._data
                    _lerp_(ga, g, 1 - alpha)
                    _bump(state["grad_avg"])
                    avg = xp.sqrt(sq - ga * ga)
                else:
                    avg = xp.sqrt(sq)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    buf *= momentum
                    buf += g / avg
                    _bump(state["momentum_buffer"])
                    d -= lr * buf
                else:
                    d += (-lr) * g / avg
                _bump(p)
