"""ops/gamma.py's public forms (tg.lgamma/digamma/polygamma/mvlgamma and the Tensor methods)
against PyTorch, with float64 gradchecks; tests/test_distributions_extra.py covers the values
across the real line, poles included."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, needs_torch, rand


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
