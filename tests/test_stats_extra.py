"""ops/stats_extra.py: float64 grad/gradgrad checks and PyTorch as the oracle (values, indices, dtypes,
gradients) for the NaN-ignoring reductions, quantile, mode, cummax/cummin, aminmax, histc, cov/corrcoef,
the trapezoid rules, dist, renorm, isin, combinations and cartesian_prod; then their errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, noncontig, rand, to_tg, torch

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: oracle tests skipped")

NAN = float("nan")


def grad(fn, arrays, device, **kw):
    return check_grad(lambda *a: fn(tg, *a), arrays, device, **kw)


def distinct(*shape, dtype=np.float64):
    """Random values, all different (finite differences need no ties)."""
    n = int(np.prod(shape))
    flat = np.random.default_rng(n).permutation(n) * 0.37 - n * 0.15 + rand(n) * 0.01
    return flat.reshape(shape).astype(dtype)


def with_nans(a, every=4):
    a = a.copy()
    a.reshape(-1)[::every] = NAN
    return a


def ties(*shape, dtype=np.float64):
    """Small integers as floats: many equal values."""
    return rand(*shape, dtype=np.int64, low=0, high=3).astype(dtype)


# ---------------------------------------------------------------- nansum, nanmean
NAN_REDUCTIONS = {
    "nansum_all": lambda m, x: m.nansum(x),
    "nansum_dim": lambda m, x: m.nansum(x, 1),
    "nansum_neg_keep": lambda m, x: m.nansum(x, -1, keepdim=True),
    "nansum_dims": lambda m, x: x.nansum((0, 2)),
    "nanmean_all": lambda m, x: m.nanmean(x),
    "nanmean_dim": lambda m, x: m.nanmean(x, 1),
    "nanmean_neg_keep": lambda m, x: x.nanmean(-2, keepdim=True),
}


# all-NaN slices: nanmean's backward divides by a zero count (NaN gradient, as PyTorch's), which
# NumPy reports as a RuntimeWarning
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", sorted(NAN_REDUCTIONS))
def test_nan_reductions(name, device):
    fn = NAN_REDUCTIONS[name]
    x = rand(2, 3, 4)
    grad(fn, [x], device)
    grad(fn, [with_nans(x, 3)], device)  # the gradient at NaN is 0, and finite differences agree
    check_torch(fn, [with_nans(x, 3)], device)
    check_torch(fn, [noncontig(with_nans(rand(2, 3, 4, dtype=np.float32), 5))], device)
    check_torch(fn, [np.full((2, 3, 4), NAN)], device)  # all NaN: sum 0, mean NaN
    check_torch(fn, [rand(2, 0, 4)], device)


def test_nansum_integer_and_dtype(device):
    check_torch(lambda m, x: m.nansum(x, 0), [rand(3, 2, dtype=np.int32)], device)
    check_torch(lambda m, x: m.nansum(x, dtype=m.float64), [with_nans(rand(5, dtype=np.float32))], device)
    check_torch(lambda m, x: m.nanmean(x, dtype=m.float64), [with_nans(rand(5, dtype=np.float32))], device)


# ---------------------------------------------------------------- nanmedian, mode
def test_nanmedian_full_shares_gradient_among_ties(device):
    check_torch(lambda m, a: m.nanmedian(a), [ties(3, 5)], device)
    check_torch(lambda m, a: m.nanmedian(a), [with_nans(ties(3, 4), 3)], device)


def test_nanmedian(device):
    x = distinct(3, 5)
    grad(lambda m, x: m.nanmedian(x), [x], device)
    grad(lambda m, x: m.nanmedian(x, 1).values, [with_nans(x, 4)], device)
    grad(lambda m, x: x.nanmedian(-2, keepdim=True).values, [x], device)
    for a in (with_nans(x, 4), with_nans(x, 2), np.full((2, 3), NAN), x[:, :4]):
        check_torch(lambda m, a: m.nanmedian(a), [a], device)
        check_torch(lambda m, a: m.nanmedian(a, 1), [a], device)
        check_torch(lambda m, a: m.nanmedian(a, 0, keepdim=True), [a], device)
    check_torch(lambda m, a: m.nanmedian(a, -1), [with_nans(distinct(2, 3, 4, dtype=np.float32), 3)], device)
    check_torch(lambda m, a: m.nanmedian(a, 0), [distinct()], device)
    check_torch(lambda m, a: m.nanmedian(a, 1), [rand(0, 3)], device)
    check_torch(lambda m, a: m.nanmedian(a, 1), [rand(3, 5, dtype=np.int64, low=0, high=3)], device)


def test_mode(device):
    grad(lambda m, x: m.mode(x, 1).values, [distinct(3, 4)], device)  # all distinct: the smallest
    grad(lambda m, x: m.mode(x, 0, keepdim=True).values, [distinct(3, 4)], device)
    for a in (ties(4, 7), ties(3, 2, 6), noncontig(ties(5, 6)), distinct(3, 4)):
        for dim in (0, 1, -1):
            check_torch(lambda m, a: m.mode(a, dim), [a], device)
        check_torch(lambda m, a: a.mode(keepdim=True), [a], device)
    check_torch(lambda m, a: m.mode(a, 0), [ties(9, dtype=np.float32)], device)
    check_torch(lambda m, a: m.mode(a, 1), [rand(0, 3)], device)
    check_torch(lambda m, a: m.mode(a), [distinct()], device)
    check_torch(lambda m, a: m.mode(a, 1), [rand(4, 9, dtype=np.int64, low=-2, high=2)], device)
    check_torch(lambda m, a: m.mode(a, 1), [rand(4, 9, dtype=bool)], device)


def test_mode_counts_nans_as_one_value(device):
    x = to_tg(np.array([[NAN, 1.0, NAN, 2.0], [NAN, 1.0, 1.0, 2.0]]), device, False)
    vals, idx = tg.mode(x, 1)
    assert np.isnan(vals[0].item()) and vals[1].item() == 1.0
    assert torch.isnan(torch.mode(torch.tensor(x.cpu().numpy()), 1).values[0])
    assert idx[1].item() == 2


# ---------------------------------------------------------------- cummax, cummin
@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin(op, device):
    fn = {"cummax": lambda m, x, d: m.cummax(x, d), "cummin": lambda m, x, d: x.cummin(d)}[op]
    grad(lambda m, x: fn(m, x, 1).values, [distinct(3, 9)], device)
    grad(lambda m, x: fn(m, x, -3).values, [distinct(5, 2, 3)], device)
    for a in (ties(3, 9), with_nans(ties(4, 7), 5), noncontig(distinct(6, 5)), ties(2, 17, 3, dtype=np.float32)):
        for d in (0, 1, -1):
            check_torch(lambda m, a: fn(m, a, d), [a], device)
    check_torch(lambda m, a: fn(m, a, 0), [distinct()], device)
    check_torch(lambda m, a: fn(m, a, 1), [rand(3, 0)], device)
    check_torch(lambda m, a: fn(m, a, 1), [rand(3, 6, dtype=np.int64)], device)


# ---------------------------------------------------------------- aminmax
def test_aminmax(device):
    grad(lambda m, x: m.aminmax(x), [distinct(3, 4)], device)
    grad(lambda m, x: m.aminmax(x, dim=1), [distinct(3, 4)], device)
    for a in (ties(3, 5), with_nans(distinct(3, 5), 7), distinct(2, 3, 4, dtype=np.float32)):
        check_torch(lambda m, a: m.aminmax(a), [a], device)
        check_torch(lambda m, a: m.aminmax(a, keepdim=True), [a], device)
        check_torch(lambda m, a: a.aminmax(dim=-1), [a], device)
        check_torch(lambda m, a: m.aminmax(a, dim=0, keepdim=True), [a], device)
    check_torch(lambda m, a: m.aminmax(a, dim=0), [rand(4, 0)], device)
    check_torch(lambda m, a: m.aminmax(a), [rand(4, 3, dtype=np.int64)], device)


# ---------------------------------------------------------------- quantile, nanquantile
MODES = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("interpolation", MODES)
@pytest.mark.parametrize("op", ["quantile", "nanquantile"])
def test_quantile(op, interpolation, device):
    def fn(q, **kw):
        return lambda m, x: getattr(m, op)(x, q(m) if callable(q) else q, interpolation=interpolation, **kw)

    qs = lambda m: m.tensor([0.0, 0.25, 0.5, 0.6, 1.0], dtype=m.float64)  # noqa: E731
    q32 = lambda m: m.tensor([0.1, 0.5, 0.75], dtype=m.float32)  # noqa: E731
    x = distinct(3, 5)
    grad(fn(0.3), [x], device)
    grad(fn(qs, dim=1), [x], device)
    grad(fn(0.7, dim=-2, keepdim=True), [x], device)
    if op == "nanquantile":
        grad(fn(qs, dim=1), [with_nans(x, 4)], device)
    cases = [(x, {}), (x, {"dim": 1}), (x, {"dim": 0, "keepdim": True}), (x, {"keepdim": True}),
             (with_nans(x, 4), {"dim": 1}), (with_nans(x, 2), {}), (np.full((2, 3), NAN), {"dim": 0}),
             (ties(4, 6), {"dim": -1}), (distinct(), {}), (distinct(), {"dim": 0, "keepdim": True}),
             (distinct(2, 3, 4), {"dim": 1, "keepdim": True})]
    for a, kw in cases:
        check_torch(fn(0.4, **kw), [a], device)
        check_torch(fn(qs, **kw), [a], device)
    check_torch(fn(q32, dim=1), [with_nans(distinct(4, 5, dtype=np.float32), 3)], device)
    check_torch(fn(lambda m: m.tensor(0.5, dtype=m.float64), dim=1), [x], device)  # 0-d q: no q dim


# ---------------------------------------------------------------- histc
def test_histc(device):
    x = rand(50, low=-3, high=3)
    for kw in ({}, {"bins": 7}, {"bins": 5, "min": -1, "max": 1.5}, {"bins": 4, "min": 2, "max": 2}):
        check_torch(lambda m, a: m.histc(a, **kw), [x], device, backward=False)
        check_torch(lambda m, a: a.histc(**kw), [x.astype(np.float32)], device, backward=False)
    check_torch(lambda m, a: m.histc(a, 6, -2, 2), [with_nans(x, 6)], device, backward=False)  # NaN: not counted
    edges = np.array([0.0, 1.0, 2.0, 3.0, 3.0, -0.5, 3.5])
    check_torch(lambda m, a: m.histc(a, bins=3, min=0, max=3), [edges], device, backward=False)
    check_torch(lambda m, a: m.histc(a, bins=4), [np.full(3, 2.0)], device, backward=False)
    check_torch(lambda m, a: m.histc(a, bins=4), [rand(0)], device, backward=False)
    out = tg.histc(to_tg(x, device, True))
    assert out.grad_fn is None and not out.requires_grad


# ---------------------------------------------------------------- cov, corrcoef
def test_cov(device):
    x = rand(3, 6)
    fw = np.array([1, 2, 0, 3, 1, 1])
    aw = rand(6, low=0.2, high=2.0)
    grad(lambda m, x: m.cov(x), [x], device)
    grad(lambda m, x: m.cov(x, correction=0), [x[0]], device)
    grad(lambda m, x, w: m.cov(x, fweights=w), [x, fw], device)
    grad(lambda m, x, w: m.cov(x, aweights=w), [x, aw], device)
    for kw in ({}, {"correction": 0}, {"correction": 2}):
        check_torch(lambda m, a: a.cov(**kw), [x], device)
        check_torch(lambda m, a: m.cov(a, **kw), [x[1]], device)
        check_torch(lambda m, a, f: m.cov(a, fweights=f, **kw), [x, fw], device)
        check_torch(lambda m, a, w: m.cov(a, aweights=w, **kw), [x, aw], device)
        check_torch(lambda m, a, f, w: m.cov(a, fweights=f, aweights=w, **kw), [x, fw, aw], device)
    check_torch(lambda m, a: m.cov(a), [rand(2, 5, dtype=np.float32)], device)
    check_torch(lambda m, a: m.cov(a), [rand(1, 5)], device)  # one variable: 0-d
    check_torch(lambda m, a: m.corrcoef(a), [rand(1, 5)], device)
    check_torch(lambda m, a: m.cov(a), [rand(3, 4, dtype=np.int64)], device)
    with pytest.warns(UserWarning, match="degrees of freedom"), np.errstate(all="ignore"):
        check_torch(lambda m, a: m.cov(a), [rand(2, 1)], device)  # one observation: inf / nan


def test_corrcoef(device):
    x = rand(3, 6)
    grad(lambda m, x: m.corrcoef(x), [x], device)
    check_torch(lambda m, a: m.corrcoef(a), [x], device)
    check_torch(lambda m, a: a.corrcoef(), [rand(4, 5, dtype=np.float32)], device, rtol=1e-4, atol=1e-5)
    check_torch(lambda m, a: m.corrcoef(a), [x[0]], device)  # one variable: 1
    check_torch(lambda m, a: m.corrcoef(a), [rand(3, 5, dtype=np.int64)], device)


# ---------------------------------------------------------------- trapezoid, cumulative_trapezoid
TRAPEZOID = {
    "trapezoid": lambda m, y: m.trapezoid(y),
    "trapezoid_dx_dim": lambda m, y: m.trapezoid(y, dx=0.3, dim=0),
    "trapz_dx": lambda m, y: m.trapz(y, dx=2.0, dim=-2),
    "cumulative": lambda m, y: m.cumulative_trapezoid(y),
    "cumulative_dx_dim": lambda m, y: m.cumulative_trapezoid(y, dx=0.5, dim=0),
}
TRAPEZOID_X = {
    "trapezoid_x1d": lambda m, y, x: m.trapezoid(y, x),
    "trapz_x1d_dim": lambda m, y, x: m.trapz(y, x[:3], dim=0),
    "trapezoid_xfull": lambda m, y, x: m.trapezoid(y, y.detach() * 0 + x, dim=1),
    "cumulative_x1d": lambda m, y, x: m.cumulative_trapezoid(y, x),
    "cumulative_xfull_dim": lambda m, y, x: m.cumulative_trapezoid(y, y.detach() * 0 + x, dim=-1),
}


@pytest.mark.parametrize("name", sorted(TRAPEZOID))
def test_trapezoid_dx(name, device):
    fn = TRAPEZOID[name]
    grad(fn, [rand(3, 4)], device)
    check_torch(fn, [rand(3, 4)], device)
    check_torch(fn, [noncontig(rand(3, 5, dtype=np.float32))], device)
    check_torch(fn, [rand(1, 1)], device)
    check_torch(fn, [rand(3, 2, dtype=np.int64)], device)


@pytest.mark.parametrize("name", sorted(TRAPEZOID_X))
def test_trapezoid_x(name, device):
    fn = TRAPEZOID_X[name]
    xs = np.sort(rand(4))
    grad(fn, [rand(3, 4), xs], device)
    check_torch(fn, [rand(3, 4), xs], device)
    check_torch(fn, [rand(3, 4, dtype=np.float32), xs.astype(np.float32)], device)


def test_trapezoid_empty(device):
    check_torch(lambda m, y: m.trapezoid(y), [rand(2, 0)], device)
    check_torch(lambda m, y: m.trapezoid(y, dim=0), [rand(0, 3)], device)


# ---------------------------------------------------------------- dist, renorm
@pytest.mark.parametrize("p", [2, 1, 3, 0.5, 0, float("inf"), -float("inf")])
def test_dist(p, device):
    a, b = distinct(3, 4), rand(4)
    if p != 0:
        grad(lambda m, x, y: m.dist(x, y, p), [a, b], device)
    # p = 0 counts nonzeros: no gradient (PyTorch's backward fails there)
    check_torch(lambda m, x, y: m.dist(x, y, p), [a, b], device, backward=p != 0)
    check_torch(lambda m, x, y: x.dist(y, p), [a.astype(np.float32), b.astype(np.float32)], device,
                backward=p != 0)
    if p == 0:
        x = to_tg(a, device, True)
        tg.dist(x, to_tg(b, device, False), 0).backward()
        assert x.grad is None or not x.grad.cpu().numpy().any()
    if 0 <= p < float("inf"):  # the other norms have no identity: an error on empty input
        check_torch(lambda m, x, y: m.dist(x, y, p), [rand(0, 4), rand(4)], device, backward=p != 0)


def test_dist_default_and_equal_inputs(device):
    a = rand(5)
    check_torch(lambda m, x, y: m.dist(x, y), [a, a.copy()], device)  # zero distance: gradient 0


@pytest.mark.parametrize("p,dim,maxnorm", [(2, 0, 1.0), (1, 1, 2.0), (3, -1, 0.5), (2, 1, 100.0), (1.5, 2, 1.0)])
def test_renorm(p, dim, maxnorm, device):
    x = rand(3, 4, 2)
    grad(lambda m, x: m.renorm(x, p, dim, maxnorm), [x], device)
    check_torch(lambda m, x: m.renorm(x, p, dim, maxnorm), [x], device)
    check_torch(lambda m, x: x.renorm(p, dim, maxnorm), [noncontig(x.astype(np.float32))], device)


# ---------------------------------------------------------------- isin, combinations, cartesian_prod
def test_isin(device):
    e, t = rand(3, 4, dtype=np.int64, low=-3, high=3), np.array([0, 2, -3, 7])
    for kw in ({}, {"invert": True}, {"assume_unique": True}):
        check_torch(lambda m, a, b: m.isin(a, b, **kw), [e, t], device)
    check_torch(lambda m, a, b: m.isin(a, b), [e, t.reshape(2, 2)], device)
    check_torch(lambda m, a, b: m.isin(a, b), [np.array([1.0, NAN, 2.5]), np.array([NAN, 2.5])], device,
                backward=False)
    check_torch(lambda m, a: m.isin(a, 2), [e], device)
    check_torch(lambda m, b: m.isin(2, b), [t], device)
    check_torch(lambda m, a, b: m.isin(a, b), [rand(0, 2), rand(3)], device, backward=False)


def test_combinations(device):
    x = distinct(5)
    for r, rep in ((2, False), (3, False), (2, True), (1, False), (3, True), (0, False), (6, False)):
        grad(lambda m, a: m.combinations(a, r, with_replacement=rep), [x], device)
        check_torch(lambda m, a: m.combinations(a, r, with_replacement=rep), [x], device)
    check_torch(lambda m, a: m.combinations(a), [rand(4, dtype=np.int64)], device)
    check_torch(lambda m, a: m.combinations(a), [rand(0)], device)


def test_cartesian_prod(device):
    a, b, c = distinct(3), rand(2), rand(4)
    grad(lambda m, a, b, c: m.cartesian_prod(a, b, c), [a, b, c], device)
    check_torch(lambda m, a, b, c: m.cartesian_prod(a, b, c), [a, b, c], device)
    check_torch(lambda m, a, b: m.cartesian_prod(a, b), [a, rand(0)], device)
    check_torch(lambda m, a: m.cartesian_prod(a), [a], device)
    check_torch(lambda m, a, b: m.cartesian_prod(a, b), [rand(3, dtype=np.int64), rand(2, dtype=np.int64)], device)


# ---------------------------------------------------------------- errors
def _errors(m, device):
    """(call, exception type, text in tensorgrad's message) for bad input; torch raises the same type."""
    t = (lambda a: to_tg(np.asarray(a), device, False)) if m is tg else (lambda a: torch.tensor(np.asarray(a)))
    f = t(rand(2, 3))
    i = t(np.array([1, 2, 3]))
    return [
        (lambda: m.nanmean(i), RuntimeError, "nanmean(): expected input to have floating point"),
        (lambda: m.nansum(f, 2), IndexError, "dimension out of range"),
        (lambda: m.nanmedian(f, 2), IndexError, "dimension out of range"),
        (lambda: m.nanmedian(t(rand(2, 0)), 1), IndexError, "to have non-zero size"),
        (lambda: m.mode(t(rand(2, 0)), 1), IndexError, "mode(): Expected reduction dim 1 to have non-zero size"),
        (lambda: m.mode(f, -3), IndexError, "mode(): dimension out of range"),
        (lambda: m.cummax(f, 2), IndexError, "cummax(): dimension out of range"),
        (lambda: m.cummin(f, -3), IndexError, "cummin(): dimension out of range"),
        (lambda: m.aminmax(t(rand(0, 3))), RuntimeError, "aminmax(): cannot compute aminmax over an empty"),
        (lambda: m.aminmax(t(rand(0, 3)), dim=0), IndexError, "aminmax(): Expected reduction dim 0 to have"),
        (lambda: m.quantile(f, 1.5), RuntimeError, "quantile() q must be in the range [0, 1] but got 1.5"),
        (lambda: m.nanquantile(f, -0.1), RuntimeError, "nanquantile() q must be in the range [0, 1]"),
        (lambda: m.quantile(f, t(np.array([0.2, 1.2]))), RuntimeError, "quantile() q values must be in the range"),
        (lambda: m.quantile(f, t(np.array([[0.5]]))), RuntimeError, "quantile() q must be a scalar or 1D tensor"),
        (lambda: m.quantile(f, t(np.array([0.5], np.float32))), RuntimeError, "q tensor must be same dtype"),
        (lambda: m.quantile(i, 0.5), RuntimeError, "quantile() input tensor must be either float or double"),
        (lambda: m.quantile(t(rand(0)), 0.5), RuntimeError, "quantile() input tensor must be non-empty"),
        (lambda: m.quantile(f, 0.5, interpolation="cubic"), RuntimeError, "interpolation must be one of"),
        (lambda: m.quantile(f, 0.5, dim=2), IndexError, "quantile(): dimension out of range"),
        (lambda: m.histc(i), NotImplementedError, "histc(): not implemented for 'Long'"),
        (lambda: m.histc(f, bins=0), RuntimeError, "bins must be an int > 0"),
        (lambda: m.histc(f, min=2, max=1), RuntimeError, "histc(): max must be larger than min"),
        (lambda: m.histc(t(np.array([NAN, 1.0]))), RuntimeError, "is not finite"),
        (lambda: m.cov(t(rand(2, 2, 2))), RuntimeError, "cov(): expected input to have two or fewer dimensions"),
        (lambda: m.cov(f, fweights=t(np.array([1.0, 2, 3]))), RuntimeError, "fweights to have integral dtype"),
        (lambda: m.cov(f, fweights=t(np.array([1, 2]))), RuntimeError, "same numel as there are observations"),
        (lambda: m.cov(f, fweights=t(np.array([1, -2, 1]))), RuntimeError, "fweights cannot be negative"),
        (lambda: m.cov(f, aweights=t(np.array([1, 2, 1]))), RuntimeError, "aweights to have floating point"),
        (lambda: m.cov(f, aweights=t(np.array([[1.0, 2, 1]]))), RuntimeError, "one or fewer dimensions"),
        (lambda: m.cov(f, aweights=t(np.array([1.0, -2, 1]))), RuntimeError, "aweights cannot be negative"),
        (lambda: m.trapezoid(f, t(rand(4))), RuntimeError, "There must be one `x` value for each sample point"),
        (lambda: m.trapezoid(f, dim=2), IndexError, "trapezoid(): dimension out of range"),
        (lambda: m.cumulative_trapezoid(f, dim=-3), IndexError, "dimension out of range"),
        (lambda: m.renorm(f, 0, 0, 1.0), RuntimeError, "renorm(): non-positive-norm not supported"),
        (lambda: m.renorm(f, 2, 0, -1.0), RuntimeError, "renorm(): expected maxnorm to be >= 0"),
        (lambda: m.renorm(t(rand(3)), 2, 0, 1.0), RuntimeError, "renorm(): input needs at least 2 dimensions"),
        (lambda: m.renorm(f, 2, 2, 1.0), IndexError, "renorm(): dimension out of range"),
        (lambda: m.combinations(f), RuntimeError, "combinations(): expect a 1D vector, but got shape [2, 3]"),
        (lambda: m.cartesian_prod(i, f), RuntimeError, "cartesian_prod(): expect a 1D vector"),
        (lambda: m.cartesian_prod(i, t(rand(2))), RuntimeError, "same dtype"),
    ]


def test_errors(device):
    for k, ((call, exc, text), (tcall, _, _)) in enumerate(zip(_errors(tg, device), _errors(torch, device))):
        with pytest.raises(exc) as info:
            call()
        assert text in str(info.value), f"case {k}: {info.value}"
        with pytest.raises(exc):  # PyTorch raises the same exception type
            tcall()


def test_inputs_left_intact(device):
    """Ops that sort or mask internally never write into their input."""
    a = with_nans(rand(3, 5), 4)
    x = to_tg(a.copy(), device, False)
    tg.mode(x, 1), tg.cummax(x, 1), tg.nanmedian(x, 0), tg.nanquantile(x, 0.3, 1), tg.quantile(x, 0.5)
    tg.nansum(x), tg.histc(x.nan_to_num()), tg.renorm(x.nan_to_num(), 2, 0, 0.1)
    np.testing.assert_array_equal(x.cpu().numpy(), a)


# ---------------------------------------------------------------- histogram
def test_histogram(device):
    x = rand(40, low=-3, high=3)
    w = rand(40, low=0, high=2)
    edges = np.array([-2.5, -1.0, 0.0, 0.5, 2.0])
    cases = [
        (lambda m, a: m.histogram(a, 5), [x]),
        (lambda m, a: a.histogram(7, range=(-1.0, 2.0)), [x.astype(np.float32)]),
        (lambda m, a, b: m.histogram(a, b), [x, edges]),
        (lambda m, a, b, w: m.histogram(a, b, weight=w), [x, edges, w]),
        (lambda m, a, w: m.histogram(a, 4, weight=w, density=True), [x, w]),
        (lambda m, a, b: m.histogram(a, b, density=True), [x.astype(np.float32), edges.astype(np.float32)]),
        (lambda m, a: m.histogram(a, 3), [np.full(4, 2.0)]),  # one value: the range widened by 1/2
        (lambda m, a: m.histogram(a, 3), [rand(0)]),  # empty: [0, 1]
        (lambda m, a: m.histogram(a, 4, range=(-2.0, 2.0)), [with_nans(x.reshape(5, 8), 3)]),
        (lambda m, a, b: m.histogram(a, b), [np.array([-2.5, -1.0, 0.0, 2.0, 2.0, 3.0]), edges]),
    ]
    for fn, arrays in cases:
        out = check_torch(fn, arrays, device, backward=False)
        assert out[0].grad_fn is None
    assert not tg.histogram(to_tg(x, device, True), 3).hist.requires_grad


def test_histogram_errors(device):
    x = to_tg(rand(5), device, False)
    cases = [
        (lambda: tg.histogram(to_tg(np.arange(3), device, False), 3), NotImplementedError, "not implemented"),
        (lambda: tg.histogram(x, 0), RuntimeError, "bins must be an int > 0"),
        (lambda: tg.histogram(x, 3, range=(2.0, 1.0)), RuntimeError, "min should not exceed max"),
        (lambda: tg.histogram(x, to_tg(np.ones((2, 2)), device, False)), RuntimeError, "one dimension"),
        (lambda: tg.histogram(x, to_tg(np.array([2.0, 1.0]), device, False)), RuntimeError, "monotonically"),
        (lambda: tg.histogram(x, to_tg(np.array([1, 2]), device, False)), RuntimeError, "same dtype"),
        (lambda: tg.histogram(x, 3, weight=to_tg(rand(4), device, False)), RuntimeError, "same shape"),
        (lambda: tg.histogram(to_tg(np.array([NAN, 1.0]), device, False), 3), RuntimeError, "not finite"),
    ]
    for call, exc, text in cases:
        with pytest.raises(exc, match=text):
            call()
