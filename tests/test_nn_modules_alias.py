"""tensorgrad.nn.modules.<file>: torch.nn.modules' package layout over tensorgrad's classes
(torch.nn.modules itself is the oracle for which class lives in which file)."""
from __future__ import annotations

import importlib
from collections import OrderedDict

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn
from oracle import needs_torch, torch

_FILES = ["module", "container", "linear", "conv", "pooling", "batchnorm", "instancenorm", "normalization",
          "dropout", "activation", "loss", "rnn", "sparse", "padding", "pixelshuffle", "transformer", "upsampling",
          "flatten", "fold", "distance", "channelshuffle", "utils"]


def test_import_statements_work():
    import tensorgrad.nn.modules.batchnorm as bn
    from tensorgrad.nn.modules.loss import _Loss, _WeightedLoss
    from tensorgrad.nn.modules.conv import _ConvNd
    from tensorgrad.nn.modules.module import Module
    from tensorgrad.nn.modules.utils import _pair
    assert bn is nn.modules.batchnorm and issubclass(nn.BatchNorm2d, bn._BatchNorm)
    assert issubclass(nn.CrossEntropyLoss, _WeightedLoss) and issubclass(_WeightedLoss, _Loss)
    assert issubclass(nn.Conv2d, _ConvNd) and Module is nn.Module and _pair(3) == (3, 3)
    for name in _FILES:
        assert importlib.import_module(f"tensorgrad.nn.modules.{name}") is getattr(nn.modules, name)


def test_every_nn_class_is_reachable_at_top_level():
    for name in nn.__all__:
        obj = getattr(nn, name)
        if name == "DataParallel":  # torch.nn.DataParallel lives in nn.parallel, not nn.modules
            continue
        if isinstance(obj, type) and issubclass(obj, nn.Module):
            assert getattr(nn.modules, name) is obj, name
    assert nn.modules.activation.MultiheadAttention is nn.MultiheadAttention  # torch keeps it there


def test_freeze_batchnorm_idiom():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(16, 2),
                          nn.BatchNorm1d(2))
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            m.weight.requires_grad_(False)
            m.bias.requires_grad_(False)
    bns = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    assert len(bns) == 2 and all(not m.training and not m.weight.requires_grad for m in bns)
    before = [m.running_mean.tolist() for m in bns]
    model(tg.randn(2, 3, 4, 4)).sum().backward()
    assert [m.running_mean.tolist() for m in bns] == before  # eval BN: running stats untouched
    assert model[0].weight.grad is not None and all(m.weight.grad is None for m in bns)


def test_instancenorm_is_not_a_batchnorm():
    """Both derive from _NormBase, as in torch, so the freeze-BN idiom leaves InstanceNorm alone."""
    assert not isinstance(nn.InstanceNorm2d(3), nn.modules.batchnorm._BatchNorm)
    assert isinstance(nn.InstanceNorm2d(3), nn.modules.batchnorm._NormBase)
    assert isinstance(nn.BatchNorm2d(3), nn.modules.batchnorm._NormBase)


def test_subclassing_private_loss_base():
    class Scaled(nn.modules.loss._Loss):
        def __init__(self, scale, reduction="mean"):
            super().__init__(reduction=reduction)
            self.scale = scale

        def forward(self, x, y):
            return self.scale * nn.functional.l1_loss(x, y, reduction=self.reduction)

    x, y = tg.tensor([1.0, -2.0, 4.0]), tg.tensor([0.0, 0.0, 0.0])
    assert Scaled(2.0)(x, y).item() == pytest.approx(2.0 * 7.0 / 3.0)
    assert Scaled(2.0, reduction="sum")(x, y).item() == pytest.approx(14.0)
    with pytest.raises(ValueError, match="reduction"):
        Scaled(1.0, reduction="bogus")


def test_consume_prefix_in_state_dict():
    sd = OrderedDict([("module.a", 1), ("module.b.c", 2), ("other", 3)])
    nn.modules.utils.consume_prefix_in_state_dict_if_present(sd, "module.")
    assert list(sd) == ["other", "a", "b.c"] and sd["b.c"] == 2


@needs_torch
@pytest.mark.parametrize("name", [f for f in _FILES if f != "utils"])
def test_each_file_holds_torchs_classes(name):
    """Every class torch defines in torch.nn.modules.<name> that tensorgrad has is in the view, as the very
    class tensorgrad.nn exports (classes tensorgrad lacks, e.g. the Lazy* modules, are skipped)."""
    theirs = getattr(torch.nn.modules, name)
    ours = getattr(nn.modules, name)
    torch_classes = [k for k, c in vars(theirs).items()
                     if isinstance(c, type) and issubclass(c, torch.nn.Module) and c.__module__ == theirs.__name__]
    found = [k for k in torch_classes if hasattr(ours, k)]
    assert found, name
    for k in found:
        assert issubclass(getattr(ours, k), nn.Module)
        if hasattr(nn, k):
            assert getattr(ours, k) is getattr(nn, k), (name, k)
    # Public classes tensorgrad exports must never be missing from the file torch keeps them in.
    assert [k for k in torch_classes if hasattr(nn, k) and not hasattr(ours, k)] == []


@needs_torch
def test_utils_parsers_match_torch():
    tu = torch.nn.modules.utils
    ours = nn.modules.utils
    for fn in ("_single", "_pair", "_triple", "_quadruple"):
        for arg in (3, (1, 2), [4, 5, 6]):
            assert getattr(ours, fn)(arg) == getattr(tu, fn)(arg)
    assert ours._reverse_repeat_tuple((1, 2, 3), 2) == tu._reverse_repeat_tuple((1, 2, 3), 2)
    assert ours._list_with_default([None, 5], [1, 2, 3, 4]) == tu._list_with_default([None, 5], [1, 2, 3, 4])
    ours_sd = OrderedDict([("module.w", np.zeros(1)), ("x", 1)])
    torch_sd = OrderedDict([("module.w", np.zeros(1)), ("x", 1)])
    ours.consume_prefix_in_state_dict_if_present(ours_sd, "module.")
    tu.consume_prefix_in_state_dict_if_present(torch_sd, "module.")
    assert list(ours_sd) == list(torch_sd)
