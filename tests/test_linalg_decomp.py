"""tg.linalg's decompositions (qr, eigh, eigvalsh, svd, svdvals), pinv, matrix_rank, lstsq and
matrix functions (matrix_power, matrix_exp, cross, vecdot, multi_dot, householder_product)
against torch.linalg. Factors with a sign freedom are compared through sign-fixed or invariant
functions of them; gradients through gauge-invariant losses; float64 gradchecks with second
order; the errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch, torch

_rng = np.random.default_rng(11)


def _normal(*shape):
    return _rng.normal(size=shape)


def _sym(*shape):
    x = _rng.normal(size=shape)
    return x + np.swapaxes(x, -1, -2)


def _signs(m, x):
    """The sign of each entry, with 0 taken as +1 (m is tg or torch)."""
    return m.where(x >= 0, m.ones_like(x), -m.ones_like(x)).detach()


# sign-fixed factors: unique up to rounding, so comparable value by value and differentiable
def _qr_fixed(m, a, mode="reduced"):
    q, r = m.linalg.qr(a, mode=mode)
    d = _signs(m, r.diagonal(0, -2, -1))
    k = d.shape[-1]
    return q[..., :, :k] * d.unsqueeze(-2), r * d.unsqueeze(-1)


def _eigh_fixed(m, a, uplo="L"):
    w, v = m.linalg.eigh(a, UPLO=uplo)
    return w, v * _signs(m, v[..., :1, :])


def _svd_fixed(m, a):
    u, s, vh = m.linalg.svd(a, full_matrices=False)
    d = _signs(m, u[..., :1, :])
    return u * d, s, vh * d.transpose(-2, -1)


CASES = {
    "qr-tall": (lambda m, a: _qr_fixed(m, a), lambda: [_normal(5, 3)]),
    "qr-square-batched": (lambda m, a: _qr_fixed(m, a), lambda: [_normal(2, 4, 4)]),
    "qr-wide": (lambda m, a: _qr_fixed(m, a), lambda: [_normal(2, 3, 5)]),
    "qr-complete-wide": (lambda m, a: _qr_fixed(m, a, "complete"), lambda: [_normal(3, 5)]),
    "qr-projector": (lambda m, a: (lambda q: q @ q.mT)(m.linalg.qr(a).Q), lambda: [_normal(2, 6, 3)]),
    "eigh": (lambda m, a: _eigh_fixed(m, a), lambda: [_sym(4, 4)]),
    "eigh-batched-upper": (lambda m, a: _eigh_fixed(m, a, "U"), lambda: [_sym(2, 3, 3)]),
    "eigh-nonsymmetric-input": (lambda m, a: _eigh_fixed(m, a), lambda: [_normal(4, 4)]),  # reads one triangle
    "eigvalsh": (lambda m, a: m.linalg.eigvalsh(a), lambda: [_sym(2, 5, 5)]),
    "eigvalsh-upper": (lambda m, a: m.linalg.eigvalsh(a, UPLO="U"), lambda: [_normal(4, 4)]),
    "svd-tall": (lambda m, a: _svd_fixed(m, a), lambda: [_normal(5, 3)]),
    "svd-wide-batched": (lambda m, a: _svd_fixed(m, a), lambda: [_normal(2, 3, 4)]),
    "svd-square": (lambda m, a: _svd_fixed(m, a), lambda: [_normal(4, 4)]),
    "svd-full-reconstruct": (lambda m, a: (lambda u, s, vh: (u[..., :, :3] * s.unsqueeze(-2)) @ vh[..., :3, :])(
        *m.linalg.svd(a)), lambda: [_normal(2, 5, 3)]),
    "svd-full-projectors": (lambda m, a: (lambda u, s, vh: (u[..., :2] @ u[..., :2].mT, vh.mT @ vh))(
        *m.linalg.svd(a)), lambda: [_normal(4, 3)]),
    "svdvals": (lambda m, a: m.linalg.svdvals(a), lambda: [_normal(2, 3, 5)]),
    "pinv-tall": (lambda m, a: m.linalg.pinv(a), lambda: [_normal(5, 3)]),
    "pinv-wide-batched": (lambda m, a: m.linalg.pinv(a), lambda: [_normal(2, 3, 4)]),
    "pinv-hermitian": (lambda m, a: m.linalg.pinv(a, hermitian=True), lambda: [_sym(4, 4)]),
    "lstsq-tall": (lambda m, a, b: m.linalg.lstsq(a, b).solution, lambda: [_normal(5, 3), _normal(5, 2)]),
    "lstsq-wide": (lambda m, a, b: m.linalg.lstsq(a, b).solution, lambda: [_normal(3, 5), _normal(3, 2)]),
    "lstsq-vector-batched": (lambda m, a, b: m.linalg.lstsq(a, b).solution, lambda: [_normal(2, 5, 3), _normal(2, 5)]),
    "lstsq-gelsd": (lambda m, a, b: m.linalg.lstsq(a, b, driver="gelsd")[:2], lambda: [_normal(6, 3), _normal(6, 2)]),
    "matrix_power-3": (lambda m, a: m.linalg.matrix_power(a, 3), lambda: [_normal(2, 3, 3)]),
    "matrix_power-6": (lambda m, a: m.linalg.matrix_power(a, 6), lambda: [_normal(3, 3) * 0.5]),
    "matrix_power--2": (lambda m, a: m.linalg.matrix_power(a, -2), lambda: [_normal(3, 3) + 3 * np.eye(3)]),
    "matrix_exp": (lambda m, a: m.linalg.matrix_exp(a), lambda: [_normal(4, 4)]),
    "matrix_exp-large-norm": (lambda m, a: m.linalg.matrix_exp(a), lambda: [_normal(2, 3, 3) * 4]),
    "matrix_exp-small": (lambda m, a: m.linalg.matrix_exp(a), lambda: [_normal(3, 3) * 1e-3]),
    "cross": (lambda m, a, b: m.linalg.cross(a, b), lambda: [_normal(4, 3), _normal(1, 3)]),
    "cross-dim0": (lambda m, a, b: m.linalg.cross(a, b, dim=0), lambda: [_normal(3, 2), _normal(3, 2)]),
    "vecdot": (lambda m, x, y: m.linalg.vecdot(x, y), lambda: [_normal(4, 3), _normal(3)]),
    "vecdot-dim0": (lambda m, x, y: m.linalg.vecdot(x, y, dim=0), lambda: [_normal(4, 3), _normal(4, 3)]),
    "multi_dot": (lambda m, a, b, c, d: m.linalg.multi_dot([a, b, c, d]),
                  lambda: [_normal(2, 10), _normal(10, 3), _normal(3, 7), _normal(7, 4)]),
    "multi_dot-vectors": (lambda m, a, b, c: m.linalg.multi_dot([a, b, c]),
                          lambda: [_normal(3), _normal(3, 4), _normal(4)]),
    "matrix_norm-2": (lambda m, a: m.linalg.matrix_norm(a, 2), lambda: [_normal(2, 3, 4)]),
    "matrix_norm-nuc-keepdim": (lambda m, a: m.linalg.matrix_norm(a, "nuc", dim=(0, 2), keepdim=True),
                                lambda: [_normal(3, 2, 4)]),
    "matrix_norm--2": (lambda m, a: m.linalg.matrix_norm(a, -2), lambda: [_normal(4, 3)]),
}


@needs_torch
@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(device, name):
    fn, arrays = CASES[name]
    check_torch(fn, arrays(), device, rtol=1e-7, atol=1e-9)


GRADCHECK = ["qr-tall", "qr-wide", "eigh", "eigvalsh", "svd-tall", "svd-wide-batched", "svd-full-projectors",
             "svdvals", "pinv-tall", "pinv-hermitian", "lstsq-tall", "matrix_power--2", "matrix_exp",
             "matrix_exp-large-norm", "cross", "multi_dot-vectors", "matrix_norm-nuc-keepdim"]


# eigh and hermitian pinv read one triangle, and their gradient is symmetric (as torch's is): finite
# differences must move both triangles together, so these differentiate through x + x^T
_SYMMETRIZED = {"eigh", "eigvalsh", "pinv-hermitian"}


@pytest.mark.parametrize("name", GRADCHECK)
def test_gradcheck_and_second_order(device, name):
    fn, arrays = CASES[name]
    if name in _SYMMETRIZED:
        check_grad(lambda x: fn(tg, x + x.mT), arrays(), device)
    else:
        check_grad(lambda *t: fn(tg, *t), arrays(), device)


@needs_torch
def test_float32_factors_reconstruct_and_match_torch():
    a = _normal(2, 5, 4).astype(np.float32)
    ta, pa = tg.tensor(a), torch.tensor(a)
    q, r = tg.linalg.qr(ta)
    assert q.dtype == tg.float32 and r.dtype == tg.float32
    np.testing.assert_allclose((q @ r).numpy(), a, atol=1e-5)
    np.testing.assert_allclose((q.mT @ q).numpy(), np.broadcast_to(np.eye(4), (2, 4, 4)), atol=1e-5)
    u, s, vh = tg.linalg.svd(ta)
    assert tuple(u.shape) == (2, 5, 5) and tuple(vh.shape) == (2, 4, 4)
    np.testing.assert_allclose(s.numpy(), torch.linalg.svdvals(pa).numpy(), rtol=1e-5)
    np.testing.assert_allclose((u[..., :4] * s.unsqueeze(-2) @ vh).numpy(), a, atol=1e-5)
    # each singular vector matches torch's up to sign
    pu = torch.linalg.svd(pa).U
    np.testing.assert_allclose(np.abs((u[..., :4].mT.numpy() @ pu[..., :4].numpy()).diagonal(0, -2, -1)), 1, atol=1e-4)
    e = tg.linalg.matrix_exp(ta[0, :4])
    np.testing.assert_allclose(e.numpy(), torch.linalg.matrix_exp(pa[0, :4]).numpy(), rtol=1e-5, atol=1e-6)


def test_qr_modes_and_eigh_reconstruct():
    a = _normal(5, 3)
    q, r = tg.linalg.qr(tg.tensor(a), mode="complete")
    assert tuple(q.shape) == (5, 5) and tuple(r.shape) == (5, 3)
    np.testing.assert_allclose(q.numpy() @ r.numpy(), a, atol=1e-12)
    np.testing.assert_allclose(np.tril(r.numpy(), -1), 0)
    q, r = tg.linalg.qr(tg.tensor(a), mode="r")
    assert tuple(q.shape) == (0,) and tuple(r.shape) == (3, 3)
    res = tg.linalg.eigh(tg.tensor(_sym(3, 3)))
    w, v = res
    assert res.eigenvalues is w and res[1] is v
    s = _sym(4, 4)
    w, v = tg.linalg.eigh(tg.tensor(s))
    np.testing.assert_allclose((v.numpy() * w.numpy()) @ v.numpy().T, s, atol=1e-12)
    assert np.all(np.diff(w.numpy()) > 0)


@needs_torch
def test_gauge_dependent_gradients_match_torch_where_defined():
    # torch's linalg.svd(full_matrices=True) ignores the gradient of the extra columns of U
    a = _normal(5, 3)
    ta = tg.tensor(a, requires_grad=True)
    pa = torch.tensor(a, requires_grad=True)
    tg.linalg.svd(ta)[1].sum().backward()
    torch.linalg.svd(pa)[1].sum().backward()
    np.testing.assert_allclose(ta.grad.numpy(), pa.grad.numpy(), atol=1e-10)
    # eigenvalue gradients are V V^T-like, symmetric even for a non-symmetric input
    b = _normal(4, 4)
    tb, pb = tg.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
    (tg.linalg.eigvalsh(tb) ** 2).sum().backward()
    (torch.linalg.eigvalsh(pb) ** 2).sum().backward()
    np.testing.assert_allclose(tb.grad.numpy(), pb.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(tb.grad.numpy(), tb.grad.numpy().T, atol=1e-12)


@needs_torch
def test_qr_gradient_errors_match_torch():
    for mode, shape in (("r", (4, 3)), ("complete", (4, 3))):
        a = _normal(*shape)
        ta, pa = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError) as theirs:
            torch.linalg.qr(pa, mode=mode)[1].sum().backward()
        with pytest.raises(RuntimeError) as ours:
            tg.linalg.qr(ta, mode=mode)[1].sum().backward()
        assert str(ours.value) == str(theirs.value)
    # complete mode on a wide (or square) matrix is differentiable
    check_torch(lambda m, a: _qr_fixed(m, a, "complete"), [_normal(3, 3)], rtol=1e-8, atol=1e-10)


@needs_torch
def test_pinv_rank_and_lstsq_of_rank_deficient_matrices():
    a = _normal(2, 5, 3)
    a[..., 2] = a[..., 0] + a[..., 1]  # rank 2
    b = _normal(2, 5, 2)
    ta, pa = tg.tensor(a), torch.tensor(a)
    np.testing.assert_array_equal(tg.linalg.matrix_rank(ta).numpy(), torch.linalg.matrix_rank(pa).numpy())
    assert tg.linalg.matrix_rank(ta).dtype == tg.int64
    for kw in ({"atol": 1.0}, {"rtol": 0.5}, {"atol": 0.1, "rtol": 0.3}):
        np.testing.assert_array_equal(tg.linalg.matrix_rank(ta, **kw).numpy(), torch.linalg.matrix_rank(pa, **kw).numpy())
    tol = np.array([0.1, 100.0])
    np.testing.assert_array_equal(tg.linalg.matrix_rank(ta, atol=tg.tensor(tol)).numpy(),
                                  torch.linalg.matrix_rank(pa, atol=torch.tensor(tol)).numpy())
    np.testing.assert_allclose(tg.linalg.pinv(ta, atol=tg.tensor(tol)).numpy(),
                               torch.linalg.pinv(pa, atol=torch.tensor(tol)).numpy(), atol=1e-10)
    s = _sym(4, 4)
    np.testing.assert_array_equal(tg.linalg.matrix_rank(tg.tensor(s), hermitian=True, atol=1.0).numpy(),
                                  torch.linalg.matrix_rank(torch.tensor(s), hermitian=True, atol=1.0).numpy())
    # the pseudo-inverse gradient of a rank-deficient matrix (constant rank) matches torch's
    check_torch(lambda m, x: m.linalg.pinv(x), [a], rtol=1e-6, atol=1e-8)
    for driver in ("gelsy", "gelsd", "gelss", "gels"):
        ours = tg.linalg.lstsq(ta, tg.tensor(b), driver=driver)
        theirs = torch.linalg.lstsq(pa, torch.tensor(b), driver=driver)
        assert ours._fields == theirs._fields if hasattr(theirs, "_fields") else True
        for k in range(4):
            assert tuple(ours[k].shape) == tuple(theirs[k].shape), (driver, k)
        if driver != "gels":  # gels assumes full rank: its answer here is noise
            np.testing.assert_allclose(ours.solution.numpy(), theirs.solution.numpy(), atol=1e-8)
            np.testing.assert_array_equal(ours.rank.numpy(), theirs.rank.numpy())
    full = tg.linalg.lstsq(tg.tensor(a[0, :, :2]), tg.tensor(b[0]), driver="gelsd")
    ref = torch.linalg.lstsq(pa[0, :, :2], torch.tensor(b[0]), driver="gelsd")
    for k in range(4):
        np.testing.assert_allclose(full[k].numpy(), ref[k].numpy(), rtol=1e-8, atol=1e-10)
    assert tg.linalg.lstsq(ta, tg.tensor(b)).rank.dtype == tg.int64


@needs_torch
def test_matrix_functions_special_cases():
    a = _normal(2, 3, 3)
    i3 = tg.linalg.matrix_power(tg.tensor(a), 0)
    np.testing.assert_array_equal(i3.numpy(), torch.linalg.matrix_power(torch.tensor(a), 0).numpy())
    ai = _rng.integers(-3, 4, size=(3, 3))
    np.testing.assert_array_equal(tg.linalg.matrix_power(tg.tensor(ai), 3).numpy(),
                                  torch.linalg.matrix_power(torch.tensor(ai), 3).numpy())
    np.testing.assert_allclose(tg.linalg.matrix_exp(tg.zeros(2, 3, 3)).numpy(), np.broadcast_to(np.eye(3), (2, 3, 3)))
    # exp(A) exp(-A) = I, and exp of a diagonal is the exp of its entries
    e = tg.linalg.matrix_exp(tg.tensor(a)).numpy() @ tg.linalg.matrix_exp(tg.tensor(-a)).numpy()
    np.testing.assert_allclose(e, np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-10)
    d = np.diag([1.0, -2.0, 30.0])
    np.testing.assert_allclose(tg.linalg.matrix_exp(tg.tensor(d)).numpy(), np.diag(np.exp(np.diag(d))), rtol=1e-12)
    # householder_product rebuilds geqrf's Q
    m = _normal(2, 5, 3)
    h, tau = torch.geqrf(torch.tensor(m))
    check_torch(lambda mod, h, tau: mod.linalg.householder_product(h, tau), [h.numpy(), tau.numpy()],
                rtol=1e-9, atol=1e-10)
    check_torch(lambda mod, h, tau: mod.linalg.householder_product(h, tau), [h.numpy(), tau.numpy()[..., :2]],
                rtol=1e-9, atol=1e-10)
    ai = _rng.integers(-3, 4, size=(4, 3))
    np.testing.assert_array_equal(tg.linalg.cross(tg.tensor(ai), tg.tensor(ai[::-1].copy())).numpy(),
                                  torch.linalg.cross(torch.tensor(ai), torch.tensor(ai[::-1].copy())).numpy())


def test_householder_product_gradcheck():
    check_grad(lambda h, t: tg.linalg.householder_product(h, t), [_normal(4, 3), _normal(2)], double=False)


@needs_torch
def test_top_level_compat_functions():
    from tensorgrad.linalg.decomp import pinverse, qr_legacy, svd_legacy
    from tensorgrad.linalg.matfn import cross_legacy
    a = _normal(5, 3)
    u, s, v = svd_legacy(tg.tensor(a))
    pu, ps, pv = torch.svd(torch.tensor(a))
    assert tuple(u.shape) == tuple(pu.shape) and tuple(v.shape) == tuple(pv.shape)
    np.testing.assert_allclose((u * s.unsqueeze(-2)).numpy() @ v.numpy().T, a, atol=1e-12)
    for some, cuv in ((False, True), (True, False)):
        ours, theirs = svd_legacy(tg.tensor(a), some=some, compute_uv=cuv), torch.svd(torch.tensor(a), some, cuv)
        assert [tuple(t.shape) for t in ours] == [tuple(t.shape) for t in theirs]
    assert np.all(svd_legacy(tg.tensor(a), compute_uv=False).U.numpy() == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for some in (True, False):
            q, r = qr_legacy(tg.tensor(a), some=some)
            pq, pr = torch.qr(torch.tensor(a), some=some)
            assert tuple(q.shape) == tuple(pq.shape) and tuple(r.shape) == tuple(pr.shape)
            np.testing.assert_allclose(q.numpy() @ r.numpy(), a, atol=1e-12)
        x, y = _normal(3, 2, 3), _normal(3, 2, 3)
        np.testing.assert_allclose(cross_legacy(tg.tensor(x), tg.tensor(y)).numpy(),
                                   torch.cross(torch.tensor(x), torch.tensor(y)).numpy(), atol=1e-12)
    with pytest.warns(UserWarning, match="without specifying the dim"):
        cross_legacy(tg.tensor(x), tg.tensor(y))
    np.testing.assert_allclose(cross_legacy(tg.tensor(x), tg.tensor(y), dim=2).numpy(),
                               torch.cross(torch.tensor(x), torch.tensor(y), dim=2).numpy(), atol=1e-12)
    np.testing.assert_allclose(pinverse(tg.tensor(a), rcond=0.5).numpy(),
                               torch.pinverse(torch.tensor(a), rcond=0.5).numpy(), atol=1e-12)


def _raises_like_torch(fn, exc=RuntimeError, match=None):
    """fn(tg) raises exc (and fn(torch) raises too, when torch is there)."""
    if torch is not None:
        with pytest.raises(Exception):
            fn(torch)
    with pytest.raises(exc, match=match):
        fn(tg)


@pytest.mark.parametrize("case", [
    (lambda m: m.linalg.qr(m.ones(3)), RuntimeError, "at least 2 dimensions"),
    (lambda m: m.linalg.qr(m.ones(3, 3, dtype=m.int64)), RuntimeError, "floating point"),
    (lambda m: m.linalg.qr(m.ones(3, 3), mode="full"), RuntimeError, "unrecognized mode 'full'"),
    (lambda m: m.linalg.eigh(m.ones(4, 3)), RuntimeError, "square matrices, but they are 4 by 3"),
    (lambda m: m.linalg.eigh(m.ones(3, 3), UPLO="X"), RuntimeError, "'L' or 'U'"),
    (lambda m: m.linalg.eigvalsh(m.ones(2, 4, 3)), RuntimeError, "square matrices"),
    (lambda m: m.linalg.svd(m.ones(3)), RuntimeError, "at least 2 dimensions"),
    (lambda m: m.linalg.svdvals(m.ones(3, 3, dtype=m.int64)), RuntimeError, "floating point"),
    (lambda m: m.linalg.pinv(m.ones(3, 3, dtype=m.int64)), RuntimeError, "floating point"),
    (lambda m: m.linalg.pinv(m.ones(4, 3), hermitian=True), RuntimeError, "square matrices"),
    (lambda m: m.linalg.matrix_rank(m.ones(3)), RuntimeError, "at least 2 dimensions"),
    (lambda m: m.linalg.lstsq(m.ones(5, 3), m.ones(4, 2)), RuntimeError, "should match other.size"),
    (lambda m: m.linalg.lstsq(m.ones(5, 3), m.ones(5, 2, dtype=m.float64)), RuntimeError, "same dtype"),
    (lambda m: m.linalg.lstsq(m.ones(5, 3), m.ones(5, 2), driver="foo"), RuntimeError, "driver"),
    (lambda m: m.linalg.lstsq(m.ones(3), m.ones(3)), RuntimeError, "at least 2 dimensions"),
    (lambda m: m.linalg.matrix_power(m.ones(4, 3), 2), RuntimeError, "square matrices"),
    (lambda m: m.linalg.matrix_power(m.ones(3, 3), 2.0), TypeError, "must be int"),
    (lambda m: m.linalg.matrix_power(m.ones(3, 3, dtype=m.int64), -1), RuntimeError, "floating point"),
    (lambda m: m.linalg.matrix_exp(m.ones(3)), RuntimeError, "at least 2 dimensions"),
    (lambda m: m.linalg.matrix_exp(m.ones(3, 3, dtype=m.int64)), RuntimeError, "floating point"),
    (lambda m: m.linalg.cross(m.ones(4, 2), m.ones(4, 2)), RuntimeError, "must have length 3. Got 2 and 2"),
    (lambda m: m.linalg.cross(m.ones(4, 3), m.ones(3)), RuntimeError, "same number of dimensions"),
    (lambda m: m.linalg.vecdot(m.ones(3, dtype=m.int64), m.ones(3, dtype=m.int64)), RuntimeError, "floating"),
    (lambda m: m.linalg.multi_dot([m.ones(3, 3)]), RuntimeError, "at least 2 tensors but got 1"),
    (lambda m: m.linalg.multi_dot([m.ones(2, 3, 3), m.ones(3, 3)]), RuntimeError, "first tensor must be 1D or 2D"),
    (lambda m: m.linalg.multi_dot([m.ones(3, 3), m.ones(2, 3, 3), m.ones(3, 3)]), RuntimeError, "tensor 1 must be 2D"),
    (lambda m: m.linalg.multi_dot([m.ones(3, 3), m.ones(2, 3)]), RuntimeError, "tensors 0 and 1 .* cannot be"),
    (lambda m: m.linalg.multi_dot([m.ones(3, 3), m.ones(3, 3, dtype=m.float64)]), RuntimeError, "same dtype"),
], ids=lambda c: None)
def test_errors(case):
    fn, exc, match = case
    _raises_like_torch(fn, exc, match)


def test_errors_name_the_op_and_leave_input_alone():
    a = tg.ones(4, 3)
    with pytest.raises(RuntimeError, match=r"linalg\.eigh: .*\[4, 3\]"):
        tg.linalg.eigh(a)
    with pytest.raises(TypeError, match="linalg.svd"):
        tg.linalg.svd(np.ones((3, 3)))
    np.testing.assert_array_equal(a.numpy(), np.ones((4, 3)))


@needs_torch
def test_top_level_and_method_forms_match_torch():
    """tg.svd / tg.qr / tg.pinverse / tg.matrix_exp / tg.matrix_power / tg.cross and the Tensor
    methods of the same names, against torch's."""
    a = np.random.default_rng(5).standard_normal((4, 3))
    sq = a[:3]
    A, T = tg.tensor(a), torch.tensor(a)
    S, ST = tg.tensor(sq), torch.tensor(sq)
    np.testing.assert_allclose(tg.svd(A)[1].numpy(), torch.svd(T)[1].numpy(), rtol=1e-10)
    np.testing.assert_allclose(A.svd()[1].numpy(), T.svd()[1].numpy(), rtol=1e-10)
    q, r = A.qr()
    np.testing.assert_allclose((q @ r).numpy(), a, atol=1e-12)
    assert tuple(tg.qr(A)[0].shape) == tuple(torch.qr(T)[0].shape)
    np.testing.assert_allclose(A.pinverse().numpy(), T.pinverse().numpy(), atol=1e-10)
    np.testing.assert_allclose(tg.pinverse(A).numpy(), torch.pinverse(T).numpy(), atol=1e-10)
    np.testing.assert_allclose(S.matrix_exp().numpy(), ST.matrix_exp().numpy(), rtol=1e-10)
    np.testing.assert_allclose(tg.matrix_power(S, 3).numpy(), torch.matrix_power(ST, 3).numpy(), rtol=1e-10)
    np.testing.assert_allclose(S.cross(S.flip(0), dim=1).numpy(), ST.cross(ST.flip(0), dim=1).numpy(), atol=1e-12)
