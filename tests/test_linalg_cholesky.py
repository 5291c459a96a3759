"""tg.linalg.cholesky and tg.linalg.solve_triangular against torch.linalg: values and gradients
(batched, broadcast, upper/lower, left/right, unitriangular), float64 gradchecks with second
order, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch

_rng = np.random.default_rng(7)


def _spd(*shape):
    x = _rng.normal(size=shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def _tri(*shape):
    """Well-conditioned: both triangles random, a strong diagonal (the other triangle must be ignored)."""
    return _rng.normal(size=shape) + 4 * np.eye(shape[-1])


def _sym(m, x):
    # cholesky reads one triangle, so differentiate through a symmetric function of x
    return x @ x.mT + 3 * m.eye(x.shape[-1], dtype=x.dtype)


CHOL = {
    "lower": (lambda m, x: m.linalg.cholesky(_sym(m, x)), lambda: [_rng.normal(size=(4, 4))]),
    "batched": (lambda m, x: m.linalg.cholesky(_sym(m, x)), lambda: [_rng.normal(size=(2, 3, 3, 3))]),
    "upper": (lambda m, x: m.linalg.cholesky(_sym(m, x), upper=True), lambda: [_rng.normal(size=(2, 3, 3))]),
    "logdet": (lambda m, x: m.linalg.cholesky(_sym(m, x)).diagonal(0, -2, -1).log().sum(-1),
               lambda: [_rng.normal(size=(3, 5, 5))]),
}


@needs_torch
@pytest.mark.parametrize("name", list(CHOL))
def test_cholesky_matches_torch(device, name):
    fn, arrays = CHOL[name]
    check_torch(fn, arrays(), device, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", ["lower", "upper"])
def test_cholesky_gradcheck(device, name):
    fn, arrays = CHOL[name]
    check_grad(lambda x: fn(tg, x), arrays(), device)


@needs_torch
def test_cholesky_gradient_of_a_symmetric_input_matches_torch(device):
    # PyTorch's gradient for a (symmetric) matrix input is itself symmetric
    check_torch(lambda m, a: m.linalg.cholesky(a), [_spd(2, 4, 4)], device, rtol=1e-9, atol=1e-10)


def _solve_case(upper, left, unit, a_shape, b_shape):
    return (lambda m, a, b: m.linalg.solve_triangular(a, b, upper=upper, left=left, unitriangular=unit),
            lambda: [_tri(*a_shape), _rng.normal(size=b_shape)])


SOLVE = {f"{'upper' if u else 'lower'}-{'left' if lf else 'right'}{'-unit' if un else ''}":
         _solve_case(u, lf, un, (2, 4, 4), (2, 4, 3) if lf else (2, 3, 4))
         for u in (False, True) for lf in (True, False) for un in (False, True)}
SOLVE["broadcast-batch"] = _solve_case(False, True, False, (3, 1, 4, 4), (2, 4, 2))
SOLVE["unbatched-A"] = _solve_case(True, True, False, (4, 4), (5, 4, 1))


@needs_torch
@pytest.mark.parametrize("name", list(SOLVE))
def test_solve_triangular_matches_torch(device, name):
    fn, arrays = SOLVE[name]
    check_torch(fn, arrays(), device, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", ["lower-left", "upper-right-unit", "broadcast-batch"])
def test_solve_triangular_gradcheck(device, name):
    fn, arrays = SOLVE[name]
    check_grad(lambda a, b: fn(tg, a, b), arrays(), device)


def test_solve_triangular_reads_only_its_triangle():
    a = _tri(4, 4)
    b = _rng.normal(size=(4, 2))
    x = tg.linalg.solve_triangular(tg.tensor(a), tg.tensor(b), upper=False).numpy()
    np.testing.assert_allclose(np.tril(a) @ x, b, atol=1e-12)
    xu = tg.linalg.solve_triangular(tg.tensor(a), tg.tensor(b), upper=True, unitriangular=True).numpy()
    np.testing.assert_allclose((np.triu(a, 1) + np.eye(4)) @ xu, b, atol=1e-12)


@needs_torch
def test_errors_match_torch():
    import torch
    bad = [[1.0, 2.0], [2.0, 1.0]]
    with pytest.raises(RuntimeError) as ours:
        tg.linalg.cholesky(tg.tensor(bad))
    with pytest.raises(RuntimeError) as theirs:
        torch.linalg.cholesky(torch.tensor(bad))
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match="square matrices"):
        tg.linalg.cholesky(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        tg.linalg.solve_triangular(tg.eye(3), tg.ones(2, 1), upper=False)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        tg.linalg.solve_triangular(tg.eye(3), tg.ones(3), upper=False)
    with pytest.raises(TypeError):
        tg.linalg.solve_triangular(tg.eye(3), tg.ones(3, 1))        # upper is keyword-only and required
