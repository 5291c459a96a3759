"""tensorgrad.device_checks: checks on NumPy raise at once; on CUDA they are deferred to the next
read of a device value. The pending-list logic is driven here without a GPU by making NumPy
arrays count as deferrable (the module's `_deferrable` hook); the CUDA behaviour of each
converted op is tested in test_cuda_sync.py."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import device_checks as dc


@pytest.fixture
def fake_device(monkeypatch):
    """NumPy arrays take the deferred path, as CuPy arrays do; the pending list starts empty."""
    dc.discard()
    monkeypatch.setattr(dc, "_deferrable", lambda arr: not dc._eager[0])
    yield
    dc.discard()


def _err(msg):
    return lambda: IndexError(msg)


def test_numpy_checks_raise_at_once():
    dc.discard()
    with pytest.raises(IndexError, match="^boom$"):
        dc.check(np.array([False, True]), _err("boom"), "op()")
    dc.check(np.array([False, False]), _err("never"), "op()")
    dc.check(np.zeros((0, 3), bool), _err("never"), "op()")
    with pytest.raises(RuntimeError, match="^bad 7$"):
        dc.check_value(np.array([1, 7, 9]) > 5, np.array([1, 7, 9]), lambda v: RuntimeError(f"bad {v}"), "op()")
    assert dc.pending_count() == 0


def test_make_error_runs_only_when_failing():
    calls = []
    dc.check(np.array([False]), lambda: calls.append(1), "op()")
    dc.check_value(np.array([False]), np.array([3]), lambda v: calls.append(v), "op()")
    assert calls == []


def test_deferred_check_raises_at_flush_with_note(fake_device):
    dc.check(np.array([True, False]), _err("index 5 is out of bounds"), "gather()")
    assert dc.pending_count() == 1
    with pytest.raises(IndexError, match=r"^index 5 is out of bounds \[raised by an earlier call of "
                                         r"gather\(\).*TENSORGRAD_EAGER_CHECKS=1"):
        dc.flush()
    assert dc.pending_count() == 0
    dc.flush()  # raised once, not again


def test_passing_checks_leave_nothing(fake_device):
    for _ in range(5):
        dc.check(np.array([False, False]), _err("never"), "op()")
    assert dc.pending_count() == 5
    dc.flush()
    assert dc.pending_count() == 0


def test_first_failing_check_wins(fake_device):
    dc.check(np.array(False), _err("first"), "a()")
    dc.check(np.array([True]), _err("second"), "b()")
    dc.check(np.array([True]), _err("third"), "c()")
    with pytest.raises(IndexError, match="^second .*earlier call of b\\(\\)"):
        dc.flush()
    assert dc.pending_count() == 0  # the later failures were dropped with it


def test_check_value_names_the_first_offending_value(fake_device):
    t = np.array([[0, 4], [-1, 9]])
    dc.check_value((t < 0) | (t >= 3), t, lambda v: IndexError(f"Target {v} is out of bounds."), "nll_loss()")
    t[...] = 0  # the value was picked when the check was made
    with pytest.raises(IndexError, match="^Target 4 is out of bounds"):
        dc.flush()


def test_folding_past_the_cap_is_bounded_and_still_raises(fake_device, monkeypatch):
    monkeypatch.setattr(dc, "MAX_PENDING", 3)
    for _ in range(3):
        dc.check(np.array([False]), _err("never"), "ok()")
    for i in range(50):
        dc.check(np.array([i == 30]), _err("late"), "index_select()" if i % 2 else "gather()")
    assert len(dc._pending) == 3 and len(dc._folded) == 1
    assert dc.pending_count() == 53
    with pytest.raises(RuntimeError, match=r"failed in one of these calls: .*gather\(\) \(25x\).*"
                                           r"TENSORGRAD_EAGER_CHECKS"):
        dc.flush()
    assert dc.pending_count() == 0


def test_individual_failure_beats_folded_one(fake_device, monkeypatch):
    monkeypatch.setattr(dc, "MAX_PENDING", 2)
    dc.check(np.array([False]), _err("never"), "a()")
    dc.check(np.array([True]), _err("older"), "b()")
    dc.check(np.array([True]), _err("newer"), "c()")  # folded
    with pytest.raises(IndexError, match="^older"):
        dc.flush()


def test_eager_mode_raises_at_the_call_and_flushes_pending(fake_device):
    dc.check(np.array([True]), _err("pending"), "a()")
    with pytest.raises(IndexError, match="^pending"):
        tg.cuda.set_eager_checks(True)  # evaluates what is pending before switching
    try:
        tg.cuda.set_eager_checks(True)
        assert tg.cuda.eager_checks()
        with pytest.raises(IndexError, match="^now$"):
            dc.check(np.array([True]), _err("now"), "a()")
        assert dc.pending_count() == 0
    finally:
        tg.cuda.set_eager_checks(False)
    assert not tg.cuda.eager_checks()


def test_cpu_tensor_reads_do_not_flush(fake_device):
    # pending checks belong to device work: reading a CPU value does not evaluate them
    dc.check(np.array([True]), _err("pending"), "a()")
    t = tg.tensor([1.0])
    assert t.item() == 1.0 and t.tolist() == [1.0] and bool(t) and repr(t)
    assert dc.pending_count() == 1


def test_clamp_index():
    a = np.array([-3, 0, 2, 5])
    assert dc.clamp_index(a, 3).tolist() == [0, 0, 2, 2]


def test_first_true():
    bad = np.array([[False, False], [True, True]])
    assert int(dc.first_true(bad, np.array([[1, 2], [3, 4]]))) == 3
    assert dc.first_true(np.zeros(0, bool), np.zeros(0, int)) is None
