"""tensorgrad.special (torch.special): the reused ops under their special names, and the new ops (erfcx,
ndtr, log_ndtr, ndtri, i0e, i1, i1e, xlog1py, entr) with float64 grad/gradgrad checks and torch.special
as the oracle for values, dtypes, gradients, edge values and far tails."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, noncontig, rand, to_tg, torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: oracle tests skipped")

EDGES = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 0.5, -3.5, 3.0, 30.0, -30.0, 1e4, -1e4])


def oracle(fn, arrays, device, **kw):
    """check_torch with fn(special, ...): tensorgrad.special or torch.special."""
    return check_torch(lambda m, *a: fn(m.special, *a), arrays, device, **kw)


def grad(fn, arrays, device, **kw):
    return check_grad(lambda *a: fn(tg.special, *a), arrays, device, **kw)


def _input(shape, dom, dtype=np.float64):
    return rand(*shape, low=dom[0], high=dom[1]).astype(dtype)


def _t(a, device, requires_grad=False):
    return to_tg(np.asarray(a), device, requires_grad)


def test_every_name_is_torch_special():
    for name in tg.special.__all__:
        assert hasattr(torch.special, name), name
        assert callable(getattr(tg.special, name))


# ---------------------------------------------------------------- the reused ops under their special names
REUSED = {
    "expit": (lambda s, x: s.expit(x), (-5, 5)),
    "logit": (lambda s, x: s.logit(x), (0.05, 0.95)),
    "logit_eps": (lambda s, x: s.logit(x, eps=0.2), (0.02, 0.98)),
    "erf": (lambda s, x: s.erf(x), (-3, 3)),
    "erfc": (lambda s, x: s.erfc(x), (-3, 3)),
    "erfinv": (lambda s, x: s.erfinv(x), (-0.9, 0.9)),
    "gammaln": (lambda s, x: s.gammaln(x), (0.3, 5)),
    "digamma": (lambda s, x: s.digamma(x), (0.3, 5)),
    "psi": (lambda s, x: s.psi(x), (0.3, 5)),
    "polygamma": (lambda s, x: s.polygamma(2, x), (0.5, 5)),
    "multigammaln": (lambda s, x: s.multigammaln(x, 3), (1.5, 5)),
    "xlogy": (lambda s, x: s.xlogy(x, x * x + 0.5), (-2, 2)),
    "i0": (lambda s, x: s.i0(x), (-5, 5)),
    "sinc": (lambda s, x: s.sinc(x), (-3, 3)),
    "logsumexp": (lambda s, x: s.logsumexp(x, 1), (-3, 3)),
    "softmax": (lambda s, x: s.softmax(x, 1), (-3, 3)),
    "log_softmax": (lambda s, x: s.log_softmax(x, 0), (-3, 3)),
    "round": (lambda s, x: s.round(x), (-3, 3)),
    "exp2": (lambda s, x: s.exp2(x), (-3, 3)),
    "expm1": (lambda s, x: s.expm1(x), (-3, 3)),
    "log1p": (lambda s, x: s.log1p(x), (-0.9, 3)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(REUSED))
def test_reused_ops_match_torch_special(name, dtype, device):
    fn, dom = REUSED[name]
    oracle(fn, [noncontig(_input((3, 4), dom, dtype))], device)


def test_reused_ops_keep_their_extras(device):
    oracle(lambda s, x: s.softmax(x, 1, dtype=torch.float64 if s is torch.special else tg.float64),
           [_input((2, 3), (-2, 2), np.float32)], device)
    oracle(lambda s, x: s.logsumexp(x, (0, 1), keepdim=True), [_input((2, 3), (-2, 2))], device)
    oracle(lambda s, x: s.xlogy(2.0, x), [_input((3,), (0.2, 2))], device)
    assert tg.special.expit is tg.sigmoid and tg.special.psi is tg.digamma and tg.special.gammaln is tg.lgamma


# ---------------------------------------------------------------- the new ops
NEW = {
    "erfcx": (lambda s, x: s.erfcx(x), (-3, 6)),  # across the continued-fraction switch at 3
    "ndtr": (lambda s, x: s.ndtr(x), (-3, 3)),
    "log_ndtr": (lambda s, x: s.log_ndtr(x), (-6, 5)),  # across the formula switch at -1
    "ndtri": (lambda s, x: s.ndtri(x), (0.02, 0.98)),  # across the tail/center switch at 1/4
    "ndtri_tail": (lambda s, x: s.ndtri(x), (1e-4, 0.05)),
    "i0e": (lambda s, x: s.i0e(x), (-5, 5)),
    "i0e_large": (lambda s, x: s.i0e(x), (15, 45)),  # across the series/asymptotic switch at 20
    "i1": (lambda s, x: s.i1(x), (-5, 5)),
    "i1_large": (lambda s, x: s.i1(x), (-40, -15)),
    "i1e": (lambda s, x: s.i1e(x), (-5, 5)),
    "i1e_large": (lambda s, x: s.i1e(x), (15, 45)),
    "entr": (lambda s, x: s.entr(x), (0.05, 3)),
}
SHAPES = [(2, 3), (1,), (), (0, 3)]


@pytest.mark.parametrize("name", sorted(NEW))
def test_new_gradcheck(name, device):
    fn, dom = NEW[name]
    for shape in SHAPES:
        grad(fn, [_input(shape, dom)], device)
    grad(fn, [noncontig(_input((3, 2), dom))], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(NEW))
def test_new_match_torch(name, dtype, device):
    fn, dom = NEW[name]
    oracle(fn, [noncontig(_input((3, 4), dom, dtype))], device)
    oracle(fn, [_input((), dom, dtype)], device)
    oracle(fn, [_input((0, 2), dom, dtype)], device)


UNARY_NEW = ["erfcx", "ndtr", "log_ndtr", "i0e", "i1", "i1e", "entr"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", UNARY_NEW)
def test_new_edge_values_match_torch(name, device):
    """0, ±0, ±inf, NaN, tiny and huge magnitudes: values and gradients as torch.special
    (entr' = inf at 0, log_ndtr' = NaN at -inf, i1' = 1/2 at 0, ...)."""
    fn = lambda s, x: getattr(s, name)(x)  # noqa: E731
    # Where torch's formulas lose accuracy, the tolerance is torch's error (ours is checked against
    # asymptotic series in test_far_tails_are_stable): its log_ndtr and erfcx gradients cancel at |x| = 1e4
    # (~x² ulps), its ndtr is 1 + erf, only absolutely accurate below -3 (0 at -30, where Phi = 4.9e-198)
    oracle(fn, [EDGES], device, rtol=1e-7, atol=1e-16 if name == "ndtr" else 1e-300)
    # float32: torch computes in float32, we in float64 and round
    oracle(fn, [EDGES.astype(np.float32)], device, rtol=1e-5, atol=1e-7 if name in ("erfcx", "ndtr") else 1e-30,
           backward=name != "log_ndtr")  # torch's float32 log_ndtr gradient is off by 6x at -1e4
    if name == "log_ndtr":
        oracle(fn, [np.array([-20.0, -3.0, -1.0, 0.0, 5.0, np.inf, -np.inf, np.nan], np.float32)], device, rtol=1e-4)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_ndtri_edge_values_match_torch(device):
    p = np.array([0.0, 1.0, 0.5, 0.25, 1e-300, 5e-324, 1 - 2 ** -53, -0.1, 1.1, np.nan, np.inf, -np.inf])
    oracle(lambda s, x: s.ndtri(x), [p], device, rtol=1e-10, atol=0)
    oracle(lambda s, x: s.ndtri(x), [p[:-2].astype(np.float32)], device, rtol=1e-5, atol=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", UNARY_NEW + ["ndtri"])
def test_wide_range_accuracy_against_torch(name, device):
    """float64 values over many decades agree with torch.special to 1e-12 (relative)."""
    if name == "ndtri":
        x = np.concatenate([np.linspace(0, 1, 2001), np.logspace(-320, -1, 200), 1 - np.logspace(-16, -1, 60)])
    else:
        x = np.concatenate([np.linspace(-40, 40, 801), np.logspace(-300, 2.8, 150), -np.logspace(-300, 2.8, 150)])
    fn = lambda s, v: getattr(s, name)(v)  # noqa: E731
    oracle(fn, [x], device, rtol=1e-12, atol=1e-16 if name == "ndtr" else 1e-300, backward=False)


def test_ndtr_lower_tail_is_relative_accurate(device):
    """Phi far below 0 keeps its relative accuracy (torch's ndtr, 1 + erf, does not: 0 at -30), checked
    against exp(torch.special.log_ndtr), which is accurate there; likewise the gradient phi(x)."""
    x = np.linspace(-37, -1, 73)
    got = tg.special.ndtr(_t(x, device)).cpu().numpy()
    np.testing.assert_allclose(got, np.exp(torch.special.log_ndtr(torch.tensor(x)).numpy()), rtol=1e-12)
    t = _t(x, device, True)
    tg.special.ndtr(t).sum().backward()
    np.testing.assert_allclose(t.grad.cpu().numpy(), np.exp(-x * x / 2) / np.sqrt(2 * np.pi), rtol=1e-12)


def test_far_tails_are_stable(device):
    """The stable forms: log_ndtr and erfcx far out, ndtri of the smallest probabilities."""
    x = np.array([-1e5, -1e3, -40.0, 8.0, 38.0])
    oracle(lambda s, v: s.log_ndtr(v), [x], device, rtol=1e-12, atol=1e-300, backward=False)
    # erfcx(x) -> 1 / (sqrt(pi) x) for large x, where exp(x²) and erfc(x) are inf and 0
    big = np.array([1e3, 1e8, 1e150, 1e300])
    np.testing.assert_allclose(tg.special.erfcx(_t(big, device)).cpu().numpy(), 1 / (np.sqrt(np.pi) * big),
                               rtol=1e-6)
    # ndtri(p) inverts log_ndtr down to subnormal p, where 2p - 1 rounds to -1
    p = np.array([1e-300, 1e-320, 5e-324, 1e-20, 0.3])
    y = tg.special.ndtri(_t(p, device))
    np.testing.assert_allclose(tg.special.log_ndtr(y).cpu().numpy(), np.log(p), rtol=1e-12)
    # gradients far out agree with torch (float64, where torch's formulas are still exact enough)
    oracle(lambda s, v: s.log_ndtr(v), [np.array([-30.0, -5.0, -1.0, -0.999, 6.0])], device, rtol=1e-10)
    oracle(lambda s, v: s.ndtri(v), [np.array([1e-200, 1e-10, 0.3, 0.9999])], device, rtol=1e-10)
    # ... and further out, where torch's exp(-x²/2 - log_ndtr) cancels, against the asymptotic series
    # phi/Phi(x) = -x / (1 - 1/x² + 3/x⁴ - 15/x⁶ + ...)
    far = np.array([-1e3, -1e5, -1e8])
    t = _t(far, device, True)
    tg.special.log_ndtr(t).sum().backward()
    np.testing.assert_allclose(t.grad.cpu().numpy(), -far / (1 - far ** -2.0 + 3 * far ** -4.0), rtol=1e-14)
    # erfcx' = 2x erfcx - 2/sqrt(pi) cancels for large x: ours follows the derivative of the asymptotic
    # series 1/(sqrt(pi) x) (1 - 1/(2x²) + 3/(4x⁴) - 15/(8x⁶) + ...)
    big = np.array([30.0, 1e3, 1e5, 1e10])
    t = _t(big, device, True)
    tg.special.erfcx(t).sum().backward()
    want = -1 / (np.sqrt(np.pi) * big ** 2) * (1 - 1.5 / big ** 2 + 3.75 / big ** 4 - 13.125 / big ** 6)
    np.testing.assert_allclose(t.grad.cpu().numpy(), want, rtol=1e-9)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", UNARY_NEW + ["ndtri"])
def test_new_integer_bool_and_half_inputs(name, device):
    fn = lambda s, x: getattr(s, name)(x)  # noqa: E731
    for dtype in (np.int64, np.int32, np.bool_):
        oracle(fn, [rand(2, 3, dtype=dtype, low=0 if name == "ndtri" else -3, high=1 if name == "ndtri" else 3)],
               device, backward=False)
    # float16 computes in float64 and rounds (torch has no float16 erfcx/log_ndtr/ndtri on the CPU)
    x = _input((5,), (0.1, 0.9) if name == "ndtri" else (-2, 2), np.float16)
    out = fn(tg.special, _t(x, device))
    assert out.dtype == tg.float16
    want = fn(torch.special, torch.tensor(x.astype(np.float64))).numpy()
    np.testing.assert_allclose(out.cpu().numpy().astype(np.float64), want, rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------- xlog1py
def test_xlog1py_gradcheck(device):
    for sa, sb in (((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2,)), ((0, 3), (1, 3))):
        grad(lambda s, x, y: s.xlog1py(x, y), [_input(sa, (-2, 2)), _input(sb, (-0.8, 3))], device)
    grad(lambda s, x: s.xlog1py(x, 2.5), [_input((2, 3), (-2, 2))], device)
    grad(lambda s, y: s.xlog1py(1.5, y), [_input((2, 3), (-0.5, 2))], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_xlog1py_matches_torch(dtype, device):
    oracle(lambda s, x, y: s.xlog1py(x, y), [noncontig(_input((2, 3), (-2, 2), dtype)),
                                             _input((3,), (-0.8, 3), dtype)], device)
    oracle(lambda s, x: s.xlog1py(x, 3), [_input((3,), (-2, 2), dtype)], device)
    oracle(lambda s, y: s.xlog1py(2.0, y), [_input((3,), (-0.5, 2), dtype)], device)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_xlog1py_special_values_and_dtypes(device):
    v = np.array([0.0, -1.0, 1.0, -2.0, np.inf, -np.inf, np.nan])
    a, b = np.repeat(v, len(v)), np.tile(v, len(v))
    oracle(lambda s, x, y: s.xlog1py(x, y), [a, b], device, atol=1e-300)  # values and both gradients
    i = np.array([1, 0, 3])
    oracle(lambda s, x, y: s.xlog1py(x, y), [i, i], device, backward=False)
    oracle(lambda s, x, y: s.xlog1py(x, y), [np.array([1.0, 0.0], np.float16), np.array([2, 1])], device,
           backward=False, rtol=1e-3)
    oracle(lambda s, x: s.xlog1py(x, 2.5), [np.array([1, 2], np.int32)], device, backward=False)


def test_entr_special_values(device):
    oracle(lambda s, x: s.entr(x), [np.array([1e-300, 1e300, 1.0, 0.5])], device, rtol=1e-12, atol=1e-300)


# ---------------------------------------------------------------- gammainc, gammaincc
IGAMMA = ["gammainc", "gammaincc"]


@pytest.mark.parametrize("name", IGAMMA)
def test_igamma_gradcheck_in_x(name, device):
    """Differentiable in x (other) only, as PyTorch; both expansions (x < a + 1 and above)."""
    fn = lambda s, x, a: getattr(s, name)(a, x)  # noqa: E731
    for xs, a in (((2, 3), _input((3,), (0.5, 4))), ((), np.array(2.5)), ((0, 3), _input((3,), (1, 2)))):
        grad(fn, [_input(xs, (0.2, 6)), a], device, grad_inputs=[0])
    grad(fn, [_input((4,), (40, 80)), np.full(4, 60.0)], device, grad_inputs=[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", IGAMMA)
def test_igamma_matches_torch(name, dtype, device):
    fn = lambda s, a, x: getattr(s, name)(a, x)  # noqa: E731
    a, x = _input((2, 3), (0.2, 8), dtype), noncontig(_input((2, 3), (0.1, 12), dtype))
    check_torch(lambda m, p, q: fn(m.special, p, q), [a, x], device, grad_inputs=[1])
    check_torch(lambda m, p, q: fn(m.special, p, q), [a[:, :1], x[0]], device, grad_inputs=[1])  # broadcast


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", IGAMMA)
def test_igamma_edges_and_wide_range(name, device):
    fn = lambda s, a, x: getattr(s, name)(a, x)  # noqa: E731
    v = np.array([0.0, 0.5, 1.0, 10.0, np.inf, -1.0, np.nan])
    a, x = np.repeat(v, len(v)), np.tile(v, len(v))
    oracle(fn, [a, x], device, backward=False, rtol=1e-13, atol=0)
    # gradients in x at the edges (x == 0 with a < 1, a == 1, a > 1: inf, NaN, 0, as PyTorch)
    xe = np.array([0.0, 0.0, 0.0, 0.5, 3.0, np.inf])
    check_torch(lambda m, p, q: fn(m.special, p, q), [np.array([0.5, 1.0, 2.0, 2.0, 1.0, 2.0]), xe], device,
                grad_inputs=[1], atol=1e-300)
    rng = np.random.default_rng(5)
    for lo, hi, rtol in ((1e-3, 10, 1e-12), (10, 3000, 1e-8)):  # torch's own large-a expansion: ~1e-9
        aa = np.exp(rng.uniform(np.log(lo), np.log(hi), 300))
        xx = aa * np.exp(rng.uniform(-1.5, 1.5, 300))
        oracle(fn, [aa, xx], device, backward=False, rtol=rtol, atol=1e-300)


def test_igamma_large_a_is_accurate(device):
    """Where torch's large-a expansion is ~1e-9 off, P + Q = 1 and the x-derivative of P, compared with
    the finite difference of P, show our values are float64-accurate."""
    a, x = np.array([100.0, 100.0, 3000.0]), np.array([90.0, 110.0, 2900.0])
    p = tg.special.gammainc(_t(a, device), _t(x, device)).cpu().numpy()
    q = tg.special.gammaincc(_t(a, device), _t(x, device)).cpu().numpy()
    np.testing.assert_allclose(p + q, 1.0, rtol=1e-15)
    h = 1e-3
    diff = (tg.special.gammainc(_t(a, device), _t(x + h, device)).cpu().numpy()
            - tg.special.gammainc(_t(a, device), _t(x - h, device)).cpu().numpy()) / (2 * h)
    t = _t(x, device, True)
    tg.special.gammainc(_t(a, device), t).sum().backward()
    np.testing.assert_allclose(t.grad.cpu().numpy(), diff, rtol=1e-6)


def test_igamma_errors(device):
    a, x = _t([1.0, 2.0], device, True), _t([0.5, 3.0], device)
    y = tg.special.gammainc(a, x)
    with pytest.raises(NotImplementedError, match=r"special\.gammainc\(\): the derivative with respect to input"):
        y.sum().backward()
    with pytest.raises(NotImplementedError, match='"special.gammaincc" not implemented for int64'):
        tg.special.gammaincc(_t([1, 2], device), _t([1, 2], device))
    with pytest.raises(RuntimeError, match=r"special\.gammainc: the size of tensor a \(2\) must match"):
        tg.special.gammainc(x, _t([1.0, 2.0, 3.0], device))


# ---------------------------------------------------------------- errors
def test_errors(device):
    with pytest.raises(TypeError, match=r"special\.erfcx\(\): argument 'input'"):
        tg.special.erfcx([1.0])
    with pytest.raises(TypeError, match=r"special\.xlog1py\(\): expected at least one Tensor"):
        tg.special.xlog1py(1.0, 2.0)
    with pytest.raises(RuntimeError, match=r"special\.xlog1py: the size of tensor a \(2\) must match"):
        tg.special.xlog1py(_t([1.0, 2.0], device), _t([1.0, 2.0, 3.0], device))
    with pytest.raises(RuntimeError, match="polygamma"):
        tg.special.polygamma(-1, _t([1.0], device))
    with pytest.raises(RuntimeError, match=r"mvlgamma\(\): all elements must be greater than"):
        tg.special.multigammaln(_t([0.5], device), 3)
