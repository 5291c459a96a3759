"""Loss functions (tensorgrad.ops.loss) and modules (tensorgrad.nn.loss): PyTorch oracle, gradchecks, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.ops import loss as L
from tensorgrad.nn import loss as NL
from oracle import check_grad, check_torch, needs_torch, rand, to_tg, torch

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float64, np.float32]


def F(m):
    """The functional namespace of tensorgrad or torch."""
    return L if m is tg else torch.nn.functional


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-7, atol=1e-9)


_rng = np.random.default_rng(7)


def _targets(shape, n_cls, ignore=0):
    t = _rng.integers(0, n_cls, size=shape).astype(np.int64)
    if ignore:
        t.reshape(-1)[:ignore] = -100
    return t


def _probs(shape, axis, dtype):
    p = _rng.uniform(0.1, 1.0, size=shape)
    return (p / p.sum(axis=axis, keepdims=True)).astype(dtype)


# ---------------------------------------------------------------- cross entropy / nll vs torch
CE_CASES = [  # (input shape, name)
    ((5, 4), "2d"), ((4,), "unbatched"), ((2, 3, 4), "3d"), ((2, 4, 3, 2), "4d")]


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,name", CE_CASES, ids=[c[1] for c in CE_CASES])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_index_targets_match_torch(shape, name, reduction, dtype, weighted, smoothing, device):
    x = rand(*shape, dtype=dtype)
    cd = 0 if len(shape) == 1 else 1
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = np.asarray(_targets(tshape, shape[cd], ignore=0 if len(shape) == 1 else 1))
    args = [x, t]
    if weighted:
        args.append(_rng.uniform(0.5, 2.0, size=shape[cd]).astype(dtype))
    fn = (lambda m, a, b, w: F(m).cross_entropy(a, b, weight=w, reduction=reduction, label_smoothing=smoothing)) \
        if weighted else (lambda m, a, b: F(m).cross_entropy(a, b, reduction=reduction, label_smoothing=smoothing))
    check_torch(fn, args, device, grad_inputs=[0], **_tol(dtype))


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 4), (4,), (2, 4, 3)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_match_torch(shape, reduction, dtype, weighted, smoothing, device):
    cd = 0 if len(shape) == 1 else 1
    x, p = rand(*shape, dtype=dtype), _probs(shape, cd, dtype)
    if weighted:
        w = _rng.uniform(0.5, 2.0, size=shape[cd]).astype(dtype)
        check_torch(lambda m, a, b, c: F(m).cross_entropy(a, b, weight=c, reduction=reduction,
                                                          label_smoothing=smoothing),
                    [x, p, w], device, grad_inputs=[0, 1], **_tol(dtype))
    else:
        check_torch(lambda m, a, b: F(m).cross_entropy(a, b, reduction=reduction, label_smoothing=smoothing),
                    [x, p], device, grad_inputs=[0, 1], **_tol(dtype))


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 4), (4,), (2, 4, 3, 2)])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(shape, reduction, dtype, weighted, device):
    x = rand(*shape, dtype=dtype)
    cd = 0 if len(shape) == 1 else 1
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = np.asarray(_targets(tshape, shape[cd], ignore=0 if len(shape) == 1 else 2))
    if weighted:
        w = _rng.uniform(0.5, 2.0, size=shape[cd]).astype(dtype)
        check_torch(lambda m, a, b, c: F(m).nll_loss(a, b, weight=c, reduction=reduction), [x, t, w], device,
                    grad_inputs=[0], **_tol(dtype))
    else:
        check_torch(lambda m, a, b: F(m).nll_loss(a, b, reduction=reduction), [x, t], device,
                    grad_inputs=[0], **_tol(dtype))


@needs_torch
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_custom_ignore_index_and_uint8_targets(fn, device):
    x = rand(6, 5)
    t = np.array([0, 3, 2, 3, 4, 1])
    w = rand(5, low=0.5, high=2)
    check_torch(lambda m, a, b, c: getattr(F(m), fn)(a, b, weight=c, ignore_index=3), [x, t, w], device,
                grad_inputs=[0])
    check_torch(lambda m, a, b: getattr(F(m), fn)(a, b), [x, t.astype(np.uint8)], device, grad_inputs=[0])


@needs_torch
@pytest.mark.parametrize("weighted", [False, True])
def test_all_targets_ignored_mean_is_nan_like_torch(weighted, device):
    x, t = rand(3, 4), np.full(3, -100)
    if weighted:
        check_torch(lambda m, a, b, c: F(m).cross_entropy(a, b, weight=c), [x, t, rand(4, low=0.5)], device,
                    grad_inputs=[0])
    else:
        check_torch(lambda m, a, b: F(m).cross_entropy(a, b), [x, t], device, grad_inputs=[0])
        check_torch(lambda m, a, b: F(m).cross_entropy(a, b, reduction="sum"), [x, t], device, grad_inputs=[0])


@needs_torch
def test_cross_entropy_is_stable_for_huge_logits(device):
    x = np.array([[1e4, -1e4, 0.0], [-3e4, 3e4, 2e4]], dtype=np.float32)
    out = check_torch(lambda m, a, b: F(m).cross_entropy(a, b, reduction="none"), [x, np.array([1, 2])], device,
                      grad_inputs=[0], rtol=1e-5, atol=1e-3)
    assert np.all(np.isfinite(out[0].detach().cpu().numpy()))


def test_cross_entropy_is_one_fused_op(device):
    x = to_tg(rand(3, 4), device)
    y = L.cross_entropy(x, to_tg(np.array([0, 1, 2]), device), label_smoothing=0.1)
    assert type(y.grad_fn).__name__ == "_IndexClassLoss"  # log-softmax + nll + reduction in one node
    assert y.grad_fn.next_functions[0][0].name() == "AccumulateGrad"  # straight to the leaf x
    y.backward()
    assert x.grad is not None and tuple(x.grad.shape) == (3, 4)


# ---------------------------------------------------------------- gradchecks (float64, double backward)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_gradcheck(reduction, smoothing, device):
    t = np.array([[0, 2], [-100, 1]])
    w = np.array([0.5, 1.5, 2.0])
    check_grad(lambda a: L.cross_entropy(a, to_tg(t, device), weight=to_tg(w, device, False),
                                         reduction=reduction, label_smoothing=smoothing),
               [rand(2, 3, 2)], device)
    p = _probs((3, 4), 1, np.float64)
    check_grad(lambda a, b: L.cross_entropy(a, b, reduction=reduction, label_smoothing=smoothing),
               [rand(3, 4), p], device)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_gradcheck(reduction, device):
    t = np.array([0, 2, 1, -100])
    check_grad(lambda a: L.nll_loss(a, to_tg(t, device), weight=to_tg(np.array([1.0, 2.0, 0.5]), device, False),
                                    reduction=reduction), [rand(4, 3)], device)


# ---------------------------------------------------------------- elementwise losses vs torch
PAIR_LOSSES = {
    "mse_loss": lambda f, a, b, r: f.mse_loss(a, b, reduction=r),
    "l1_loss": lambda f, a, b, r: f.l1_loss(a, b, reduction=r),
    "smooth_l1_loss": lambda f, a, b, r: f.smooth_l1_loss(a, b, reduction=r),
    "smooth_l1_loss_beta0.5": lambda f, a, b, r: f.smooth_l1_loss(a, b, reduction=r, beta=0.5),
    "smooth_l1_loss_beta0": lambda f, a, b, r: f.smooth_l1_loss(a, b, reduction=r, beta=0.0),
    "huber_loss": lambda f, a, b, r: f.huber_loss(a, b, reduction=r),
    "huber_loss_delta2": lambda f, a, b, r: f.huber_loss(a, b, reduction=r, delta=2.0),
    "bce_with_logits": lambda f, a, b, r: f.binary_cross_entropy_with_logits(a, b, reduction=r),
}


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", list(PAIR_LOSSES))
def test_pair_losses_match_torch(name, reduction, dtype, device):
    fn = PAIR_LOSSES[name]
    x = rand(3, 4, dtype=dtype, low=-3, high=3)
    y = rand(3, 4, dtype=dtype) if "bce" not in name else rand(3, 4, dtype=dtype, low=0, high=1)
    check_torch(lambda m, a, b: fn(F(m), a, b, reduction), [x, y], device, grad_inputs=[0, 1], **_tol(dtype))


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_regression_losses_match_torch(reduction, dtype, device):
    x, y, w = rand(3, 4, dtype=dtype), rand(3, 4, dtype=dtype), rand(3, 4, dtype=dtype, low=0.1, high=2)
    for name in ("mse_loss", "l1_loss", "huber_loss"):
        check_torch(lambda m, a, b, c: getattr(F(m), name)(a, b, reduction=reduction, weight=c), [x, y, w], device,
                    grad_inputs=[0, 1], **_tol(dtype))


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_matches_torch(reduction, dtype, device):
    x = rand(4, 3, dtype=dtype, low=0.05, high=0.95)
    y = rand(4, 3, dtype=dtype, low=0, high=1)
    w = rand(3, dtype=dtype, low=0.5, high=2)
    check_torch(lambda m, a, b: F(m).binary_cross_entropy(a, b, reduction=reduction), [x, y], device,
                grad_inputs=[0], **_tol(dtype))
    check_torch(lambda m, a, b, c: F(m).binary_cross_entropy(a, b, weight=c, reduction=reduction), [x, y, w],
                device, grad_inputs=[0], **_tol(dtype))


@needs_torch
def test_binary_cross_entropy_clamps_log_at_minus_100(device):
    x = np.array([0.0, 1.0, 0.0, 1.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    out = check_torch(lambda m, a, b: F(m).binary_cross_entropy(a, b, reduction="none"), [x, y], device,
                      backward=False)
    np.testing.assert_array_equal(out[0].detach().cpu().numpy(), [100.0, 100.0, 0.0, 0.0])


@needs_torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_weights_match_torch(reduction, dtype, device):
    x = rand(4, 3, dtype=dtype, low=-4, high=4)
    y = rand(4, 3, dtype=dtype, low=0, high=1)
    w, pw = rand(3, dtype=dtype, low=0.5, high=2), rand(3, dtype=dtype, low=0.5, high=3)
    check_torch(lambda m, a, b, c, d: F(m).binary_cross_entropy_with_logits(a, b, weight=c, pos_weight=d,
                                                                            reduction=reduction),
                [x, y, w, pw], device, grad_inputs=[0, 1], **_tol(dtype))


@needs_torch
def test_bce_with_logits_is_stable(device):
    x = np.array([-200.0, -50.0, 0.0, 50.0, 200.0], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.5, 1.0, 0.0], dtype=np.float32)
    out = check_torch(lambda m, a, b: F(m).binary_cross_entropy_with_logits(a, b, reduction="none"), [x, y], device,
                      grad_inputs=[0])
    assert np.all(np.isfinite(out[0].detach().cpu().numpy()))


@needs_torch
def test_mse_broadcast_warns_like_torch(device):
    with pytest.warns(UserWarning, match="different to the input size"):
        check_torch(lambda m, a, b: F(m).mse_loss(a, b), [rand(3, 4), rand(4)], device)


# ---------------------------------------------------------------- gradchecks of the elementwise losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", [n for n in PAIR_LOSSES if n != "smooth_l1_loss_beta0"])
def test_pair_losses_gradcheck(name, reduction, device):
    fn = PAIR_LOSSES[name]
    # differences kept away from 0 and the beta/delta kinks, where finite differences straddle a corner
    d = np.array([[-2.6, -1.3, -0.7, -0.3], [0.2, 0.45, 0.8, 1.6]])
    y = rand(2, 4, low=0, high=1)
    check_grad(lambda a, b: fn(L, a, b, reduction), [y + d, y], device)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_gradcheck(reduction, device):
    x, y = rand(3, 2, low=0.1, high=0.9), rand(3, 2, low=0, high=1)
    w = rand(2, low=0.5, high=2)
    check_grad(lambda a: L.binary_cross_entropy(a, to_tg(y, device, False), weight=to_tg(w, device, False),
                                                reduction=reduction), [x], device)
    pw = rand(2, low=0.5, high=2)
    check_grad(lambda a, b: L.binary_cross_entropy_with_logits(a, b, pos_weight=to_tg(pw, device, False),
                                                               reduction=reduction), [rand(3, 2), y], device)


# ---------------------------------------------------------------- errors
def _t(a, device="cpu"):
    return to_tg(np.asarray(a), device, False)


def test_target_out_of_bounds_errors():
    x = _t(rand(2, 10))
    for fn in (L.cross_entropy, L.nll_loss):
        with pytest.raises(IndexError, match=r"Target 10 is out of bounds\. Valid class indices are 0 to 9"):
            fn(x, _t([1, 10]))
        with pytest.raises(IndexError, match="Target -1 is out of bounds"):
            fn(x, _t([-1, 0]))


def test_loss_modules_name_themselves_and_the_shapes_in_errors():
    import tensorgrad.nn as nn
    with pytest.raises(IndexError, match=r"^CrossEntropyLoss\(\): cross_entropy\(\): Target 10 is out of bounds.*"
                                         r"input shape \[2, 10\], target shape \[2\]$"):
        nn.CrossEntropyLoss()(_t(rand(2, 10)), _t([1, 10]))
    with pytest.raises(IndexError, match=r"^NLLLoss\(\): nll_loss\(\): Target 3 is out of bounds.*"
                                         r"input shape \[2, 3, 4\], target shape \[2, 4\]$"):
        nn.NLLLoss()(_t(rand(2, 3, 4)), _t([[0, 1, 2, 3], [0, 0, 0, 0]]))
    with pytest.raises(ValueError, match=r"^BCELoss\(\): .*target size"):
        nn.BCELoss()(_t(rand(2, 3) * 0 + 0.5), _t(rand(3, 3) * 0 + 0.5))


def test_shape_and_dtype_errors():
    x = _t(rand(3, 4))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        L.cross_entropy(x, _t([0, 1]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 3\], got \[2, 2\]"):
        L.cross_entropy(_t(rand(2, 4, 3)), _t(np.zeros((2, 2), dtype=np.int64)))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Int"):
        L.cross_entropy(x, _t(np.array([0, 1, 2], dtype=np.int32)))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Int"):
        L.nll_loss(x, _t(np.array([0, 1, 2], dtype=np.int32)))
    with pytest.raises(RuntimeError, match="class probabilities"):
        L.cross_entropy(x, _t(rand(3)))
    with pytest.raises(RuntimeError, match="floating point type for target with class probabilities"):
        L.cross_entropy(x, _t(np.zeros((3, 4), dtype=np.int64)))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4 classes"):
        L.cross_entropy(x, _t([0, 1, 2]), weight=_t(rand(3)))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        L.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        L.cross_entropy(x, _t([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="floating point input"):
        L.cross_entropy(_t(np.zeros((3, 4), dtype=np.int64)), _t([0, 1, 2]))
    with pytest.raises(ValueError, match="different to the input size"):
        L.binary_cross_entropy(_t(rand(3, low=0.1, high=0.9)), _t(rand(3, 1, low=0, high=1)))
    with pytest.raises(ValueError, match="different to the input size"):
        L.binary_cross_entropy_with_logits(_t(rand(3)), _t(rand(1)))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        L.binary_cross_entropy(_t([0.5, 1.5]), _t([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="negative values for beta"):
        L.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        L.mse_loss(x, x, weight=_t(rand(4)))
    with pytest.raises(TypeError, match="must be a Tensor"):
        L.mse_loss(np.zeros(3), x)


@needs_torch
def test_legacy_size_average_and_reduce(device):
    x, y = rand(3, 4), rand(3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_torch(lambda m, a, b: F(m).mse_loss(a, b, size_average=False), [x, y], device)
        check_torch(lambda m, a, b: F(m).l1_loss(a, b, reduce=False), [x, y], device)


# ---------------------------------------------------------------- nn modules
MODULES = [
    ("CrossEntropyLoss", dict(label_smoothing=0.1), "ce"),
    ("NLLLoss", dict(ignore_index=1), "ce"),
    ("MSELoss", dict(reduction="sum"), "pair"),
    ("L1Loss", dict(reduction="none"), "pair"),
    ("SmoothL1Loss", dict(beta=0.5), "pair"),
    ("HuberLoss", dict(delta=0.7), "pair"),
    ("BCELoss", dict(), "prob"),
    ("BCEWithLogitsLoss", dict(reduction="sum"), "pair01"),
]


@needs_torch
@pytest.mark.parametrize("name,kwargs,kind", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_torch(name, kwargs, kind, device):
    x = rand(4, 3, low=0.05, high=0.95) if kind == "prob" else rand(4, 3)
    if kind == "ce":
        y = np.array([0, 2, 1, 1])
    elif kind in ("prob", "pair01"):
        y = rand(4, 3, low=0, high=1)
    else:
        y = rand(4, 3)
    check_torch(lambda m, a, b: (getattr(NL, name) if m is tg else getattr(torch.nn, name))(**kwargs)(a, b),
                [x, y], device, grad_inputs=[0])


@needs_torch
def test_weighted_modules_register_weight_buffers(device):
    w, pw = rand(3, low=0.5, high=2), rand(3, low=0.5, high=2)
    x, t = rand(4, 3), np.array([0, 2, 1, 1])
    check_torch(lambda m, a, b, c: (NL if m is tg else torch.nn).CrossEntropyLoss(weight=c)(a, b), [x, t, w],
                device, grad_inputs=[0])
    y = rand(4, 3, low=0, high=1)
    check_torch(lambda m, a, b, c, d: (NL if m is tg else torch.nn).BCEWithLogitsLoss(weight=c, pos_weight=d)(a, b),
                [x, y, w, pw], device, grad_inputs=[0])
    mod = NL.BCEWithLogitsLoss(weight=_t(w, device), pos_weight=_t(pw, device))
    assert list(mod.state_dict()) == ["weight", "pos_weight"]
    assert list(NL.CrossEntropyLoss(weight=_t(w, device)).state_dict()) == ["weight"]
    assert list(NL.NLLLoss().state_dict()) == []
    assert NL.MSELoss().reduction == "mean"
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        NL.L1Loss(reduction="bogus")


def test_all_lists_every_public_name():
    assert sorted(L.__all__) == sorted(["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss",
                                        "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"])
    for n in NL.__all__:
        assert isinstance(getattr(NL, n)(), tg.nn.module.Module)


@needs_torch
def test_masked_minus_inf_logits_like_torch(device):
    x = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]])
    t = np.array([0, 1])
    for red in REDUCTIONS:
        check_torch(lambda m, a, b: F(m).cross_entropy(a, b, reduction=red), [x, t], device, grad_inputs=[0])
        check_torch(lambda m, a, b: F(m).nll_loss(a, b, reduction=red), [x, t], device, grad_inputs=[0])
    p = np.array([[0.5, 0.0, 0.5], [0.2, 0.8, 0.0]])  # probability targets: 0 * -inf is nan, as in torch
    check_torch(lambda m, a, b: F(m).cross_entropy(a, b), [x, p], device, backward=False)
