"""Optimizer base class: parameter groups, per-parameter state, zero_grad, state_dict (PyTorch's format).

Subclasses update parameters in place on the raw arrays (``p._data``), one vectorized pass per
parameter, and bump each parameter's version counter since the update is an in-place write.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from copy import deepcopy
from functools import wraps
from itertools import chain

from .. import backend, dtypes
from ..autograd import grad_mode
from ..tensor import Tensor


class _RequiredParameter:
    """Singleton marking a hyperparameter that a param group must supply."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj) -> str:
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _wrap(arr) -> Tensor:
    """A plain (no-grad, leaf) Tensor around `arr`."""
    return Tensor._make(arr, None, 0, None)


def _zeros_like(p: Tensor) -> Tensor:
    return _wrap(backend.xp_of(p._data).zeros_like(p._data))


def _full_like(p: Tensor, value) -> Tensor:
    return _wrap(backend.xp_of(p._data).full_like(p._data, value))


def _step_tensor(value: float = 0.0) -> Tensor:
    """The CPU scalar step counter PyTorch keeps in each parameter's state."""
    import numpy as np
    np_dtype = np.float64 if dtypes.get_default_dtype() == dtypes.float64 else np.float32
    return _wrap(np.array(value, dtype=np_dtype))


def _incr_step(step_t: Tensor) -> float:
    step_t._data += 1
    step_t._vc[0] += 1
    return float(step_t._data)


def _bump(p: Tensor) -> None:
    p._vc[0] += 1


def _lerp_(a, b, w: float) -> None:
    """a <- lerp(a, b, w) in place, PyTorch's formula (stable form for w >= 0.5)."""
    if abs(w) < 0.5:
        a += w * (b - a)
    else:
        a[...] = b - (b - a) * (1 - w)


def _clone_state(value):
    if isinstance(value, Tensor):
        return _wrap(value._data.copy())
    if isinstance(value, dict):
        return {k: _clone_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clone_state(v) for v in value)
    return value


class Optimizer:
    """Base class of all optimizers: ``Optimizer(params, defaults)``.

    `params` is an iterable of Tensors or of dicts (param groups, each with a ``"params"`` key
    and optional per-group hyperparameters overriding `defaults`).
    """

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got " + _typename(params))
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)
        self._patch_step_function()

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for p in param_group["params"]:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is " + _typename(p))
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter "
                                 f"{name}")
            param_group.setdefault(name, default)
        if len(tensors) != len({id(p) for p in tensors}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {txt} to the optimizer")
        if any(id(p) in seen for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ step / grads
    def _patch_step_function(self) -> None:
        self._opt_called = False

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g.zero_()

    def step(self, closure=None):
        raise NotImplementedError

    def _eval_closure(self, closure):
        if closure is None:
            return None
        with grad_mode.enable_grad():
            return closure()

    @staticmethod
    def _params_with_grad(group):
        for p in group["params"]:
            if p.grad is not None:
                yield p, p.grad._data

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` (state cloned)."""
        mapping: dict[int, int] = {}
        start = 0

        def pack(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            mapping.update({id(p): i for i, p in enumerate(group["params"], start) if id(p) not in mapping})
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack(g) for g in self.param_groups]
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): _clone_state(v) for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = state_dict.copy()
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param, value, key=None):
            if isinstance(value, Tensor):
                if key == "step":  # kept on the CPU wherever it was saved: read every step, no sync
                    return _wrap(backend.to_device(value._data, backend.Device("cpu"), copy=True))
                if param.is_floating_point():
                    v = value.to(device=param.device, dtype=param.dtype)
                else:
                    v = value.to(device=param.device)
                return _wrap(v._data.copy() if v._data is value._data else v._data)
            if isinstance(value, dict):
                return {k: cast(param, v, key=k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v) for v in value)
            return value

        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        self.__setstate__({"state": state, "param_groups": [update_group(g, ng)
                                                             for g, ng in zip(groups, saved_groups)]})

    def __getstate__(self) -> dict:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"


def _step_wrapper(func):
    """Wrap a subclass's step: no_grad during the update, mark the optimizer as stepped."""
    @wraps(func)
    def step(self, closure=None):
        self._opt_called = True
        loss = self._eval_closure(closure)
        with grad_mode.no_grad():
            func(self)
        return loss
    return step


def _check_adam_like(lr, eps, betas, weight_decay) -> None:
    """PyTorch's argument checks (and messages) of the Adam family."""
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def _fill_group_defaults(optimizer, **defaults) -> None:
    """Options an older state_dict's groups may lack (its __setstate__), set to their defaults."""
    for group in optimizer.param_groups:
        for k, v in defaults.items():
            group.setdefault(k, v)


def _begin_update(optimizer, p, g, maximize, lr, wd, decoupled, *moments, scalars=()):
    """The start of an Adam-family update of p: its state (the step, CPU `scalars` starting at 1,
    and zero `moments`, on first use), the step advanced, the gradient negated for maximize, and
    weight decay applied (decoupled: p shrunk by lr * wd; else wd * p added to the gradient).
    Returns (state, step, g)."""
    state = optimizer.state[p]
    if len(state) == 0:
        state["step"] = _step_tensor()
        for name in scalars:
            state[name] = _step_tensor(1.0)
        for name in moments:
            state[name] = _zeros_like(p)
    if maximize:
        g = -g
    step = _incr_step(state["step"])
    if wd != 0:
        d = p._data
        if decoupled:
            d *= 1 - lr * wd
        else:
            g = g + wd * d
    return state, step, g

