"""Validity checks on device data that do not synchronize with the host.

Some checks need a value computed from the data: an index out of bounds, an integer division
by zero, a class target out of range. On the CPU reading that value is free, so the check runs
at once. On CUDA reading it means waiting for every queued kernel (a device-to-host copy), which
would stall a training step at each such op. So on CUDA a check only queues its reduction
(`bad.any()`, a 0-d array that stays on the device) and is evaluated later, at the next point
where the user reads a value from the device anyway: Tensor.item/tolist/numpy/repr/bool/float/
int/index, a copy to the CPU, tensorgrad.cuda.synchronize. All pending checks are then read
with one stacked reduction and one small transfer per device, and the first one that failed
raises its error there, saying which earlier op it came from.

An op whose check is deferred must keep memory and the graph sound until then: it clamps
indices into range (`clamp_index`) so that gathers and scatters stay in bounds, and its output
is garbage only where the input was invalid anyway.

Debugging: TENSORGRAD_EAGER_CHECKS=1 in the environment, or tensorgrad.cuda.set_eager_checks(True),
makes CUDA checks synchronize and raise at the failing call, as on the CPU.

Usage from an op (`t` a NumPy or CuPy array)::

    device_checks.check(t == 0, lambda: RuntimeError("division by zero"), "div()")
    device_checks.check_value((t < 0) | (t >= n), t,
                              lambda v: IndexError(f"Target {v} is out of bounds."), "nll_loss()")
"""
from __future__ import annotations

import os

import numpy as np

MAX_PENDING = 256  # checks kept one by one; later ones are folded into one flag per device

_eager = [os.environ.get("TENSORGRAD_EAGER_CHECKS", "0") not in ("", "0")]
_pending: list = []   # (0-d device bool array, make_error, op), oldest first
_folded: dict = {}    # device key -> [accumulated 0-d flag, {op: count}] for checks past MAX_PENDING


def set_eager(enabled: bool) -> None:
    """Check CUDA data at once (synchronizing) instead of at the next read; pending checks are
    evaluated first, so none is lost."""
    if enabled:
        flush()
    _eager[0] = bool(enabled)


def is_eager() -> bool:
    return _eager[0]


def _deferrable(arr) -> bool:
    """Whether a check on `arr` is deferred: device (CuPy) arrays unless eager checking is on.
    Tests replace this to drive the pending list with NumPy arrays."""
    return arr.__class__ is not np.ndarray and arr.__class__ is not np.bool_ and not _eager[0]


def check(bad, make_error, op: str) -> None:
    """Raise ``make_error()`` if any element of `bad` (a boolean array, any shape) is true.

    NumPy `bad`: evaluated and raised now. CuPy `bad`: reduced on the device and evaluated at the
    next synchronization point (see the module docstring). `make_error` takes no argument and
    returns the exception; it runs only when the check fails and may read device values then.
    `op` names the op for the "raised by an earlier op" note, e.g. "cross_entropy()"."""
    if not _deferrable(bad):
        if bad.any():  # free on NumPy; on CUDA one synchronization, which eager mode asked for
            raise make_error()
        return
    _defer(bad.any() if bad.ndim else bad, make_error, op)


def check_value(bad, values, make_error, op: str) -> None:
    """`check` for errors that name the offending value: ``make_error(v)`` gets the entry of
    `values` (same shape as `bad`) at the first true position of `bad`, as a Python number.
    On CUDA that entry is picked on the device now and read only if the check fails, so the
    pending check holds no reference to `values`."""
    if not _deferrable(bad):
        if bad.any():
            raise make_error(values[bad].reshape(-1)[0].item())
        return
    if bad.size == 0:
        return
    v = first_true(bad, values)
    check(bad, lambda: make_error(v.item()), op)


def first_true(bad, values):
    """`values` at the first position where `bad` (same shape) is true, as a 0-d array on their
    device: no synchronization. Meaningless when no element of `bad` is true."""
    if bad.size == 0:
        return None  # nothing can fail
    return values.reshape(-1).take(bad.reshape(-1).view(np.uint8).argmax())  # take: a kernel, no read


def clamp_index(a, n: int):
    """Indices `a` forced into [0, n) so that an op whose bounds check is deferred never reads or
    writes outside its array; valid entries are unchanged. Needs n > 0."""
    return a.clip(0, n - 1)


def _on_host(arr) -> bool:
    return isinstance(arr, (np.ndarray, np.generic))


def _key(flag):
    """The CUDA device id of a flag; -1 for NumPy (the tests' stand-in for a device)."""
    return -1 if _on_host(flag) else flag.device.id


def _defer(flag, make_error, op: str) -> None:
    if len(_pending) < MAX_PENDING:
        _pending.append((flag, make_error, op))
        return
    # bounded memory when nothing reads a value for a long time: one flag per device, op names kept
    k = _key(flag)
    slot = _folded.get(k)
    if slot is None:
        _folded[k] = [flag.copy(), {op: 1}]
    else:
        slot[0] |= flag  # in place on the device, no synchronization
        slot[1][op] = slot[1].get(op, 0) + 1


def pending_count() -> int:
    """Checks waiting to be evaluated (folded ones included)."""
    return len(_pending) + sum(sum(s[1].values()) for s in _folded.values())


def _read_flags(flags) -> np.ndarray:
    """The values of 0-d flags, all on one device: one stack and one transfer."""
    if _on_host(flags[0]):
        return np.stack(flags)
    if len(flags) == 1:
        return flags[0].get().reshape(1)
    from .backend import xp_of
    with flags[0].device:
        return xp_of(flags[0]).stack(flags).get()


def flush() -> None:
    """Evaluate every pending check; raise the first failing one's error (the rest are dropped:
    they were queued after it). Called where a value is read from the device anyway."""
    if not _pending and not _folded:
        return
    pending, folded = _pending[:], dict(_folded)
    _pending.clear()  # cleared first: a failing check raises once, not at every later read
    _folded.clear()
    by_key: dict = {}
    for i, (flag, _, _) in enumerate(pending):
        by_key.setdefault(_key(flag), []).append(i)
    failed, folded_hits = [], {}
    for k in set(by_key) | set(folded):
        idxs = by_key.get(k, [])
        flags = [pending[i][0] for i in idxs] + ([folded[k][0]] if k in folded else [])
        values = _read_flags(flags)
        failed += [i for i, v in zip(idxs, values) if v]
        if k in folded and values[-1]:
            for o, n in folded[k][1].items():
                folded_hits[o] = folded_hits.get(o, 0) + n
    if failed:  # the individual checks are older than every folded one
        _, make_error, op = pending[min(failed)]
        raise _deferred(make_error(), op)
    if folded_hits:
        ops = ", ".join(f"{o} ({n}x)" for o, n in folded_hits.items())
        raise RuntimeError(f"a check deferred on CUDA failed in one of these calls: {ops}. More than "
                           f"{MAX_PENDING} checks were pending without a synchronization, so their "
                           f"messages were folded; set TENSORGRAD_EAGER_CHECKS=1 or call "
                           f"tensorgrad.cuda.set_eager_checks(True) to raise at the failing call")


def _deferred(err: BaseException, op: str) -> BaseException:
    note = (f" [raised by an earlier call of {op}: on CUDA this check runs without synchronizing and "
            f"is read at the next access to a device value; set TENSORGRAD_EAGER_CHECKS=1 or call "
            f"tensorgrad.cuda.set_eager_checks(True) to raise at the failing call]")
    if err.args and isinstance(err.args[0], str):
        err.args = (err.args[0] + note,) + err.args[1:]
    else:
        err.args = err.args + (note,)
    return err


def discard() -> None:
    """Drop every pending check unevaluated (e.g. after a CUDA graph capture, whose flags were
    recorded but never computed)."""
    _pending.clear()
    _folded.clear()
