"""Tensor methods that wrap functional ops with a different argument order, and __setitem__'s paths."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import needs_torch, rand, torch


def _pair(a, device="cpu", requires_grad=False):
    return (tg.tensor(a, device=device, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


@needs_torch
def test_where_method_takes_condition_first(device):
    a, b = rand(3, 4), rand(3, 4)
    cond = a > 0
    (x, xt), (y, yt) = _pair(a, device), _pair(b, device)
    got = x.where(tg.tensor(cond, device=device), y)
    want = xt.where(torch.tensor(cond), yt)
    np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())


def test_invert_of_float_raises_type_error_and_works_for_bool_and_int():
    with pytest.raises(TypeError, match="bitwise_not"):
        ~tg.ones(2)
    assert (~tg.tensor([True, False])).tolist() == [False, True]
    assert (~tg.tensor([0, 5])).tolist() == [-1, -6]


def test_comparison_with_non_numbers_is_python_equality():
    t = tg.ones(2)
    assert (t == None) is False  # noqa: E711 - the operator itself is under test
    assert (t != None) is True  # noqa: E711
    assert t != "a"
    assert (t == 1).tolist() == [True, True]


@needs_torch
@pytest.mark.parametrize("index", [1, (slice(None), 2), (0, [0, 2]), ([1, 0], slice(1, 3)), "mask", Ellipsis])
@pytest.mark.parametrize("value", ["scalar", "tensor"])
def test_setitem_without_grad_writes_in_place_like_torch(index, value, device):
    a = rand(3, 4)
    x, xt = _pair(a, device)
    if index == "mask":
        index = a > 0
        idx_tg, idx_t = tg.tensor(index, device=device), torch.tensor(index)
    else:
        idx_tg = idx_t = index
    data_before = x._data
    v_shape = tuple(xt[idx_t].shape)
    v = rand(*v_shape[-1:]) if value == "tensor" and v_shape else 7.5
    x[idx_tg] = tg.tensor(v, device=device) if value == "tensor" and v_shape else v
    xt[idx_t] = torch.tensor(v) if value == "tensor" and v_shape else v
    np.testing.assert_array_equal(x.cpu().numpy(), xt.numpy())
    assert x._data is data_before  # the same memory was written
    assert x._version == 1


def test_setitem_without_grad_bumps_version_seen_by_saved_tensors():
    w = tg.ones(3, requires_grad=True)
    x = tg.ones(3)
    y = (w * x).sum()  # saves x for w's gradient
    x[0] = 2.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_setitem_errors_leave_tensor_unchanged():
    x = tg.zeros(3)
    with pytest.raises(IndexError):
        x[5] = 1.0
    with pytest.raises(RuntimeError, match="shape mismatch"):
        x[:2] = tg.ones(3)
    assert x.tolist() == [0.0, 0.0, 0.0] and x._version == 0


@needs_torch
def test_inplace_scatter_and_index_put_methods_match_torch():
    a = rand(3, 4)
    idx = np.array([[0, 1, 2, 0]])
    src = rand(1, 4)
    for meth, args_tg, args_t in (
            ("scatter_", (0, tg.tensor(idx), tg.tensor(src)), (0, torch.tensor(idx), torch.tensor(src))),
            ("scatter_add_", (0, tg.tensor(idx), tg.tensor(src)), (0, torch.tensor(idx), torch.tensor(src))),
            ("index_put_", ((tg.tensor([0, 2]),), tg.tensor(5.0, dtype=tg.float64), True),
             ((torch.tensor([0, 2]),), torch.tensor(5.0, dtype=torch.float64), True))):
        x, xt = _pair(a)
        getattr(x, meth)(*args_tg)
        getattr(xt, meth)(*args_t)
        np.testing.assert_allclose(x.numpy(), xt.numpy(), err_msg=meth)


@needs_torch
def test_swapdims_moveaxis_and_contiguous_methods():
    a = rand(2, 3, 4)
    x, xt = _pair(a)
    assert tuple(x.swapdims(0, 2).shape) == tuple(xt.swapdims(0, 2).shape)
    assert tuple(x.moveaxis(0, -1).shape) == tuple(xt.moveaxis(0, -1).shape)
    y = x.mT
    assert not y.is_contiguous() and y.contiguous().is_contiguous()
    assert x.contiguous() is x
