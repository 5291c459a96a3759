"""weight_norm / remove_weight_norm: torch.nn.utils' classic hook-based weight normalization.

``weight_norm(module)`` replaces the parameter ``weight`` by two parameters, a magnitude
``weight_g`` and a direction ``weight_v``, and a forward pre-hook recomputes the plain attribute
``weight = weight_g * weight_v / ||weight_v||`` before every forward, so the gradient reaches g
and v through ordinary tensor ops. The norm is taken over every dimension except ``dim``
(``dim=None``: over the whole tensor, as torch's -1 also means).
"""
from __future__ import annotations

import warnings

from ..parameter import Parameter


def _check_dim(op: str, v, dim) -> int:
    if dim is None:
        return -1
    nd = v.dim()
    if not isinstance(dim, int) or isinstance(dim, bool) or not -max(nd, 1) <= dim < max(nd, 1):
        raise IndexError(f"{op}: dim {dim!r} is out of range for a weight of shape {list(v.shape)} "
                         f"(expected an int in [{-max(nd, 1)}, {max(nd, 1) - 1}] or None)")
    return dim


def norm_except_dim(v, pow: float = 2, dim: int = 0):
    """The `pow`-norm of `v` over every dimension but `dim`, shaped to broadcast against `v`.

    ``dim == -1`` takes the norm of the whole tensor (a 0-d result), as torch.norm_except_dim does.
    """
    if dim == -1:
        return v.norm(pow)
    nd = v.dim()
    if dim == 0:
        return v.reshape(v.shape[0], -1).norm(pow, dim=1).reshape(v.shape[0], *([1] * (nd - 1)))
    if dim == nd - 1:
        return v.reshape(-1, v.shape[-1]).norm(pow, dim=0).reshape(*([1] * (nd - 1)), v.shape[-1])
    return norm_except_dim(v.transpose(0, dim), pow, 0).transpose(0, dim)


def _weight_norm(v, g, dim: int = 0):
    """v * (g / ||v||): the reparametrized weight (torch._weight_norm)."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g`` and ``<name>_v``."""

    def __init__(self, name: str, dim: int):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return _weight_norm(v, g, self.dim)

    @staticmethod
    def apply(module, name: str, dim):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        weight = module._parameters.get(name)
        if weight is None:
            raise AttributeError(f"weight_norm(): {type(module).__name__} has no parameter '{name}' "
                                 f"(its parameters: {sorted(k for k, p in module._parameters.items() if p is not None)})")
        fn = WeightNorm(name, _check_dim("weight_norm()", weight, dim))
        del module._parameters[name]
        # g starts as the norm of the weight and v as the weight itself, so the weight is unchanged
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, fn.dim).data))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))
        fn.handle = module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name: str = "weight", dim: int | None = 0):
    """Reparametrize ``module.<name>`` as ``<name>_g * <name>_v / ||<name>_v||`` (norm over all dims
    but `dim`; ``dim=None`` for the whole tensor); returns the module."""
    warnings.warn("tensorgrad.nn.utils.weight_norm is deprecated in favor of "
                  "tensorgrad.nn.utils.parametrizations.weight_norm.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Undo weight_norm: ``<name>`` becomes a plain Parameter again, holding the current weight."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")


__all__ = ["weight_norm", "remove_weight_norm", "norm_except_dim"]
