"""Distributions over vectors: Dirichlet, MultivariateNormal, and Independent (which turns batch
dims of any distribution into event dims)."""
from __future__ import annotations

import math

import numpy as np

from .. import creation, dtypes, linalg
from ..ops.special import xlogy
from ..tensor import Size
from ..ops.gamma import digamma
from ..ops.gamma import lgamma
from ._special import standard_gamma
from . import constraints
from .distribution import _GT0, Distribution, _as_tensor, _sum_rightmost


class Dirichlet(Distribution):
    """Density prod x_i^(c_i - 1) / B(c) on the simplex; event_shape (K,) (the last dim of c)."""

    support = constraints.simplex

    has_rsample = True
    _param_names = ("concentration",)

    def __init__(self, concentration, validate_args=None):
        c = _as_tensor(concentration)
        if c.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = c
        super().__init__(c.shape[:-1], c.shape[-1:], validate_args)
        self._check_param("concentration", (c > 0).all(-1), f"IndependentConstraint({_GT0}, 1)")

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        cm1 = (self.concentration - 1).clamp(min=0.0)
        return cm1 / cm1.sum(-1, keepdim=True)

    @property
    def variance(self):
        c = self.concentration
        c0 = c.sum(-1, keepdim=True)
        return c * (c0 - c) / (c0.pow(2) * (c0 + 1))

    def rsample(self, sample_shape=()):
        # normalized Gamma(c_i, 1) draws; gradients flow through each draw's implicit dx/dc
        g = standard_gamma(self.concentration.expand(self._extended_shape(sample_shape)))
        fi = dtypes.finfo(g.dtype)
        return (g / g.sum(-1, keepdim=True)).clamp(min=fi.tiny, max=1 - fi.eps)

    def log_prob(self, value):
        value = _as_tensor(value, self.concentration)
        ok = (value >= 0).all(-1) & ((value.sum(-1) - 1).abs() < 1e-6)
        self._check_value(value, ok, "Simplex()")
        c = self.concentration
        return xlogy(c - 1, value).sum(-1) + lgamma(c.sum(-1)) - lgamma(c).sum(-1)

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        c0 = c.sum(-1)
        return lgamma(c).sum(-1) - lgamma(c0) - (k - c0) * digamma(c0) - ((c - 1) * digamma(c)).sum(-1)


def _batch_mahalanobis(L, x):
    """|L^-1 x|^2 over the last dim, L (..., n, n) lower and x (..., n) broadcast together."""
    y = linalg.solve_triangular(L, x.unsqueeze(-1), upper=False).squeeze(-1)
    return y.pow(2).sum(-1)


def _is_lower_cholesky(t):
    diag = t.diagonal(0, -2, -1)
    return ((t.tril() == t).all(-1).all(-1)) & (diag > 0).all(-1)


class MultivariateNormal(Distribution):
    """Gaussian over vectors with mean loc, given by exactly one of covariance_matrix,
    precision_matrix or scale_tril (L lower with positive diagonal, covariance L L^T)."""

    support = constraints.real_vector

    has_rsample = True
    _param_names = ("loc", "covariance_matrix")
    _expand_skip = ("_unbroadcasted_scale_tril",)

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None, validate_args=None):
        loc = _as_tensor(loc)
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if (covariance_matrix is not None) + (scale_tril is not None) + (precision_matrix is not None) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be specified.")
        given, name = next((m, n) for m, n in ((scale_tril, "scale_tril"), (covariance_matrix, "covariance_matrix"),
                                               (precision_matrix, "precision_matrix")) if m is not None)
        given = _as_tensor(given, loc)
        if given.dim() < 2:
            kind = "scale_tril matrix" if name == "scale_tril" else name.replace("_", " ")
            raise ValueError(f"{kind} must be at least two-dimensional, with optional leading batch dimensions")
        if given.shape[-1] != given.shape[-2] or given.shape[-1] != loc.shape[-1]:
            raise ValueError(f"MultivariateNormal: {name} of shape {tuple(given.shape)} must be a batch of "
                             f"{loc.shape[-1]}x{loc.shape[-1]} matrices to match loc of shape {tuple(loc.shape)}")
        batch = Size(np.broadcast_shapes(tuple(given.shape[:-2]), tuple(loc.shape[:-1])))
        n = loc.shape[-1]
        self.loc = loc.expand(*batch, n)
        self._param_names = ("loc", name)
        setattr(self, "_given_" + name, given.expand(*batch, n, n))
        super().__init__(batch, (n,), validate_args)
        if name == "scale_tril":
            self._check_param("scale_tril", _is_lower_cholesky(given), "LowerCholesky()")
            self._unbroadcasted_scale_tril = given
        else:
            if self._validate_args:  # PyTorch: symmetric and with a Cholesky factor
                sym = ((given - given.mT).abs() <= 1e-6 * (1 + given.abs())).all(-1).all(-1)
                self._check_param(name, sym, "PositiveDefinite()")
            try:
                self._unbroadcasted_scale_tril = linalg.cholesky(given if name == "covariance_matrix"
                                                                 else linalg.inv(given))
            except RuntimeError:
                self._check_param(name, creation.tensor(False), "PositiveDefinite()")
                raise

    @property
    def scale_tril(self):
        if "_given_scale_tril" in self.__dict__:
            return self._given_scale_tril
        L = self._unbroadcasted_scale_tril
        return L.expand(*self._batch_shape, *L.shape[-2:])

    @property
    def covariance_matrix(self):
        if "_given_covariance_matrix" in self.__dict__:
            return self._given_covariance_matrix
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(*self._batch_shape, *L.shape[-2:])

    @property
    def precision_matrix(self):
        if "_given_precision_matrix" in self.__dict__:
            return self._given_precision_matrix
        L = self._unbroadcasted_scale_tril
        eye = creation.eye(L.shape[-1], dtype=L.dtype, device=L.device)
        l_inv = linalg.solve_triangular(L, eye, upper=False)
        return (l_inv.mT @ l_inv).expand(*self._batch_shape, *L.shape[-2:])

    @property
    def mean(self):
        return self.loc

    mode = mean

    @property
    def variance(self):
        return self._unbroadcasted_scale_tril.pow(2).sum(-1).expand(*self._batch_shape, *self._event_shape)

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(0, -2, -1).log().sum(-1)

    def rsample(self, sample_shape=()):
        eps = creation.randn(*self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        value = _as_tensor(value, self.loc)
        m = _batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self):
        h = 0.5 * self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(self._batch_shape)


class Independent(Distribution):
    """base_distribution with its rightmost reinterpreted_batch_ndims batch dims taken as event
    dims: log_prob and entropy sum over them."""

    support = property(lambda self: constraints.independent(self.base_dist.support, self.reinterpreted_batch_ndims))

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        n, bs = int(reinterpreted_batch_ndims), tuple(base_distribution.batch_shape)
        if n > len(bs):
            raise ValueError(f"Expected reinterpreted_batch_ndims <= len(base_distribution.batch_shape), "
                             f"actual {n} vs {len(bs)}")
        self.base_dist, self.reinterpreted_batch_ndims = base_distribution, n
        cut = len(bs) - n
        super().__init__(bs[:cut], bs[cut:] + tuple(base_distribution.event_shape), validate_args)

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def mode(self):
        return self.base_dist.mode

    @property
    def variance(self):
        return self.base_dist.variance

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value):
        return _sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        return _sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
