"""The Tensor object: metadata, autograd state, conversions, Python protocols, repr, DLPack,
checked against PyTorch."""
from __future__ import annotations

import copy
import re
import types

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import backend
from tensorgrad.autograd.function import check_same_device
from oracle import needs_torch, torch

CUDA_REASON = tg.cuda.unavailable_reason()
no_cuda = pytest.mark.skipif(CUDA_REASON is None, reason="tests the error path without a GPU")


def tname(dtype) -> str:
    return str(dtype).replace("torch.", "")


# ---------------------------------------------------------------- metadata
@needs_torch
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (2, 0, 4), (1, 1, 1, 5)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool", "float16"])
def test_metadata_matches_torch(shape, dtype):
    t = tg.zeros(shape, dtype=getattr(tg, dtype))
    p = torch.zeros(shape, dtype=getattr(torch, dtype))
    assert tuple(t.shape) == tuple(p.shape) and t.shape == p.shape
    assert isinstance(t.shape, tuple) and isinstance(t.shape, tg.Size)
    assert t.ndim == p.ndim and t.dim() == p.dim()
    assert t.numel() == p.numel() and t.nelement() == p.nelement()
    assert tuple(t.size()) == tuple(p.size())
    for d in range(-p.ndim, p.ndim):
        assert t.size(d) == p.size(d)
    assert t.dtype.name == tname(p.dtype)
    assert t.element_size() == p.element_size()
    assert t.is_floating_point() == p.is_floating_point()
    assert t.stride() == p.stride()
    assert t.is_contiguous()
    assert str(t.device) == "cpu" and t.device == tg.device("cpu") and not t.is_cuda


@needs_torch
def test_size_out_of_range_raises_indexerror():
    t, p = tg.zeros(2, 3), torch.zeros(2, 3)
    for d in (2, -3):
        with pytest.raises(IndexError):
            p.size(d)
        with pytest.raises(IndexError, match="out of range"):
            t.size(d)


@needs_torch
def test_strides_of_transposed_view_match_torch():
    a = np.arange(24.0).reshape(2, 3, 4)
    t, p = tg.tensor(a), torch.tensor(a)
    assert t.permute(2, 0, 1).stride() == p.permute(2, 0, 1).stride()
    assert t.permute(2, 0, 1).is_contiguous() == p.permute(2, 0, 1).is_contiguous()
    assert t.transpose(0, 1).stride(1) == p.transpose(0, 1).stride(1)


def test_size_repr_and_numel():
    s = tg.zeros(2, 3).shape
    assert repr(s) == "tensorgrad.Size([2, 3])"
    assert s.numel() == 6 and s == (2, 3) and s[1] == 3


# ---------------------------------------------------------------- autograd state
def test_requires_grad_and_leaf_state():
    x = tg.ones(3)
    assert not x.requires_grad and x.is_leaf and x.grad_fn is None and x.grad is None
    assert x.requires_grad_() is x
    assert x.requires_grad and x.is_leaf
    y = x * 2.0
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    assert y.grad_fn.name() == "MulBackward0"
    x.requires_grad_(False)
    assert not x.requires_grad


def test_requires_grad_on_integer_tensor_raises():
    for make in (lambda: tg.tensor([1, 2]).requires_grad_(), lambda: tg.tensor([1, 2], requires_grad=True),
                 lambda: tg.zeros(2, dtype=tg.int64, requires_grad=True), lambda: tg.tensor([True]).requires_grad_()):
        with pytest.raises(RuntimeError, match="(?i)only Tensors of floating point"):
            make()


def test_requires_grad_false_on_non_leaf_raises():
    y = tg.ones(2, requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad_(False)
    y.requires_grad_(True)  # setting True on a non-leaf is allowed (a no-op)
    assert y.requires_grad


def test_detach_shares_memory_and_version_counter():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    with tg.no_grad():
        x.mul_(3.0)
    np.testing.assert_allclose(d.numpy(), [3.0, 6.0])
    d.add_(1.0)
    np.testing.assert_allclose(x.detach().numpy(), [4.0, 7.0])
    assert d._version == x._version == 2
    assert np.shares_memory(d.numpy(), x.detach().numpy())


def test_detach_of_non_leaf():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad
    assert np.shares_memory(d.numpy(), y.detach().numpy())


def test_detach_inplace():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    assert y.detach_() is y
    assert y.is_leaf and not y.requires_grad and y.grad_fn is None


def test_clone_copies_and_records():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.grad_fn is not None and c.grad_fn.name() == "CloneBackward0"
    assert not np.shares_memory(c.detach().numpy(), x.detach().numpy())
    (c * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    plain = tg.tensor([1, 2])
    pc = plain.clone()
    pc.add_(1)
    assert plain.tolist() == [1, 2] and pc.tolist() == [2, 3]


def test_data_property():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.is_leaf
    d.mul_(2.0)
    np.testing.assert_allclose(x.detach().numpy(), [2.0, 4.0])
    x.data = tg.tensor([5.0, 6.0])
    np.testing.assert_allclose(x.detach().numpy(), [5.0, 6.0])
    assert x.requires_grad
    with pytest.raises(TypeError):
        x.data = [1.0, 2.0]


def test_deepcopy_leaf():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * 2.0).sum().backward()
    y = copy.deepcopy(x)
    assert y.requires_grad and y.is_leaf
    np.testing.assert_allclose(y.grad.numpy(), x.grad.numpy())
    with tg.no_grad():
        y.add_(1.0)
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 2.0])


def test_pickle_refused():
    import pickle
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(tg.ones(2))


# ---------------------------------------------------------------- conversions
@needs_torch
def test_to_dtype_and_device_forms_match_torch():
    a = np.array([[1.5, -2.5], [3.0, 4.25]], dtype=np.float32)
    t, p = tg.tensor(a), torch.tensor(a)
    cases = [
        lambda m, x: x.to(m.float64), lambda m, x: x.to(m.int32), lambda m, x: x.to("cpu"),
        lambda m, x: x.to("cpu", m.float16), lambda m, x: x.to(dtype=m.int64),
        lambda m, x: x.to(device="cpu", dtype=m.float64), lambda m, x: x.to(m.tensor([1], dtype=m.int8)),
        lambda m, x: x.to(m.device("cpu")), lambda m, x: x.double(), lambda m, x: x.float(),
        lambda m, x: x.half(), lambda m, x: x.long(), lambda m, x: x.int(), lambda m, x: x.bool(),
        lambda m, x: x.cpu(), lambda m, x: x.type(m.float64), lambda m, x: x.type_as(m.ones(1, dtype=m.int16)),
        lambda m, x: x.to(float), lambda m, x: x.to(int), lambda m, x: x.to(bool),
    ]
    for f in cases:
        rt, rp = f(tg, t), f(torch, p)
        assert rt.dtype.name == tname(rp.dtype)
        np.testing.assert_array_equal(rt.numpy(), rp.numpy())


def test_to_same_returns_self_and_copy_true_copies():
    t = tg.ones(2)
    assert t.to("cpu") is t and t.to(tg.float32) is t and t.cpu() is t and t.float() is t
    c = t.to(tg.float32, copy=True)
    assert c is not t and not np.shares_memory(c.numpy(), t.numpy())


def test_to_is_differentiable():
    x = tg.tensor([1.5, 2.5], requires_grad=True)
    y = x.to(tg.float64)
    assert y.grad_fn is not None
    (y * y).sum().backward()
    assert x.grad.dtype is tg.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0])


def test_type_names():
    assert tg.ones(1).type() == "tensorgrad.FloatTensor"
    assert tg.ones(1, dtype=tg.int64).type() == "tensorgrad.LongTensor"
    assert tg.ones(1, dtype=tg.bool).type() == "tensorgrad.BoolTensor"
    assert tg.ones(1).type(tg.float64).dtype is tg.float64


def test_to_bad_argument_raises():
    with pytest.raises(TypeError):
        tg.ones(2).to([1, 2])
    with pytest.raises(TypeError):
        tg.ones(2).to(bogus=1)


@no_cuda
def test_cuda_unavailable_errors_name_reason():
    t = tg.ones(2)
    pattern = r"CUDA is not available: .+"
    for f in (lambda: t.cuda(), lambda: t.to("cuda"), lambda: t.to("cuda:0"), lambda: t.cuda(0),
              lambda: tg.ones(2, device="cuda"), lambda: tg.tensor([1.0], device="cuda"),
              lambda: tg.zeros(2, device=tg.device("cuda", 0)), lambda: tg.randn(2, device="cuda"),
              lambda: tg.arange(3, device="cuda")):
        with pytest.raises(RuntimeError, match=pattern):
            f()
    # (seeding CUDA without it does nothing, as in PyTorch: tests/test_compat_api.py)
    for f in (tg.cuda.current_device, tg.cuda.synchronize, lambda: tg.cuda.set_device(0), lambda: tg.cuda.device(0)):
        with pytest.raises(RuntimeError, match=pattern):
            f()
    assert not tg.cuda.is_available()
    assert tg.cuda.device_count() == 0
    assert isinstance(tg.cuda.unavailable_reason(), str) and tg.cuda.unavailable_reason()
    assert tg.cuda.unavailable_reason() in str(pytest.raises(RuntimeError, t.cuda).value)


def test_device_objects():
    assert tg.device("cpu") == "cpu" and str(tg.device("cpu")) == "cpu"
    d = tg.device("cuda:1")
    assert d.type == "cuda" and d.index == 1 and str(d) == "cuda:1"
    assert repr(d) == "device(type='cuda', index=1)" and repr(tg.device("cpu")) == "device(type='cpu')"
    assert tg.device("cuda", 0) == tg.device("cuda:0") and hash(tg.device("cuda:0")) == hash(tg.device("cuda", 0))
    assert tg.device("cpu") != "cuda" and not (tg.device("cpu") == "not a device")
    with pytest.raises(RuntimeError, match="unknown device type"):
        tg.device("tpu")
    with pytest.raises(RuntimeError):
        tg.device("cuda:x")


# ---------------------------------------------------------------- numpy, item, tolist
def test_numpy_shares_memory():
    t = tg.tensor([1.0, 2.0, 3.0])
    a = t.numpy()
    a[0] = 10.0
    assert t.tolist() == [10.0, 2.0, 3.0]
    t.add_(1.0)
    assert a.tolist() == [11.0, 3.0, 4.0]
    assert np.asarray(t) is a or np.shares_memory(np.asarray(t), a)


def test_numpy_requires_grad_raises():
    t = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        t.numpy()
    assert t.numpy(force=True).tolist() == [1.0]
    assert t.detach().numpy().tolist() == [1.0]


class _FakeCudaArray:
    """Just enough of a CuPy array for the device checks (no GPU here)."""

    def __init__(self, arr, dev=0):
        self._arr = arr
        self.device = types.SimpleNamespace(id=dev)
        self.dtype, self.shape, self.ndim, self.size = arr.dtype, arr.shape, arr.ndim, arr.size

    def get(self):
        return self._arr.copy()


def _fake_cuda_tensor(a, dev=0):
    return tg.Tensor._make(_FakeCudaArray(np.asarray(a), dev), None, 0, None)


def test_numpy_of_cuda_tensor_error_text():
    t = _fake_cuda_tensor([1.0, 2.0])
    assert t.is_cuda and str(t.device) == "cuda:0"
    with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu\(\)"):
        t.numpy()
    assert t.numpy(force=True).tolist() == [1.0, 2.0]
    assert t.tolist() == [1.0, 2.0]


def test_check_same_device_message_names_both_devices():
    with pytest.raises(RuntimeError, match=r"add: expected all tensors to be on the same device, but found "
                                           r"tensors on cpu and cuda:0"):
        check_same_device("add", [np.ones(2), _FakeCudaArray(np.ones(2))])
    with pytest.raises(RuntimeError, match=r"on cuda:0 and cuda:1"):
        check_same_device("mul", [_FakeCudaArray(np.ones(2), 0), _FakeCudaArray(np.ones(2), 1)])
    check_same_device("add", [np.ones(2), np.ones(3)])  # all on the CPU: fine


def test_binary_op_across_devices_raises_before_computing():
    cpu = tg.ones(2)
    gpu = _fake_cuda_tensor(np.ones(2, dtype=np.float32))
    with pytest.raises(RuntimeError, match="same device.*cpu and cuda:0"):
        cpu + gpu
    with pytest.raises(RuntimeError, match="same device.*cuda:0 and cpu"):
        gpu * cpu


@needs_torch
@pytest.mark.parametrize("value", [3.5, 7, True, -2])
def test_item_matches_torch(value):
    t, p = tg.tensor(value), torch.tensor(value)
    assert t.item() == p.item() and type(t.item()) is type(p.item())
    assert tg.tensor([[value]]).item() == torch.tensor([[value]]).item()


def test_item_of_many_elements_raises():
    with pytest.raises(RuntimeError, match="a Tensor with 4 elements cannot be converted to Scalar"):
        tg.ones(2, 2).item()


@needs_torch
@pytest.mark.parametrize("data", [[[1.5, 2.0], [3.0, -4.0]], 2.5, [True, False], [[1, 2, 3]], [], [[[]]]])
def test_tolist_matches_torch(data):
    t, p = tg.tensor(data), torch.tensor(data)
    assert t.tolist() == p.tolist()
    assert [type(v) for v in np.ravel(np.asarray(t.tolist(), dtype=object))] == \
        [type(v) for v in np.ravel(np.asarray(p.tolist(), dtype=object))]


# ---------------------------------------------------------------- Python protocol
@needs_torch
def test_len_iter_bool_scalar_conversions_match_torch():
    a = np.arange(6.0).reshape(3, 2)
    t, p = tg.tensor(a), torch.tensor(a)
    assert len(t) == len(p) == 3
    rows_t, rows_p = list(t), list(p)
    assert len(rows_t) == 3
    for rt, rp in zip(rows_t, rows_p):
        assert isinstance(rt, tg.Tensor) and rt.tolist() == rp.tolist()
    assert [v.item() for v in tg.tensor([4, 5])] == [4, 5]
    assert bool(tg.tensor([0.0])) is False and bool(tg.tensor([[2]])) is True
    assert float(tg.tensor([2.5])) == 2.5 and int(tg.tensor(7.9)) == int(torch.tensor(7.9))
    assert [10, 20, 30][tg.tensor(1)] == 20
    assert f"{tg.tensor(2.5):.2f}" == f"{torch.tensor(2.5):.2f}"


def test_protocol_errors():
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(tg.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(tg.tensor(1.0))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with 2 values is ambiguous"):
        bool(tg.ones(2))
    with pytest.raises(RuntimeError, match="(?i)ambiguous"):
        bool(tg.ones(0))
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][tg.tensor(1.0)]


def test_iteration_gradient_flows():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    total = None
    for i, row in enumerate(x):
        term = row * float(i + 1)
        total = term if total is None else total + term
    total.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, 1.0], [2.0, 2.0]])


def test_hash_is_identity_and_eq_is_elementwise():
    a, b = tg.ones(2), tg.ones(2)
    assert hash(a) != hash(b) or a is b
    assert len({a, b}) == 2
    assert (a == b).tolist() == [True, True]


def test_numpy_ufunc_does_not_swallow_tensor():
    t = tg.ones(2)
    r = np.float64(2.0) * t  # NumPy defers to Tensor.__rmul__
    assert isinstance(r, tg.Tensor) and r.tolist() == [2.0, 2.0]
    assert isinstance(t + np.float32(1.0), tg.Tensor)


# ---------------------------------------------------------------- repr
def _norm(s: str) -> str:
    """torch.X -> tensorgrad.X; suffix placement depends on the (longer) module name, so a suffix that
    wrapped to its own line in one and not the other is put back on one line in both."""
    s = s.replace("torch.", "tensorgrad.")
    return re.sub(r",\n\s+(dtype=|grad_fn=|requires_grad=|device=|size=)", r", \1", s)


REPR_CASES = [
    ("ints", [1, 2, 3], None),
    ("neg_ints", [[-100, 5], [3, 42]], None),
    ("floats_int_valued", [1.0, 2.0, 3.0], None),
    ("floats_fraction", [1.5, 2.25, -3.0], None),
    ("float64", [1.5, 2.25], "float64"),
    ("float64_ints", [1.0, -2.0], "float64"),
    ("float16", [0.5, 1.25], "float16"),
    ("int32", [1, -2], "int32"),
    ("int8", [-128, 127], "int8"),
    ("uint8", [0, 255], "uint8"),
    ("int16_0d", 7, "int16"),
    ("large", [1e10, 1.0], None),
    ("small", [1e-5, 1.0], None),
    ("ratio", [1001.0, 1.0], None),
    ("ratio_ok", [1000.0, 1.5], None),
    ("big_int_valued", [1e8], None),
    ("big_sci", [123456789.0, 2.0], None),
    ("tiny", [1e-10, -3e-8], "float64"),
    ("nan_inf", [float("nan"), float("inf"), -float("inf"), 1.5], None),
    ("nan_only", [float("nan")], None),
    ("inf_ints", [float("inf"), 2.0], None),
    ("zeros", [0.0, 0.0], None),
    ("neg_zero", [-0.0, 1.0], None),
    ("bool", [True, False, True], None),
    ("bool_all_true", [[True], [True]], None),
    ("bool_0d", True, None),
    ("float_0d", 3.5, None),
    ("float_0d_int", 3.0, None),
    ("float_0d_sci", 1e-7, None),
    ("int_0d", 7, None),
    ("empty", [], None),
    ("empty_int", [], "int64"),
    ("empty_f64", [], "float64"),
    ("empty_bool", [], "bool"),
    ("matrix", [[1.0, 2.5], [3.0, 4.0]], None),
    ("matrix_int", [[1, 20], [300, 4]], None),
    ("cube", np.arange(24.0).reshape(2, 3, 4) / 7, None),
    ("cube_int", np.arange(24).reshape(2, 3, 4) - 10, None),
    ("wide", np.linspace(-3, 3, 40), None),
    ("wide_int", np.arange(100), None),
    ("long_float", np.arange(2000) * 0.5, None),
    ("long_int", np.arange(5000).reshape(50, 100), None),
    ("long_3d", np.arange(2 * 30 * 40).reshape(2, 30, 40) / 3.0, "float64"),
    ("random_2d", np.random.default_rng(3).standard_normal((5, 7)), None),
    ("random_sci", np.random.default_rng(4).standard_normal((4, 3)) * 1e5, None),
    ("column", [[1.0], [2.5], [-3.0]], None),
]


@needs_torch
@pytest.mark.parametrize("name,data,dtype", REPR_CASES, ids=[c[0] for c in REPR_CASES])
def test_repr_matches_torch(name, data, dtype):
    t = tg.tensor(data, dtype=getattr(tg, dtype) if dtype else None)
    p = torch.tensor(np.asarray(data).tolist() if isinstance(data, np.ndarray) else data,
                     dtype=getattr(torch, dtype) if dtype else None)
    if isinstance(data, np.ndarray) and dtype is None and data.dtype == np.float64:
        t, p = t.float(), p.float()
    assert _norm(repr(t)) == _norm(repr(p))
    assert str(t) == repr(t)


@needs_torch
@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0,), (1, 0, 2)])
@pytest.mark.parametrize("dtype", ["float32", "int64", "float64", "bool"])
def test_repr_empty_shapes_match_torch(shape, dtype):
    t, p = tg.zeros(shape, dtype=getattr(tg, dtype)), torch.zeros(shape, dtype=getattr(torch, dtype))
    assert _norm(repr(t)) == _norm(repr(p))


@needs_torch
def test_repr_requires_grad_and_grad_fn_suffixes():
    a = np.array([[1.5, -2.0], [0.25, 4.0]])
    for dtype in ("float32", "float64"):
        t = tg.tensor(a, dtype=getattr(tg, dtype), requires_grad=True)
        p = torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True)
        assert _norm(repr(t)) == _norm(repr(p))
        assert "requires_grad=True" in repr(t)
        for f in (lambda x: x * 2, lambda x: x + 1, lambda x: x.exp(), lambda x: x - 1, lambda x: x / 3,
                  lambda x: x.sum(), lambda x: x.mean(), lambda x: x.clone(), lambda x: x.relu()):
            assert _norm(repr(f(t))) == _norm(repr(f(p)))
        assert _norm(repr(t.detach())) == _norm(repr(p.detach()))
    with tg.no_grad():
        assert "grad_fn" not in repr(tg.ones(2, requires_grad=True) * 2)


@needs_torch
def test_repr_after_default_dtype_change():
    tg.set_default_dtype(tg.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for data in ([1.5, 2.0], [1, 2]):
            assert repr(tg.tensor(data)) == _norm(repr(torch.tensor(data)))
        assert repr(tg.tensor([1.5], dtype=tg.float32)) == _norm(repr(torch.tensor([1.5], dtype=torch.float32)))
        assert repr(tg.tensor([])) == _norm(repr(torch.tensor([])))
    finally:
        tg.set_default_dtype(tg.float32)
        torch.set_default_dtype(torch.float32)


def test_repr_of_cuda_tensor_names_device():
    assert repr(_fake_cuda_tensor(np.array([1.0, 2.0], dtype=np.float32))) == "tensor([1., 2.], device='cuda:0')"


# ---------------------------------------------------------------- DLPack
@needs_torch
def test_dlpack_to_numpy_and_torch_is_zero_copy():
    t = tg.tensor([1.0, 2.0, 3.0])
    a = np.from_dlpack(t)
    p = torch.from_dlpack(t)
    a[0] = 10.0
    p[1] = 20.0
    assert t.tolist() == [10.0, 20.0, 3.0]
    t.add_(1.0)
    assert a.tolist() == [11.0, 21.0, 4.0] and p.tolist() == [11.0, 21.0, 4.0]
    assert t.__dlpack_device__() == (1, 0)


@needs_torch
def test_from_dlpack_torch_and_numpy_is_zero_copy():
    p = torch.arange(6.0).reshape(2, 3)
    t = tg.from_dlpack(p)
    assert t.dtype is tg.float32 and tuple(t.shape) == (2, 3)
    t.mul_(2.0)
    assert p.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    p[0, 0] = -1.0
    assert t.tolist()[0][0] == -1.0
    n = np.arange(4, dtype=np.int32)
    u = tg.from_dlpack(n)
    n[0] = 9
    assert u.dtype is tg.int32 and u.tolist() == [9, 1, 2, 3]


@needs_torch
def test_from_dlpack_strided_and_bool():
    p = torch.arange(12.0).reshape(3, 4).t()
    t = tg.from_dlpack(p)
    assert t.tolist() == p.tolist() and t.stride() == p.stride()
    b = tg.from_dlpack(torch.tensor([True, False]))
    assert b.dtype is tg.bool and b.tolist() == [True, False]


def test_dlpack_requires_grad_refused():
    with pytest.raises(RuntimeError, match="require gradient"):
        np.from_dlpack(tg.tensor([1.0], requires_grad=True))
    np.from_dlpack(tg.tensor([1.0], requires_grad=True).detach())


def test_backend_helpers():
    assert backend.xp_of(np.ones(1)) is np
    assert backend.device_of(np.ones(1)) == tg.device("cpu")
    assert backend.is_array(np.ones(1)) and not backend.is_array([1])


# ---------------------------------------------------------------- on every device (CUDA where usable)
def test_device_roundtrip_and_repr(device):
    t = tg.tensor([1.5, 2.0], device=device)
    assert t.device == tg.device(device if device == "cpu" else "cuda:0")
    assert t.is_cuda == (device == "cuda")
    assert t.cpu().tolist() == [1.5, 2.0] and t.tolist() == [1.5, 2.0]
    assert t.to("cpu").device == tg.device("cpu")
    assert t.cpu().to(device).device == t.device
    suffix = "" if device == "cpu" else ", device='cuda:0'"
    assert repr(t) == f"tensor([1.5000, 2.0000]{suffix})"
    assert repr(tg.ones(2, 2, dtype=tg.int32, device=device)) == \
        f"tensor([[1, 1],\n        [1, 1]]{suffix}, dtype=tensorgrad.int32)"
    if device == "cuda":
        with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
            t.numpy()


def test_factories_on_device(device):
    dev = tg.device(device if device == "cpu" else "cuda:0")
    made = [tg.zeros(2, 3, device=device), tg.ones(2, device=device), tg.full((2,), 1.5, device=device),
            tg.arange(5, device=device), tg.linspace(0, 1, 4, device=device), tg.eye(3, device=device),
            tg.rand(3, device=device), tg.randn(3, device=device), tg.randint(0, 5, (3,), device=device),
            tg.randperm(4, device=device), tg.empty(2, device=device), tg.tensor([1, 2], device=device)]
    for t in made:
        assert t.device == dev
    assert tg.zeros_like(made[0]).device == dev and tg.rand_like(made[0]).device == dev
    assert tg.arange(5, device=device).tolist() == [0, 1, 2, 3, 4]
    tg.manual_seed(5)
    a = tg.randn(4, device=device).tolist()
    tg.manual_seed(5)
    assert tg.randn(4, device=device).tolist() == a


def test_backward_on_device_and_across_to(device):
    x = tg.tensor([0.5, -1.0, 2.0], dtype=tg.float64, device=device, requires_grad=True)
    y = x.exp() * x
    z = (y.to("cpu") * 2.0).sum() + (y * y).sum().cpu()
    z.backward()
    assert x.grad.device == x.device
    xv = np.array([0.5, -1.0, 2.0])
    yv = np.exp(xv) * xv
    np.testing.assert_allclose(x.grad.cpu().numpy(), (2.0 + 2 * yv) * np.exp(xv) * (1 + xv))
