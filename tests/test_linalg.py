"""tensorgrad.linalg against torch.linalg: norms, inv, det, slogdet, solve (batched, vector and
right-hand forms), values and gradients, float64 gradchecks with second order, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch

_rng = np.random.default_rng(41)


def _well_conditioned(*shape):
    a = _rng.normal(size=shape)
    return a + 3 * np.eye(shape[-1])


CASES = {
    "inv": (lambda m, a: m.linalg.inv(a), lambda: [_well_conditioned(2, 3, 3)]),
    "det": (lambda m, a: m.linalg.det(a), lambda: [_well_conditioned(2, 3, 3)]),
    "slogdet": (lambda m, a: m.linalg.slogdet(a).logabsdet * m.linalg.slogdet(a).sign,
                lambda: [_well_conditioned(4, 4)]),
    "solve": (lambda m, a, b: m.linalg.solve(a, b), lambda: [_well_conditioned(2, 3, 3), _rng.normal(size=(2, 3, 4))]),
    "solve-broadcast": (lambda m, a, b: m.linalg.solve(a, b),
                        lambda: [_well_conditioned(3, 3), _rng.normal(size=(2, 3, 2))]),
    "solve-vector": (lambda m, a, b: m.linalg.solve(a, b), lambda: [_well_conditioned(3, 3), _rng.normal(size=3)]),
    "solve-right": (lambda m, a, b: m.linalg.solve(a, b, left=False), lambda: [_well_conditioned(3, 3),
                                                                             _rng.normal(size=(4, 3))]),
    "norm": (lambda m, a: m.linalg.norm(a), lambda: [_rng.normal(size=(3, 4))]),
    "norm-vector-ord": (lambda m, a: m.linalg.norm(a, 3), lambda: [_rng.normal(size=(5,))]),
    "norm-dim": (lambda m, a: m.linalg.norm(a, dim=1, keepdim=True), lambda: [_rng.normal(size=(3, 4))]),
    "matrix_norm-fro": (lambda m, a: m.linalg.matrix_norm(a), lambda: [_rng.normal(size=(2, 3, 4))]),
    "matrix_norm-1": (lambda m, a: m.linalg.matrix_norm(a, 1), lambda: [_rng.normal(size=(2, 3, 4))]),
    "matrix_norm-inf": (lambda m, a: m.linalg.matrix_norm(a, float("-inf"), dim=(0, 2)),
                        lambda: [_rng.normal(size=(3, 2, 4))]),
    "vector_norm": (lambda m, a: m.linalg.vector_norm(a, float("inf"), dim=(0, 1)), lambda: [_rng.normal(size=(3, 4))]),
}


@needs_torch
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(device, name):
    fn, arrays = CASES[name]
    check_torch(fn, arrays(), device, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "solve", "solve-vector", "norm", "matrix_norm-fro"])
def test_gradcheck_and_second_order(device, name):
    fn, arrays = CASES[name]
    check_grad(lambda *t: fn(tg, *t), arrays(), device)


def test_solve_solves_and_inv_inverts():
    a, b = _well_conditioned(4, 4), _rng.normal(size=(4, 2))
    x = tg.linalg.solve(tg.tensor(a), tg.tensor(b)).numpy()
    np.testing.assert_allclose(a @ x, b, atol=1e-12)
    np.testing.assert_allclose(tg.linalg.inv(tg.tensor(a)).numpy() @ a, np.eye(4), atol=1e-12)


def test_errors():
    with pytest.raises(RuntimeError, match="square matrices"):
        tg.linalg.inv(tg.zeros(2, 3))
    with pytest.raises(RuntimeError, match="singular"):
        tg.linalg.inv(tg.zeros(3, 3, dtype=tg.float64))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        tg.linalg.solve(tg.eye(3), tg.ones(4, 2))
    np.testing.assert_allclose(tg.linalg.matrix_norm(tg.ones(2, 2), "nuc").item(), 2.0)  # (through svdvals)
    with pytest.raises(RuntimeError, match="Floating point|floating point"):
        tg.linalg.det(tg.eye(2, dtype=tg.int64))
