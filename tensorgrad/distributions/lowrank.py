"""LowRankMultivariateNormal: a Gaussian over vectors with covariance W W^T + diag(D), W of shape
(n, rank). The density needs only the rank x rank "capacitance" K = I + W^T D^-1 W: by the
Woodbury identity x^T S^-1 x = x^T D^-1 x - |L_K^-1 W^T D^-1 x|^2, and by the matrix determinant
lemma log det S = log det K + sum log D (L_K the Cholesky factor of K)."""
from __future__ import annotations

import math

import numpy as np

from .. import creation, linalg
from ..tensor import Size
from . import constraints
from .distribution import _GT0, Distribution, _as_tensor


class LowRankMultivariateNormal(Distribution):
    """loc (..., n), cov_factor W (..., n, rank) and cov_diag D (..., n), broadcast together."""

    support = constraints.real_vector

    has_rsample = True
    _param_names = ("loc", "cov_factor", "cov_diag")
    _expand_skip = ("_unbroadcasted_cov_factor", "_unbroadcasted_cov_diag", "_capacitance_tril")

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        loc = _as_tensor(loc)
        cov_factor, cov_diag = _as_tensor(cov_factor, loc), _as_tensor(cov_diag, loc)
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        n = loc.shape[-1]
        if cov_factor.dim() < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional leading batch dimensions")
        if cov_factor.shape[-2] != n:
            raise ValueError(f"cov_factor must be a batch of matrices with shape {n} x m, got "
                             f"{tuple(cov_factor.shape)} for loc of shape {tuple(loc.shape)}")
        if cov_diag.dim() < 1 or cov_diag.shape[-1] != n:
            raise ValueError(f"cov_diag must be a batch of vectors with shape {(n,)}, got {tuple(cov_diag.shape)}")
        try:
            batch = tuple(np.broadcast_shapes(tuple(loc.shape[:-1]), tuple(cov_factor.shape[:-2]),
                                              tuple(cov_diag.shape[:-1])))
        except ValueError:
            raise ValueError(f"Incompatible batch shapes: loc {tuple(loc.shape)}, cov_factor "
                             f"{tuple(cov_factor.shape)}, cov_diag {tuple(cov_diag.shape)}") from None
        rank = cov_factor.shape[-1]
        self.loc = loc.expand(*batch, n)
        self.cov_factor = cov_factor.expand(*batch, n, rank)
        self.cov_diag = cov_diag.expand(*batch, n)
        super().__init__(Size(batch), (n,), validate_args)
        self._check_param("cov_diag", (cov_diag > 0).all(-1), f"IndependentConstraint({_GT0}, 1)")
        self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag = cov_factor, cov_diag
        wt_dinv = cov_factor.mT / cov_diag.unsqueeze(-2)
        k = wt_dinv @ cov_factor + creation.eye(rank, dtype=loc.dtype, device=loc.device)
        self._capacitance_tril = linalg.cholesky(k)

    @property
    def mean(self):
        return self.loc

    mode = mean

    @property
    def variance(self):
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return (w.pow(2).sum(-1) + d).expand(*self._batch_shape, *self._event_shape)

    @property
    def covariance_matrix(self):
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        cov = w @ w.mT + d.diag_embed()
        return cov.expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @property
    def precision_matrix(self):
        # Woodbury: S^-1 = D^-1 - D^-1 W K^-1 W^T D^-1
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        a = linalg.solve_triangular(self._capacitance_tril, w.mT / d.unsqueeze(-2), upper=False)
        prec = (1 / d).diag_embed() - a.mT @ a
        return prec.expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @property
    def scale_tril(self):
        return linalg.cholesky(self.covariance_matrix)

    def _log_det(self):
        return 2 * self._capacitance_tril.diagonal(0, -2, -1).log().sum(-1) + self._unbroadcasted_cov_diag.log().sum(-1)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        w = self._unbroadcasted_cov_factor
        eps_w = creation.randn(*shape[:-1], w.shape[-1], dtype=self.loc.dtype, device=self.loc.device)
        eps_d = creation.randn(*shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + (w @ eps_w.unsqueeze(-1)).squeeze(-1) + self._unbroadcasted_cov_diag.sqrt() * eps_d

    def log_prob(self, value):
        diff = _as_tensor(value, self.loc) - self.loc
        w, d = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        wt_dinv_x = (w.mT @ (diff / d).unsqueeze(-1))                  # (..., rank, 1)
        y = linalg.solve_triangular(self._capacitance_tril, wt_dinv_x, upper=False).squeeze(-1)
        maha = (diff.pow(2) / d).sum(-1) - y.pow(2).sum(-1)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + self._log_det() + maha)

    def entropy(self):
        h = 0.5 * (self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._log_det())
        return h.expand(self._batch_shape)
