"""torch's top-level linear algebra (det, logdet, slogdet, inverse, cholesky, cholesky_solve,
cholesky_inverse, chain_matmul, lu, lu_solve, lu_unpack, and their Tensor methods) and the rest of
torch.linalg (inv_ex, solve_ex, cholesky_ex, cond, vander, diagonal, matmul, tensorinv,
tensorsolve, lu_factor, lu_factor_ex, lu, lu_solve) against torch: values, dtypes and gradients,
batched; float64 gradchecks with second order; singular inputs reported through info; errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch, to_tg, torch

_rng = np.random.default_rng(23)


def _normal(*shape):
    return _rng.normal(size=shape)


def _well_conditioned(*shape):
    return _rng.normal(size=shape) + 3 * np.eye(shape[-1])


def _tri(*shape, upper=False):
    """A well-conditioned Cholesky-like factor: lower (upper) triangular, positive diagonal.
    (Truly triangular: torch's gradient for the factor multiplies by the whole input, the
    triangle its forward ignores included; tensorgrad's takes that triangle as zero.)"""
    x = _rng.normal(size=shape) + 3 * np.eye(shape[-1])
    return np.triu(x) if upper else np.tril(x)


def _spd(m, x):
    # cholesky reads one triangle, so differentiate through a symmetric function of x
    return x @ x.mT + 3 * m.eye(x.shape[-1], dtype=x.dtype)


def _quiet(fn):
    """Call a deprecated torch/tensorgrad function without its deprecation warning."""
    def call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    return call


def _lup(res):
    """(L, U, P): P (no gradient) last, as check_torch seeds the outputs that require grad in order."""
    return res.L, res.U, res.P


def _lu_solve_of(m, a, b, **kw):
    LU, piv = m.linalg.lu_factor(a)
    return m.linalg.lu_solve(LU, piv, b, **kw)


CASES = {
    # top level
    "det": (lambda m, a: m.det(a), lambda: [_well_conditioned(2, 3, 3)]),
    "logdet": (lambda m, a: m.logdet(a), lambda: [_well_conditioned(2, 4, 4)]),
    "logdet-negative-det": (lambda m, a: m.logdet(a), lambda: [np.array([[1.0, 2.0], [3.0, 4.0]])]),
    "slogdet": (lambda m, a: tuple(m.slogdet(a)), lambda: [_normal(3, 3, 3)]),
    "inverse": (lambda m, a: m.inverse(a), lambda: [_well_conditioned(2, 3, 3)]),
    "cholesky": (lambda m, x: _quiet(m.cholesky)(_spd(m, x)), lambda: [_normal(2, 4, 4)]),
    "cholesky-upper": (lambda m, x: _quiet(m.cholesky)(_spd(m, x), True), lambda: [_normal(3, 3)]),
    "cholesky_solve": (lambda m, b, L: m.cholesky_solve(b, L), lambda: [_normal(2, 3, 2), _tri(2, 3, 3)]),
    "cholesky_solve-upper-broadcast": (lambda m, b, U: m.cholesky_solve(b, U, upper=True),
                                       lambda: [_normal(2, 3, 4), _tri(3, 3, upper=True)]),
    "cholesky_inverse": (lambda m, L: m.cholesky_inverse(L), lambda: [_tri(2, 4, 4)]),
    "cholesky_inverse-upper": (lambda m, U: m.cholesky_inverse(U, upper=True), lambda: [_tri(3, 3, upper=True)]),
    "chain_matmul": (lambda m, a, b, c: _quiet(m.chain_matmul)(a, b, c),
                     lambda: [_normal(2, 5), _normal(5, 3), _normal(3, 4)]),
    "lu-legacy": (lambda m, a: _quiet(m.lu)(a, get_infos=True), lambda: [_normal(2, 4, 4)]),
    "lu_solve-legacy": (lambda m, a, b: _quiet(m.lu_solve)(b, *_quiet(m.lu)(a)),
                        lambda: [_well_conditioned(2, 3, 3), _normal(2, 3, 2)]),
    # P (no gradient) last: check_torch seeds the outputs that require grad in order
    "lu_unpack": (lambda m, a: (lambda P, L, U: (L, U, P))(*m.lu_unpack(*m.linalg.lu_factor(a))),
                  lambda: [_normal(2, 4, 3)]),
    # torch.linalg
    "inv_ex": (lambda m, a: tuple(m.linalg.inv_ex(a)), lambda: [_well_conditioned(2, 3, 3)]),
    "solve_ex": (lambda m, a, b: tuple(m.linalg.solve_ex(a, b)), lambda: [_well_conditioned(2, 3, 3), _normal(3, 2)]),
    "solve_ex-vector-right": (lambda m, a, b: m.linalg.solve_ex(a, b, left=False).result,
                              lambda: [_well_conditioned(3, 3), _normal(4, 3)]),
    "cholesky_ex": (lambda m, x: tuple(m.linalg.cholesky_ex(_spd(m, x))), lambda: [_normal(2, 3, 3)]),
    "cholesky_ex-upper": (lambda m, x: m.linalg.cholesky_ex(_spd(m, x), upper=True).L, lambda: [_normal(4, 4)]),
    "cond": (lambda m, a: m.linalg.cond(a), lambda: [_normal(2, 3, 5)]),
    "cond--2": (lambda m, a: m.linalg.cond(a, -2), lambda: [_normal(4, 3)]),
    "cond-fro": (lambda m, a: m.linalg.cond(a, "fro"), lambda: [_normal(2, 3, 3)]),
    "cond-nuc": (lambda m, a: m.linalg.cond(a, "nuc"), lambda: [_normal(3, 3)]),
    "cond-inf": (lambda m, a: m.linalg.cond(a, math.inf), lambda: [_normal(2, 4, 4)]),
    "cond--inf": (lambda m, a: m.linalg.cond(a, -math.inf), lambda: [_normal(4, 4)]),
    "cond-1": (lambda m, a: m.linalg.cond(a, 1), lambda: [_normal(3, 3)]),
    "cond--1": (lambda m, a: m.linalg.cond(a, -1), lambda: [_normal(2, 3, 3)]),
    "vander": (lambda m, x: m.linalg.vander(x), lambda: [_normal(4)]),
    "vander-batched-N": (lambda m, x: m.linalg.vander(x, N=5), lambda: [np.array([[0.0, 1.5, -2.0], [0.5, 0.0, 3.0]])]),
    "diagonal": (lambda m, a: m.linalg.diagonal(a, offset=1), lambda: [_normal(2, 3, 4)]),
    "diagonal-dims": (lambda m, a: m.linalg.diagonal(a, dim1=0, dim2=2), lambda: [_normal(3, 2, 3)]),
    "matmul": (lambda m, a, b: m.linalg.matmul(a, b), lambda: [_normal(2, 3, 4), _normal(4)]),
    "tensorinv": (lambda m, a: m.linalg.tensorinv(a), lambda: [_normal(2, 3, 6) + np.eye(6).reshape(2, 3, 6)]),
    "tensorinv-ind1": (lambda m, a: m.linalg.tensorinv(a, ind=1), lambda: [_normal(4, 2, 2) + 2 * np.eye(4).reshape(4, 2, 2)]),
    "tensorsolve": (lambda m, a, b: m.linalg.tensorsolve(a, b),
                    lambda: [_normal(2, 3, 6) + 2 * np.eye(6).reshape(2, 3, 6), _normal(2, 3)]),
    "tensorsolve-dims": (lambda m, a, b: m.linalg.tensorsolve(a, b, dims=(0,)),
                         lambda: [_normal(6, 2, 3) + 2 * np.eye(6).reshape(6, 2, 3), _normal(2, 3)]),
    "lu_factor": (lambda m, a: tuple(m.linalg.lu_factor(a)), lambda: [_normal(2, 4, 4)]),
    "lu_factor_ex-tall": (lambda m, a: tuple(m.linalg.lu_factor_ex(a)), lambda: [_normal(2, 5, 3)]),
    "lu_factor_ex-wide": (lambda m, a: tuple(m.linalg.lu_factor_ex(a)), lambda: [_normal(3, 5)]),
    "lu": (lambda m, a: _lup(m.linalg.lu(a)), lambda: [_normal(2, 4, 4)]),
    "lu-tall": (lambda m, a: _lup(m.linalg.lu(a)), lambda: [_normal(2, 5, 3)]),
    "lu-wide": (lambda m, a: _lup(m.linalg.lu(a)), lambda: [_normal(2, 3, 5)]),
    "lu_solve": (_lu_solve_of, lambda: [_well_conditioned(2, 3, 3), _normal(2, 3, 4)]),
    "lu_solve-broadcast": (_lu_solve_of, lambda: [_well_conditioned(3, 3), _normal(2, 3, 2)]),
    "lu_solve-adjoint": (lambda m, a, b: _lu_solve_of(m, a, b, adjoint=True),
                         lambda: [_well_conditioned(2, 3, 3), _normal(2, 3, 2)]),
    "lu_solve-right": (lambda m, a, b: _lu_solve_of(m, a, b, left=False),
                       lambda: [_well_conditioned(3, 3), _normal(4, 3)]),
    "lu_solve-right-adjoint": (lambda m, a, b: _lu_solve_of(m, a, b, left=False, adjoint=True),
                               lambda: [_well_conditioned(2, 3, 3), _normal(2, 4, 3)]),
}


# torch 2.13's backward of cond for these orders fails (it modifies inv_ex's output in place):
# compared forward only here; the gradchecks below cover our gradients
_TORCH_NO_BACKWARD = {"cond-fro", "cond-nuc", "cond-inf", "cond--inf", "cond-1", "cond--1"}


@needs_torch
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(device, name):
    fn, arrays = CASES[name]
    check_torch(fn, arrays(), device, rtol=1e-7, atol=1e-9, backward=name not in _TORCH_NO_BACKWARD)


# case -> how many leading outputs to differentiate (None: every floating one); pivots, info and
# P are not differentiable
GRADCHECK = {"det": None, "logdet": None, "inverse": None, "cholesky": None, "chain_matmul": None,
             "lu_solve-legacy": None, "inv_ex": 1, "solve_ex": 1, "cholesky_ex": 1, "cond": None, "cond-fro": None,
             "cond-1": None, "cond-nuc": None, "vander-batched-N": None, "tensorinv": None, "tensorsolve-dims": None,
             "lu_factor": 1, "lu": 2, "lu-tall": 2, "lu-wide": 2, "lu_solve-broadcast": None,
             "lu_solve-right-adjoint": None}


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck_and_second_order(device, name):
    fn, arrays = CASES[name]
    n = GRADCHECK[name]

    def outputs(*t):
        out = fn(tg, *t)
        return out[:n] if isinstance(out, tuple) else out
    check_grad(outputs, arrays(), device)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_and_inverse_gradcheck(device, upper):
    # torch's gradients treat the factor as dense while the forward reads one triangle: finite
    # differences agree once the factor is a function of a full matrix through its triangle
    def factor(x):
        return (x.triu() if upper else x.tril()) + 3 * tg.eye(3, dtype=x.dtype, device=x.device)
    check_grad(lambda x, b: tg.cholesky_solve(b, factor(x), upper=upper), [_normal(2, 3, 3), _normal(3, 2)], device)
    check_grad(lambda x: tg.cholesky_inverse(factor(x), upper=upper), [_normal(3, 3)], device)


# ---------------------------------------------------------------- values that are not the oracle's alone
def test_lu_reconstructs_and_solves(device):
    for shape in [(4, 4), (2, 5, 3), (2, 3, 5)]:
        a = _normal(*shape)
        P, L, U = tg.linalg.lu(to_tg(a, device, False))
        np.testing.assert_allclose((P @ L @ U).cpu().numpy(), a, atol=1e-12)
        k = min(shape[-2:])
        np.testing.assert_array_equal(np.triu(L.cpu().numpy(), 1), 0)
        np.testing.assert_array_equal(L.cpu().numpy().diagonal(0, -2, -1), np.ones(shape[:-2] + (k,)))
        np.testing.assert_array_equal(np.tril(U.cpu().numpy(), -1), 0)
        # partial pivoting: every multiplier is at most 1 in magnitude
        assert np.abs(L.cpu().numpy()).max() <= 1.0
    a, b = _well_conditioned(2, 4, 4), _normal(2, 4, 3)
    LU, piv = tg.linalg.lu_factor(to_tg(a, device, False))
    x = tg.linalg.lu_solve(LU, piv, to_tg(b, device, False)).cpu().numpy()
    np.testing.assert_allclose(a @ x, b, atol=1e-12)


def test_lu_without_pivoting(device):
    a = _well_conditioned(2, 4, 4)
    LU, piv = tg.linalg.lu_factor(to_tg(a, device, False), pivot=False)
    np.testing.assert_array_equal(piv.cpu().numpy(), np.broadcast_to(np.arange(1, 5, dtype=np.int32), (2, 4)))
    P, L, U = tg.linalg.lu(to_tg(a, device, False), pivot=False)
    np.testing.assert_array_equal(P.cpu().numpy(), np.broadcast_to(np.eye(4), (2, 4, 4)))
    np.testing.assert_allclose((L @ U).cpu().numpy(), a, atol=1e-12)


def test_factor_functions_read_one_triangle(device):
    L, b = _tri(3, 3), _normal(3, 2)
    garbage = L + np.triu(_normal(3, 3), 1)
    for upper in (False, True):
        F, G = (L.T, garbage.T) if upper else (L, garbage)
        for fn in (lambda f: tg.cholesky_solve(to_tg(b, device, False), f, upper=upper),
                   lambda f: tg.cholesky_inverse(f, upper=upper)):
            np.testing.assert_array_equal(fn(to_tg(F, device, False)).cpu().numpy(),
                                          fn(to_tg(G, device, False)).cpu().numpy())
    A = L @ L.T
    np.testing.assert_allclose(A @ tg.cholesky_solve(to_tg(b, device, False), to_tg(L, device, False)).cpu().numpy(),
                               b, atol=1e-12)


def test_inputs_are_not_modified(device):
    a = _normal(2, 4, 4)
    t = to_tg(a.copy(), device, False)
    tg.linalg.lu_factor_ex(t)
    tg.linalg.cholesky_ex(t)
    tg.linalg.inv_ex(t)
    tg.cholesky_solve(to_tg(_normal(4, 1), device, False), t)
    np.testing.assert_array_equal(t.cpu().numpy(), a)


@needs_torch
def test_singular_and_indefinite_inputs_report_info_like_torch(device):
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    batch = np.stack([np.eye(2) * 2, singular, np.zeros((2, 2))])
    t, p = to_tg(batch, device, False), torch.tensor(batch)
    for ours, theirs in ((tg.linalg.inv_ex(t), torch.linalg.inv_ex(p)),
                         (tg.linalg.solve_ex(t, tg.ones(2, 1, dtype=tg.float64, device=device)),
                          torch.linalg.solve_ex(p, torch.ones(2, 1, dtype=torch.float64))),
                         (tg.linalg.lu_factor_ex(t), torch.linalg.lu_factor_ex(p))):
        assert ours.info.dtype == tg.int32
        np.testing.assert_array_equal(ours.info.cpu().numpy(), theirs.info.numpy())
        np.testing.assert_allclose(ours[0].cpu().numpy()[0], theirs[0].numpy()[0])  # the good matrix
    assert np.isnan(tg.linalg.inv_ex(t).inverse.cpu().numpy()[1:]).all()
    np.testing.assert_array_equal(tg.linalg.lu_factor_ex(t).pivots.cpu().numpy(),
                                  torch.linalg.lu_factor_ex(p).pivots.numpy())
    indefinite = np.stack([np.eye(3), np.diag([1.0, -1.0, 1.0]), np.array([[4.0, 2, 0], [2, 1, 0], [0, 0, 1]])])
    ours, theirs = tg.linalg.cholesky_ex(to_tg(indefinite, device, False)), torch.linalg.cholesky_ex(
        torch.tensor(indefinite))
    np.testing.assert_array_equal(ours.info.cpu().numpy(), theirs.info.numpy())
    np.testing.assert_allclose(ours.L.cpu().numpy(), theirs.L.numpy())  # partial factors as LAPACK leaves them
    # torch: nan for a negative determinant, -inf for a zero one; inf condition number when singular
    np.testing.assert_array_equal(tg.logdet(t).cpu().numpy(), torch.logdet(p).numpy())
    np.testing.assert_array_equal(tg.linalg.cond(t, "fro").cpu().numpy(), torch.linalg.cond(p, "fro").numpy())
    with np.errstate(invalid="ignore"):  # 0 / 0 singular values of the zero matrix: nan, as torch
        np.testing.assert_allclose(tg.linalg.cond(t).cpu().numpy(), torch.linalg.cond(p).numpy(), rtol=1e-12)


@needs_torch
def test_check_errors_raise_like_torch(device):
    batch = np.stack([np.eye(3), np.diag([1.0, 0.0, 1.0])])
    t, p = to_tg(batch, device, False), torch.tensor(batch)
    b = np.ones((3, 1))
    for ours, theirs in ((lambda: tg.linalg.inv_ex(t, check_errors=True),
                          lambda: torch.linalg.inv_ex(p, check_errors=True)),
                         (lambda: tg.linalg.solve_ex(t, to_tg(b, device, False), check_errors=True),
                          lambda: torch.linalg.solve_ex(p, torch.tensor(b), check_errors=True)),
                         (lambda: tg.linalg.cholesky_ex(t, check_errors=True),
                          lambda: torch.linalg.cholesky_ex(p, check_errors=True)),
                         (lambda: tg.linalg.lu_factor_ex(t, check_errors=True),
                          lambda: torch.linalg.lu_factor_ex(p, check_errors=True)),
                         (lambda: tg.linalg.lu_factor(t[1]), lambda: torch.linalg.lu_factor(p[1]))):
        with pytest.raises(RuntimeError) as theirs_err:
            theirs()
        with pytest.raises(RuntimeError) as ours_err:
            ours()
        assert str(ours_err.value) == str(theirs_err.value)


@needs_torch
def test_lu_unpack_partial_and_legacy_named_results():
    a = _normal(2, 3, 4)
    LU, piv = tg.linalg.lu_factor(tg.tensor(a))
    P, L, U = tg.lu_unpack(LU, piv, unpack_data=False)
    tP = torch.lu_unpack(*torch.linalg.lu_factor(torch.tensor(a)))[0]
    np.testing.assert_array_equal(P.numpy(), tP.numpy())
    assert tuple(L.shape) == (0,) and tuple(U.shape) == (0,)
    P, L, U = tg.lu_unpack(LU, piv, unpack_pivots=False)
    assert tuple(P.shape) == (0,) and tuple(L.shape) == (2, 3, 3)
    res = tg.slogdet(tg.tensor(a[:, :, :3]))
    assert type(res).__name__ == "slogdet" and res.sign is res[0] and res.logabsdet is res[1]
    # as torch: sign is an output of the differentiable op (with a zero gradient)
    sign, logabs = tg.slogdet(tg.tensor(a[:, :, :3], requires_grad=True))
    assert sign.requires_grad and type(tg.linalg.slogdet(tg.eye(2))).__name__ == "linalg_slogdet"
    assert type(tg.linalg.lu_factor_ex(tg.tensor(a))).__name__ == "linalg_lu_factor_ex"
    assert tg.linalg.inv_ex(tg.eye(2)).inverse is not None and tg.linalg.cholesky_ex(tg.eye(2)).L is not None


def test_tensor_methods_match_functions():
    a = tg.tensor(_well_conditioned(2, 3, 3))
    L = tg.linalg.cholesky(a @ a.mT)
    b = tg.tensor(_normal(2, 3, 2))
    pairs = [(a.det(), tg.det(a)), (a.logdet(), tg.logdet(a)), (a.slogdet()[1], tg.slogdet(a)[1]),
             (a.inverse(), tg.inverse(a)), (b.cholesky_solve(L), tg.cholesky_solve(b, L)),
             (L.cholesky_inverse(), tg.cholesky_inverse(L))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs += [((a @ a.mT).cholesky(), tg.cholesky(a @ a.mT)), (a.lu()[0], tg.lu(a)[0]),
                  (b.lu_solve(*a.lu()), tg.lu_solve(b, *tg.lu(a)))]
    for method, function in pairs:
        np.testing.assert_array_equal(method.numpy(), function.numpy())


def test_deprecated_names_warn():
    a = tg.eye(3)
    for call in (lambda: tg.cholesky(a), lambda: tg.chain_matmul(a, a), lambda: tg.lu(a)):
        with pytest.warns(UserWarning, match="deprecated"):
            call()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = tg.chain_matmul(a)
    np.testing.assert_array_equal(single.numpy(), np.eye(3))


# ---------------------------------------------------------------- errors name the op
ERRORS = [
    (lambda: tg.inverse(tg.zeros(2, 3)), RuntimeError, "linalg.inv: A must be batches of square matrices"),
    (lambda: tg.det(tg.zeros(3)), RuntimeError, "det"),
    (lambda: tg.logdet(tg.zeros(2, 3)), RuntimeError, "logdet: A must be batches of square matrices"),
    (lambda: tg.slogdet(tg.zeros(2, 3)), RuntimeError, "slogdet"),
    (lambda: tg.cholesky_solve(tg.zeros(3, 2), tg.eye(2)), RuntimeError,
     "Incompatible matrix sizes for cholesky_solve: each A matrix is 2 by 2 but each b matrix is 3 by 2"),
    (lambda: tg.cholesky_solve(tg.zeros(3), tg.eye(3)), RuntimeError, "cholesky_solve: b should have at least 2"),
    (lambda: tg.cholesky_solve(tg.zeros(3, 1), tg.eye(3, dtype=tg.float64)), RuntimeError, "same dtype"),
    (lambda: tg.cholesky_inverse(tg.zeros(2, 3)), RuntimeError, "cholesky_inverse: A must be batches of square"),
    (lambda: tg.chain_matmul(tg.zeros(3)), RuntimeError, "chain_matmul.*dimension is 1, expected 2"),
    (lambda: tg.chain_matmul(tg.zeros(2, 3), tg.zeros(2, 3)), RuntimeError, "cannot be multiplied"),
    (lambda: tg.linalg.inv_ex(tg.zeros(2, 3)), RuntimeError, "inv_ex: A must be batches of square matrices"),
    (lambda: tg.linalg.solve_ex(tg.zeros(2, 3), tg.zeros(2)), RuntimeError, "solve_ex: A must be batches of square"),
    (lambda: tg.linalg.solve_ex(tg.eye(3), tg.zeros(4, 1)), RuntimeError, "Incompatible shapes"),
    (lambda: tg.linalg.cholesky_ex(tg.zeros(3, 2)), RuntimeError, "cholesky_ex: A must be batches of square"),
    (lambda: tg.linalg.cholesky_ex(tg.eye(2, dtype=tg.int64)), RuntimeError, "cholesky_ex: Expected a floating"),
    (lambda: tg.linalg.cond(tg.ones(2, 3), "fro"), RuntimeError,
     r"linalg.cond\(ord=fro\): A must be batches of square matrices, but they are 2 by 3 matrices"),
    (lambda: tg.linalg.cond(tg.eye(3), 3), RuntimeError, "linalg.cond got an invalid norm type: 3"),
    (lambda: tg.linalg.cond(tg.ones(3)), RuntimeError, "linalg.cond: The input tensor A must have at least 2"),
    (lambda: tg.linalg.vander(tg.ones(3), N=1), RuntimeError, "linalg.vander: N must be greater than 1"),
    (lambda: tg.linalg.vander(tg.tensor(1.0)), RuntimeError, "linalg.vander: x must have at least one dimension"),
    (lambda: tg.linalg.tensorinv(tg.ones(2, 3, 4), ind=1), RuntimeError, "tensorinv.*but got 12 != 2"),
    (lambda: tg.linalg.tensorinv(tg.ones(2, 2), ind=0), RuntimeError, "tensorinv: Expected a strictly positive"),
    (lambda: tg.linalg.tensorsolve(tg.ones(2, 3, 6), tg.ones(3, 3)), RuntimeError, "tensorsolve: Expected A's"),
    (lambda: tg.linalg.tensorsolve(tg.ones(2, 3, 4), tg.ones(2, 3)), RuntimeError, "tensorsolve.*4 != 6"),
    (lambda: tg.linalg.lu_factor(tg.ones(3)), RuntimeError, "lu_factor: The input tensor A must have at least 2"),
    (lambda: tg.linalg.lu_factor(tg.ones(3, 3, dtype=tg.int64)), RuntimeError, "lu_factor: Expected a floating"),
    (lambda: tg.linalg.lu_solve(tg.eye(3), tg.ones(3, dtype=tg.int32), tg.ones(4, 2)), RuntimeError,
     r"linalg.lu_solve: Incompatible shapes of A and B for the equation AX = B \(3x3 and 4x2\)"),
    (lambda: tg.linalg.lu_solve(tg.eye(3), tg.ones(2, dtype=tg.int32), tg.ones(3, 2)), RuntimeError,
     "lu_solve: Number of pivots per batch should be same as the dimension of the matrix"),
    (lambda: tg.linalg.lu_solve(tg.ones(3, 2), tg.ones(2, dtype=tg.int32), tg.ones(3, 2)), RuntimeError,
     "lu_solve: A must be batches of square matrices"),
    (lambda: tg.linalg.lu_solve(tg.eye(3), tg.ones(3, dtype=tg.int32), tg.ones(3)), RuntimeError,
     "lu_solve: The input tensor B must have at least 2"),
    (lambda: tg.lu_unpack(tg.eye(3), tg.ones(3)), RuntimeError, "lu_unpack: LU_pivots is expected to be a "
                                                                 "contiguous tensor of torch.int32"),
    (lambda: tg.lu_unpack(tg.eye(3), tg.tensor([5, 1, 1], dtype=tg.int32)), RuntimeError,
     "pivots passed to lu_unpack must be between 1 and LU.size"),
    (lambda: tg.lu_unpack(tg.eye(3), tg.ones(2, dtype=tg.int32)), RuntimeError, "lu_unpack: expected LU_pivots"),
    (lambda: tg.linalg.diagonal([[1.0]]), TypeError, "linalg.diagonal"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors(case):
    fn, exc, match = ERRORS[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=match):
            fn()


@needs_torch
def test_a_singular_matrix_leaves_the_batch_gradients_of_the_others_alone(device):
    batch = np.stack([_well_conditioned(3, 3), np.diag([1.0, 0.0, 1.0])])
    t = to_tg(batch, device)
    p = torch.tensor(batch, requires_grad=True)
    tg.linalg.inv_ex(t).inverse[0].sum().backward()
    torch.linalg.inv_ex(p).inverse[0].sum().backward()
    np.testing.assert_allclose(t.grad.cpu().numpy()[0], p.grad.numpy()[0], rtol=1e-10)
    np.testing.assert_array_equal(t.grad.cpu().numpy()[1], 0)  # masked out (torch: NaN)


@needs_torch
@pytest.mark.parametrize("shape", [(3, 0), (0, 0), (2, 0, 3), (2, 3, 0)])
def test_lu_of_empty_matrices_has_torchs_shapes(shape):
    for fn in ("lu_factor_ex", "lu"):
        ours = getattr(tg.linalg, fn)(tg.zeros(*shape))
        ref = getattr(torch.linalg, fn)(torch.zeros(*shape))
        assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in ref]


@needs_torch
def test_lu_pivots_skip_a_nan_as_lapack_does():
    for a in ([[1.0, 2, 3], [np.nan, 5, 6], [7, 8, 10]], [[np.nan, 2, 3], [4, 5, 6], [7, 8, 10]]):
        np.testing.assert_array_equal(tg.linalg.lu_factor(tg.tensor(a)).pivots.numpy(),
                                      torch.linalg.lu_factor(torch.tensor(a)).pivots.numpy())
