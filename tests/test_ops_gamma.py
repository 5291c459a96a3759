"""ops/gamma.py's public forms (tg.lgamma/digamma/polygamma/mvlgamma and the Tensor methods)
against PyTorch, with float64 gradchecks; tests/test_distributions_extra.py covers the values
across the real line, poles included."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch, rand, torch


def _pos(*shape):
    return rand(*shape, low=0.3, high=5.0)


@needs_torch
@pytest.mark.parametrize("name", ["lgamma", "digamma", "polygamma1", "polygamma3", "mvlgamma2", "mvlgamma4"])
def test_functions_and_methods_match_torch(name, device):
    fns = {"lgamma": lambda m, x: m.lgamma(x) + x.lgamma(),
           "digamma": lambda m, x: m.digamma(x) + x.digamma(),
           "polygamma1": lambda m, x: m.polygamma(1, x) + x.polygamma(1),
           "polygamma3": lambda m, x: m.polygamma(3, x),
           "mvlgamma2": lambda m, x: m.mvlgamma(x + 1, 2) + (x + 1).mvlgamma(p=2),
           "mvlgamma4": lambda m, x: m.mvlgamma(x + 2, 4)}
    check_torch(fns[name], [_pos(3, 4)], device, rtol=1e-7, atol=1e-9)


@needs_torch
@pytest.mark.parametrize("name", ["lgamma", "digamma", "polygamma1"])
def test_zero_dim_inputs_match_torch(name, device):
    fns = {"lgamma": lambda m, x: m.lgamma(x), "digamma": lambda m, x: m.digamma(x),
           "polygamma1": lambda m, x: m.polygamma(1, x)}
    check_torch(fns[name], [np.array(2.5)], device, rtol=1e-7, atol=1e-9)


def test_gradients_numerically(device):
    check_grad(lambda x: tg.lgamma(x) * tg.digamma(x) + tg.mvlgamma(x + 2, 3), [_pos(5)], device)


def test_mvlgamma_errors_say_what_is_valid():
    with pytest.raises(RuntimeError, match=r"mvlgamma\(\): all elements must be greater than \(p-1\)/2 = 1.0"):
        tg.mvlgamma(tg.tensor([0.5, 3.0]), 3)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        tg.mvlgamma(tg.tensor([2.0]), 0)
    with pytest.raises(RuntimeError, match="polygamma"):
        tg.polygamma(-1, tg.tensor([1.0]))
    assert np.isinf(tg.lgamma(tg.tensor([0.0, -1.0])).numpy()).all()


@needs_torch
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_polygamma_on_the_whole_line_matches_torch(n, device):
    """Negative x reflects (a fixed-length recurrence: -inf and -1e5 used to loop for ever or for
    1e5 steps); poles, infinities and NaN take PyTorch's values."""
    x = np.array([-1e5 - 0.3, -30.25, -7.9, -2.5, -1.7, -0.3, 0.2, 0.5, 2.5, 17.3, 1e6,
                  -3.0, -1.0, 0.0, np.inf, -np.inf, np.nan])
    ours = tg.polygamma(n, tg.tensor(x, device=device)).cpu().numpy()
    ref = torch.polygamma(n, torch.tensor(x)).numpy()
    pole = np.isfinite(x) & (x <= 0) & (x == np.floor(x))
    if n == 1:  # torch's trigamma gives a huge finite number at the negative poles (tan(pi x) is not 0)
        assert np.all(ours[pole] == np.inf) and np.all(ref[pole] > 1e30)
        ours, ref = ours[~pole], ref[~pole]
    np.testing.assert_allclose(ours, ref, rtol=1e-9, equal_nan=True)


@needs_torch
def test_digamma_gradient_at_minus_infinity_finishes_as_torchs():
    for m in (tg, torch):
        x = m.tensor([-np.inf, -1e9 - 0.5, 2.0], dtype=m.float64, requires_grad=True)
        x.digamma().sum().backward()
        if m is tg:
            ours = x.grad.numpy()
        else:
            np.testing.assert_allclose(ours, x.grad.numpy(), rtol=1e-6, equal_nan=True)


@needs_torch
def test_digamma_far_left_and_at_signed_zero_matches_torch():
    x = np.array([-1e15 - 0.5, -1e14 - 0.25, -1e5 - 0.3, -7.9, -0.0, 0.0, -3.0, np.inf, -np.inf, np.nan])
    np.testing.assert_allclose(tg.digamma(tg.tensor(x)).numpy(), torch.digamma(torch.tensor(x)).numpy(),
                               rtol=1e-12, equal_nan=True)
