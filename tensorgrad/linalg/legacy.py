"""torch's top-level linear algebra, also bound as Tensor methods: det, logdet, slogdet, inverse,
the deprecated cholesky(input, upper), cholesky_solve (right-hand side first), cholesky_inverse,
chain_matmul, and the older LU API (lu, lu_solve(b, LU, pivots), lu_unpack).

Everything is composed from tensorgrad.linalg, so it is batched, runs on NumPy or CuPy and is
differentiable to any order. The one new op, _DenseTriangle, exists to match torch's gradients of
cholesky_solve and cholesky_inverse, which treat the factor as a dense matrix.
"""
from __future__ import annotations

import math
import warnings
from collections import namedtuple

from ..autograd.function import Op
from ..backend import xp_of
from ..ops._util import check_tensor
from ..ops.arithmetic import where
from .basic import _mT, _square, cholesky as _linalg_cholesky, det as _linalg_det, inv, slogdet as _linalg_slogdet, \
    solve
from .lu import lu_factor_ex, lu_solve as _linalg_lu_solve, lu_unpack
from .matfn import multi_dot

__all__ = ["det", "logdet", "slogdet", "inverse", "cholesky", "cholesky_solve", "cholesky_inverse", "chain_matmul",
           "lu", "lu_solve", "lu_unpack"]
TENSOR_METHODS = "det logdet slogdet inverse cholesky cholesky_solve cholesky_inverse lu lu_solve"

SlogdetResult = namedtuple("slogdet", ["sign", "logabsdet"])  # torch.return_types.slogdet


def det(input):
    """The determinant of each square matrix (torch.det is torch.linalg.det)."""
    return _linalg_det(input)


def slogdet(input):
    """(sign, logabsdet) of each square matrix; sign carries no gradient."""
    return SlogdetResult(*_linalg_slogdet(input))


def logdet(input):
    """log(det(A)): NaN where the determinant is negative, -inf where it is zero, as torch. The
    NaN entries get a zero gradient (a where, as in torch)."""
    check_tensor("logdet", input)
    if input.dim() < 2 or input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"logdet: A must be batches of square matrices, but they are "
                           f"{' by '.join(map(str, input.shape[-2:]))} matrices (A of shape {list(input.shape)})")
    sign, logabs = _linalg_slogdet(input)
    return where(sign < 0, math.nan, logabs)


def inverse(input):
    """The inverse of each square matrix (torch.inverse is torch.linalg.inv)."""
    return inv(input)


def cholesky(input, upper=False):
    """Deprecated torch.cholesky: linalg.cholesky with upper passed positionally."""
    warnings.warn("torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future "
                  "PyTorch release. L = torch.cholesky(A) should be replaced with L = torch.linalg.cholesky(A), "
                  "and U = torch.cholesky(A, upper=True) with U = torch.linalg.cholesky(A).mH",
                  UserWarning, stacklevel=2)
    return _linalg_cholesky(input, upper=bool(upper))


class _DenseTriangle(Op):
    """The lower (upper) triangle of a matrix, with the whole incoming gradient passed through.

    torch's cholesky_solve and cholesky_inverse read only one triangle of the factor, yet their
    gradient with respect to it is the dense one of X = (F F^T)^-1 B for F taken as a full
    matrix. Masking the forward but not the backward gives exactly that under composition.
    (For a factor that is not triangular, torch's gradient also multiplies by the triangle its
    forward ignored; ours takes that triangle as zero, consistently with the forward.)"""

    def __init__(self, upper):
        self.upper = upper

    def forward(self, a):
        xp = xp_of(a)
        return xp.triu(a) if self.upper else xp.tril(a)

    def backward(self, grad):
        return grad


def _factor_matrix(op, L, upper):
    """A = F F^T (lower) or F^T F (upper) from the factor's triangle, differentiable as torch's."""
    _square(op, L)
    F = _DenseTriangle(bool(upper))(L)
    return _mT(F) @ F if upper else F @ _mT(F)


def cholesky_solve(B, L, upper=False):
    """X with A X = B for A = L L^T (upper: A = U^T U) given its Cholesky factor. Note torch's
    argument order: the right-hand side B first. Batch dims broadcast."""
    check_tensor("cholesky_solve", B, "input")
    check_tensor("cholesky_solve", L, "input2")
    if B.dim() < 2 or L.dim() < 2:
        raise RuntimeError(f"cholesky_solve: b should have at least 2 dimensions, but has {B.dim()} dimensions "
                           f"instead (and the factor at least 2, it has {L.dim()})")
    if B.dtype != L.dtype:
        raise RuntimeError(f"cholesky_solve: Expected b and A to have the same dtype, but found b of type {B.dtype} "
                           f"and A of type {L.dtype} instead.")
    if L.shape[-1] != L.shape[-2] or L.shape[-1] != B.shape[-2]:
        raise RuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is {L.shape[-2]} by "
                           f"{L.shape[-1]} but each b matrix is {B.shape[-2]} by {B.shape[-1]}")
    return solve(_factor_matrix("cholesky_solve", L, upper), B)


def cholesky_inverse(L, upper=False):
    """inv(A) for A = L L^T (upper: A = U^T U) given its Cholesky factor; batched."""
    check_tensor("cholesky_inverse", L)
    if L.dim() < 2 or L.shape[-1] != L.shape[-2]:
        raise RuntimeError(f"cholesky_inverse: A must be batches of square matrices, but they are "
                           f"{' by '.join(map(str, L.shape[-2:]))} matrices (input of shape {list(L.shape)})")
    A = _factor_matrix("cholesky_inverse", L, upper)
    return inv(A)


def chain_matmul(*matrices):
    """Deprecated torch.chain_matmul: the product of 2-D matrices in the cheapest order."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
                  "multiple parameters.", UserWarning, stacklevel=2)
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for i, m in enumerate(matrices):
        check_tensor("chain_matmul", m, f"matrices[{i}]")
        if m.dim() != 2:
            raise RuntimeError(f"chain_matmul(): Tensor dimension is {m.dim()}, expected 2 instead "
                               f"(matrix {i} of shape {list(m.shape)})")
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(list(matrices))


def lu(A, pivot=True, get_infos=False):
    """Deprecated torch.lu: (LU, pivots), or (LU, pivots, infos) with get_infos, of A = P L U
    (linalg.lu_factor_ex's results; singular matrices give info > 0, never an error)."""
    warnings.warn("torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex and will "
                  "be removed in a future PyTorch release.", UserWarning, stacklevel=2)
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    return (LU, pivots, info) if get_infos else (LU, pivots)


def lu_solve(b, LU_data, LU_pivots):
    """Deprecated torch.lu_solve: X with A X = b from lu's factors (the right-hand side first)."""
    return _linalg_lu_solve(LU_data, LU_pivots, b)
