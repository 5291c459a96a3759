"""torch.linalg's norms, inverse, determinants, solve, cholesky and solve_triangular, batched over
leading dims, on NumPy or CuPy (their linalg modules), differentiable (backwards in tensor ops, so
second derivatives work)."""
from __future__ import annotations

import math

import numpy as np

from .. import autocast_mode as _autocast
from ..autograd.function import Op
from ..backend import xp_of
from ..ops._util import check_tensor, wrap_dim
from ..ops.reduce import norm as _norm


def _square(op, a):
    check_tensor(op, a, "A")
    if a.dim() < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{op}: A must be batches of square matrices, but they are "
                           f"{' by '.join(map(str, a.shape[-2:]))} matrices (A of shape {list(a.shape)})")
    if not a.is_floating_point():
        raise RuntimeError(f"linalg.{op}: Expected a floating point tensor as input. Got {a.dtype}")


def _mT(t):
    return t.transpose(-2, -1)


# ---------------------------------------------------------------- norms
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """(sum |x|^ord)^(1/ord) over dim (all dims by default); ord inf/-inf the max/min of |x|, 0 the
    count of nonzeros."""
    return _norm(x, ord, dim, keepdim, dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Frobenius ('fro'), or the max/min absolute column (1, -1) or row (inf, -inf) sum, over two dims."""
    check_tensor("matrix_norm", A, "A")
    if A.dim() < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got {A.dim()}")
    d0, d1 = (wrap_dim(d, A.dim(), "matrix_norm") for d in dim)
    if dtype is not None:
        A = A.to(dtype)
    if ord == "fro":
        return _norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):  # from the singular values of the matrices moved to the last two dims
        from .decomp import svdvals
        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        return out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1)) if keepdim else out
    if ord in (1, -1, math.inf, -math.inf):
        summed_dim, kept_dim = (d0, d1) if abs(ord) == 1 else (d1, d0)
        sums = A.abs().sum(summed_dim, keepdim=True)
        out = sums.amax(kept_dim, keepdim=True) if ord > 0 else sums.amin(kept_dim, keepdim=True)
        return out if keepdim else out.squeeze(max(d0, d1)).squeeze(min(d0, d1))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm (ord a number, dim an int or None on a 1-D input) or a matrix norm (a 2-tuple
    dim, or a 2-D input with ord given); with ord and dim both None, the 2-norm of all entries."""
    check_tensor("norm", A, "A")
    if isinstance(dim, int):
        dim = (dim,)
    if ord is None:
        return _norm(A, 2, dim, keepdim, dtype)
    if (dim is not None and len(dim) == 2) or (dim is None and A.dim() == 2):
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if dim is None and A.dim() != 1:
        raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                           f"{A.dim()}D.")
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


# ---------------------------------------------------------------- inverse, determinants, solve
class Inv(Op):
    save_output = True

    def forward(self, a):
        return xp_of(a).linalg.inv(a)

    def backward(self, grad):
        (ainv,) = self.saved_tensors
        t = _mT(ainv)
        return -(t @ grad @ t)


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def inv(A):
    """The inverse of each square matrix of A (a LinAlgError-like RuntimeError when singular)."""
    _square("inv", A)
    try:
        return Inv()(A)
    except np.linalg.LinAlgError as e:
        raise RuntimeError(f"linalg.inv: The diagonal element of a factorization is zero; A is singular "
                           f"({e})") from None


class _LogAbsDet(Op):
    """(sign, log|det|) of square matrices; differentiable in log|det| (d = inv(A)^T)."""

    save_inputs = (0,)

    def forward(self, a):
        sign, logabs = xp_of(a).linalg.slogdet(a)
        return sign.astype(a.dtype, copy=False), logabs.astype(a.dtype, copy=False)

    def backward(self, g_sign, g_logabs):
        (a,) = self.saved_tensors
        return g_logabs.unsqueeze(-1).unsqueeze(-1) * _mT(inv(a))


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def slogdet(A):
    """(sign, logabsdet) of each square matrix of A, as a named pair."""
    _square("slogdet", A)
    from collections import namedtuple
    sign, logabs = _LogAbsDet()(A)
    return namedtuple("slogdet", ["sign", "logabsdet"])(sign.detach(), logabs)


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def det(A):
    """The determinant of each square matrix of A (differentiable where A is invertible)."""
    _square("det", A)
    sign, logabs = _LogAbsDet()(A)
    return sign.detach() * logabs.exp()


class Solve(Op):
    """X with A X = B: the backward solves with A^T (gB) and gives gA = -gB X^T."""

    save_inputs = (0,)
    save_output = True

    def forward(self, a, b):
        return xp_of(a).linalg.solve(a, b)

    def backward(self, grad):
        a, x = self.saved_tensors
        gb = Solve()(_mT(a), grad)
        ga = -(gb @ _mT(x)) if self.needs_input_grad[0] else None
        return ga, gb


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def solve(A, B, *, left=True):
    """X with A X = B (left=True) or X A = B, A square (batched), B a matrix or a vector."""
    _square("solve", A)
    check_tensor("solve", B, "B")
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _mT(solve(_mT(A), _mT(B)))
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    Bm = B.unsqueeze(-1) if vector else B
    if Bm.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({'x'.join(map(str, A.shape[-2:]))} and {'x'.join(map(str, Bm.shape[-2:]))})")
    batch = np.broadcast_shapes(tuple(A.shape[:-2]), tuple(Bm.shape[:-2]))
    A_ = A.expand(*batch, *A.shape[-2:]) if tuple(A.shape[:-2]) != batch else A
    B_ = Bm.expand(*batch, *Bm.shape[-2:]) if tuple(Bm.shape[:-2]) != batch else Bm
    try:
        X = Solve()(A_, B_)
    except np.linalg.LinAlgError as e:
        raise RuntimeError(f"linalg.solve: The solver failed because the input matrix is singular ({e})") from None
    return X.squeeze(-1) if vector else X


# ---------------------------------------------------------------- triangular solve, Cholesky
def _masked_triangle(a, upper, unitriangular):
    """The triangle of a that a triangular solve reads (and a unit diagonal if asked)."""
    xp = xp_of(a)
    t = xp.triu(a) if upper else xp.tril(a)
    if unitriangular:
        n = a.shape[-1]
        t = t * (1 - xp.eye(n, dtype=a.dtype)) + xp.eye(n, dtype=a.dtype)
    return t


class SolveTriangular(Op):
    """X with A X = B, A triangular (only its triangle is read). Backward: gB = A^-T gX (a solve
    with the transposed, opposite triangle) and gA = -gB X^T restricted to A's triangle (strictly,
    when the diagonal is taken as ones)."""

    save_inputs = (0,)
    save_output = True

    def __init__(self, upper, unitriangular):
        self.upper, self.unitriangular = upper, unitriangular

    def forward(self, a, b):
        return xp_of(a).linalg.solve(_masked_triangle(a, self.upper, self.unitriangular), b)

    def backward(self, grad):
        a, x = self.saved_tensors
        gb = SolveTriangular(not self.upper, self.unitriangular)(_mT(a), grad)
        ga = None
        if self.needs_input_grad[0]:
            ga = -(gb @ _mT(x))
            ga = ga.triu(1 if self.unitriangular else 0) if self.upper else ga.tril(-1 if self.unitriangular else 0)
        return ga, gb


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B (left) or X A = B, A upper or lower triangular (the other triangle is not
    read; with unitriangular the diagonal is taken as ones). Batch dims broadcast."""
    _square("solve_triangular", A)
    check_tensor("solve_triangular", B, "B")
    if B.dim() < 2:
        raise RuntimeError(f"linalg.solve_triangular: The input tensor B must have at least 2 dimensions, "
                           f"got B of shape {list(B.shape)}")
    if A.dtype != B.dtype:
        raise RuntimeError(f"linalg.solve_triangular: Expected A and B to have the same dtype, but found "
                           f"A of type {A.dtype} and B of type {B.dtype} instead")
    if not left:  # X A = B  <=>  A^T X^T = B^T, A^T in the other triangle
        return _mT(solve_triangular(_mT(A), _mT(B), upper=not upper, left=True, unitriangular=unitriangular))
    if B.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation AX = B "
                           f"({'x'.join(map(str, A.shape[-2:]))} and {'x'.join(map(str, B.shape[-2:]))})")
    batch = np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2]))
    A_ = A.expand(*batch, *A.shape[-2:]) if tuple(A.shape[:-2]) != batch else A
    B_ = B.expand(*batch, *B.shape[-2:]) if tuple(B.shape[:-2]) != batch else B
    try:
        return SolveTriangular(bool(upper), bool(unitriangular))(A_, B_)
    except np.linalg.LinAlgError as e:
        raise RuntimeError(f"linalg.solve_triangular: A has a zero on its diagonal (it is singular) ({e})") from None


def _phi(t):
    """The lower triangle with the diagonal halved."""
    return t.tril(-1) + t.tril().triu() * 0.5


class Cholesky(Op):
    """L lower with A = L L^T. Backward (Murray 2016): with P = phi(L^T gL), gA = L^-T P L^-1,
    symmetrized (A is taken as symmetric, so the gradient is too)."""

    save_output = True

    def forward(self, a):
        return xp_of(a).linalg.cholesky(a)

    def backward(self, grad):
        (L,) = self.saved_tensors
        p = _phi(_mT(L) @ grad.tril())
        s = solve_triangular(_mT(L), solve_triangular(L, p, upper=False, left=False), upper=True)  # L^-T P L^-1
        return (s + _mT(s)) * 0.5


def _not_positive_definite(a):
    """The order of the first leading minor of each failed matrix that is not positive-definite."""
    arr = np.asarray(a.detach().cpu().numpy(), dtype=np.float64).reshape(-1, a.shape[-2], a.shape[-1])
    for m in arr:
        for k in range(1, m.shape[-1] + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                return k
    return None


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def cholesky(A, *, upper=False):
    """The Cholesky factor of each symmetric positive-definite matrix of A: L lower with A = L L^T
    (upper=True: U = L^T with A = U^T U). Only the lower triangle of A is read."""
    _square("cholesky", A)
    try:
        L = Cholesky()(A)
    except np.linalg.LinAlgError:
        k = _not_positive_definite(A)
        minor = f" (the leading minor of order {k} is not positive-definite)" if k else ""
        raise RuntimeError(f"linalg.cholesky: The factorization could not be completed because the input is not "
                           f"positive-definite{minor}.") from None
    return _mT(L) if upper else L


__all__ = ["vector_norm", "matrix_norm", "norm", "inv", "det", "slogdet", "solve", "solve_triangular", "cholesky"]
