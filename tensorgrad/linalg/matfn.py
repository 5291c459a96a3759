"""tensorgrad.linalg's matrix functions and products: matrix_power, matrix_exp, cross, vecdot,
multi_dot, householder_product (and torch's old top-level cross, whose dim defaults differently);
cond, vander, tensorinv, tensorsolve, and linalg's aliases diagonal and matmul.

All but matrix_exp are compositions of differentiable tensor ops. matrix_exp is Higham's (2005)
scaling and squaring with the degree-13 Padé approximant; its backward is the Fréchet derivative
read off the exponential of a block matrix, itself a matrix_exp, so second derivatives work.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import autocast_mode as _autocast
from ..autograd.function import Op
from ..backend import xp_of
from ..creation import eye, zeros
from .basic import _mT, _square, inv
from ..ops._util import check_tensor, wrap_dim
from ..ops.shape import broadcast_tensors, cat
from ..tensor import Tensor


# ---------------------------------------------------------------- matrix_power
def matrix_power(A, n):
    """A^n by repeated squaring for an integer n (n < 0: inv(A)^-n; n = 0: the identity)."""
    check_tensor("linalg.matrix_power", A, "A")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"linalg.matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    if A.dim() < 2:
        raise RuntimeError(f"linalg.matrix_power: The input tensor A must have at least 2 dimensions "
                           f"(got A of shape {list(A.shape)})")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices (A of shape {list(A.shape)})")
    n = int(n)
    if n == 0:
        return eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(*A.shape).contiguous()
    base = inv(A) if n < 0 else A
    n = abs(n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


# ---------------------------------------------------------------- matrix_exp
# the [U, V] coefficients of the degree-13 Padé approximant of exp, and the largest 1-norm for
# which it is accurate to double precision without scaling (Higham 2005, Table 2.3)
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm(a):
    """exp of each matrix of a (float64 arithmetic, cast back): scale by 2^-s so the 1-norm is
    <= theta13, take the Padé approximant, square s times (s per matrix)."""
    xp = xp_of(a)
    x = a.astype(np.float64)
    norm1 = xp.abs(x).sum(-2).max(-1) if x.shape[-1] else xp.zeros(x.shape[:-2])
    big = xp.isfinite(norm1) & (norm1 > _THETA13)
    s = xp.where(big, xp.ceil(xp.log2(xp.where(big, norm1, 1.0) / _THETA13)), 0.0)
    x = x / (2.0 ** s)[..., None, None]
    b = _PADE13
    ident = xp.eye(x.shape[-1])
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * ident)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 + b[0] * ident
    r = xp.linalg.solve(v - u, v + u)
    for i in range(int(s.max()) if s.size else 0):
        r = xp.where((s > i)[..., None, None], r @ r, r)
    return r.astype(a.dtype, copy=False)


class MatrixExp(Op):
    """exp(A). Backward: gA = L(A^T, G), the Fréchet derivative at A^T in the direction G, the
    top-right block of exp([[A^T, G], [0, A^T]])."""

    save_inputs = (0,)

    def forward(self, a):
        return _expm(a)

    def backward(self, grad):
        (a,) = self.saved_tensors
        n = a.shape[-1]
        at = _mT(a)
        block = cat([cat([at, grad], -1), cat([zeros(*at.shape, dtype=at.dtype, device=at.device), at], -1)], -2)
        return MatrixExp()(block)[..., :n, n:]


@_autocast.policy(cpu="float32")  # PyTorch's CPU autocast runs linalg in float32
def matrix_exp(A):
    """The matrix exponential of each square matrix of A."""
    check_tensor("linalg.matrix_exp", A, "A")
    if A.dim() < 2:
        raise RuntimeError(f"linalg.matrix_exp: The input tensor A must have at least 2 dimensions "
                           f"(got A of shape {list(A.shape)})")
    _square("matrix_exp", A)
    return MatrixExp()(A)


# ---------------------------------------------------------------- products
def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along dim (batch dims broadcast; same number of dims)."""
    check_tensor("linalg.cross", input, "input")
    check_tensor("linalg.cross", other, "other")
    if input.dim() != other.dim():
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions (got shapes "
                           f"{list(input.shape)} and {list(other.shape)})")
    if input.dtype != other.dtype:
        raise RuntimeError(f"linalg.cross: expected input and other of the same dtype, got {input.dtype} "
                           f"and {other.dtype}")
    d = wrap_dim(dim, input.dim(), "linalg.cross")
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} "
                           f"and {other.shape[d]}")
    a, b = broadcast_tensors(input, other)
    # c_i = a_{i+1} b_{i+2} - a_{i+2} b_{i+1} (indices mod 3): rolls by -1 and -2 line them up
    return a.roll(-1, d) * b.roll(-2, d) - a.roll(-2, d) * b.roll(-1, d)


def cross_legacy(input, other, dim=None):
    """torch.cross: dim=None (deprecated in PyTorch) takes the first dim of size 3."""
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated. Please either pass the "
                      "dim explicitly or simply use torch.linalg.cross. The default value of dim will change "
                      "to agree with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
        sizes = [i for i, s in enumerate(shape) if s == 3]
        if not sizes:
            raise RuntimeError(f"no dimension of size 3 in input (shapes {list(input.shape)} and "
                               f"{list(other.shape)})")
        dim = sizes[0]
    return cross(input, other, dim=dim)


def vecdot(x, y, *, dim=-1):
    """sum(x * y) over dim, batch dims broadcast."""
    for name, t in (("x", x), ("y", y)):
        check_tensor("linalg.vecdot", t, name)
        if not t.is_floating_point():
            raise RuntimeError(f"linalg.vecdot: Expected a floating point tensor as input. Got {t.dtype}")
    return (x * y).sum(dim)


def _chain_order(dims):
    """split[i][j]: where the cheapest product of matrices i..j splits (dims[i] x dims[i+1] ...)."""
    k = len(dims) - 1
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = None
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s
    return split


def multi_dot(tensors):
    """The product of a chain of matrices in the cheapest order; the first may be a row vector
    and the last a column vector (1-D), which are squeezed out of the result."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        check_tensor("multi_dot", t, f"tensors[{i}]")
    first, last = tensors[0], tensors[-1]
    if first.dim() not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first.dim()}D")
    if last.dim() not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last.dim()}D")
    for i, t in enumerate(tensors[1:-1], 1):
        if t.dim() != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
    for i, t in enumerate(tensors[1:], 1):
        if t.dtype != first.dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                               f"{first.dtype} and tensor {i} {t.dtype}")
    mats = ([first.unsqueeze(0)] if first.dim() == 1 else [first]) + tensors[1:-1] + \
        ([last.unsqueeze(-1)] if last.dim() == 1 else [last])
    for i in range(len(mats) - 1):
        if mats[i].shape[-1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(tensors[i].shape)} and "
                               f"{list(tensors[i + 1].shape)} cannot be multiplied")
    split = _chain_order([mats[0].shape[0]] + [m.shape[1] for m in mats])

    def product(i, j):
        return mats[i] if i == j else product(i, split[i][j]) @ product(split[i][j] + 1, j)

    out = product(0, len(mats) - 1)
    if last.dim() == 1:
        out = out.squeeze(-1)
    if first.dim() == 1:
        out = out.squeeze(0)
    return out


def householder_product(A, tau):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T with v_i the i-th column of A
    below the diagonal and 1 on it (the Q of a geqrf factorization)."""
    check_tensor("linalg.householder_product", A, "input")
    check_tensor("linalg.householder_product", tau, "tau")
    if A.dim() < 2:
        raise RuntimeError(f"torch.linalg.householder_product: input must have at least 2 dimensions "
                           f"(got shape {list(A.shape)})")
    m, n, k = A.shape[-2], A.shape[-1], tau.shape[-1] if tau.dim() else -1
    if m < n:
        raise RuntimeError(f"torch.linalg.householder_product: input.shape[-2] must be greater than or equal to "
                           f"input.shape[-1] (got input of shape {list(A.shape)})")
    if tau.dim() != A.dim() - 1 or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]) or k > n:
        raise RuntimeError(f"torch.linalg.householder_product: tau must have shape input.shape[:-2] + (k,) with "
                           f"k <= input.shape[-1] (got input of shape {list(A.shape)} and tau of shape "
                           f"{list(tau.shape)})")
    if A.dtype != tau.dtype or not A.is_floating_point():
        raise RuntimeError(f"torch.linalg.householder_product: expected input and tau of the same floating "
                           f"dtype, got {A.dtype} and {tau.dtype}")
    I = eye(m, dtype=A.dtype, device=A.device)
    Q = I[:, :n].expand(*A.shape)
    rows = xp_of(A._data).arange(m)
    for i in reversed(range(k)):
        below = (rows > i).astype(A._data.dtype)
        v = A[..., :, i] * Tensor._make(below, None, 0, None) + I[:, i]
        vq = (v.unsqueeze(-1) * Q).sum(-2)
        Q = Q - tau[..., i].unsqueeze(-1).unsqueeze(-1) * v.unsqueeze(-1) * vq.unsqueeze(-2)
    return Q


# ---------------------------------------------------------------- condition number, Vandermonde
_COND_ORDS = (None, 2, -2, "fro", "nuc", math.inf, -math.inf, 1, -1)


def cond(A, p=None):
    """The condition number of each matrix of A in the p-norm. p None/2/-2: the ratio of the
    largest to the smallest singular value (or its inverse), any shape; otherwise (p 'fro',
    'nuc', inf, -inf, 1, -1) norm(A) * norm(inv(A)) for square A, inf where A is singular."""
    check_tensor("linalg.cond", A, "A")
    if p not in _COND_ORDS or isinstance(p, bool):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p} (valid: None, 2, -2, 'fro', 'nuc', inf, "
                           f"-inf, 1, -1)")
    if A.dim() < 2:
        raise RuntimeError(f"linalg.cond: The input tensor A must have at least 2 dimensions (got A of shape "
                           f"{list(A.shape)})")
    if p in (None, 2, -2):
        from .decomp import svdvals
        s = svdvals(A)
        big, small = s[..., 0], s[..., -1]  # descending
        return small / big if p == -2 else big / small
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.cond(ord={p}): A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    from ..ops.arithmetic import where
    from .basic import inv_ex, matrix_norm
    inverse, info = inv_ex(A)
    singular = info > 0
    if bool(singular.any()):  # norms of the NaN inverse would be NaN: torch gives inf
        inverse = where(singular.unsqueeze(-1).unsqueeze(-1), 0.0, inverse)
    return where(singular, math.inf, matrix_norm(A, p) * matrix_norm(inverse, p))


def vander(x, N=None):
    """The Vandermonde matrix of x along its last dim: V[..., i, j] = x[..., i] ** j, j < N
    (N = x.shape[-1] by default); built by repeated products, so its gradient has no x ** -1."""
    check_tensor("linalg.vander", x, "x")
    if x.dim() < 1:
        raise RuntimeError("linalg.vander: x must have at least one dimension (got a 0-d tensor)")
    n = x.shape[-1] if N is None else N
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 1:
        raise RuntimeError(f"linalg.vander: N must be greater than 1 (got N={n!r})")
    from ..ops.shape import stack
    powers = [x * 0 + 1, x]
    for _ in range(int(n) - 2):
        powers.append(powers[-1] * x)
    return stack(powers, -1)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """torch.linalg.diagonal: Tensor.diagonal with the last two dims as defaults."""
    check_tensor("linalg.diagonal", A, "A")
    return A.diagonal(offset, dim1, dim2)


def matmul(input, other):
    """torch.linalg.matmul: an alias of matmul."""
    from ..ops.linalg import matmul as _matmul
    return _matmul(input, other)


# ---------------------------------------------------------------- tensor inverse and solve
def _prod(shape):
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1


def tensorinv(A, ind=2):
    """The inverse of A seen as a linear map from its last dims to its first ind dims: X of
    shape A.shape[ind:] + A.shape[:ind] with tensordot(X, A, ind) the identity."""
    check_tensor("linalg.tensorinv", A, "A")
    if not isinstance(ind, (int, np.integer)) or isinstance(ind, bool) or ind <= 0:
        raise RuntimeError(f"linalg.tensorinv: Expected a strictly positive integer for 'ind', but got {ind!r}")
    rows, cols = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    if _prod(rows) != _prod(cols):
        raise RuntimeError(f"linalg.tensorinv: Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {_prod(cols)} != {_prod(rows)} (A of shape "
                           f"{list(A.shape)}, ind={ind})")
    return inv(A.reshape(_prod(rows), _prod(cols))).reshape(*cols, *rows)


def tensorsolve(A, B, dims=None):
    """X with tensordot(A, X, X.ndim) = B: A's first B.ndim dims match B, the rest are X's shape
    (after moving the dims listed in `dims` to the end)."""
    check_tensor("linalg.tensorsolve", A, "A")
    check_tensor("linalg.tensorsolve", B, "B")
    if dims is not None:
        dims = [wrap_dim(d, A.dim(), "linalg.tensorsolve") for d in dims]
        A = A.movedim(dims, list(range(A.dim() - len(dims), A.dim())))
    k = B.dim()
    if tuple(A.shape[:k]) != tuple(B.shape):
        raise RuntimeError(f"linalg.tensorsolve: Expected A's leading dims to equal B's shape, but got A of shape "
                           f"{list(A.shape)} and B of shape {list(B.shape)}")
    rows, cols = tuple(A.shape[:k]), tuple(A.shape[k:])
    if _prod(rows) != _prod(cols):
        raise RuntimeError(f"linalg.tensorsolve: Expected self to satisfy the requirement "
                           f"prod(self.shape[other.ndim:]) == prod(self.shape[:other.ndim]), but got "
                           f"{_prod(cols)} != {_prod(rows)} (A of shape {list(A.shape)}, B of shape {list(B.shape)})")
    from .basic import solve
    return solve(A.reshape(_prod(rows), _prod(cols)), B.reshape(_prod(rows))).reshape(*cols)


__all__ = ["matrix_power", "matrix_exp", "cross", "vecdot", "multi_dot", "householder_product", "cond", "vander",
           "diagonal", "matmul", "tensorinv", "tensorsolve"]
