"""tensorgrad.testing: ``assert_close`` and ``make_tensor``, as torch.testing.

``assert_close`` walks (nested) sequences and mappings in parallel and compares the leaves: tensors
(or NumPy arrays) element-wise with ``|actual - expected| <= atol + rtol * |expected|``, Python
numbers likewise, ``None``/bools exactly. Tolerances default per dtype (integers and bools exact).
The error messages follow torch's wording so test output reads the same in both frameworks.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["assert_close", "make_tensor"]

# (rtol, atol) when neither is given; dtypes not listed here are compared exactly.
_DEFAULT_TOLS = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
                 "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


class _Mismatch(AssertionError):
    """A failed comparison; `trail` collects the [key] path from the outside in."""

    def __init__(self, message, trail=""):
        super().__init__(message)
        self.message, self.trail = message, trail


def _tols(names, rtol, atol):
    if (rtol is None) != (atol is None):
        missing = "atol" if atol is None else "rtol"
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {missing}.")
    if rtol is not None or not names:
        return rtol, atol
    pairs = [_DEFAULT_TOLS.get(n, (0.0, 0.0)) for n in names]  # mixed dtypes: the looser of the two
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _is_tensor_like(x):
    from .tensor import Tensor
    return isinstance(x, (Tensor, np.ndarray))


def _is_number(x):
    return isinstance(x, (int, float, complex, np.number)) and not isinstance(x, (bool, np.bool_))


def _fmt_tol(tol, exact):
    return "" if exact else f" (up to {tol} allowed)"


# ------------------------------------------------------------------ leaves
def _compare_numbers(actual, expected, rtol, atol, equal_nan, check_dtype):
    if check_dtype and type(actual) is not type(expected) and not (
            isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
        raise _Mismatch(f"The (d)types do not match: {type(actual)} != {type(expected)}.")
    kinds = [complex if isinstance(v, complex) else float if isinstance(v, float) else int
             for v in (actual, expected)]
    names = ["complex128" if k is complex else "float64" if k is float else "int64" for k in kinds]
    rtol, atol = _tols(names, rtol, atol)
    if _close_scalar(actual, expected, rtol, atol, equal_nan):
        return
    raise _Mismatch(_scalar_message(actual, expected, rtol, atol))


def _close_scalar(a, e, rtol, atol, equal_nan):
    if a == e:
        return True
    if equal_nan and _isnan(a) and _isnan(e):
        return True
    d = abs(a - e)
    return math.isfinite(d) and d <= atol + rtol * abs(e)


def _isnan(v):
    return v != v


def _scalar_message(actual, expected, rtol, atol):
    exact = rtol == 0 and atol == 0
    diff = abs(actual - expected)
    rel = diff / abs(expected) if expected != 0 else (0.0 if diff == 0 else math.inf)
    return (f"Scalars are not {'equal' if exact else 'close'}!\n\nExpected {expected} but got {actual}.\n"
            f"Absolute difference: {diff}{_fmt_tol(atol, exact)}\n"
            f"Relative difference: {rel}{_fmt_tol(rtol, exact)}")


def _tensor_info(x):
    """(host array, dtype name, shape repr, device repr, strides) of a Tensor or ndarray."""
    from .tensor import Tensor
    if isinstance(x, np.ndarray):
        from . import from_numpy
        x = from_numpy(np.ascontiguousarray(x)) if x.dtype.kind in "biuf" else x
        if isinstance(x, np.ndarray):
            return x, x.dtype.name, repr(x.shape), "cpu", None, x.dtype.name
    assert isinstance(x, Tensor)
    return (x.detach().cpu().numpy(), x.dtype.name, repr(x.shape), str(x.device), x.stride(), repr(x.dtype))


def _compare_tensors(actual, expected, rtol, atol, equal_nan, check_device, check_dtype, check_stride,
                     allow_subclasses):
    if not allow_subclasses and type(actual) is not type(expected):
        raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                        f"{type(expected)}.")
    a, a_name, a_shape, a_dev, a_stride, a_dtype = _tensor_info(actual)
    e, e_name, e_shape, e_dev, e_stride, e_dtype = _tensor_info(expected)
    if a.shape != e.shape:
        raise _Mismatch(f"The values for attribute 'shape' do not match: {a_shape} != {e_shape}.")
    if check_device and a_dev != e_dev:
        raise _Mismatch(f"The values for attribute 'device' do not match: {a_dev} != {e_dev}.")
    if check_dtype and a_name != e_name:
        raise _Mismatch(f"The values for attribute 'dtype' do not match: {a_dtype} != {e_dtype}.")
    if check_stride and a_stride != e_stride and a.size > 1:
        raise _Mismatch(f"The values for attribute 'stride()' do not match: {a_stride} != {e_stride}.")
    rtol, atol = _tols([a_name, e_name], rtol, atol)
    if a.ndim == 0:  # a 0-dim tensor reports like a Python scalar
        av, ev = a.item(), e.item()
        if isinstance(av, bool):
            av, ev = int(av), int(ev)
        if not _close_scalar(av, ev, rtol, atol, equal_nan):
            raise _Mismatch(_scalar_message(av, ev, rtol, atol))
        return
    _compare_arrays(a, e, rtol, atol, equal_nan)


def _compare_arrays(a, e, rtol, atol, equal_nan):
    # Compute in the common dtype, as torch does, so the reported numbers match its messages.
    common = np.result_type(a.dtype, e.dtype)
    if common.kind == "b":
        common = np.dtype(np.int64)
    a, e = a.astype(common), e.astype(common)
    with np.errstate(all="ignore"):
        if common.kind in "iu":
            # max - min as uint64: exact even where the signed difference overflows int64
            # (2**63 - 1 against -1), which np.abs would wrap to a negative "close" number
            hi, lo = np.maximum(a, e), np.minimum(a, e)
            diff = (hi.astype(np.uint64) - lo.astype(np.uint64)) if common.kind == "u" else \
                (hi.astype(np.int64) - lo.astype(np.int64)).view(np.uint64)
            rel_t = np.dtype(np.float32)
        else:
            diff = np.abs(a - e)
            rel_t = diff.dtype if diff.dtype.kind == "f" else np.dtype(np.float64)
        close = (a == e) | (np.isfinite(diff) & (diff <= atol + rtol * np.abs(e)))
        if equal_nan and common.kind in "fc":
            close |= np.isnan(a) & np.isnan(e)
        if close.all():
            return
        rel = diff.astype(rel_t) / np.abs(e).astype(rel_t)
        rel = np.where(diff == 0, rel_t.type(0), rel)
    exact = rtol == 0 and atol == 0
    n_bad, n = int((~close).sum()), close.size
    lines = [f"Tensor-likes are not {'equal' if exact else 'close'}!", "",
             f"Mismatched elements: {n_bad} / {n} ({100.0 * n_bad / n:.1f}%)"]
    for label, values, tol in (("absolute", diff, atol), ("relative", rel, rtol)):
        idx = _argmax_nan_first(values)
        lines.append(f"Greatest {label} difference: {values[idx].item()} at index {idx}{_fmt_tol(tol, exact)}")
    raise _Mismatch("\n".join(lines))


def _argmax_nan_first(values):
    """Index tuple of the largest value, a NaN counting as the largest (as torch's max does)."""
    flat = values.reshape(-1)
    nans = np.flatnonzero(np.isnan(flat)) if flat.dtype.kind == "f" else ()
    pos = int(nans[0]) if len(nans) else int(np.argmax(flat))
    return tuple(int(i) for i in np.unravel_index(pos, values.shape))


# ------------------------------------------------------------------ containers
def _compare(actual, expected, opts):
    if actual is None or expected is None:
        if actual is not expected:
            raise _Mismatch(f"None mismatch: {actual} is not {expected}")
        return
    if isinstance(actual, (bool, np.bool_)) and isinstance(expected, (bool, np.bool_)):
        if bool(actual) != bool(expected):
            raise _Mismatch(f"Booleans mismatch: {actual} is not {expected}")
        return
    if _is_tensor_like(actual) and _is_tensor_like(expected):
        if isinstance(actual, np.ndarray) != isinstance(expected, np.ndarray):
            raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and "
                            f"{type(expected)}.")
        return _compare_tensors(actual, expected, opts["rtol"], opts["atol"], opts["equal_nan"],
                                opts["check_device"], opts["check_dtype"], opts["check_stride"],
                                opts["allow_subclasses"])
    if _is_number(actual) and _is_number(expected):
        return _compare_numbers(actual, expected, opts["rtol"], opts["atol"], opts["equal_nan"],
                                opts["check_dtype"])
    if _is_seq(actual) and _is_seq(expected):
        if len(actual) != len(expected):
            raise _Mismatch(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _nested(a, e, opts, f"[{i}]")
        return
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            raise _Mismatch(f"The keys of the mappings do not match:\nMissing keys in the actual mapping: "
                            f"{_sorted(missing)}\nAdditional keys in the actual mapping: {_sorted(extra)}")
        for k in expected:
            _nested(actual[k], expected[k], opts, f"[{k!r}]")
        return
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.")


def _nested(a, e, opts, key):
    try:
        _compare(a, e, opts)
    except _Mismatch as m:
        raise _Mismatch(m.message, key + m.trail) from None


def _is_seq(x):
    return isinstance(x, Sequence) and not isinstance(x, (str, bytes))


def _sorted(keys):
    try:
        return sorted(keys)
    except TypeError:
        return keys


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise AssertionError unless `actual` and `expected` are close (torch.testing.assert_close).

    check_layout is accepted for compatibility: every tensorgrad tensor is strided.
    """
    _tols([], rtol, atol)  # the both-or-neither rule, checked before anything is compared
    opts = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol, equal_nan=equal_nan,
                check_device=check_device, check_dtype=check_dtype, check_stride=check_stride)
    try:
        _compare(actual, expected, opts)
    except _Mismatch as m:
        text = m.message + (f"\n\nThe failure occurred for item {m.trail}" if m.trail else "")
        if isinstance(msg, str):
            text = msg
        elif callable(msg):
            text = msg(text)
        raise AssertionError(text) from None


# ------------------------------------------------------------------ make_tensor
def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, memory_format=None):
    """A random tensor for tests (torch.testing.make_tensor): floats uniform in [low, high) (default
    [-9, 9)), integers in [low, high) (default [-9, 10), [0, 10) when unsigned), bools at random."""
    from . import dtypes
    import tensorgrad as tg
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    dt = dtypes.as_dtype(dtype)
    for name, v in (("low", low), ("high", high)):
        if v is not None and isinstance(v, float) and math.isnan(v):
            raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if dt.np.kind == "b":
        t = tg.randint(0, 2, shape, device=device).to(dt)
    elif dt.np.kind in "iu":
        info = np.iinfo(dt.np)
        lo = max(int(math.ceil(low)) if low is not None else (0 if dt.np.kind == "u" else -9), int(info.min))
        hi = min(int(math.ceil(high)) if high is not None else 10, int(info.max) + 1)
        if lo >= hi:
            raise ValueError(f"`low` must be less than `high`, but got {lo} >= {hi}")
        t = tg.randint(lo, hi, shape, dtype=dtypes.int64, device=device).to(dt)
    else:
        lo = -9.0 if low is None else float(low)
        hi = 9.0 if high is None else float(high)
        if lo > hi:
            raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
        t = (tg.rand(*shape, dtype=dt, device=device) * (hi - lo) + lo).to(dt)
    if exclude_zero:  # replace exact zeros by the smallest positive step of the dtype
        tiny = 1 if dt.np.kind in "iub" else float(np.finfo(dt.np).tiny)
        t = tg.where(t == 0, tg.full_like(t, tiny), t)
    if noncontiguous and t.numel() > 1:  # same values, every other element of a wider buffer
        buf = tg.repeat_interleave(t, 2, dim=-1) if t.dim() else t
        t = buf[..., ::2]
    if requires_grad:
        if not dt.is_floating_point:
            raise ValueError(f"make_tensor(): requires_grad=True is only valid for floating dtypes, got {dt}")
        t.requires_grad_(True)
    return t
