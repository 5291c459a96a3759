"""autograd.detect_anomaly / set_detect_anomaly: the first backward step that yields NaN raises,
naming the op as PyTorch does and showing the forward call that recorded it; modes nest and
restore; off by default."""
from __future__ import annotations

import warnings

import pytest

import tensorgrad as tg
from oracle import needs_torch, torch


def _nan_backward(m):
    x = m.tensor([0.0, 1.0], requires_grad=True)
    y = (x.sqrt() * 0).sum()          # sqrt'(0) = inf, times 0: NaN in SqrtBackward0's result
    return x, y


@needs_torch
def test_raises_at_the_op_that_made_nan_like_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tg.autograd.detect_anomaly():
            x, y = _nan_backward(tg)
            with pytest.raises(RuntimeError) as ours:
                y.backward()
        with torch.autograd.detect_anomaly():
            _, y2 = _nan_backward(torch)
            with pytest.raises(RuntimeError) as theirs:
                y2.backward()
    assert str(ours.value).splitlines()[0] == str(theirs.value).splitlines()[0]
    assert "_nan_backward" in str(ours.value) and "x.sqrt()" in str(ours.value)   # the forward's stack


def test_modes_are_off_by_default_and_restore():
    assert not tg.autograd.is_anomaly_enabled()
    _, y = _nan_backward(tg)
    y.backward()                                                    # no check: the NaN gradient lands
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        with tg.autograd.detect_anomaly(check_nan=False):
            assert tg.autograd.is_anomaly_enabled() and not tg.autograd.is_anomaly_check_nan_enabled()
            _, y = _nan_backward(tg)
            y.backward()                                            # stacks kept, NaN not checked
    assert not tg.autograd.is_anomaly_enabled() and tg.autograd.is_anomaly_check_nan_enabled()
    tg.autograd.set_detect_anomaly(True)
    try:
        _, y = _nan_backward(tg)
        with pytest.raises(RuntimeError, match="SqrtBackward0"):
            y.backward()
    finally:
        tg.autograd.set_detect_anomaly(False)
    with tg.autograd.set_detect_anomaly(True):
        assert tg.autograd.is_anomaly_enabled()
    assert not tg.autograd.is_anomaly_enabled()


def test_clean_backward_and_decorator():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        @tg.autograd.detect_anomaly()
        def step():
            w = tg.tensor([1.0, 2.0], requires_grad=True)
            (w * w).sum().backward()
            return w.grad
    assert step().tolist() == [2.0, 4.0] and not tg.autograd.is_anomaly_enabled()
