"""rms_norm/RMSNorm, local_response_norm, bilinear/Bilinear, the dropout variants (1-d, 3-d, alpha,
feature alpha), multi_margin/multilabel_margin/triplet_margin_with_distance losses, pdist, Softmax2d
and ctc_loss: PyTorch as the oracle, float64 gradchecks, PyTorch's errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
import tensorgrad.nn.functional as F
from oracle import check_grad, check_torch, needs_torch, torch
from tensorgrad.ops import ctc as C

_rng = np.random.default_rng(23)

# ---------------------------------------------------------------- rms_norm, local_response_norm, bilinear,
# dropout1d/3d and the alpha dropouts, multi-class margin losses, triplet loss with a distance, pdist, Softmax2d.
from tensorgrad.nn.activation import Softmax2d  # noqa: E402
from tensorgrad.nn.dropout import AlphaDropout, Dropout1d, Dropout3d, FeatureAlphaDropout  # noqa: E402
from tensorgrad.nn.linear import Bilinear, bilinear  # noqa: E402
from tensorgrad.nn.loss import (CTCLoss, MultiLabelMarginLoss, MultiMarginLoss,  # noqa: E402
                                TripletMarginWithDistanceLoss)
from tensorgrad.nn.normalization import LocalResponseNorm, RMSNorm  # noqa: E402
from tensorgrad.ops import dropout as D  # noqa: E402
from tensorgrad.ops import loss_extra as X  # noqa: E402
from tensorgrad.ops.norm import local_response_norm, rms_norm  # noqa: E402


def _pick(ours, theirs):
    """fn(module, *tensors) for check_torch: `ours` on tensorgrad tensors, `theirs` (a torch callable) else."""
    return lambda m, *ts: (ours if m is tg else theirs)(*ts)


def _same_error(ours, theirs):
    """Both calls raise, with the same exception type."""
    with pytest.raises(Exception) as a:
        ours()
    with pytest.raises(Exception) as b:
        theirs()
    assert type(a.value) is type(b.value), (a.value, b.value)
    return a.value


@needs_torch
@pytest.mark.parametrize("shape,norm,eps", [((2, 3, 4), (4,), None), ((2, 3, 4), (3, 4), 1e-3), ((5,), (5,), None)])
@pytest.mark.parametrize("weighted", [False, True])
def test_rms_norm_matches_torch(device, shape, norm, eps, weighted):
    arrays = [_rng.normal(size=shape)] + ([_rng.normal(size=norm)] if weighted else [])
    check_torch(_pick(lambda x, w=None: rms_norm(x, norm, w, eps),
                      lambda x, w=None: torch.nn.functional.rms_norm(x, norm, w, eps)), arrays, device)


def test_rms_norm_gradcheck(device):
    check_grad(lambda x, w: rms_norm(x, (3, 4), w, 1e-4), [_rng.normal(size=(2, 3, 4)), _rng.normal(size=(3, 4))],
               device)


@needs_torch
def test_rms_norm_half_errors_and_module():
    x = (_rng.normal(size=(4, 6)) * 1e-2).astype(np.float16)  # small values: eps matters
    ours, theirs = rms_norm(tg.tensor(x), (6,)), torch.nn.functional.rms_norm(torch.tensor(x), (6,))
    assert ours.dtype == tg.float16
    np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.numpy().astype(np.float64), rtol=2e-3, atol=1e-3)
    _same_error(lambda: rms_norm(tg.zeros(2, 3), (4,)), lambda: torch.nn.functional.rms_norm(torch.zeros(2, 3), (4,)))
    _same_error(lambda: rms_norm(tg.zeros(2, 3), (3,), tg.ones(2)),
                lambda: torch.nn.functional.rms_norm(torch.zeros(2, 3), (3,), torch.ones(2)))
    for args, kw in (((4,), {}), (([3, 4],), {"eps": 1e-5, "elementwise_affine": False})):
        m, t = RMSNorm(*args, **kw), torch.nn.RMSNorm(*args, **kw)
        assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict())
    m, t = RMSNorm((3, 4)), torch.nn.RMSNorm((3, 4))
    w = _rng.normal(size=(3, 4))
    with tg.no_grad():
        m.weight.copy_(tg.tensor(w))
    with torch.no_grad():
        t.weight.copy_(torch.tensor(w))
    x = _rng.normal(size=(2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(m(tg.tensor(x)).detach().numpy(), t(torch.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)


@needs_torch
@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 6, 3, 2), (1, 4, 2, 2, 3)])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_local_response_norm_matches_torch(device, shape, size):
    check_torch(_pick(lambda x: local_response_norm(x, size, 0.1, 0.6, 1.5),
                      lambda x: torch.nn.functional.local_response_norm(x, size, 0.1, 0.6, 1.5)),
                [_rng.normal(size=shape)], device)


@needs_torch
def test_local_response_norm_gradcheck_module_and_errors(device):
    check_grad(lambda x: local_response_norm(x, 3, 0.2, 0.75, 1.0), [_rng.normal(size=(2, 4, 3))], device)
    assert repr(LocalResponseNorm(2)) == repr(torch.nn.LocalResponseNorm(2))
    x = _rng.normal(size=(2, 5, 4))
    np.testing.assert_allclose(LocalResponseNorm(3, k=2.0)(tg.tensor(x)).numpy(),
                               torch.nn.LocalResponseNorm(3, k=2.0)(torch.tensor(x)).numpy(), rtol=1e-6)
    _same_error(lambda: local_response_norm(tg.zeros(2, 3), 2),
                lambda: torch.nn.functional.local_response_norm(torch.zeros(2, 3), 2))


@needs_torch
@pytest.mark.parametrize("lead,bias", [((2,), True), ((2, 3), False), ((), True)])
def test_bilinear_matches_torch(device, lead, bias):
    arrays = [_rng.normal(size=lead + (3,)), _rng.normal(size=lead + (4,)), _rng.normal(size=(5, 3, 4))]
    arrays += [_rng.normal(size=5)] if bias else []
    check_torch(_pick(bilinear, torch.nn.functional.bilinear), arrays, device)


def test_bilinear_gradcheck(device):
    check_grad(bilinear, [_rng.normal(size=(2, 3)), _rng.normal(size=(2, 2)), _rng.normal(size=(4, 3, 2)),
                          _rng.normal(size=4)], device)


@needs_torch
@pytest.mark.parametrize("s1,s2,sw,sb", [((2, 3), (2, 4), (5, 3, 5), None), ((2, 3), (3, 4), (5, 3, 4), None),
                                         ((2, 3), (2, 4), (5, 3, 4), (4,))])
def test_bilinear_errors_match_torch(s1, s2, sw, sb):
    args = [s1, s2, sw] + ([sb] if sb else [])
    err = _same_error(lambda: bilinear(*[tg.zeros(*s) for s in args]),
                      lambda: torch.nn.functional.bilinear(*[torch.zeros(*s) for s in args]))
    assert "bilinear()" in str(err)


@needs_torch
def test_bilinear_module_init_and_repr():
    m, t = Bilinear(20, 3, 40), torch.nn.Bilinear(20, 3, 40)
    assert repr(m) == repr(t) and list(m.state_dict()) == list(t.state_dict())
    assert tuple(m.weight.shape) == tuple(t.weight.shape) and tuple(m.bias.shape) == (40,)
    bound = 1 / np.sqrt(20)  # torch's init: uniform in +-1/sqrt(in1_features), weight and bias
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    assert Bilinear(2, 3, 4, bias=False).bias is None
    x1, x2 = _rng.normal(size=(5, 20)).astype(np.float32), _rng.normal(size=(5, 3)).astype(np.float32)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(w))
        t.bias.copy_(torch.tensor(m.bias.detach().numpy()))
    np.testing.assert_allclose(m(tg.tensor(x1), tg.tensor(x2)).detach().numpy(),
                               t(torch.tensor(x1), torch.tensor(x2)).detach().numpy(), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- dropout variants
def _channel_mask(y, x, lead):
    """Checks that y is x times a per-(first `lead` dims) mask of 0 or 1/(1-p); returns that mask."""
    y, x = y.detach().cpu().numpy(), x.detach().cpu().numpy()
    ratio = (y.reshape(int(np.prod(y.shape[:lead])), -1) / x.reshape(int(np.prod(x.shape[:lead])), -1))
    assert np.allclose(ratio, ratio[:, :1]), "the mask is not constant within a channel"
    return ratio[:, 0]


@pytest.mark.parametrize("fn,shape,lead", [(D.dropout1d, (40, 50, 6), 2), (D.dropout1d, (400, 6), 1),
                                           (D.dropout3d, (30, 40, 2, 2, 3), 2), (D.dropout3d, (400, 2, 2, 3), 1)])
def test_channel_dropouts_drop_whole_channels(device, fn, shape, lead):
    x = tg.tensor(_rng.uniform(1, 2, size=shape), device=device)
    mask = _channel_mask(fn(x, 0.3, True), x, lead)
    assert set(np.round(mask, 6)) <= {0.0, round(1 / 0.7, 6)}
    assert abs((mask == 0).mean() - 0.3) < 0.06  # 400+ channels: the drop rate is p
    assert fn(x, 0.3, False) is x and fn(x, 0.0, True) is x
    assert float(fn(x, 1.0, True).abs().sum()) == 0


@needs_torch
def test_channel_dropout_modules_errors_and_grad():
    for ours, theirs, shape in ((Dropout1d(0.2), torch.nn.Dropout1d(0.2), (2, 3, 4)),
                                (Dropout3d(), torch.nn.Dropout3d(), (2, 3, 4, 2, 2)),
                                (AlphaDropout(0.1), torch.nn.AlphaDropout(0.1), (2, 3)),
                                (FeatureAlphaDropout(), torch.nn.FeatureAlphaDropout(), (2, 3, 4))):
        assert repr(ours) == repr(theirs)
        x = tg.randn(*shape)
        assert ours(x) is not x and ours.eval()(x) is x  # training mode draws a mask; eval mode: the identity
    _same_error(lambda: D.dropout1d(tg.zeros(2, 3, 4, 5)),
                lambda: torch.nn.functional.dropout1d(torch.zeros(2, 3, 4, 5)))
    _same_error(lambda: D.dropout1d(tg.zeros(2, 3, dtype=tg.int64)),
                lambda: torch.nn.functional.dropout1d(torch.zeros(2, 3, dtype=torch.int64)))
    _same_error(lambda: D.alpha_dropout(tg.zeros(2), 1.5),
                lambda: torch.nn.functional.alpha_dropout(torch.zeros(2), 1.5))
    _same_error(lambda: D.feature_alpha_dropout(tg.zeros(5), 0.5, True),
                lambda: torch.nn.functional.feature_alpha_dropout(torch.zeros(5), 0.5, True))
    with pytest.warns(UserWarning, match="dropout3d"):
        D.dropout3d(tg.ones(2, 3, 4), 0.5, True)
    x = tg.tensor(_rng.uniform(1, 2, size=(20, 30, 4)), requires_grad=True)
    y = D.dropout1d(x, 0.4, True)
    y.backward(tg.ones_like(y))
    np.testing.assert_allclose(x.grad.numpy(), (y / x).detach().numpy())  # d y / d x = the mask


def _affine_of(y, x):
    """(scale, shift, dropped value) of an alpha-dropout output y = where(kept, scale * x + shift, dropped)."""
    vals, counts = np.unique(np.round(y, 10), return_counts=True)
    dropped_value = vals[counts.argmax()]
    kept = np.abs(y - dropped_value) > 1e-9
    scale, shift = np.polyfit(x[kept], y[kept], 1)
    assert np.allclose(scale * x[kept] + shift, y[kept])
    return scale, shift, dropped_value, kept


@needs_torch
@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_matches_torch_affine_map_and_keeps_moments(device, p):
    x = _rng.normal(size=(200, 500))
    y = D.alpha_dropout(tg.tensor(x, device=device), p, True).cpu().numpy()
    ours = _affine_of(y, x)
    theirs = _affine_of(torch.nn.functional.alpha_dropout(torch.tensor(x), p, True).numpy(), x)
    np.testing.assert_allclose(ours[:3], theirs[:3], rtol=1e-9)  # the same map and dropped value as PyTorch
    assert abs((~ours[3]).mean() - p) < 0.01
    assert abs(y.mean()) < 0.02 and abs(y.var() - 1) < 0.03  # N(0, 1) in, mean 0 and variance 1 out (documented)
    xt = tg.tensor(x, device=device, requires_grad=True)
    tg.manual_seed(3)
    out = D.alpha_dropout(xt, p, True)
    out.sum().backward()
    scale, _, _, kept = _affine_of(out.detach().cpu().numpy(), x)
    np.testing.assert_allclose(xt.grad.cpu().numpy(), np.where(kept, scale, 0.0), atol=1e-12)


@needs_torch
def test_feature_alpha_dropout_per_channel_and_moments(device):
    x = _rng.normal(size=(100, 60, 50))
    y = D.feature_alpha_dropout(tg.tensor(x, device=device), 0.3, True).cpu().numpy()
    scale, shift, dropped, kept = _affine_of(y, x)
    assert np.all(kept == kept[:, :, :1])  # one draw per (sample, channel)
    theirs = _affine_of(torch.nn.functional.feature_alpha_dropout(torch.tensor(x), 0.3, True).numpy(), x)
    np.testing.assert_allclose((scale, shift, dropped), theirs[:3], rtol=1e-9)
    assert abs(y.mean()) < 0.03 and abs(y.var() - 1) < 0.05
    assert float(D.alpha_dropout(tg.ones(3), 1.0, True).abs().sum()) == 0  # p=1: zeros, as PyTorch


def test_alpha_dropout_gradcheck_inplace_and_seed(device):
    def fn(t):
        tg.manual_seed(7)  # the same mask for every evaluation of the finite differences
        return D.alpha_dropout(t, 0.3, True) * 1.0
    check_grad(fn, [_rng.normal(size=(3, 4))], device)
    tg.manual_seed(11)
    a = D.feature_alpha_dropout(tg.ones(4, 5, 2, device=device), 0.5, True)
    tg.manual_seed(11)
    b = tg.ones(4, 5, 2, device=device)
    assert D.feature_alpha_dropout(b, 0.5, True, inplace=True) is b
    np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())


# ---------------------------------------------------------------- margin losses, pdist, Softmax2d
_T = torch.nn.functional if torch is not None else None


@needs_torch
@pytest.mark.parametrize("p,margin,weighted", [(1, 1.0, False), (2, 0.5, True), (1, 2.0, True)])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multi_margin_loss_matches_torch(device, p, margin, weighted, reduction):
    arrays = [_rng.normal(size=(6, 4)), np.array([0, 3, 2, 2, 1, 0])]
    arrays += [_rng.uniform(0.5, 2, size=4)] if weighted else []
    kw = dict(p=p, margin=margin, reduction=reduction)
    check_torch(_pick(lambda x, t, w=None: X.multi_margin_loss(x, t, weight=w, **kw),
                      lambda x, t, w=None: _T.multi_margin_loss(x, t, weight=w, **kw)), arrays, device,
                grad_inputs=[0])
    for target in (np.array(2), np.array([1])):  # unbatched input: a 0-d or one-entry target
        check_torch(_pick(lambda x, t: X.multi_margin_loss(x, t, **kw), lambda x, t: _T.multi_margin_loss(x, t, **kw)),
                    [_rng.normal(size=4), target], device)


def test_multi_margin_loss_gradcheck(device):
    check_grad(lambda x: X.multi_margin_loss(x, tg.tensor([1, 0, 2], device=device), p=2, margin=1.5,
                                             weight=tg.tensor([1.0, 2.0, 0.5], device=device)),
               [_rng.normal(size=(3, 3))], device)


@needs_torch
@pytest.mark.parametrize("case", ["p", "range", "weight", "tsize", "3d", "float_target"])
def test_multi_margin_loss_errors_match_torch(case):
    x, t, kw = np.zeros((2, 3)), np.array([0, 1]), {}
    if case == "p":
        kw = {"p": 3}
    elif case == "range":
        t = np.array([0, 3])
    elif case == "weight":
        kw = {"weight": "w"}
    elif case == "tsize":
        t = np.array([0, 1, 1])
    elif case == "3d":
        x = np.zeros((2, 3, 4))
    ours_t = tg.tensor(t).float() if case == "float_target" else tg.tensor(t)
    theirs_t = torch.tensor(t).float() if case == "float_target" else torch.tensor(t)
    ok, tk = dict(kw), dict(kw)
    if case == "weight":
        ok["weight"], tk["weight"] = tg.ones(2), torch.ones(2)
    err = _same_error(lambda: X.multi_margin_loss(tg.tensor(x), ours_t, **ok),
                      lambda: _T.multi_margin_loss(torch.tensor(x), theirs_t, **tk))
    assert "multi_margin_loss" in str(err)


@needs_torch
def test_multi_margin_loss_module():
    w = _rng.uniform(0.5, 2, size=4)
    ours, theirs = MultiMarginLoss(p=2, weight=tg.tensor(w)), torch.nn.MultiMarginLoss(p=2, weight=torch.tensor(w))
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    x, t = _rng.normal(size=(5, 4)), np.array([0, 1, 2, 3, 3])
    np.testing.assert_allclose(ours(tg.tensor(x), tg.tensor(t)).numpy(),
                               theirs(torch.tensor(x), torch.tensor(t)).numpy(), rtol=1e-10)
    _same_error(lambda: MultiMarginLoss(p=3), lambda: torch.nn.MultiMarginLoss(p=3))


_ML_TARGETS = np.array([[0, 3, -1, 1, 2], [4, 4, -1, 0, 0], [-1, 1, 2, 3, 4], [0, 1, 2, 3, 4], [2, 1, 0, -1, -1]])


@needs_torch
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multilabel_margin_loss_matches_torch(device, reduction):
    # targets read up to the first -1, with a repeated class, an empty set and a full set
    check_torch(_pick(lambda x, t: X.multilabel_margin_loss(x, t, reduction=reduction),
                      lambda x, t: _T.multilabel_margin_loss(x, t, reduction=reduction)),
                [_rng.normal(size=(5, 5)), _ML_TARGETS], device)
    check_torch(_pick(lambda x, t: X.multilabel_margin_loss(x, t, reduction=reduction),
                      lambda x, t: _T.multilabel_margin_loss(x, t, reduction=reduction)),
                [_rng.normal(size=4), np.array([3, 0, -1, 2])], device)


@needs_torch
def test_multilabel_margin_loss_gradcheck_module_and_errors(device):
    check_grad(lambda x: X.multilabel_margin_loss(x, tg.tensor(_ML_TARGETS[:3, :5], device=device)),
               [_rng.normal(size=(3, 5))], device)
    assert repr(MultiLabelMarginLoss()) == repr(torch.nn.MultiLabelMarginLoss())
    x = _rng.normal(size=(5, 5))
    np.testing.assert_allclose(MultiLabelMarginLoss(reduction="sum")(tg.tensor(x), tg.tensor(_ML_TARGETS)).numpy(),
                               torch.nn.MultiLabelMarginLoss(reduction="sum")(torch.tensor(x),
                                                                              torch.tensor(_ML_TARGETS)).numpy())
    for t in (np.array([[0, 3, -1], [1, -1, 0]]), np.array([[0, 1], [1, -1]]), np.array([[0, -2, 1], [1, 0, 2]])):
        _same_error(lambda: X.multilabel_margin_loss(tg.zeros(2, 3), tg.tensor(t)),
                    lambda: _T.multilabel_margin_loss(torch.zeros(2, 3), torch.tensor(t)))


def _cos_distance(m):
    return lambda a, b: 1 - m.nn.functional.cosine_similarity(a, b, dim=-1) if m is torch else \
        1 - F.cosine_similarity(a, b, dim=-1)


@needs_torch
@pytest.mark.parametrize("distance", [None, "cosine"])
@pytest.mark.parametrize("swap,reduction", [(False, "mean"), (True, "none"), (True, "sum")])
def test_triplet_margin_with_distance_loss_matches_torch(device, distance, swap, reduction):
    def fn(m, a, p, n):
        kw = dict(distance_function=None if distance is None else _cos_distance(m), margin=0.8, swap=swap,
                  reduction=reduction)
        return (X.triplet_margin_with_distance_loss if m is tg else _T.triplet_margin_with_distance_loss)(a, p, n, **kw)
    check_torch(fn, [_rng.normal(size=(6, 4)) for _ in range(3)], device)


@needs_torch
def test_triplet_margin_with_distance_loss_gradcheck_module_and_errors(device):
    check_grad(lambda a, p, n: X.triplet_margin_with_distance_loss(a, p, n, margin=2.0, swap=True),
               [_rng.normal(size=(3, 4)) for _ in range(3)], device)
    assert repr(TripletMarginWithDistanceLoss()) == repr(torch.nn.TripletMarginWithDistanceLoss())
    ours = TripletMarginWithDistanceLoss(distance_function=_cos_distance(tg), swap=True)
    theirs = torch.nn.TripletMarginWithDistanceLoss(distance_function=_cos_distance(torch), swap=True)
    abc = [_rng.normal(size=(5, 3)) for _ in range(3)]
    np.testing.assert_allclose(ours(*map(tg.tensor, abc)).numpy(), theirs(*map(torch.tensor, abc)).numpy(), rtol=1e-10)
    _same_error(lambda: TripletMarginWithDistanceLoss(margin=0),
                lambda: torch.nn.TripletMarginWithDistanceLoss(margin=0))
    _same_error(lambda: X.triplet_margin_with_distance_loss(tg.zeros(2, 3), tg.zeros(2, 3), tg.zeros(3)),
                lambda: _T.triplet_margin_with_distance_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3)))
    _same_error(lambda: X.triplet_margin_with_distance_loss(tg.zeros(2, 3), tg.zeros(2, 3), tg.zeros(2, 3),
                                                            reduction="x"),
                lambda: _T.triplet_margin_with_distance_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3),
                                                             reduction="x"))


@needs_torch
@pytest.mark.parametrize("p", [2, 1, 0.5, 3, float("inf"), 0])
def test_pdist_matches_torch(device, p):
    check_torch(_pick(lambda x: X.pdist(x, p), lambda x: _T.pdist(x, p)), [_rng.normal(size=(5, 3))], device)


@needs_torch
def test_pdist_gradcheck_zero_distance_and_errors(device):
    check_grad(lambda x: X.pdist(x), [_rng.normal(size=(4, 3))], device)
    check_grad(lambda x: X.pdist(x, 3), [_rng.normal(size=(4, 3))], device)
    x = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, -1.0]])  # two equal rows: a zero distance, gradient 0 there
    check_torch(_pick(X.pdist, _T.pdist), [x], device)
    assert tuple(X.pdist(tg.zeros(1, 3)).shape) == (0,)
    for shape, p in (((2, 3, 4), 2), ((3, 4), -1)):
        _same_error(lambda: X.pdist(tg.zeros(*shape), p), lambda: _T.pdist(torch.zeros(*shape), p))


@needs_torch
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 2, 2)])
def test_softmax2d_matches_torch(device, shape):
    check_torch(_pick(Softmax2d(), torch.nn.Softmax2d()), [_rng.normal(size=shape)], device)
    assert repr(Softmax2d()) == repr(torch.nn.Softmax2d())
    _same_error(lambda: Softmax2d()(tg.zeros(2, 3)), lambda: torch.nn.Softmax2d()(torch.zeros(2, 3)))


# ---------------------------------------------------------------- ctc_loss
_CTC_TARGETS = np.array([[1, 2, 2], [3, 1, 0], [4, 4, 4], [2, 0, 0]])  # a repeat, padding, all-same, one label
_CTC_IN, _CTC_TL = [8, 6, 7, 1], [3, 2, 3, 1]


def _log_softmax_input(shape):
    x = _rng.normal(size=shape)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@needs_torch
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("concatenated", [False, True])
def test_ctc_loss_matches_torch(device, reduction, concatenated):
    tgt = np.concatenate([r[:n] for r, n in zip(_CTC_TARGETS, _CTC_TL)]) if concatenated else _CTC_TARGETS
    # torch's gradient for log_probs is the logits' gradient of a log_softmax (CTC's docstring says why)
    check_torch(lambda m, lp, t: (C.ctc_loss if m is tg else _T.ctc_loss)(lp, t, _CTC_IN, _CTC_TL, reduction=reduction),
                [_log_softmax_input((8, 4, 5)), tgt], device)


@needs_torch
def test_ctc_loss_unbatched_blank_zero_infinity_and_module(device):
    check_torch(lambda m, lp, t: (C.ctc_loss if m is tg else _T.ctc_loss)(lp, t, (6,), (3,), blank=2, reduction="none"),
                [_log_softmax_input((6, 4)), np.array([1, 0, 3])], device)
    # sample 0 cannot emit "1 1" in 2 steps (a blank must separate the repeat): an infinite loss
    tgt, lens = np.array([[1, 1], [3, 2]]), ([2, 5], [2, 2])
    for zi in (False, True):
        check_torch(lambda m, lp, t: (C.ctc_loss if m is tg else _T.ctc_loss)(lp, t, *lens, reduction="none",
                                                                              zero_infinity=zi),
                    [_log_softmax_input((5, 2, 4)), tgt], device, backward=zi)
    ours, theirs = CTCLoss(blank=1, zero_infinity=True), torch.nn.CTCLoss(blank=1, zero_infinity=True)
    assert repr(ours) == repr(theirs)
    lp = _log_softmax_input((8, 4, 5))
    t = np.where(_CTC_TARGETS == 1, 0, _CTC_TARGETS)  # no label is the blank (1)
    np.testing.assert_allclose(ours(tg.tensor(lp), tg.tensor(t), tg.tensor(_CTC_IN), tg.tensor(_CTC_TL)).numpy(),
                               theirs(torch.tensor(lp), torch.tensor(t), torch.tensor(_CTC_IN),
                                      torch.tensor(_CTC_TL)).numpy(), rtol=1e-10)


def test_ctc_loss_gradcheck_through_log_softmax(device):
    tgt = tg.tensor(_CTC_TARGETS, device=device)
    check_grad(lambda x: C.ctc_loss(x.log_softmax(-1), tgt, _CTC_IN, _CTC_TL, reduction="sum"),
               [_rng.normal(size=(8, 4, 5))], device, double=False)
    x = tg.tensor(_log_softmax_input((8, 4, 5)), device=device, requires_grad=True)
    (g,) = tg.autograd.grad(C.ctc_loss(x, tgt, _CTC_IN, _CTC_TL), [x], create_graph=True)
    with pytest.raises(NotImplementedError, match="ctc_loss"):
        g.sum().backward()


@needs_torch
@pytest.mark.parametrize("case", ["in_len", "n_in", "n_tgt", "short_targets", "blank", "4d"])
def test_ctc_loss_errors_match_torch(case):
    lp, tgt, il, tl, kw = np.zeros((5, 2, 4)), np.array([[1, 2], [3, 3]]), [5, 5], [2, 2], {}
    if case == "in_len":
        il = [6, 5]
    elif case == "n_in":
        il = [5, 5, 5]
    elif case == "n_tgt":
        tl = [2]
    elif case == "short_targets":
        tl = [2, 3]
    elif case == "blank":
        kw = {"blank": 4}
    else:
        lp = np.zeros((2, 5, 2, 4))
    err = _same_error(lambda: C.ctc_loss(tg.tensor(lp), tg.tensor(tgt), il, tl, **kw),
                      lambda: _T.ctc_loss(torch.tensor(lp), torch.tensor(tgt), il, tl, **kw))
    assert "ctc_loss" in str(err)


@needs_torch
@pytest.mark.parametrize("case", ["all_targets_empty", "no_input_steps", "no_input_empty_target"])
def test_ctc_loss_edge_lengths_match_torch(case):
    lp = np.log(_rng.dirichlet(np.ones(4), size=(5, 2)))
    tgt, il, tl = {"all_targets_empty": (np.zeros((2, 0), np.int64), (5, 5), (0, 0)),
                   "no_input_steps": (np.array([[1, 2], [1, 1]]), (0, 5), (2, 2)),
                   "no_input_empty_target": (np.array([[1, 2], [1, 1]]), (3, 0), (0, 0))}[case]
    check_torch(lambda m, x: (C.ctc_loss if m is tg else torch.nn.functional.ctc_loss)(
        x, m.tensor(tgt), il, tl, reduction="none"), [lp], "cpu", rtol=1e-6, atol=1e-8)


def test_ctc_loss_refuses_extra_concatenated_targets():
    lp = tg.tensor(np.log(_rng.dirichlet(np.ones(4), size=(5, 2))))
    with pytest.raises(RuntimeError, match="Expected tensor to have size 3 at dimension 0"):
        C.ctc_loss(lp, tg.tensor([1, 2, 3, 1]), (5, 5), (2, 1))
