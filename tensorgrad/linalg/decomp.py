"""tensorgrad.linalg's decompositions: qr, eigh/eigvalsh, svd/svdvals, and what is built on them
(pinv, matrix_rank, lstsq), plus torch's old top-level svd, qr and pinverse. LU is in lu.py.

Forwards call the array module's LAPACK wrappers (NumPy or CuPy, batched over leading dims).
Backwards are the standard perturbation formulas written in tensor ops, so second derivatives
work; like PyTorch they assume distinct eigenvalues / singular values (repeated ones give inf or
NaN gradients of the vectors: only gauge-invariant functions of the factors are well defined).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import autocast_mode as _autocast
from ..autograd.engine import SavedTensor
from ..autograd.function import Op
from ..backend import xp_of
from ..creation import eye, zeros
from .basic import _mT, _square, solve_triangular
from ..ops._util import check_tensor
from ..tensor import Tensor

# torch.return_types-like results: fields by name and by index
QRResult = namedtuple("linalg_qr", ["Q", "R"])
EighResult = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("linalg_svd", ["U", "S", "Vh"])
LstsqResult = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
_OldSVD = namedtuple("svd", ["U", "S", "V"])
_OldQR = namedtuple("qr", ["Q", "R"])


def _matrices(op, A, name="A"):
    """A batch of matrices of a dtype LAPACK takes (float32/float64)."""
    check_tensor(f"linalg.{op}", A, name)
    if A.dim() < 2:
        raise RuntimeError(f"linalg.{op}: The input tensor {name} must have at least 2 dimensions "
                           f"(got {name} of shape {list(A.shape)})")
    if not A.is_floating_point():
        raise RuntimeError(f"linalg.{op}: Expected a floating point tensor as input. Got {A.dtype}")
    if A._data.dtype.itemsize < 4:
        raise RuntimeError(f"linalg.{op}: Low precision dtypes not supported. Got {A.dtype} "
                           f"(use float32 or float64)")


def _const(arr) -> Tensor:
    if isinstance(arr, np.generic):  # NumPy's reductions of 1-D arrays give scalars
        arr = np.asarray(arr)
    return Tensor._make(arr, None, 0, None)


def _eye_like(t, n):
    return eye(n, dtype=t.dtype, device=t.device)


def _diag(v):
    """diag_embed of the last dim: (..., k) -> (..., k, k)."""
    return v.unsqueeze(-1) * _eye_like(v, v.shape[-1])


def _inv_gaps(w):
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it (inf where two w are equal)."""
    k = w.shape[-1]
    one = _eye_like(w, k)
    gaps = w.unsqueeze(-2) - w.unsqueeze(-1) + one  # the diagonal set to 1 before dividing
    return (1 - one) / gaps


class _SavesOutputs(Op):
    """A multi-output op whose backward needs every output (Op keeps only the first): they are
    kept as the node's own outputs, so a create_graph backward differentiates through them."""

    materialize_grads = False  # None, not zeros, for an output nobody used: skip its terms

    def _finish_multi(self, inputs, outs, edges, view_of):
        res = super()._finish_multi(inputs, outs, edges, view_of)
        if edges is not None:
            self._saved = [SavedTensor(r, i) for i, r in enumerate(res)]
        return res


# ---------------------------------------------------------------- QR
def _qr_grad(Q, R, gQ, gR):
    """gA for A = QR, Q m x n, R n x n upper, m >= n: with M = R gR^T - gQ^T Q,
    gA = (gQ + Q copyltu(M)) R^-T, copyltu mirroring M's lower triangle into its upper one."""
    M = 0
    if gR is not None:
        M = R @ _mT(gR)  # gR below the diagonal (R's constant zeros) never reaches tril(M)
    if gQ is not None:
        M = M - _mT(gQ) @ Q
    M = M.tril() + _mT(M.tril(-1))
    B = Q @ M if gQ is None else gQ + Q @ M
    return solve_triangular(_mT(R), B, upper=False, left=False)  # B R^-T


class QR(_SavesOutputs):
    def __init__(self, mode):
        self.mode = mode

    def forward(self, a):
        xp = xp_of(a)
        if self.mode == "r":
            return xp.empty((0,), dtype=a.dtype), xp.linalg.qr(a, mode="r")
        return tuple(xp.linalg.qr(a, mode=self.mode))

    def backward(self, gQ, gR):
        if self.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                               "through linalg.qr.")
        Q, R = self.saved_tensors
        m, n = Q.shape[-2], R.shape[-1]
        if m > n and self.mode == "complete":
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        if gQ is None and gR is None:
            return None
        if m >= n:
            return _qr_grad(Q, R, gQ, gR)
        # wide: A = [X | Y], X = Q U (a square QR), Y = Q V; Y's dependence on Q feeds gQ
        U, V = R[..., :, :m], R[..., :, m:]
        gV = gR[..., :, m:] if gR is not None else None
        gU = gR[..., :, :m] if gR is not None else None
        if gV is not None:
            gQ = (Q @ V) @ _mT(gV) if gQ is None else gQ + (Q @ V) @ _mT(gV)
        gX = _qr_grad(Q, U, gQ, gU)
        gY = Q @ gV if gV is not None else (Q @ V) * 0
        from ..ops.shape import cat
        return cat([gX, gY], -1)


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def qr(A, mode="reduced"):
    """A = QR with Q orthonormal columns, R upper triangular. mode 'reduced': Q m x k, R k x n
    (k = min(m, n)); 'complete': Q m x m, R m x n; 'r': R only (Q an empty tensor)."""
    _matrices("qr", A)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           f"'r', or 'complete'")
    return QRResult(*QR(mode)(A))


# ---------------------------------------------------------------- symmetric eigendecomposition
class Eigh(_SavesOutputs):
    """A = V diag(L) V^T. Backward: gA = V (diag(gL) + F o skew(V^T gV)) V^T, F[i, j] =
    1/(L[j] - L[i]): symmetric, as A is taken to be."""

    def __init__(self, uplo):
        self.uplo = uplo

    def forward(self, a):
        w, v = xp_of(a).linalg.eigh(a, UPLO=self.uplo)
        return w, v

    def backward(self, gL, gV):
        L, V = self.saved_tensors
        inner = 0
        if gV is not None:
            X = _mT(V) @ gV
            inner = _inv_gaps(L) * (X - _mT(X)) * 0.5
        if gL is not None:
            inner = inner + _diag(gL)
        return V @ inner @ _mT(V)


def _check_uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors (columns) of symmetric matrices; only
    the lower (UPLO='L') or upper ('U') triangle is read."""
    _matrices("eigh", A)
    _square("eigh", A)
    _check_uplo(UPLO)
    return EighResult(*Eigh(UPLO)(A))


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def eigvalsh(A, UPLO="L"):
    """The eigenvalues (ascending) of symmetric matrices (differentiable: gA = V diag(gL) V^T)."""
    _matrices("eigvalsh", A)
    _square("eigvalsh", A)
    _check_uplo(UPLO)
    return Eigh(UPLO)(A)[0]


# ---------------------------------------------------------------- SVD
class SVD(_SavesOutputs):
    """A = U diag(S) Vh. Backward with J = U^T gU, K = V^T gV, F[i, j] = 1/(S[j]^2 - S[i]^2):
    gA = U (diag(gS) + (F o (J - J^T)) S + S (F o (K - K^T))) Vh
         + (I - U U^T) gU S^-1 Vh + U S^-1 gV^T (I - V Vh)   (the last two only for non-square A).
    With full_matrices the columns of U / rows of Vh past k = min(m, n) are an arbitrary basis:
    their gradients are ignored, as in PyTorch."""

    def __init__(self, full_matrices):
        self.full_matrices = full_matrices

    def forward(self, a):
        u, s, vh = xp_of(a).linalg.svd(a, full_matrices=self.full_matrices)
        return u, s, vh

    def backward(self, gU, gS, gVh):
        U, S, Vh = self.saved_tensors
        m, n = U.shape[-2], Vh.shape[-1]
        k = min(m, n)
        if self.full_matrices:
            U, Vh = U[..., :, :k], Vh[..., :k, :]
            gU = gU[..., :, :k] if gU is not None else None
            gVh = gVh[..., :k, :] if gVh is not None else None
        inner = _diag(gS) if gS is not None else 0
        if gU is None and gVh is None:
            return U @ inner @ Vh
        F = _inv_gaps(S * S)
        Sd = S.unsqueeze(-2)  # multiplies columns: X * Sd == X @ diag(S)
        extra = 0
        if gU is not None:
            J = _mT(U) @ gU
            inner = inner + (F * (J - _mT(J))) * Sd
            if m > k:
                extra = (gU - U @ J) / Sd @ Vh
        if gVh is not None:
            gV, V = _mT(gVh), _mT(Vh)
            K = _mT(V) @ gV
            inner = inner + S.unsqueeze(-1) * (F * (K - _mT(K)))
            if n > k:
                extra = extra + U @ _mT((gV - V @ K) / Sd)
        return U @ inner @ Vh + extra


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def svd(A, full_matrices=True, *, driver=None):
    """A = U diag(S) Vh, S descending. full_matrices=True: U m x m, Vh n x n; False: U m x k,
    Vh k x n (k = min(m, n)). driver (a cuSOLVER choice in PyTorch) is accepted and ignored."""
    _matrices("svd", A)
    return SVDResult(*SVD(bool(full_matrices))(A))


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def svdvals(A, *, driver=None):
    """The singular values of A, descending (differentiable: gA = U diag(gS) Vh)."""
    _matrices("svd", A)
    return SVD(False)(A)[1]


# ---------------------------------------------------------------- pseudo-inverse, rank
def _tolerances(op, A, atol, rtol):
    """(atol, rtol) as arrays broadcasting over A's batch, with PyTorch's defaults: rtol =
    eps * max(m, n) unless given, or zero when only a positive atol is given."""
    xp = xp_of(A._data)
    eps = float(np.finfo(A._data.dtype).eps)

    def arr(v):
        if isinstance(v, Tensor):
            return v._data.astype(A._data.dtype, copy=False)
        return xp.asarray(0.0 if v is None else float(v), dtype=A._data.dtype)

    if rtol is None:
        positive_atol = atol is not None and bool(xp.all(arr(atol) > 0))
        rtol = 0.0 if positive_atol else eps * max(A.shape[-2], A.shape[-1])
    return arr(atol), arr(rtol)


def _kept(s, atol, rtol):
    """Which of the (nonnegative, ...,k) values s exceed max(atol, rtol * max(s))."""
    xp = xp_of(s)
    smax = s.max(-1, keepdims=True) if s.shape[-1] else xp.zeros(s.shape[:-1] + (1,), s.dtype)
    return s > xp.maximum(atol[..., None], rtol[..., None] * smax)


class Pinv(Op):
    """The Moore-Penrose pseudo-inverse P. Backward (Golub & Pereyra), with A P, P A the
    orthogonal projectors on A's range and row space: gA = -P^T gP P^T
    + (I - A P) gP^T P P^T + P^T P gP^T (I - P A)."""

    save_inputs = (0,)
    save_output = True

    def __init__(self, atol, rtol, hermitian):
        self.atol, self.rtol, self.hermitian = atol, rtol, hermitian

    def forward(self, a):
        xp = xp_of(a)
        if self.hermitian:
            w, v = xp.linalg.eigh(a)
            keep = _kept(xp.abs(w), self.atol, self.rtol)
            winv = xp.where(keep, 1 / xp.where(keep, w, 1), 0)
            return (v * winv[..., None, :]) @ xp.swapaxes(v, -1, -2)
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        keep = _kept(s, self.atol, self.rtol)
        sinv = xp.where(keep, 1 / xp.where(keep, s, 1), 0)
        return (xp.swapaxes(vh, -1, -2) * sinv[..., None, :]) @ xp.swapaxes(u, -1, -2)

    def backward(self, gP):
        A, P = self.saved_tensors
        Pt, gPt = _mT(P), _mT(gP)
        X = gPt @ P @ Pt
        Y = Pt @ P @ gPt
        return -(Pt @ gP @ Pt) + (X - A @ (P @ X)) + (Y - (Y @ P) @ A)


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def pinv(A, *, atol=None, rtol=None, hermitian=False, rcond=None):
    """The pseudo-inverse of each matrix of A: singular values <= max(atol, rtol * the largest)
    are treated as zero (atol, rtol floats or tensors over the batch). hermitian: A symmetric,
    via eigh (only its lower triangle read). rcond is PyTorch's older name for rtol."""
    _matrices("pinv", A)
    if rcond is not None:
        rtol = rcond
    if hermitian:
        _square("pinv", A)
    a, r = _tolerances("pinv", A, atol, rtol)
    return Pinv(a, r, bool(hermitian))(A)


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None):
    """The number of singular values (|eigenvalues| when hermitian) above max(atol, rtol * the
    largest), as int64; tol is PyTorch's older name for atol (with rtol 0)."""
    _matrices("matrix_rank", A)
    if tol is not None:
        atol, rtol = tol, 0.0
    xp = xp_of(A._data)
    if hermitian:
        _square("matrix_rank", A)
        s = xp.abs(xp.linalg.eigvalsh(A._data))
    else:
        s = xp.linalg.svd(A._data, compute_uv=False)
    a, r = _tolerances("matrix_rank", A, atol, rtol)
    return _const(_kept(s, a, r).sum(-1).astype(np.int64))


# ---------------------------------------------------------------- least squares
_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def lstsq(A, B, rcond=None, *, driver=None):
    """The minimum-norm least-squares solution X of A X = B (B a matrix, or a vector batch),
    as (solution, residuals, rank, singular_values) filled as PyTorch's LAPACK drivers fill them:
    rank for all but 'gels', singular_values for 'gelsd'/'gelss', residuals (the squared
    residual norm per column) for all but 'gelsy' when m > n and A has full rank; the rest empty.
    Computed for every driver through the SVD, singular values <= rcond * the largest dropped
    (rcond default eps * max(m, n)); gradients flow through the pseudo-inverse, as in PyTorch."""
    check_tensor("linalg.lstsq", A, "A")
    check_tensor("linalg.lstsq", B, "B")
    if A.dim() < 2:
        raise RuntimeError(f"linalg.lstsq: input must have at least 2 dimensions (A of shape {list(A.shape)})")
    if B.dim() < 1:
        raise RuntimeError("linalg.lstsq: other must have at least 1 dimension (B is 0-d)")
    if A.dtype != B.dtype:
        raise RuntimeError(f"linalg.lstsq: Expected input and other to have the same dtype, but got input's "
                           f"dtype {A.dtype} and other's dtype {B.dtype}")
    _matrices("lstsq", A)
    if driver is None:
        driver = "gelsy" if A.device.type == "cpu" else "gels"
    if driver not in _DRIVERS:
        raise RuntimeError(f"linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss), "
                           f"got {driver!r}")
    m, n = A.shape[-2], A.shape[-1]
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    if vector and B.shape[-1] != m:
        raise RuntimeError(f"linalg.lstsq: input.size(-2) should match other.size(-1) "
                           f"(A of shape {list(A.shape)}, B of shape {list(B.shape)})")
    if not vector and B.shape[-2] != m:
        raise RuntimeError(f"linalg.lstsq: input.size(-2) should match other.size(-2) "
                           f"(A of shape {list(A.shape)}, B of shape {list(B.shape)})")
    Bm = B.unsqueeze(-1) if vector else B
    batch = np.broadcast_shapes(tuple(A.shape[:-2]), tuple(Bm.shape[:-2]))
    A_ = A.expand(*batch, m, n) if tuple(A.shape[:-2]) != batch else A
    B_ = Bm.expand(*batch, *Bm.shape[-2:]) if tuple(Bm.shape[:-2]) != batch else Bm
    rtol = float(np.finfo(A._data.dtype).eps) * max(m, n) if rcond is None or rcond < 0 else float(rcond)
    X = pinv(A_, rtol=rtol, atol=0.0) @ B_
    xp = xp_of(A._data)
    s = xp.linalg.svd(A_._data, compute_uv=False)
    a, r = _tolerances("lstsq", A_, 0.0, rtol)
    rank = _kept(s, a, r).sum(-1).astype(np.int64)
    empty = _const(xp.empty((0,), dtype=A._data.dtype))
    residuals = empty
    if m > n and driver != "gelsy" and (driver == "gels" or bool(xp.all(rank == n))):
        residuals = ((A_ @ X - B_) ** 2).sum(-2)
        residuals = residuals.squeeze(-1) if vector else residuals
    rank_t = _const(rank) if driver != "gels" else _const(xp.empty((0,), dtype=np.int64))
    sv = _const(s) if driver in ("gelsd", "gelss") else empty
    return LstsqResult(X.squeeze(-1) if vector else X, residuals, rank_t, sv)


# ---------------------------------------------------------------- torch's old top-level API
def svd_legacy(input, some=True, compute_uv=True):
    """torch.svd: (U, S, V) with V (not Vh); some=False gives square U and V; compute_uv=False
    gives zero-filled square U and V (and differentiable S)."""
    _matrices("svd", input)
    if not compute_uv:
        S = svdvals(input)
        m, n, batch = input.shape[-2], input.shape[-1], tuple(input.shape[:-2])
        return _OldSVD(zeros(*batch, m, m, dtype=input.dtype, device=input.device), S,
                       zeros(*batch, n, n, dtype=input.dtype, device=input.device))
    U, S, Vh = svd(input, full_matrices=not some)
    return _OldSVD(U, S, _mT(Vh))


def qr_legacy(input, some=True):
    """torch.qr: (Q, R), reduced (some=True) or complete."""
    return _OldQR(*qr(input, "reduced" if some else "complete"))


def pinverse(input, rcond=1e-15):
    """torch.pinverse: pinv with rtol=rcond."""
    return pinv(input, rtol=rcond)


__all__ = ["qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv", "matrix_rank", "lstsq"]
