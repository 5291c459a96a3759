"""spectral_norm / remove_spectral_norm: torch.nn.utils' classic hook-based spectral normalization.

``spectral_norm(module)`` keeps the raw weight as the parameter ``weight_orig`` and two buffers
``weight_u`` and ``weight_v``, estimates of the leading singular vectors of the weight seen as a
matrix (``dim`` first, the other dims flattened). A forward pre-hook sets the plain attribute
``weight = weight_orig / sigma`` with ``sigma = u . (W v)``; in training mode it first refines u
and v in place by power iteration (without grad: u and v are treated as constants, as in torch).
"""
from __future__ import annotations

from ..functional import normalize
from ..parameter import Parameter
from ...autograd import grad_mode


class SpectralNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_orig``, ``_u``, ``_v``."""

    def __init__(self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name = name
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight):
        if self.dim != 0:  # the chosen dim becomes the rows
            weight = weight.permute(self.dim, *[d for d in range(weight.dim()) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration: bool):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with grad_mode.no_grad():
                for _ in range(self.n_power_iterations):
                    # in place: the buffers keep their identity (and state_dict entries)
                    v.copy_(normalize(weight_mat.t().matmul(u), dim=0, eps=self.eps))
                    u.copy_(normalize(weight_mat.matmul(v), dim=0, eps=self.eps))
            # clones, so the next iteration's in-place update cannot touch what backward saved
            u, v = u.clone(), v.clone()
        sigma = u.dot(weight_mat.matmul(v))
        return weight / sigma

    def remove(self, module) -> None:
        with grad_mode.no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name: str, n_power_iterations: int, dim: int, eps: float):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        weight = module._parameters.get(name)
        if weight is None:
            raise AttributeError(f"spectral_norm(): {type(module).__name__} has no parameter '{name}' "
                                 f"(its parameters: {sorted(k for k, p in module._parameters.items() if p is not None)})")
        nd = weight.dim()
        if not -nd <= dim < nd:
            raise IndexError(f"spectral_norm(): dim {dim} is out of range for '{name}' of shape "
                             f"{list(weight.shape)} (expected a dim in [{-nd}, {nd - 1}])")
        fn = SpectralNorm(name, n_power_iterations, dim % nd, eps)
        with grad_mode.no_grad():
            weight_mat = fn.reshape_weight_to_matrix(weight)
            h, w = weight_mat.shape
            u = normalize(weight.new_empty(h).normal_(0, 1), dim=0, eps=fn.eps)
            v = normalize(weight.new_empty(w).normal_(0, 1), dim=0, eps=fn.eps)
        del module._parameters[name]
        module.register_parameter(name + "_orig", weight)
        # a plain attribute until the first forward recomputes it (torch stores weight.data here)
        setattr(module, name, weight.data)
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def _is_conv_transpose(module) -> bool:
    from .. import conv
    kinds = tuple(getattr(conv, n) for n in ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
                  if hasattr(conv, n))
    return isinstance(module, kinds)


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim=None):
    """Rescale ``module.<name>`` by its largest singular value, estimated by power iteration (one
    step per training-mode forward). `dim` defaults to 1 for ConvTranspose modules, else 0."""
    if dim is None:
        dim = 1 if _is_conv_transpose(module) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name: str = "weight"):
    """Undo spectral_norm: ``<name>`` becomes a plain Parameter holding the current normalized weight."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")


__all__ = ["spectral_norm", "remove_spectral_norm"]
