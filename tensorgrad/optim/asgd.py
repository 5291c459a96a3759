"""ASGD (averaged SGD), as torch.optim.ASGD.

Plain SGD with a decaying step eta_t = lr / (1 + lambd * lr * t) ** alpha and a weight shrink
(1 - lambd * eta), plus a running average ``ax`` of the iterates that starts averaging after t0
steps (mu_t = 1 / max(1, t - t0); before that ``ax`` just copies the weights). eta and mu live in
the state as CPU scalar tensors, in the scalar dtype, exactly as torch keeps them, so their
rounding (float32 under the default dtype) matches torch's.
"""
from __future__ import annotations

from .optimizer import Optimizer, _bump, _fill_group_defaults, _incr_step, _step_tensor, _step_wrapper, _zeros_like


class ASGD(Optimizer):
    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None, maximize=False,
                 differentiable=False, capturable=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        _fill_group_defaults(self, foreach=None, maximize=False, differentiable=False, capturable=False)

    @_step_wrapper
    def step(self):
        for group in self.param_groups:
            lr, lambd, alpha, t0, wd = group["lr"], group["lambd"], group["alpha"], group["t0"], group["weight_decay"]
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _step_tensor()
                    state["eta"] = _step_tensor(lr)
                    state["mu"] = _step_tensor(1.0)
                    state["ax"] = _zeros_like(p)
                if group["maximize"]:
                    g = -g
                step = _incr_step(state["step"])
                d = p._data
                if wd != 0:
                    g = g + wd * d
                eta = float(state["eta"]._data)  # read back from the (rounded) state, as torch does
                d *= 1 - lambd * eta
                d += (-eta) * g
                ax, mu = state["ax"]._data, float(state["mu"]._data)
                if mu != 1:
                    ax += (d - ax) * mu
                else:
                    ax[...] = d
                # the new values pass through the default dtype (torch makes them with as_tensor) even
                # when the state was cast to float64 by load_state_dict
                state["eta"]._data[...] = _step_tensor(lr / ((1 + lambd * lr * step) ** alpha))._data
                state["mu"]._data[...] = _step_tensor(1 / max(1, step - t0))._data
                for name in ("eta", "mu", "ax"):
                    _bump(state[name])
                _bump(p)
