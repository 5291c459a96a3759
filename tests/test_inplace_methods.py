"""The generated in-place methods (tensor.py's _bind_inplace): each writes PyTorch's values into self,
keeps self's dtype, bumps the version, records the op so gradients flow through it, and refuses a
result dtype self can't hold, as PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_torch, needs_torch, torch

_rng = np.random.default_rng(7)


def _pos(*shape):
    return _rng.uniform(0.2, 0.9, size=shape)


def _any(*shape):
    return _rng.uniform(-2, 2, size=shape)


# name: (input, extra tensor arguments, extra plain arguments)
UNARY = {n: (_any, (), ()) for n in "square exp2 expm1 sign floor ceil round trunc frac sin cos tan erf erfc "
                                      "sinh cosh atan arctan asinh arcsinh negative lgamma".split()}
UNARY.update({n: (_any, (), ()) for n in "rad2deg deg2rad fix i0 sinc".split()})
UNARY.update({n: (_pos, (), ()) for n in "log2 log10 log1p rsqrt reciprocal erfinv asin acos arcsin arccos "
                                          "atanh arctanh logit digamma".split()})
UNARY.update({"acosh": (lambda *s: 1 + _pos(*s), (), ()), "arccosh": (lambda *s: 1 + _pos(*s), (), ()),
              "nan_to_num": (_any, (), ()), "clip": (_any, (), (-0.5, 0.5)), "cumsum": (_any, (), (1,)),
              "cumprod": (_any, (), (1,)), "mvlgamma": (lambda *s: 2 + _pos(*s), (), (2,)),
              "polygamma": (_pos, (), (1,))})
BINARY = {n: (_any, (_any,), ()) for n in "fmod remainder atan2 arctan2 hypot true_divide copysign".split()}
BINARY.update({"lerp": (_any, (_any,), (0.3,)), "xlogy": (_any, (_pos,), ()),
               "addcmul": (_any, (_any, _any), ()), "addcdiv": (_any, (_any, _pos), ())})
CASES = {**UNARY, **BINARY}
# PyTorch raises "the derivative for 'inplace version of atanh' is not implemented" for these
TORCH_HAS_NO_INPLACE_GRAD = {"asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh"}


def _call(t, name, others, plain):
    if name == "polygamma":  # torch's polygamma_(n) takes n first, like ours
        return getattr(t, name + "_")(*plain)
    return getattr(t, name + "_")(*others, *plain)


@needs_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_method_matches_torch(device, name):
    make, other_makers, plain = CASES[name]
    arrays = [make(3, 4)] + [m(3, 4) for m in other_makers]

    def fn(m, x, *others):
        y = x * 1.0  # a non-leaf copy: in-place on it is recorded, and x gets the gradient through it
        if m is torch and name in TORCH_HAS_NO_INPLACE_GRAD:  # compare with its out-of-place gradient
            return getattr(torch, name)(y)
        out = _call(y, name, others, plain)
        assert out is y
        return y

    check_torch(fn, arrays, device, rtol=1e-6, atol=1e-8)


def test_inplace_method_bumps_the_version_and_keeps_the_tensor():
    x = tg.tensor(_any(5))
    before = x._version
    assert x.sin_() is x and x._version == before + 1


@needs_torch
@pytest.mark.parametrize("name", ["eq", "lt", "ge", "logical_not", "logical_and", "bitwise_and", "bitwise_not"])
def test_comparison_and_logical_inplace_keep_selfs_dtype(name):
    a, b = _rng.integers(0, 4, size=(2, 6))
    for dtype in ("int64", "float32") if "bitwise" not in name else ("int64",):
        outs = []
        for m in (tg, torch):
            x = m.tensor(a, dtype=getattr(m, dtype))
            args = () if name in ("logical_not", "bitwise_not") else (m.tensor(b, dtype=getattr(m, dtype)),)
            getattr(x, name + "_")(*args)
            outs.append(x)
        assert str(outs[0].dtype).split(".")[-1] == str(outs[1].dtype).split(".")[-1] == dtype
        np.testing.assert_array_equal(outs[0].numpy(), outs[1].numpy())


def test_inplace_refuses_a_result_self_cannot_hold_and_leaves_it_intact():
    x = tg.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match=r"sin_: result type .*float32 can't be cast to .*int64"):
        x.sin_()
    np.testing.assert_array_equal(x.numpy(), [1, 2, 3])
    leaf = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.cos_()


def test_inplace_scan_refuses_another_dtype_as_torch():
    x = tg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="Bad in-place call"):
        x.cumsum_(0, dtype=tg.float64)
    assert x.cumsum_(0, dtype=tg.float32).tolist() == [1.0, 3.0]
