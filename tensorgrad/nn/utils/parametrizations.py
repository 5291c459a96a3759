"""torch.nn.utils.parametrizations: weight_norm and spectral_norm built on parametrize.

Unlike the hook-based forms in weight_norm.py / spectral_norm.py, these store their tensors under
``parametrizations.<name>``: weight_norm as ``original0`` (the magnitude g) and ``original1``
(the direction v); spectral_norm as ``original`` plus the buffers ``0._u`` and ``0._v``.
"""
from __future__ import annotations

from ...autograd import grad_mode
from ...tensor import Tensor
from ..functional import normalize
from ..module import Module
from . import parametrize
from .spectral_norm import _is_conv_transpose
from .weight_norm import _check_dim, _weight_norm, norm_except_dim


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        # g = ||weight||, v = weight reproduces the weight exactly
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name: str = "weight", dim: int | None = 0):
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` (norm over every dim but `dim`;
    ``dim=None``: the whole tensor); g and v are ``parametrizations.<name>.original0`` / ``original1``.

    Not supported: loading a state_dict saved with the hook-based weight_norm's ``<name>_g`` /
    ``<name>_v`` keys (rename them to ``parametrizations.<name>.original0`` / ``original1``)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    parametrize.register_parametrization(module, name, _WeightNorm(_check_dim("weight_norm()", weight, dim)),
                                         unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] "
                             f"but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with grad_mode.no_grad():
                weight_mat = self._reshape_weight_to_matrix(weight)
                h, w = weight_mat.shape
                self.register_buffer("_u", normalize(weight_mat.new_empty(h).normal_(0, 1), dim=0, eps=eps))
                self.register_buffer("_v", normalize(weight_mat.new_empty(w).normal_(0, 1), dim=0, eps=eps))
            # start from reasonable u, v: 15 power iterations now
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.dim()) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def _power_method(self, weight_mat, n_power_iterations: int) -> None:
        with grad_mode.no_grad():  # in place: u and v are constants for autograd
            for _ in range(n_power_iterations):
                self._u.copy_(normalize(weight_mat.matmul(self._v), dim=0, eps=self.eps))
                self._v.copy_(normalize(weight_mat.t().matmul(self._u), dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.dim() == 1:
            return normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()  # so later in-place updates leave backward's copy alone
        sigma = u.dot(weight_mat.matmul(v))
        return weight / sigma

    def right_inverse(self, value):
        return value  # any weight is a valid "original": keep it as given


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim=None):
    """Rescale ``module.<name>`` by its largest singular value (power iteration, one step per
    training-mode access); `dim` defaults to 1 for ConvTranspose modules, else 0."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if _is_conv_transpose(module) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


__all__ = ["weight_norm", "spectral_norm"]
