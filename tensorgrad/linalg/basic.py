"""torch.linalg's norms, inverse, determinants, solve, cholesky and solve_triangular, batched over
leading dims, on NumPy or CuPy (their linalg modules), differentiable (backwards in tensor ops, so
second derivatives work); and their _ex forms (inv_ex, solve_ex, cholesky_ex), which report a
singular or non-positive-definite matrix per batch element in an int32 `info` instead of raising."""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import autocast_mode as _autocast
from ..autograd.function import Op
from ..backend import CPU, to_device, xp_of
from ..ops._util import check_tensor, wrap_dim
from ..ops.reduce import norm as _norm
from ..creation import eye
from ..tensor import Tensor


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


SlogdetResult = namedtuple("linalg_slogdet", ["sign", "logabsdet"])


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
    """(sign, logabsdet) of each square matrix of A, as a named pair. As in torch, sign is an
    output of the differentiable op (it requires grad) whose gradient is zero."""
    _square("slogdet", A)
    return SlogdetResult(*_LogAbsDet()(A))


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


# ---------------------------------------------------------------- the _ex forms: errors as info
InvExResult = namedtuple("linalg_inv_ex", ["inverse", "info"])
SolveExResult = namedtuple("linalg_solve_ex", ["result", "info"])
CholeskyExResult = namedtuple("linalg_cholesky_ex", ["L", "info"])


def raise_for_info(op, info, message):
    """Raise (a RuntimeError, as torch's LinAlgError is) for the first matrix whose info (a raw
    array over the batch) is > 0; message(i) words the failure for info i. A host sync on CUDA."""
    arr = to_device(info, CPU).reshape(-1)
    bad = np.flatnonzero(arr > 0)
    if bad.size:
        where = f"(Batch element {int(bad[0])}): " if info.ndim else ""
        raise RuntimeError(f"{op}: {where}{message(int(arr[bad[0]]))}")


def _info_tensor(info):
    return Tensor._make(info, None, 0, None)


def _lu_info(a):
    """getrf's info of each matrix: the 1-based column of the first zero pivot, 0 if none (our own
    elimination, so it works the same on NumPy and CuPy, whose inv/solve do not report it)."""
    from .lu import _getrf
    return _getrf(a)[2]


def _masked(op, A, ok, value):
    """op(A) where ok (A's batch) and `value` elsewhere; the failed matrices are swapped for the
    identity before op, so it never sees them (NumPy's LAPACK wrappers raise on one)."""
    if bool(ok.all()):
        return op(A)
    from ..ops.arithmetic import where
    ident = eye(A.shape[-1], dtype=A.dtype, device=A.device)
    good = Tensor._make(ok[..., None, None], None, 0, None)
    out = op(where(good, A, ident))
    keep = good if out.dim() == A.dim() else good[..., 0]  # solve with a vector B drops a dim
    return where(keep, out, value)


def _singular_inverse(i):
    return (f"The diagonal element {i} is zero, the inversion could not be completed because the input matrix "
            f"is singular.")


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def inv_ex(A, *, check_errors=False):
    """(inverse, info): info[b] > 0 when matrix b is singular (the first zero pivot of its LU,
    1-based); its inverse is then NaN instead of an error (check_errors=True raises instead)."""
    _square("inv_ex", A)
    info = _lu_info(A._data)
    if check_errors:
        raise_for_info("linalg.inv_ex", info, _singular_inverse)
    return InvExResult(_masked(Inv(), A, info == 0, math.nan), _info_tensor(info))


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def solve_ex(A, B, *, left=True, check_errors=False):
    """(result, info) of solve(A, B): info[b] > 0 when matrix b of A is singular (its result is
    then NaN; check_errors=True raises instead). info has the batch shape of A and B broadcast."""
    _square("solve_ex", A)
    check_tensor("solve_ex", B, "B")
    info = _lu_info(A._data)
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    batch = np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-1] if vector else B.shape[:-2]))
    info = xp_of(info).broadcast_to(info, batch).copy()
    if check_errors:
        raise_for_info("torch.linalg.solve_ex", info,
                       lambda i: "The solver failed because the input matrix is singular.")
    A_ = A.expand(*batch, *A.shape[-2:]) if tuple(A.shape[:-2]) != batch else A
    return SolveExResult(_masked(lambda a: solve(a, B, left=left), A_, info == 0, math.nan), _info_tensor(info))


def _potrf(a):
    """(L, info) of LAPACK's unblocked Cholesky (potf2) on the lower triangle, batched: a matrix
    whose leading minor of order j is not positive-definite stops at column j with info = j, its
    L the partial factor (the pivot that failed on the diagonal, the rest of A's lower triangle
    untouched), as torch returns it. Our own loop, so NumPy and CuPy report failures alike."""
    xp = xp_of(a)
    n = a.shape[-1]
    low = xp.tril(a).reshape((-1, n, n)).copy()
    info = xp.zeros(low.shape[0], dtype=np.int32)
    for j in range(n):
        d = low[:, j, j] - (low[:, j, :j] ** 2).sum(-1)
        failed = (info == 0) & ~(d > 0)  # NaN fails too
        info = xp.where(failed, j + 1, info).astype(np.int32)
        active = info == 0
        root = xp.sqrt(xp.where(active, d, 1))
        low[:, j, j] = xp.where(active, root, xp.where(failed, d, low[:, j, j]))
        if j + 1 < n:
            col = (low[:, j + 1:, j] - (low[:, j + 1:, :j] * low[:, j:j + 1, :j]).sum(-1)) / root[:, None]
            low[:, j + 1:, j] = xp.where(active[:, None], col, low[:, j + 1:, j])
    return low.reshape(a.shape), info.reshape(a.shape[:-2])


def _not_positive_definite_msg(i):
    return (f"The factorization could not be completed because the input is not positive-definite "
            f"(the leading minor of order {i} is not positive-definite).")


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info): info[b] > 0 when matrix b is not positive-definite (the order of its first
    leading minor that is not); its L is then the partial factor, as LAPACK leaves it, instead of
    an error (check_errors=True raises). The factor of each good matrix is differentiable."""
    _square("cholesky_ex", A)
    partial, info = _potrf(A._data)
    if check_errors:
        raise_for_info("linalg.cholesky_ex", info, _not_positive_definite_msg)
    L = _masked(Cholesky(), A, info == 0, Tensor._make(partial, None, 0, None))
    return CholeskyExResult(_mT(L) if upper else L, _info_tensor(info))


__all__ = ["vector_norm", "matrix_norm", "norm", "inv", "det", "slogdet", "solve", "solve_triangular", "cholesky",
           "inv_ex", "solve_ex", "cholesky_ex"]
