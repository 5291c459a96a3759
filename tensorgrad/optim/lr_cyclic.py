"""CyclicLR (torch.optim.lr_scheduler's, re-exported from lr_scheduler): the cyclical learning-rate
policy of Smith (2017). The lr goes linearly from base_lr up to max_lr over step_size_up steps and
back down over step_size_down, the amplitude scaled per cycle (triangular2: halved each cycle) or
per iteration (exp_range: gamma ** iteration), or by a user scale_fn. With cycle_momentum the
momentum (Adam-style optimizers: betas[0]) moves inversely, from max_momentum down to base_momentum.

Unlike the chainable schedulers, the lr is a closed form of last_epoch (the batch count), so a
resumed schedule needs only last_epoch and the per-group bounds.
"""
from __future__ import annotations

import math
import types
from functools import partial

from .lr_scheduler import LRScheduler, _format_param
from .optimizer import Optimizer


class CyclicLR(LRScheduler):
    """Cycle each group's lr between base_lr and max_lr (and momentum inversely); step it per batch."""

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        base_lrs = _format_param("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr  # the schedule starts at base_lr, whatever lr the optimizer was made with
        self.max_lrs = _format_param("max_lr", optimizer, max_lr)
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_ref = None
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _format_param("base_momentum", optimizer, base_momentum)
            self.max_momentums = _format_param("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for m_mom, b_mom, group in zip(self.max_momentums, self.base_momentums, optimizer.param_groups):
                    _set_momentum(group, m_mom, self.use_beta1)
                    group["max_momentum"] = m_mom
                    group["base_momentum"] = b_mom
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs  # base_lr as given, even where a group kept an older initial_lr

    def _init_scale_fn(self) -> None:
        """The built-in modes fix their own scale_mode (a user scale_fn keeps the given one)."""
        if self._scale_fn_custom is not None:
            return
        if self.mode == "triangular":
            self._scale_fn_ref, self.scale_mode = _triangular_scale_fn, "cycle"
        elif self.mode == "triangular2":
            self._scale_fn_ref, self.scale_mode = _triangular2_scale_fn, "cycle"
        elif self.mode == "exp_range":
            self._scale_fn_ref, self.scale_mode = partial(_exp_range_scale_fn, self.gamma), "iterations"

    def scale_fn(self, x) -> float:
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return self._scale_fn_ref(x)

    def get_lr(self) -> list:
        cycle = math.floor(1 + self.last_epoch / self.total_size)  # 1-based
        x = 1.0 + self.last_epoch / self.total_size - cycle  # position in the cycle, in [0, 1)
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio  # rising
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)  # falling
        amplitude = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base_lr + (max_lr - base_lr) * scale_factor * amplitude
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, b_mom, m_mom in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(group, m_mom - (m_mom - b_mom) * scale_factor * amplitude, self.use_beta1)
        return lrs

    def state_dict(self) -> dict:
        """Everything but the optimizer and the bound scale function; a user scale_fn is kept only
        as its __dict__ when it is a callable object (a plain function or lambda is not picklable state)."""
        state = super().state_dict()
        state.pop("_scale_fn_ref", None)
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None
        if fn is not None and not isinstance(fn, types.FunctionType):
            state["_scale_fn_custom"] = fn.__dict__.copy()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        fn = state_dict.pop("_scale_fn_custom")
        super().load_state_dict(state_dict)
        if fn is not None:
            self._scale_fn_custom.__dict__.update(fn)
        self._init_scale_fn()


def _set_momentum(group, value, use_beta1) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


def _triangular_scale_fn(x) -> float:
    return 1.0


def _triangular2_scale_fn(x) -> float:
    return 1 / (2.0 ** (x - 1))


def _exp_range_scale_fn(gamma, x) -> float:
    return gamma ** x


__all__ = ["CyclicLR"]
