"""Property tests (hypothesis): broadcasting of binary ops agrees with NumPy, forward and backward."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tensorgrad as tg

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
}

shapes_pair = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=3)


def _arrays(shape, seed):
    rng = np.random.default_rng(seed)
    return np.asarray(rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape))


@settings(max_examples=40, deadline=None)
@given(shapes=shapes_pair, op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_binary_broadcast_matches_numpy(shapes, op, seed):
    (sa, sb), result_shape = shapes.input_shapes, shapes.result_shape
    a, b = _arrays(sa, seed), _arrays(sb, seed + 1)
    fn, np_fn = BINARY[op]
    ta = tg.tensor(a, requires_grad=True)
    tb = tg.tensor(b, requires_grad=True)
    out = fn(ta, tb)
    assert tuple(out.shape) == tuple(result_shape)
    np.testing.assert_allclose(out.detach().numpy(), np_fn(a, b), rtol=1e-12)
    # backward: each input's gradient has the input's shape and equals the upstream gradient
    # (times the local derivative) summed over the broadcast dims, computed here with NumPy.
    g = _arrays(result_shape, seed + 2)
    out.backward(tg.tensor(g))
    da, db = {"add": (1.0, 1.0), "sub": (1.0, -1.0), "mul": (b, a), "div": (1 / b, -a / (b * b))}[op]
    for t, local, shape in ((ta, da, sa), (tb, db, sb)):
        full = np.broadcast_to(g * local, result_shape)
        lead = len(result_shape) - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and result_shape[lead + i] != 1)
        want = full.sum(axis=axes).reshape(shape) if axes else full.reshape(shape)
        assert tuple(t.grad.shape) == tuple(shape)
        np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, min_side=2, max_side=3))
def test_non_broadcastable_shapes_raise_naming_both(shapes):
    (sa, sb) = shapes.input_shapes
    bad = tuple(sb[:-1]) + (sb[-1] + 5,) if sb else (7,)
    if sa and sa[-1] in (1, bad[-1]):
        return  # still broadcastable: nothing to check
    a = tg.zeros(sa if sa else (1,))
    b = tg.zeros(bad)
    with pytest.raises(RuntimeError, match=r"add: .*shapes"):
        a + b


def test_broadcast_does_not_change_inputs():
    a = tg.ones(3, 1)
    b = tg.ones(4)
    out = a + b
    assert tuple(out.shape) == (3, 4) and tuple(a.shape) == (3, 1) and tuple(b.shape) == (4,)
