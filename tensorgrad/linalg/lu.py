"""tensorgrad.linalg's LU with partial pivoting: lu_factor, lu_factor_ex, lu, lu_solve and torch's
lu_unpack. NumPy and CuPy expose no getrf, so the factorization is an elimination of our own,
one column per step and vectorized over the batch, giving LAPACK's pivots and info."""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import autocast_mode as _autocast
from ..autograd.function import Op
from ..backend import xp_of
from ..creation import eye
from .basic import _mT, raise_for_info, solve_triangular
from .decomp import _const, _matrices
from ..ops._util import check_tensor
from ..ops.shape import cat

LUFactorResult = namedtuple("linalg_lu_factor", ["LU", "pivots"])
LUFactorExResult = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
LUResult = namedtuple("linalg_lu", ["P", "L", "U"])
LUUnpackResult = namedtuple("lu_unpack", ["P", "L", "U"])


# ---------------------------------------------------------------- LU with partial pivoting
def _getrf(a, pivot=True):
    """LAPACK getrf's results on raw arrays: (LU packed, pivots 1-based int32, info int32), batched.

    Right-looking elimination, one column per step vectorized over the batch, so one code path
    serves NumPy and CuPy (neither exposes getrf). As LAPACK: the pivot is the first entry of
    largest magnitude (idamax), and a zero pivot sets info to its 1-based column (the first one)
    and skips that column's scaling, so the factorization still completes."""
    xp = xp_of(a)
    m, n = a.shape[-2], a.shape[-1]
    k = min(m, n)
    nb = int(np.prod(a.shape[:-2], dtype=np.int64))  # explicit: -1 is ambiguous for empty matrices
    packed = a.reshape((nb, m, n)).astype(a.dtype, copy=True)  # never the caller's array
    rows = xp.arange(nb)
    piv = xp.empty((nb, k), dtype=np.int32)
    info = xp.zeros(nb, dtype=np.int32)
    for j in range(k):
        if pivot:
            # idamax: the first entry of largest magnitude; a NaN only when it comes first
            mag = xp.abs(packed[:, j:, j])
            p = j + xp.where(xp.isnan(mag[:, 0]), 0, xp.argmax(xp.where(xp.isnan(mag), -1, mag), axis=1))
            row_j = packed[:, j, :].copy()
            packed[:, j, :] = packed[rows, p, :]
            packed[rows, p, :] = row_j
            piv[:, j] = (p + 1).astype(np.int32)
        else:
            piv[:, j] = j + 1
        d = packed[:, j, j]
        zero = d == 0
        info = xp.where((info == 0) & zero, j + 1, info).astype(np.int32)
        if j + 1 < m:
            col = packed[:, j + 1:, j]
            packed[:, j + 1:, j] = xp.where(zero[:, None], col, col / xp.where(zero, 1, d)[:, None])
            if j + 1 < n:
                packed[:, j + 1:, j + 1:] -= packed[:, j + 1:, j:j + 1] * packed[:, j:j + 1, j + 1:]
    batch = a.shape[:-2]
    return packed.reshape(a.shape), piv.reshape(batch + (k,)), info.reshape(batch)


def _permutation(piv, m, dtype):
    """P (batched, m x m, in dtype) with A = P L U from LAPACK's sequential row swaps."""
    xp = xp_of(piv)
    batch, k = piv.shape[:-1], piv.shape[-1]
    nb = int(np.prod(batch, dtype=np.int64))
    swaps = piv.reshape((nb, k)).astype(np.int64) - 1
    rows = xp.arange(nb)
    perm = xp.broadcast_to(xp.arange(m), (nb, m)).copy()  # row i of P^T A is row perm[i] of A
    for j in range(k):
        p = swaps[:, j]
        row_j = perm[:, j].copy()
        perm[:, j] = perm[rows, p]
        perm[rows, p] = row_j
    P = xp.zeros((nb, m, m), dtype=dtype)
    P[rows[:, None], perm, xp.arange(m)[None, :]] = 1
    return P.reshape(batch + (m, m))


def _unit_lower(LU, k):
    """L (m x k, unit diagonal) from the packed factors."""
    return LU[..., :, :k].tril(-1) + eye(LU.shape[-2], k, dtype=LU.dtype, device=LU.device)


class LUFactor(Op):
    """(LU, pivots, info) of getrf. Backward, with P^T A = L U split as L = [L1; L2] (L1 k x k)
    and U = [U1 | U2] (U1 k x k): perturbing gives L1^-1 dA1 U1^-1 = L1^-1 dL1 + dU1 U1^-1 for the
    leading k x k block, the strictly lower part of which is L1^-1 dL1 and the upper part dU1 U1^-1.
    Collecting terms: G = tril_-1(L1^T gL1 - gU2 U2^T) + triu(gU1 U1^T - L2^T gL2),
    gA = P [L1^-T G U1^-T, L1^-T gU2; gL2 U1^-T, 0] (U2 only when wide, L2 only when tall)."""

    save_output = True
    materialize_grads = False

    def __init__(self, pivot):
        self.pivot = pivot

    def forward(self, a):
        lu, piv, info = _getrf(a, self.pivot)
        self.ctx_arrays = (piv,)
        return lu, piv, info

    def backward(self, gLU, *_):
        (LU,) = self.saved_tensors
        P = _const(_permutation(self.saved_arrays[0], LU.shape[-2], LU._data.dtype))
        m, n = LU.shape[-2], LU.shape[-1]
        k = min(m, n)
        L, U = _unit_lower(LU, k), LU[..., :k, :].triu()
        gL, gU = gLU[..., :, :k].tril(-1), gLU[..., :k, :].triu()
        L1, U1 = L[..., :k, :], U[..., :, :k]
        lower = _mT(L1) @ gL[..., :k, :]
        upper = gU[..., :, :k] @ _mT(U1)
        if n > k:
            lower = lower - gU[..., :, k:] @ _mT(U[..., :, k:])
        if m > k:
            upper = upper - _mT(L[..., k:, :]) @ gL[..., k:, :]
        G = lower.tril(-1) + upper.triu()
        top = solve_triangular(_mT(U1), G, upper=False, left=False)  # G U1^-T
        if n > k:
            top = cat([top, gU[..., :, k:]], -1)
        gX = solve_triangular(_mT(L1), top, upper=True, unitriangular=True)  # L1^-T [G U1^-T, gU2]
        if m > k:
            gX = cat([gX, solve_triangular(_mT(U1), gL[..., k:, :], upper=False, left=False)], -2)
        return P @ gX


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """(LU, pivots, info): A = P L U packed in LU (L's strictly lower part, unit diagonal
    implied, and U), pivots the 1-based row swaps (int32, as LAPACK), info the 1-based column of
    the first zero pivot (0: none). Batched, rectangular allowed; differentiable in LU."""
    _matrices("lu_factor_ex", A)
    LU, piv, info = LUFactor(bool(pivot))(A)
    if check_errors:
        raise_for_info("torch.linalg.lu_factor_ex", info._data, _zero_pivot)
    return LUFactorExResult(LU, piv, info)


def _zero_pivot(i):
    return (f"U[{i},{i}] is zero and using it on lu_solve would result in a division by zero. If you still "
            f"want to perform the factorization, consider calling linalg.lu(A, pivot) or "
            f"linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True):
    """(LU, pivots) of A = P L U (see lu_factor_ex); raises where U has a zero on its diagonal,
    as torch does (such factors would divide by zero in lu_solve)."""
    _matrices("lu_factor", A)
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    raise_for_info("torch.linalg.lu_factor", info._data, _zero_pivot)
    return LUFactorResult(LU, piv)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """torch.lu_unpack: (P, L, U) from lu_factor's packed LU and pivots; differentiable in LU.
    Either half can be skipped (unpack_data / unpack_pivots False): its outputs are empty."""
    check_tensor("lu_unpack", LU_data, "LU_data")
    check_tensor("lu_unpack", LU_pivots, "LU_pivots")
    if LU_data.dim() < 2:
        raise RuntimeError(f"torch.lu_unpack: Expected tensor with 2 or more dimensions. Got size: "
                           f"{list(LU_data.shape)} instead")
    if LU_pivots.dtype.name != "int32":
        raise RuntimeError(f"torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 "
                           f"dtype (got {LU_pivots.dtype}). Note: this function is intended to be used with the "
                           f"output produced by torch.linalg.lu_factor")
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    if tuple(LU_pivots.shape) != tuple(LU_data.shape[:-2]) + (k,):
        raise RuntimeError(f"torch.lu_unpack: expected LU_pivots of shape {list(LU_data.shape[:-2]) + [k]} for "
                           f"LU_data of shape {list(LU_data.shape)}, got {list(LU_pivots.shape)}")
    empty = _const(xp_of(LU_data._data).empty((0,), dtype=LU_data._data.dtype))
    P = empty
    if unpack_pivots:
        piv = LU_pivots._data
        if piv.size and bool(((piv < 1) | (piv > m)).any()):
            raise RuntimeError(f"pivots passed to lu_unpack must be between 1 and LU.size(-2) = {m} inclusive. "
                               f"Did you properly pass the result of lu_factor?")
        P = _const(_permutation(piv, m, LU_data._data.dtype))
    if not unpack_data:
        return LUUnpackResult(P, empty, empty)
    return LUUnpackResult(P, _unit_lower(LU_data, k), LU_data[..., :k, :].triu())


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def lu(A, *, pivot=True):
    """(P, L, U) with A = P L U: P a permutation matrix (A's dtype), L m x k unit lower
    triangular, U k x n upper triangular, k = min(m, n). Differentiable in L and U."""
    _matrices("lu", A)
    LU, piv, _ = LUFactor(bool(pivot))(A)
    return LUResult(*lu_unpack(LU, piv))


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B (left=False: X A = B; adjoint: with A^T) from lu_factor's (LU, pivots):
    X = U^-1 L^-1 P^T B, two triangular solves, so differentiable in LU and B. Batches broadcast."""
    _matrices("lu_solve", LU, "LU")
    check_tensor("linalg.lu_solve", pivots, "pivots")
    check_tensor("linalg.lu_solve", B, "B")
    n = LU.shape[-1]
    if LU.shape[-2] != n:
        raise RuntimeError(f"linalg.lu_solve: A must be batches of square matrices, but they are "
                           f"{LU.shape[-2]} by {n} matrices (LU of shape {list(LU.shape)})")
    if B.dim() < 2:
        raise RuntimeError(f"linalg.lu_solve: The input tensor B must have at least 2 dimensions "
                           f"(got B of shape {list(B.shape)})")
    if pivots.shape[-1:] != (n,) or pivots.dim() != LU.dim() - 1:
        raise RuntimeError(f"linalg.lu_solve: Number of pivots per batch should be same as the dimension of the "
                           f"matrix (LU of shape {list(LU.shape)}, pivots of shape {list(pivots.shape)})")
    if LU.dtype != B.dtype:
        raise RuntimeError(f"linalg.lu_solve: Expected LU and B to have the same dtype, but found LU of type "
                           f"{LU.dtype} and B of type {B.dtype} instead")
    rows = B.shape[-2] if left else B.shape[-1]
    if rows != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation {eq} "
                           f"({n}x{n} and {'x'.join(map(str, B.shape[-2:]))})")
    P, _, _ = lu_unpack(LU, pivots, unpack_data=False)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _mT(lu_solve(LU, pivots, _mT(B), adjoint=not adjoint))
    if adjoint:  # A^T X = B: U^T L^T P^T X = B
        Y = solve_triangular(_mT(LU), B, upper=False)
        return P @ solve_triangular(_mT(LU), Y, upper=True, unitriangular=True)
    Y = solve_triangular(LU, _mT(P) @ B, upper=False, unitriangular=True)
    return solve_triangular(LU, Y, upper=True)


__all__ = ["lu_factor", "lu_factor_ex", "lu", "lu_solve"]
