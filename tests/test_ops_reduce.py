"""Reductions and softmax: gradchecks, PyTorch oracle, extreme values, dtypes and errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch, noncontig, rand, to_tg, torch


def _check_grad(fn, arrays, device):
    """check_grad of fn. Some gradients here are views of the incoming gradient (a sum over a
    size-1 dim, a 0-d input): gradcheck must read such aliased outputs correctly."""
    check_grad(fn, arrays, device)


# ---------------------------------------------------------------- reductions taking a tuple of dims
TUPLE_OPS = {
    "sum": lambda m, x, d, k: m.sum(x, dim=d, keepdim=k),
    "mean": lambda m, x, d, k: x.mean(dim=d, keepdim=k),
    "amax": lambda m, x, d, k: m.amax(x, dim=d, keepdim=k),
    "amin": lambda m, x, d, k: x.amin(dim=d, keepdim=k),
    "var": lambda m, x, d, k: m.var(x, dim=d, keepdim=k),
    "var_correction0": lambda m, x, d, k: x.var(dim=d, correction=0, keepdim=k),
    "std": lambda m, x, d, k: m.std(x, dim=d, keepdim=k),
    "std_correction0.5": lambda m, x, d, k: x.std(dim=d, correction=0.5, keepdim=k),
    "norm": lambda m, x, d, k: m.norm(x, dim=d, keepdim=k),
    "norm_1": lambda m, x, d, k: x.norm(1, d, k),
    "norm_3": lambda m, x, d, k: m.norm(x, 3, d, k),
    "norm_1.5": lambda m, x, d, k: m.norm(x, 1.5, d, k),
    "norm_0.5": lambda m, x, d, k: m.norm(x, 0.5, d, k),
    "norm_-2": lambda m, x, d, k: m.norm(x, -2, d, k),
    "norm_inf": lambda m, x, d, k: m.norm(x, math.inf, d, k),
    "norm_-inf": lambda m, x, d, k: m.norm(x, -math.inf, d, k),
    "norm_0": lambda m, x, d, k: m.norm(x, 0, d, k),
    "logsumexp": lambda m, x, d, k: m.logsumexp(x, d, k),
}
DIMS = [None, 1, -1, (0, 2), (-1, 0)]
_MAIN = ("sum", "mean", "amax", "amin", "var", "std", "norm", "logsumexp")  # every dim form
TUPLE_CASES = ([(op, d, k) for op in _MAIN for d in DIMS for k in (False, True)
                if not (op == "logsumexp" and d is None)]
               + [(op, d, k) for op in TUPLE_OPS if op not in _MAIN
                  for d, k in ((None, False), (1, True), ((-1, 0), False))])
_ids = [f"{op}-dim{d}-keep{k}" for op, d, k in TUPLE_CASES]


@needs_torch
@pytest.mark.parametrize("op,dim,keepdim", TUPLE_CASES, ids=_ids)
def test_tuple_dim_reduction_matches_torch(op, dim, keepdim, device):
    fn = TUPLE_OPS[op]
    x = rand(2, 3, 4)
    check_torch(lambda m, t: fn(m, t, dim, keepdim), [x], device)
    check_torch(lambda m, t: fn(m, t, dim, keepdim), [x.astype(np.float32)], device, rtol=1e-4, atol=1e-5)
    check_torch(lambda m, t: fn(m, t, dim, keepdim), [noncontig(rand(1, 3, 2))], device)


@pytest.mark.parametrize("op,dim,keepdim", TUPLE_CASES, ids=_ids)
def test_tuple_dim_reduction_gradcheck(op, dim, keepdim, device):
    fn = TUPLE_OPS[op]
    # away from 0 so |x|^p and the norms stay smooth under finite differences
    # var/std over a size-1 dim have no degrees of freedom (nan)
    x = rand(2, 2 if op.startswith(("var", "std")) else 1, 3, low=0.5, high=2.0) * np.array([1, -1, 1])
    _check_grad(lambda t: fn(tg, t, dim, keepdim), [noncontig(x)], device)


@needs_torch
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "var", "norm", "all", "any"])
def test_empty_dim_tuple_reduces_everything(op, device):
    x = rand(2, 3)
    if op in ("all", "any"):  # ... except these, which then reduce nothing
        check_torch(lambda m, t: getattr(m, op)(t, ()), [x > 0], device)
    else:  # PyTorch's var(dim=()) backward divides by 1 - correction: inf, a bug not copied
        check_torch(lambda m, t: getattr(m, op)(t, dim=()), [x], device, backward=op != "var")


ZERO_SIZE = {  # reductions over a zero-size dim have a value (an identity, nan or -inf) in PyTorch
    "sum": lambda m, x: m.sum(x, 1),
    "sum_all": lambda m, x: m.sum(x),
    "mean": lambda m, x: m.mean(x, (0, 1)),
    "prod": lambda m, x: m.prod(x, 1, True),
    "norm": lambda m, x: m.norm(x, dim=1),
    "norm_1": lambda m, x: m.norm(x, 1, 1),
    "norm_0": lambda m, x: m.norm(x, 0, 1),
    "logsumexp": lambda m, x: m.logsumexp(x, 1),
    "var": lambda m, x: m.var(x, 1),
    "std": lambda m, x: m.std(x, 1, correction=0),
    "cumsum": lambda m, x: m.cumsum(x, 1),
    "softmax": lambda m, x: m.softmax(x, 1),
    "log_softmax": lambda m, x: m.log_softmax(x, 0),
    "amax_other_dim": lambda m, x: m.amax(x, 2),
    "max_other_dim": lambda m, x: m.max(x, -1),
    "min_other_dim": lambda m, x: m.min(x, 0, True),
    "argmax_other_dim": lambda m, x: m.argmax(x, 2),
    "all": lambda m, x: m.all(x, 1),
    "any": lambda m, x: m.any(x),
}


@needs_torch
@pytest.mark.parametrize("op", ZERO_SIZE)
def test_zero_size(op, device):
    fn = ZERO_SIZE[op]
    x = rand(2, 0, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # var/std: degrees of freedom <= 0
        check_torch(fn, [x], device)
        if op not in ("all", "any", "argmax_other_dim"):
            _check_grad(lambda t: fn(tg, t), [x], device)


# ---------------------------------------------------------------- reductions taking a single dim
INT_OPS = {
    "prod": lambda m, x, d, k: m.prod(x, d, k),
    "prod_dtype": lambda m, x, d, k: x.prod(d, keepdim=k, dtype=m.float64),
    "max": lambda m, x, d, k: m.max(x, d, k),
    "min": lambda m, x, d, k: x.min(d, keepdim=k),
    "max_values": lambda m, x, d, k: m.max(x, dim=d, keepdim=k).values,
    "min_indices": lambda m, x, d, k: m.min(x, d, k)[1],
    "argmax": lambda m, x, d, k: m.argmax(x, d, k),
    "argmin": lambda m, x, d, k: x.argmin(dim=d, keepdim=k),
    "softmax": lambda m, x, d, k: m.softmax(x, d),
    "log_softmax": lambda m, x, d, k: x.log_softmax(d),
    "cumsum": lambda m, x, d, k: m.cumsum(x, d),
    "logsumexp": lambda m, x, d, k: m.logsumexp(x, d, keepdim=k),
    "all": lambda m, x, d, k: m.all(x > 0, d, k),
    "any": lambda m, x, d, k: (x > 0).any(d, keepdim=k),
}
INT_CASES = [(op, d, k) for op in INT_OPS for d in (0, 1, -1) for k in (False, True)
             if not (op in ("softmax", "log_softmax", "cumsum") and k)]
_int_ids = [f"{op}-dim{d}-keep{k}" for op, d, k in INT_CASES]


@needs_torch
@pytest.mark.parametrize("op,dim,keepdim", INT_CASES, ids=_int_ids)
def test_single_dim_op_matches_torch(op, dim, keepdim, device):
    fn = INT_OPS[op]
    check_torch(lambda m, t: fn(m, t, dim, keepdim), [rand(3, 4, 2)], device)
    check_torch(lambda m, t: fn(m, t, dim, keepdim), [rand(3, 1, 2, dtype=np.float32)], device,
                rtol=1e-4, atol=1e-5)
    check_torch(lambda m, t: fn(m, t, dim, keepdim), [noncontig(rand(2, 3, 1))], device)


@pytest.mark.parametrize("op,dim,keepdim", [c for c in INT_CASES if c[0] not in
                                            ("argmax", "argmin", "all", "any", "min_indices")],
                         ids=[i for c, i in zip(INT_CASES, _int_ids) if c[0] not in
                              ("argmax", "argmin", "all", "any", "min_indices")])
def test_single_dim_op_gradcheck(op, dim, keepdim, device):
    fn = INT_OPS[op]
    _check_grad(lambda t: fn(tg, t, dim, keepdim), [noncontig(rand(2, 3, 1))], device)


FULL_OPS = {
    "sum": lambda m, x: m.sum(x),
    "mean": lambda m, x: x.mean(),
    "prod": lambda m, x: m.prod(x),
    "max": lambda m, x: m.max(x),
    "min": lambda m, x: x.min(),
    "amax": lambda m, x: m.amax(x),
    "amin": lambda m, x: m.amin(x),
    "argmax": lambda m, x: m.argmax(x),
    "argmin_keepdim": lambda m, x: m.argmin(x, keepdim=True),
    "var": lambda m, x: x.var(),
    "std": lambda m, x: m.std(x),
    "norm": lambda m, x: m.norm(x),
    "norm_inf": lambda m, x: x.norm(math.inf),
    "all": lambda m, x: m.all(x),
    "any": lambda m, x: m.any(x < -1.9),
}


@needs_torch
@pytest.mark.parametrize("op", FULL_OPS)
def test_full_reduction(op, device):
    fn = FULL_OPS[op]
    x = noncontig(rand(3, 2, 2))
    check_torch(fn, [x], device)
    check_torch(fn, [x.astype(np.float32)], device, rtol=1e-4, atol=1e-5)
    if op not in ("argmax", "argmin_keepdim", "all", "any"):
        _check_grad(lambda t: fn(tg, t), [x], device)


# 0-d inputs: dim 0 and -1 are valid, and the result is 0-d
ZERO_D = {
    "sum": lambda m, x: m.sum(x, 0),
    "mean": lambda m, x: m.mean(x, -1, True),
    "prod": lambda m, x: m.prod(x, 0),
    "max_dim": lambda m, x: m.max(x, 0),
    "min_dim": lambda m, x: m.min(x, -1, True),
    "max": lambda m, x: m.max(x),
    "amax": lambda m, x: m.amax(x, 0),
    "amin": lambda m, x: m.amin(x),
    "argmax": lambda m, x: m.argmax(x, 0, True),
    "argmin": lambda m, x: m.argmin(x),
    "var": lambda m, x: m.var(x, correction=0),
    "norm": lambda m, x: m.norm(x, 3, 0),
    "norm_inf": lambda m, x: m.norm(x, math.inf, -1),
    "logsumexp": lambda m, x: m.logsumexp(x, 0),
    "softmax": lambda m, x: m.softmax(x, 0),
    "log_softmax": lambda m, x: m.log_softmax(x, -1),
    "cumsum": lambda m, x: m.cumsum(x, 0),
    "all": lambda m, x: m.all(x, 0),
    "any": lambda m, x: m.any(x),
}


@needs_torch
@pytest.mark.parametrize("op", ZERO_D)
def test_zero_dim_input(op, device):
    fn = ZERO_D[op]
    x = np.array(1.5)
    check_torch(fn, [x], device)
    if op not in ("argmax", "argmin", "all", "any"):
        _check_grad(lambda t: fn(tg, t), [x], device)


# ---------------------------------------------------------------- prod with zeros
PROD_ZEROS = {
    "one_zero": [[1.5, 0.0, -2.0, 0.5], [0.7, 1.2, 0.0, -1.1]],
    "two_zeros": [[0.0, 1.5, 0.0, -2.0], [0.0, 0.0, 1.3, 0.9]],
    "three_zeros": [[0.0, 0.0, 0.0, -2.0], [1.1, 0.0, 0.0, 0.0]],
    "mixed_rows": [[1.5, 0.8, -2.0, 0.5], [0.0, 1.2, 0.0, -1.1]],
}


@pytest.mark.parametrize("case", PROD_ZEROS)
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_prod_with_zeros(case, dim, device):
    x = np.array(PROD_ZEROS[case])
    fn = (lambda m, t: m.prod(t)) if dim is None else (lambda m, t: m.prod(t, dim))
    if dim is None:
        x = x[1:]  # a full product with at most three zeros
    _check_grad(lambda t: fn(tg, t), [x], device)
    _check_grad(lambda t: fn(tg, t.mT), [noncontig(x.T.copy())], device)
    if torch is not None:
        check_torch(fn, [x], device)


@needs_torch
@pytest.mark.parametrize("case", ["one_zero", "two_zeros", "mixed_rows"])
def test_prod_with_zeros_second_derivative_matches_torch(case, device):
    x = np.array(PROD_ZEROS[case])
    v = rand(*x.shape)
    results = []
    for m in (tg, torch):
        t = to_tg(x.copy(), device) if m is tg else torch.tensor(x, requires_grad=True)
        (g,) = m.autograd.grad(m.prod(t, 1).sum(), [t], create_graph=True)
        vv = to_tg(v, device, False) if m is tg else torch.tensor(v)
        (h,) = m.autograd.grad((g * vv).sum(), [t])
        results.append((g.detach().cpu().numpy() if m is tg else g.detach().numpy(),
                        h.cpu().numpy() if m is tg else h.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- ties and NaN in max / min
TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 0.5, -1.0, 0.5]])


@needs_torch
@pytest.mark.parametrize("fn", [
    lambda m, x: m.amax(x, 1), lambda m, x: m.amin(x, -1, True), lambda m, x: m.amax(x),
    lambda m, x: m.amin(x, (0, 1)), lambda m, x: m.max(x), lambda m, x: m.min(x),
    lambda m, x: m.max(x, 1), lambda m, x: m.min(x, 1, True), lambda m, x: m.max(x, 0),
    lambda m, x: m.argmax(x, 1), lambda m, x: m.argmin(x, -1), lambda m, x: m.norm(x, math.inf, 1),
    lambda m, x: m.norm(x, -math.inf),
], ids=["amax", "amin", "amax_all", "amin_tuple", "max_all", "min_all", "max_dim", "min_dim", "max_dim0",
        "argmax", "argmin", "norm_inf", "norm_-inf"])
def test_ties_match_torch(fn, device):
    check_torch(fn, [TIES], device)


def test_tie_gradients(device):
    x = to_tg(TIES.copy(), device)
    x.amax(1).sum().backward()  # shared evenly among the tied maxima
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0, .5, .5, 0], [.25, .25, .25, .25], [0, .5, 0, .5]])
    x.grad = None
    x.max(1).values.sum().backward()  # all to the (first) index returned
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0, 1, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    x.grad = None
    x.min().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0, 0, 0, 0], [0, 0, 0, 0], [.5, 0, .5, 0]])


NANS = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 0.5, -2.0, 1.0]])


@needs_torch
@pytest.mark.parametrize("fn", [
    lambda m, x: m.max(x), lambda m, x: m.min(x), lambda m, x: m.amax(x, 1), lambda m, x: m.amin(x),
    lambda m, x: m.max(x, 1), lambda m, x: m.min(x, 1), lambda m, x: m.argmax(x, 1),
    lambda m, x: m.argmin(x), lambda m, x: m.norm(x, math.inf, 1), lambda m, x: m.sum(x, 1),
    lambda m, x: m.softmax(x, 1), lambda m, x: m.logsumexp(x, 1), lambda m, x: m.var(x, 1),
], ids=["max", "min", "amax", "amin", "max_dim", "min_dim", "argmax", "argmin", "norm_inf", "sum",
        "softmax", "logsumexp", "var"])
def test_nan_matches_torch(fn, device):
    check_torch(fn, [NANS], device)


# ---------------------------------------------------------------- softmax family at extreme logits
EXTREME = np.array([[1e4, -1e4, 0.0], [-np.inf, 1.0, 2.0], [-1e4, -np.inf, -1e4], [30.0, 30.0, -np.inf]])


@needs_torch
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_extreme_logits(op, dtype, device):
    fn = (lambda m, x: getattr(m, op)(x, 1))
    out = check_torch(fn, [EXTREME.astype(dtype)], device)[0]
    x = to_tg(EXTREME.astype(dtype), device)
    y = fn(tg, x)
    y.backward(to_tg(rand(*y.shape).astype(dtype), device, False))
    assert np.isfinite(x.grad.cpu().numpy()).all()
    if op == "softmax":  # exact: huge logits saturate, -inf entries get probability 0
        e = math.exp(1.0)
        expected = [[1, 0, 0], [0, e / (e + e * e), e * e / (e + e * e)], [.5, 0, .5], [.5, .5, 0]]
        np.testing.assert_allclose(out.detach().cpu().numpy(), expected, rtol=1e-6, atol=0)


@needs_torch
@pytest.mark.parametrize("row", [[-np.inf, -np.inf, -np.inf], [np.inf, 1.0, 2.0], [np.nan, 1.0, 2.0]],
                         ids=["all_-inf", "+inf", "nan"])
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family_nonfinite_rows(row, op, device):
    x = np.array([row, [0.5, 1.0, -1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the forward is quiet, like PyTorch's
        check_torch(lambda m, t: getattr(m, op)(t, 1), [x], device, backward=False)
    with warnings.catch_warnings():  # logsumexp's backward meets inf - inf in the non-finite row
        warnings.simplefilter("ignore", RuntimeWarning)
        # the finite row is unaffected, and so are its gradients
        check_torch(lambda m, t: getattr(m, op)(t, 1)[1:], [x], device)


def test_softmax_row_sums_and_shift_invariance(device):
    x = rand(4, 5)
    y = tg.softmax(to_tg(x, device, False), -1).cpu().numpy()
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-12)
    y2 = tg.softmax(to_tg(x + 1000.0, device, False), -1).cpu().numpy()
    np.testing.assert_allclose(y, y2, rtol=1e-9)
    ly = tg.log_softmax(to_tg(x, device, False), 0).cpu().numpy()
    np.testing.assert_allclose(np.exp(ly).sum(0), 1.0, rtol=1e-12)


SECOND = {"softmax": lambda m, t: m.softmax(t, 1), "log_softmax": lambda m, t: m.log_softmax(t, 0),
          "logsumexp": lambda m, t: m.logsumexp(t, 1), "cumsum_of_square": lambda m, t: m.cumsum(t * t, 1),
          "std": lambda m, t: m.std(t, 0), "norm_3": lambda m, t: m.norm(t, 3, 1),
          "amax": lambda m, t: m.amax(t * t, 1), "prod": lambda m, t: m.prod(t, 1)}


@needs_torch
@pytest.mark.parametrize("op", SECOND)
def test_second_derivative_matches_torch(op, device):
    """Hessian-vector products through create_graph=True, against PyTorch's."""
    fn = SECOND[op]
    x, v = rand(3, 4), rand(3, 4)
    w = rand(*fn(torch, torch.tensor(x)).shape)
    res = []
    for m in (tg, torch):
        t = to_tg(x.copy(), device) if m is tg else torch.tensor(x, requires_grad=True)
        ww, vv = (to_tg(w, device, False), to_tg(v, device, False)) if m is tg else (torch.tensor(w), torch.tensor(v))
        (g,) = m.autograd.grad((fn(m, t) * ww).sum(), [t], create_graph=True)
        (h,) = m.autograd.grad((g * vv).sum(), [t])
        res.append(h.cpu().numpy() if m is tg else h.numpy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- var / std signatures and edge cases
@needs_torch
@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("call", [
    lambda f, x: f(x, True), lambda f, x: f(x, False), lambda f, x: f(x, 1, True),
    lambda f, x: f(x, 1, False, True), lambda f, x: f(x, (0, 1), False), lambda f, x: f(x, dim=0, unbiased=False),
    lambda f, x: f(x, 1, correction=0.5), lambda f, x: f(x, (0, -1), correction=2, keepdim=True),
    lambda f, x: f(x, unbiased=True), lambda f, x: f(x, 1, keepdim=True),
], ids=["unbiased_pos", "biased_pos", "dim_unbiased", "dim_biased_keepdim", "tuple_biased", "kw_unbiased",
        "float_correction", "correction_keepdim", "kw_only_unbiased", "keepdim"])
def test_var_std_signatures(op, call, device):
    fn = lambda m, t: call(getattr(m, op), t)  # noqa: E731
    check_torch(fn, [rand(3, 4)], device)
    check_torch(lambda m, t: call(lambda x, *a, **k: getattr(x, op)(*a, **k), t), [rand(3, 4)], device)
    _check_grad(lambda t: fn(tg, t), [rand(3, 4)], device)


@needs_torch
@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("x,kw", [
    (np.array([2.0]), {}), (np.array([2.0, 3.0]), {"correction": 3}), (np.array([[2.0, 3.0]]), {"dim": 0}),
    (np.array([[2.0, 3.0], [1.0, 4.0]]), {"dim": 1, "correction": 2}), (np.array(2.0), {}),
], ids=["one_element", "correction_above_n", "dim_one_element", "dim_correction_n", "0d"])
def test_var_std_nonpositive_dof(op, x, kw, device):
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        getattr(tg, op)(to_tg(x, device), **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_torch(lambda m, t: getattr(m, op)(t, **kw), [x], device)


@needs_torch
def test_std_of_constant_has_zero_gradient(device):
    check_torch(lambda m, t: m.std(t, 1), [np.ones((2, 3))], device)
    check_torch(lambda m, t: m.std(t), [np.full((2, 3), 0.25)], device)


def test_var_std_errors(device):
    x = to_tg(rand(2, 3), device)
    with pytest.raises(TypeError, match="only one of unbiased and correction"):
        tg.var(x, 1, unbiased=True, correction=1)
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        tg.std(to_tg(rand(2, 3, dtype=np.int64), device))
    with pytest.raises(IndexError, match="dimension out of range"):
        x.var(2)


# ---------------------------------------------------------------- norm
@needs_torch
@pytest.mark.parametrize("p", [2, "fro", None, 1, math.inf, -math.inf, 0, 0.5, 1.5, 3, -1])
def test_norm_at_zero_matches_torch(p, device):
    x = np.array([[0.0, 0.0, 0.0], [0.0, 1.5, -2.0]])
    check_torch(lambda m, t: m.norm(t, p, 1), [x], device)
    check_torch(lambda m, t: m.norm(t, p), [np.zeros(3)], device)


def test_norm_2_subgradient_at_zero(device):
    x = to_tg(np.zeros((2, 3)), device)
    tg.norm(x).backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), 0)
    x = to_tg(np.array([0.0, 0.0]), device)
    tg.norm(x, 0).backward()
    assert x.grad is None  # PyTorch: no gradient for the 0-"norm"


@needs_torch
def test_norm_dtype_and_fro_dims(device):
    x = rand(2, 3, dtype=np.float32)
    out = check_torch(lambda m, t: m.norm(t, dtype=m.float64), [x], device)[0]
    assert out.dtype == tg.float64
    check_torch(lambda m, t: m.norm(t, "fro", (0, 1), True), [rand(2, 3)], device)
    check_torch(lambda m, t: t.norm("fro", 1), [rand(2, 3)], device)
    check_torch(lambda m, t: m.norm(t, "nuc"), [rand(3, 4)], device)
    check_torch(lambda m, t: t.norm("nuc", (0, 2), True), [rand(3, 2, 4)], device)


def test_norm_errors(device):
    x = to_tg(rand(2, 3), device)
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple. Got 0 1 2"):
        tg.norm(to_tg(rand(2, 3, 4), device), "nuc")
    with pytest.raises(RuntimeError, match="Order abc not supported"):
        tg.norm(x, "abc")
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
        tg.norm(to_tg(rand(2, 3, 4), device), "fro", (0, 1, 2))
    with pytest.raises(RuntimeError, match="Expected a floating point or complex tensor as input. Got Long"):
        tg.norm(to_tg(rand(3, dtype=np.int64), device))
    with pytest.raises(RuntimeError, match="dtype should be floating point"):
        tg.norm(x, dtype=tg.int64)
    with pytest.raises(RuntimeError, match="cannot compute the inf norm on an empty tensor"):
        tg.norm(to_tg(np.zeros(0), device), math.inf)
    with pytest.raises(RuntimeError, match="cannot compute the -1 norm on an empty tensor"):
        tg.norm(to_tg(np.zeros((2, 0)), device), -1, 1)


# ---------------------------------------------------------------- cumsum
@needs_torch
def test_cumsum_dtypes(device):
    for dt in (np.int32, np.int64, np.bool_, np.uint8):
        out = check_torch(lambda m, t: m.cumsum(t, 0), [rand(5, dtype=dt, low=0, high=3)], device)[0]
        assert out.dtype == tg.int64
    out = check_torch(lambda m, t: m.cumsum(t, 1, dtype=m.float64), [rand(2, 3, dtype=np.float32)], device)[0]
    assert out.dtype == tg.float64
    check_torch(lambda m, t: t.cumsum(-1, dtype=m.int32), [rand(2, 3, dtype=np.int64)], device)


def test_cumsum_backward_is_reverse_cumsum(device):
    x = to_tg(rand(4), device)
    g = np.array([1.0, 2.0, 3.0, 4.0])
    tg.cumsum(x, 0).backward(to_tg(g, device, False))
    np.testing.assert_allclose(x.grad.cpu().numpy(), [10.0, 9.0, 7.0, 4.0])


# ---------------------------------------------------------------- dtypes of results
INT_INPUT_CASES = [(op, dt) for op in ("sum", "prod", "max", "min", "amax", "amin", "argmax", "all", "any",
                                       "logsumexp")
                   for dt in (np.int32, np.int64, np.bool_, np.uint8, np.int8)
                   if not (op == "argmax" and dt == np.bool_)]  # an error in PyTorch too, tested below


@needs_torch
@pytest.mark.parametrize("op,dt", INT_INPUT_CASES, ids=[f"{op}-{dt.__name__}" for op, dt in INT_INPUT_CASES])
def test_integer_and_bool_inputs(op, dt, device):
    a = rand(3, 4, dtype=dt, low=0, high=3)
    check_torch(lambda m, t: getattr(m, op)(t, 1), [a], device)
    if op != "logsumexp":
        check_torch(lambda m, t: getattr(m, op)(t), [a], device)


@needs_torch
def test_dtype_keyword(device):
    x = rand(2, 3, dtype=np.float32)
    i = rand(2, 3, dtype=np.int32)
    check_torch(lambda m, t: m.sum(t, 1, dtype=m.float64), [x], device)
    check_torch(lambda m, t: m.sum(t, dtype=m.int32), [i], device)
    check_torch(lambda m, t: m.mean(t, 0, dtype=m.float64), [i], device)
    check_torch(lambda m, t: m.prod(t, dtype=m.float64), [x], device)
    check_torch(lambda m, t: m.softmax(t, 1, dtype=m.float64), [x], device)
    check_torch(lambda m, t: m.log_softmax(t, 0, m.float32), [i], device)
    check_torch(lambda m, t: m.mean(t), [x.astype(np.float16)], device, rtol=1e-3, atol=1e-3)


def test_max_named_tuple(device):
    x = to_tg(rand(3, 4), device)
    res = tg.max(x, 1)
    values, indices = res
    assert res.values is values and res.indices is indices and len(res) == 2
    assert indices.dtype == tg.int64 and not indices.requires_grad and indices.grad_fn is None
    assert values.requires_grad and tuple(values.shape) == (3,)
    assert "values=" in repr(res) and "indices=" in repr(res)
    np.testing.assert_array_equal(indices.cpu().numpy(), x.detach().cpu().numpy().argmax(1))
    vals, idx = x.min(dim=0, keepdim=True)
    assert tuple(vals.shape) == (1, 4) and tuple(idx.shape) == (1, 4)


@needs_torch
def test_max_min_with_other_tensor(device):
    try:
        tg.maximum(to_tg(np.ones(1), device, False), to_tg(np.ones(1), device, False))
    except NotImplementedError:
        pytest.skip("tensorgrad.maximum is not implemented yet")
    check_torch(lambda m, a, b: m.max(a, b), [rand(2, 3), rand(3)], device)
    check_torch(lambda m, a, b: a.min(b), [rand(2, 3), rand(2, 1)], device)
    check_torch(lambda m, a, b: m.max(a, other=b), [rand(3), rand(3)], device)


# ---------------------------------------------------------------- errors
def test_dim_errors(device):
    x = to_tg(rand(2, 3), device)
    for fn in (lambda: x.sum(2), lambda: x.mean(-3), lambda: x.prod(2), lambda: x.max(2), lambda: x.amax(5),
               lambda: x.argmax(2), lambda: x.var(3), lambda: x.norm(2, 2), lambda: x.logsumexp(2),
               lambda: x.softmax(2), lambda: x.log_softmax(-3), lambda: x.cumsum(2), lambda: x.all(2),
               lambda: x.any(-3)):
        with pytest.raises(IndexError, match=r"dimension out of range \(expected to be in range of \[-2, 1\]"):
            fn()
    for fn in (lambda: x.sum((0, -2)), lambda: x.amax((1, 1)), lambda: x.var((0, 0)), lambda: x.logsumexp((1, -1))):
        with pytest.raises(RuntimeError, match="appears multiple times"):
            fn()
    with pytest.raises(TypeError):
        x.prod((0, 1))
    with pytest.raises(TypeError):
        x.max((0, 1))
    with pytest.raises(TypeError, match="dim"):
        x.softmax((0,))
    with pytest.raises(TypeError, match="'dim' must be tuple of ints, not NoneType"):
        tg.logsumexp(x, None)
    with pytest.raises(TypeError):
        tg.cumsum(x)
    with pytest.raises(TypeError, match="keepdim=True needs a dim"):
        x.max(keepdim=True)


def test_non_tensor_input_errors():
    for fn in (tg.sum, tg.mean, tg.prod, tg.max, tg.amax, tg.argmin, tg.var, tg.norm, tg.all, tg.any):
        with pytest.raises(TypeError, match=r"argument 'input' must be a Tensor, not list"):
            fn([1.0, 2.0])
    for fn in (tg.softmax, tg.log_softmax, tg.logsumexp, tg.cumsum):
        with pytest.raises(TypeError, match=r"argument 'input' must be a Tensor, not list"):
            fn([1.0, 2.0], 0)


def test_max_indices_changed_in_place_do_not_change_the_gradient(device):
    x = to_tg(np.array([[1.0, 3.0, 2.0]]), device)
    values, indices = x.max(1, keepdim=True)
    indices.add_(1)
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0.0, 1.0, 0.0]])


def test_empty_and_dtype_errors(device):
    e = to_tg(np.zeros((0, 3)), device)
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified for input.numel"):
        e.max()
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified for input.numel"):
        tg.min(e)
    with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
        e.max(0)
    with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
        e.amin((0, 1))
    with pytest.raises(IndexError, match="Expected reduction dim to be specified"):
        e.argmax()
    with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
        e.argmin(0)
    b = to_tg(np.array([True, False]), device)
    with pytest.raises(RuntimeError, match="does not support bool input"):
        b.argmax()
    i = to_tg(np.arange(3), device)
    with pytest.raises(RuntimeError, match="mean.*could not infer output dtype.*Got: Long"):
        i.mean()
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        i.softmax(0)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        tg.log_softmax(i, 0)


@needs_torch
def test_error_types_match_torch():
    cases = [(lambda m, t: m.max(t[:0]), np.zeros(2)), (lambda m, t: m.amax(t, 1), np.zeros((2, 0))),
             (lambda m, t: m.sum(t, 2), np.zeros((2, 3))), (lambda m, t: m.var(t.long()), np.zeros(2)),
             (lambda m, t: m.norm(t.long()), np.zeros(2)), (lambda m, t: m.argmax(t > 0), np.zeros(2)),
             (lambda m, t: m.softmax(t.long(), 0), np.zeros(2)), (lambda m, t: m.mean(t.long()), np.zeros(2))]
    for fn, a in cases:
        with pytest.raises(Exception) as ref:
            fn(torch, torch.tensor(a))
        with pytest.raises(type(ref.value)):
            fn(tg, tg.tensor(a))


# ---------------------------------------------------------------- the engine's use of sum
def test_broadcast_gradients_use_tuple_sum(device):
    a = to_tg(rand(3, 1, 2), device)
    b = to_tg(rand(4, 3, 5, 2), device)
    (a + b).sum().backward()
    np.testing.assert_allclose(a.grad.cpu().numpy(), np.full((3, 1, 2), 20.0))
    np.testing.assert_allclose(b.grad.cpu().numpy(), np.ones((4, 3, 5, 2)))


def test_no_graph_under_no_grad(device):
    x = to_tg(rand(2, 3), device)
    with tg.no_grad():
        for out in (x.sum(), x.prod(1), x.max(1).values, x.amax(), x.var(), x.norm(), x.softmax(0),
                    x.logsumexp(1), x.cumsum(0)):
            assert out.grad_fn is None and not out.requires_grad
