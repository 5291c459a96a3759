"""Dropout, Dropout1d/2d/3d, AlphaDropout, FeatureAlphaDropout (torch.nn's): active in training mode,
the identity in eval mode."""
from __future__ import annotations

from ..ops import dropout as _ops
from .module import Module


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each element with probability p in training mode, scaling the rest by 1/(1-p)."""

    def forward(self, input):
        return _ops.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zeroes whole channels of (N, C, L) or (C, L) input with probability p in training mode."""

    def forward(self, input):
        return _ops.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) or (C, H, W) input with probability p in training mode."""

    def forward(self, input):
        return _ops.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zeroes whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p in training mode."""

    def forward(self, input):
        return _ops.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps zero mean and unit variance (for SELU networks), in training mode."""

    def forward(self, input):
        return _ops.alpha_dropout(input, self.p, self.training, self.inplace)


class FeatureAlphaDropout(_DropoutNd):
    """AlphaDropout of whole channels (one draw per (dim 0, dim 1) pair), in training mode."""

    def forward(self, input):
        return _ops.feature_alpha_dropout(input, self.p, self.training, self.inplace)


__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]
