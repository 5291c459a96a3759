"""Property tests: reductions on random shapes and dims against NumPy, and identities they obey."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorgrad as tg
from oracle import to_tg

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def array_and_dims(draw, min_side=0, max_dims=4, low=-10.0, high=10.0, dtype=np.float64):
    """A float array and a dim argument: None, an int (maybe negative) or a tuple of dims."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=min_side, max_side=4))
    x = draw(hnp.arrays(dtype, shape, elements=st.floats(low, high, width=np.dtype(dtype).itemsize * 8)))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none" or nd == 0:
        return x, None, tuple(range(nd))
    if kind == "int":
        d = draw(st.integers(-nd, nd - 1))
        return x, d, (d % nd,)
    dims = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    signed = tuple(d - nd if draw(st.booleans()) else d for d in dims)
    return x, signed, tuple(sorted(dims))


def _np(t):
    return t.detach().cpu().numpy()


def _axis(dims):
    return dims if dims else None


def _reduced(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


@SETTINGS
@given(data=array_and_dims(), keepdim=st.booleans())
def test_sum_mean_match_numpy(data, keepdim, device):
    x, dim, dims = data
    t = to_tg(x, device, False)
    ax = dims if x.ndim else None
    np.testing.assert_allclose(_np(tg.sum(t, dim, keepdim)), np.sum(x, axis=ax, keepdims=keepdim), rtol=1e-12,
                               atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's mean of nothing
        expected = np.mean(x, axis=ax, keepdims=keepdim)
    np.testing.assert_allclose(_np(t.mean(dim, keepdim)), expected, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(data=array_and_dims(low=-2.0, high=2.0), keepdim=st.booleans())
def test_prod_matches_numpy(data, keepdim, device):
    x, dim, _ = data
    t = to_tg(x, device, False)
    if isinstance(dim, int):  # prod takes one dim (or none)
        out, expected = tg.prod(t, dim, keepdim), np.prod(x, axis=dim, keepdims=keepdim)
    else:
        out, expected = t.prod(), np.prod(x)
    np.testing.assert_allclose(_np(out), expected, rtol=1e-12, atol=1e-300)


@SETTINGS
@given(data=array_and_dims(min_side=1), keepdim=st.booleans())
def test_amax_amin_argmax_match_numpy(data, keepdim, device):
    x, dim, dims = data
    t = to_tg(x, device, False)
    ax = dims if x.ndim else None
    d = () if dim is None else dim
    np.testing.assert_array_equal(_np(tg.amax(t, d, keepdim)), np.max(x, axis=ax, keepdims=keepdim))
    np.testing.assert_array_equal(_np(t.amin(d, keepdim)), np.min(x, axis=ax, keepdims=keepdim))
    if isinstance(dim, int) and x.ndim:
        values, indices = t.max(dim, keepdim)
        np.testing.assert_array_equal(_np(values), np.max(x, axis=dim, keepdims=keepdim))
        np.testing.assert_array_equal(_np(indices), np.argmax(x, axis=dim, keepdims=keepdim))
        np.testing.assert_array_equal(_np(t.argmin(dim, keepdim)), np.argmin(x, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(_np(t.argmax()), np.argmax(x))


@SETTINGS
@given(data=array_and_dims(), correction=st.sampled_from([0, 1, 2, 0.5]), keepdim=st.booleans())
def test_var_std_match_numpy(data, correction, keepdim, device):
    x, dim, dims = data
    t = to_tg(x, device, False)
    ax = dims if x.ndim else None
    if _reduced(x.shape, dims) - correction <= 0:
        with pytest.warns(UserWarning, match="degrees of freedom"):
            tg.var(t, dim, correction=correction)
        return
    np.testing.assert_allclose(_np(tg.var(t, dim, correction=correction, keepdim=keepdim)),
                               np.var(x, axis=ax, ddof=correction, keepdims=keepdim), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(t.std(dim, correction=correction, keepdim=keepdim)),
                               np.std(x, axis=ax, ddof=correction, keepdims=keepdim), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(data=array_and_dims(), p=st.sampled_from([2, 1, np.inf, -np.inf, 0, 3, 0.5]), keepdim=st.booleans())
def test_norm_matches_numpy(data, p, keepdim, device):
    x, dim, dims = data
    t = to_tg(x, device, False)
    ax = dims if x.ndim else None
    a = np.abs(x)
    if (p < 0 or np.isinf(p)) and _reduced(x.shape, dims) == 0:
        with pytest.raises(RuntimeError, match="empty tensor"):
            tg.norm(t, p, dim, keepdim)
        return
    if p == np.inf:
        expected = np.max(a, axis=ax, keepdims=keepdim)
    elif p == -np.inf:
        expected = np.min(a, axis=ax, keepdims=keepdim)
    elif p == 0:
        expected = np.sum(a != 0, axis=ax, keepdims=keepdim).astype(np.float64)
    else:
        expected = np.sum(a ** p, axis=ax, keepdims=keepdim) ** (1 / p)
    np.testing.assert_allclose(_np(tg.norm(t, p, dim, keepdim)), expected, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(data=array_and_dims(low=-50.0, high=50.0), keepdim=st.booleans())
def test_logsumexp_matches_numpy_and_has_softmax_gradient(data, keepdim, device):
    x, dim, dims = data
    if dim is None:
        dim = ()
    ax = dims if x.ndim else None
    with np.errstate(divide="ignore"):
        expected = np.log(np.sum(np.exp(x), axis=ax, keepdims=keepdim))
    t = to_tg(x, device)
    y = tg.logsumexp(t, dim, keepdim)
    np.testing.assert_allclose(_np(y), expected, rtol=1e-10, atol=1e-12)
    if x.size:
        y.sum().backward()  # d logsumexp / dx = softmax over the reduced dims
        ex = np.exp(x - np.max(x, axis=ax, keepdims=True))
        np.testing.assert_allclose(_np(t.grad), ex / ex.sum(axis=ax, keepdims=True), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(data=array_and_dims(min_side=1, low=-100.0, high=100.0))
def test_softmax_log_softmax_properties(data, device):
    x, _, _ = data
    d = -1 if x.ndim else 0
    t = to_tg(x, device)
    y = tg.softmax(t, d)
    ly = tg.log_softmax(t, d)
    ax = d if x.ndim else None
    e = np.exp(x - np.max(x, axis=ax, keepdims=True))
    np.testing.assert_allclose(_np(y), e / e.sum(axis=ax, keepdims=True), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(np.exp(_np(ly)), _np(y), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(_np(y).sum(axis=ax), 1.0, rtol=1e-12)
    # softmax is shift-invariant, so every gradient sums to 0 along the dim
    g = np.linspace(-1.0, 1.0, x.size).reshape(x.shape)
    y.backward(to_tg(g, device, False))
    np.testing.assert_allclose(_np(t.grad).sum(axis=ax), 0.0, atol=1e-10)


@SETTINGS
@given(data=array_and_dims(), dtype=st.sampled_from([np.float64, np.int32, np.bool_]))
def test_cumsum_matches_numpy(data, dtype, device):
    x, dim, _ = data
    d = dim if isinstance(dim, int) else 0
    a = x.astype(dtype)
    out = tg.cumsum(to_tg(a, device, False), d)
    expected = np.cumsum(a, axis=d, dtype=np.float64 if dtype == np.float64 else np.int64) if a.ndim else a
    np.testing.assert_allclose(_np(out), expected, rtol=1e-12, atol=1e-12)
    assert out.dtype == (tg.float64 if dtype == np.float64 else tg.int64)


@SETTINGS
@given(data=array_and_dims(low=-1.0, high=1.0), keepdim=st.booleans())
def test_all_any_match_numpy(data, keepdim, device):
    x, dim, dims = data
    b = np.asarray(x > 0)
    t = to_tg(b, device, False)
    ax = dims if x.ndim else None
    np.testing.assert_array_equal(_np(tg.all(t, dim, keepdim)), np.all(b, axis=ax, keepdims=keepdim))
    np.testing.assert_array_equal(_np(t.any(dim, keepdim)), np.any(b, axis=ax, keepdims=keepdim))


@SETTINGS
@given(data=array_and_dims(min_side=1), op=st.sampled_from(["sum", "mean", "amax", "var", "norm", "logsumexp"]))
def test_keepdim_only_reshapes(data, op, device):
    x, dim, dims = data
    t = to_tg(x, device, False)
    d = () if dim is None else dim
    kw = {"correction": 0} if op == "var" else {"p": 2} if op == "norm" else {}  # "fro" takes <= 2 dims
    fn = getattr(tg, op)
    kept, dropped = fn(t, dim=d, keepdim=True, **kw), fn(t, dim=d, keepdim=False, **kw)
    assert tuple(kept.shape) == tuple(1 if i in dims else n for i, n in enumerate(x.shape))
    np.testing.assert_array_equal(_np(kept).reshape(dropped.shape), _np(dropped))
