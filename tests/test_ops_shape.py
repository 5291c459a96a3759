"""Shape ops: gradchecks, PyTorch oracle, view/aliasing semantics, and error behaviour."""
from __future__ import annotations

import types

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import backend
from oracle import check_grad, check_torch, needs_torch, rand, to_tg, torch

# ---------------------------------------------------------------- float64 gradcheck + gradgradcheck
# x.mT / permute / narrow inside a lambda make the op's input non-contiguous (expand: stride 0).
GRAD_CASES = {
    "reshape": (lambda x: x.reshape(3, -1), [(2, 3)]),
    "reshape_tuple": (lambda x: x.reshape((1, 6, 1)), [(2, 3)]),
    "reshape_noncontig_copy": (lambda x: x.mT.reshape(-1), [(2, 3)]),
    "reshape_noncontig_view": (lambda x: x.permute(1, 0, 2).reshape(3, 2, 2, 2), [(2, 3, 4)]),
    "reshape_zero_size": (lambda x: x.reshape(3, 0), [(0, 3)]),
    "reshape_0d": (lambda x: x.reshape(1, 1), [()]),
    "view": (lambda x: x.view(-1), [(2, 3)]),
    "view_noncontig": (lambda x: x.mT.view(1, 3, 2, 1), [(2, 3)]),
    "view_expanded": (lambda x: x.expand(3, 2).view(3, 1, 2), [(2,)]),
    "flatten": (lambda x: x.flatten(1), [(2, 3, 4)]),
    "flatten_noncontig": (lambda x: x.mT.flatten(-2, -1), [(2, 1, 3)]),
    "flatten_0d": (lambda x: x.flatten(), [()]),
    "unflatten": (lambda x: x.unflatten(-1, (2, -1)), [(3, 4)]),
    "unflatten_noncontig": (lambda x: x.mT.unflatten(0, (2, 1, 2)), [(3, 4)]),
    "permute": (lambda x: x.permute(2, 0, -2), [(2, 3, 4)]),
    "permute_zero_size": (lambda x: x.permute((1, 0)), [(0, 3)]),
    "transpose": (lambda x: x.transpose(0, -1), [(2, 1, 3)]),
    "transpose_0d": (lambda x: x.transpose(0, -1), [()]),
    "swapaxes": (lambda x: tg.swapaxes(x, -1, 0), [(2, 3)]),
    "movedim": (lambda x: x.movedim((0, -1), (-1, 1)), [(2, 3, 4)]),
    "squeeze_all": (lambda x: x.squeeze(), [(1, 3, 1, 2)]),
    "squeeze_dims": (lambda x: x.squeeze((0, -1, 1)), [(1, 3, 2, 1)]),
    "squeeze_noncontig": (lambda x: x.mT.squeeze(-1), [(1, 3)]),
    "unsqueeze": (lambda x: x.unsqueeze(-1).unsqueeze(0), [(2, 3)]),
    "unsqueeze_0d": (lambda x: x.unsqueeze(0), [()]),
    "expand": (lambda x: x.expand(2, -1, 3), [(3, 1)]),
    "expand_noncontig": (lambda x: x.mT.expand(2, 3, 2), [(2, 3)]),
    "expand_to_zero": (lambda x: x.expand(0, 3), [(1, 3)]),
    "broadcast_to": (lambda x: tg.broadcast_to(x, (2, 2, 3)), [(2, 1)]),
    "repeat": (lambda x: x.repeat(2, 1, 3), [(2, 2)]),
    "repeat_noncontig": (lambda x: x.mT.repeat(1, 2), [(2, 3)]),
    "repeat_zero": (lambda x: x.repeat(0, 2), [(3,)]),
    "repeat_0d": (lambda x: x.repeat(3), [()]),
    "tile": (lambda x: x.tile((2,)), [(2, 3)]),
    "flip": (lambda x: x.flip((0, -1)), [(2, 3, 2)]),
    "flip_noncontig": (lambda x: x.mT.flip(0), [(2, 3)]),
    "narrow": (lambda x: x.narrow(-1, 1, 2), [(2, 4)]),
    "narrow_negative_start": (lambda x: x.narrow(0, -2, 2), [(3, 2)]),
    "narrow_zero_length": (lambda x: x.narrow(1, 2, 0), [(3, 2)]),
    "narrow_of_narrow": (lambda x: x.mT.narrow(0, 1, 2).narrow(1, 1, 1), [(2, 4)]),
    "split_int": (lambda x: x.split(2, dim=-1), [(2, 5)]),
    "split_sizes": (lambda x: x.split([1, 0, 2], 0), [(3, 2)]),
    "split_noncontig": (lambda x: x.mT.split(1, 1), [(2, 3)]),
    "split_unused_pieces": (lambda x: x.split(1)[1] * 2, [(3, 2)]),
    "chunk": (lambda x: x.chunk(3, 1), [(2, 5)]),
    "unbind": (lambda x: x.unbind(-1), [(2, 3)]),
    "unbind_unused_slices": (lambda x: x.unbind(0)[1], [(3, 2)]),
    "unbind_1d": (lambda x: x.unbind(), [(3,)]),
    "cat": (lambda a, b: tg.cat((a, b), -1), [(2, 1), (2, 3)]),
    "cat_noncontig": (lambda a, b: tg.cat([a.mT, b, a.mT], 0), [(2, 3), (1, 2)]),
    "cat_zero_size": (lambda a, b: tg.cat([a, b], 0), [(0, 3), (2, 3)]),
    "cat_legacy_empty": (lambda a, b: tg.cat([a, b], 1), [(0,), (2, 3)]),
    "cat_same_input_twice": (lambda a: tg.cat([a, a * 2], 0), [(2, 2)]),
    "stack": (lambda a, b: tg.stack([a, b, a], -1), [(2, 3), (2, 3)]),
    "stack_0d": (lambda a, b: tg.stack([a, b]), [(), ()]),
    "hstack": (lambda a, b: tg.hstack([a, b]), [(2, 1), (2, 3)]),
    "vstack": (lambda a, b: tg.vstack([a, b]), [(3,), (2, 3)]),
    "clone": (lambda x: x.mT.clone(), [(2, 3)]),
    "contiguous": (lambda x: x.mT.contiguous(), [(2, 3)]),
}


def _cloned(fn):
    """fn as is: its outputs are views of the perturbed inputs, which gradcheck must read right."""
    return fn


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gradcheck(name, device):
    fn, shapes = GRAD_CASES[name]
    check_grad(_cloned(fn), [rand(*s) for s in shapes], device)


# ---------------------------------------------------------------- PyTorch oracle: forward, dtype, grads
TORCH_CASES = {
    "reshape": (lambda m, x: x.reshape(4, -1, 3), [(2, 3, 4)]),
    "reshape_noncontig": (lambda m, x: x.transpose(0, 2).reshape(-1, 2), [(2, 3, 4)]),
    "view": (lambda m, x: x.view((3, 8)), [(2, 3, 4)]),
    "view_as": (lambda m, x, y: x.view_as(y), [(2, 3), (3, 2)]),
    "flatten": (lambda m, x: m.flatten(x, 1, 2), [(2, 3, 4, 1)]),
    "unflatten": (lambda m, x: m.unflatten(x, 1, (-1, 2, 1)), [(2, 4, 3)]),
    "permute": (lambda m, x: m.permute(x, (1, 2, 0)), [(2, 3, 4)]),
    "transpose": (lambda m, x: m.transpose(x, 1, -3), [(2, 3, 4)]),
    "swapaxes": (lambda m, x: x.swapaxes(0, 1), [(2, 3)]),
    "swapdims": (lambda m, x: m.swapdims(x, 0, 1), [(2, 3)]),
    "T_mT": (lambda m, x: x.T.mT, [(2, 3)]),
    "movedim_int": (lambda m, x: m.movedim(x, 0, -1), [(2, 3, 4)]),
    "movedim_seq": (lambda m, x: m.movedim(x, (2, 0), (0, 1)), [(2, 3, 4)]),
    "moveaxis": (lambda m, x: m.moveaxis(x, 1, 0), [(2, 3, 4)]),
    "squeeze": (lambda m, x: m.squeeze(x), [(1, 2, 1)]),
    "squeeze_int": (lambda m, x: x.squeeze(-1), [(1, 2, 1)]),
    "squeeze_tuple": (lambda m, x: m.squeeze(x, (0, 1)), [(1, 2, 1)]),
    "unsqueeze": (lambda m, x: m.unsqueeze(x, -2), [(2, 3)]),
    "expand": (lambda m, x: x.expand(4, 2, -1), [(1, 3)]),
    "expand_as": (lambda m, x, y: x.expand_as(y), [(3, 1), (2, 3, 4)]),
    "broadcast_to": (lambda m, x: m.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    "repeat": (lambda m, x: x.repeat(2, 3, 1, 2), [(2, 1, 3)]),
    "tile": (lambda m, x: m.tile(x, (2, 2)), [(2, 1, 3)]),
    "tile_method": (lambda m, x: x.tile(2, 1, 1, 2), [(2, 3)]),
    "flip": (lambda m, x: m.flip(x, (0, 2)), [(2, 3, 4)]),
    "flip_method": (lambda m, x: x.flip(-1, 0), [(2, 3, 4)]),
    "flip_none": (lambda m, x: x.flip([]), [(2, 3)]),
    "narrow": (lambda m, x: m.narrow(x, 1, 1, 2), [(2, 4, 3)]),
    "narrow_negative_start": (lambda m, x: x.narrow(-1, -2, 2), [(2, 4)]),
    "split_int": (lambda m, x: m.split(x, 2, 1), [(2, 5, 3)]),
    "split_sizes": (lambda m, x: x.split([3, 0, 2], -2), [(2, 5, 3)]),
    "chunk": (lambda m, x: m.chunk(x, 4, -1), [(2, 6)]),
    "chunk_fewer": (lambda m, x: x.chunk(4), [(5, 2)]),
    "chunk_empty": (lambda m, x: x.chunk(3), [(0, 2)]),
    "unbind": (lambda m, x: m.unbind(x, 1), [(2, 3, 4)]),
    "iter": (lambda m, x: list(x), [(3, 2)]),
    "cat": (lambda m, a, b: m.cat([a, b, a], -1), [(2, 3), (2, 1)]),
    "cat_legacy_empty": (lambda m, a, b: m.cat([a, b], 1), [(0,), (2, 3)]),
    "concat": (lambda m, a, b: m.concat((a, b), dim=0), [(2, 3), (1, 3)]),
    "concatenate": (lambda m, a, b: m.concatenate((a, b), axis=1), [(2, 3), (2, 1)]),
    "stack": (lambda m, a, b: m.stack([a, b], 1), [(2, 3), (2, 3)]),
    "hstack_0d": (lambda m, a, b: m.hstack([a, b]), [(), (3,)]),
    "hstack_2d": (lambda m, a, b: m.hstack([a, b]), [(2, 1), (2, 3)]),
    "vstack_1d": (lambda m, a, b: m.vstack((a, b)), [(3,), (3,)]),
    "vstack_0d": (lambda m, a, b: m.vstack((a, b)), [(), ()]),
    "clone": (lambda m, x: m.clone(x.mT), [(2, 3)]),
    "contiguous": (lambda m, x: x.mT.contiguous(), [(2, 3)]),
}


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_matches_torch(name, dtype, device):
    fn, shapes = TORCH_CASES[name]
    check_torch(fn, [rand(*s, dtype=dtype) for s in shapes], device)


@needs_torch
@pytest.mark.parametrize("fn, arrays", [
    (lambda m, a, b: m.cat([a, b], 1), [rand(2, 2, dtype=np.int64), rand(2, 3, dtype=np.float32)]),
    (lambda m, a, b: m.cat([a, b]), [rand(2, 2, dtype=np.bool_), rand(1, 2, dtype=np.int32)]),
    (lambda m, a, b: m.cat([a, b]), [rand(0, dtype=np.float64), rand(2, 2, dtype=np.int64)]),
    (lambda m, a, b: m.stack([a, b], -1), [rand(2, 3, dtype=np.int32), rand(2, 3, dtype=np.float64)]),
    (lambda m, a: m.stack([a, a]), [rand(2, dtype=np.uint8)]),
    (lambda m, a: a.flip(0).repeat(2, 1).reshape(-1), [rand(2, 3, dtype=np.int64)]),
    (lambda m, a: a.unbind(1), [rand(2, 3, dtype=np.bool_)]),
])
def test_dtypes_match_torch(fn, arrays, device):
    check_torch(fn, arrays, device)


@needs_torch
@pytest.mark.parametrize("fn", [
    lambda m, x: x.reshape(-1),
    lambda m, x: x.flatten(0, 1),
    lambda m, x: x.permute(2, 1, 0),
    lambda m, x: x.flip(1),
    lambda m, x: x.repeat(1, 2, 1),
    lambda m, x: m.cat([x, x], 2),
    lambda m, x: m.stack([x, x], 0),
    lambda m, x: x.split(1, 1),
    lambda m, x: x.narrow(2, 1, 1),
    lambda m, x: x.contiguous(),
])
def test_noncontiguous_storage_matches_torch(fn, device):
    # the values at every other element of a buffer, sliced on the device: tg.tensor() (the CUDA
    # path of to_tg) copies a strided NumPy array into contiguous memory, as torch.tensor() does
    buf = np.stack([rand(2, 3, 2), rand(2, 3, 2)], -1)
    x = to_tg(buf, device, requires_grad=False)[..., 0]
    p = torch.tensor(buf)[..., 0]
    assert not x.is_contiguous() and not p.is_contiguous()
    assert x.stride() == p.stride()
    outs = fn(tg, x)
    refs = fn(torch, p)
    for o, r in zip(outs if isinstance(outs, tuple) else [outs], refs if isinstance(refs, tuple) else [refs]):
        np.testing.assert_array_equal(o.cpu().numpy(), r.numpy())


# ---------------------------------------------------------------- view semantics
def _views():
    return {
        "view": lambda x: x.view(6, 4),
        "reshape": lambda x: x.reshape(4, 6),
        "reshape_noncontig": lambda x: x.permute(1, 0, 2).reshape(3, 2, 2, 2),
        "view_noncontig": lambda x: x.mT.view(2, 2, 2, 3),
        "flatten": lambda x: x.flatten(),
        "unflatten": lambda x: x.unflatten(2, (2, 2)),
        "permute": lambda x: x.permute(2, 0, 1),
        "transpose": lambda x: x.transpose(0, 1),
        "transpose_same_dim": lambda x: x.transpose(1, 1),
        "swapaxes": lambda x: x.swapaxes(0, 2),
        "movedim": lambda x: x.movedim(0, 2),
        "squeeze": lambda x: x.unsqueeze(1).squeeze(1),
        "squeeze_nothing": lambda x: x.squeeze(),
        "unsqueeze": lambda x: x.unsqueeze(-1),
        "expand": lambda x: x.unsqueeze(0).expand(2, -1, -1, -1),
        "expand_same": lambda x: x.expand(2, 3, 4),
        "narrow": lambda x: x.narrow(1, 1, 2),
        "split_piece": lambda x: x.split(2, 2)[1],
        "chunk_piece": lambda x: x.chunk(3, 1)[2],
        "unbind_slice": lambda x: x.unbind(2)[3],
        "iter_row": lambda x: next(iter(x)),
    }


@pytest.mark.parametrize("name", list(_views()))
def test_view_aliases_base_and_shares_version(name, device):
    x = tg.arange(24, dtype=tg.float64, device=device).reshape(2, 3, 4)
    v = _views()[name](x)
    assert v._version == x._version == 0
    before = v.cpu().numpy().copy()
    x.add_(1)  # a write to the base shows through the view, and bumps the shared counter
    np.testing.assert_array_equal(v.cpu().numpy(), before + 1)
    assert v._version == x._version == 1
    if name.startswith("expand"):
        return  # stride-0 views are not written through (many elements share one location)
    total = float(x.sum())
    v.add_(1)  # a write to the view shows in the base
    assert float(x.sum()) == total + v.numel()
    assert x._version == 2


class _DeviceArrayStandIn:
    """Just enough of a CuPy array for view detection: CuPy's as_strided (reshape/view of a
    non-contiguous tensor) builds its view from a memory pointer, leaving ``base`` None; the
    allocation behind the pointer (``data.mem``) is what a view shares with its source."""

    def __init__(self, mem):
        self.base = None
        self.data = types.SimpleNamespace(mem=mem)


def test_view_without_base_shares_version_when_it_shares_the_allocation():
    alloc = object()
    src = _DeviceArrayStandIn(alloc)
    assert backend.is_view_of(_DeviceArrayStandIn(alloc), src)
    assert not backend.is_view_of(_DeviceArrayStandIn(object()), src)
    base = tg.Tensor._make(src, None, 0, None)
    view = tg.Tensor._make(_DeviceArrayStandIn(alloc), None, 0, None, view_of=base)
    assert view._vc is base._vc and view._base is base
    copy = tg.Tensor._make(_DeviceArrayStandIn(object()), None, 0, None, view_of=base)
    assert copy._vc is not base._vc and copy._base is None
    a = np.arange(6.0)  # NumPy: `base` decides, as before
    assert backend.is_view_of(np.lib.stride_tricks.as_strided(a, (2, 2), (16, 8)), a)
    assert not backend.is_view_of(a.copy(), a) and not backend.is_view_of(np.float64(1.0), a)


def test_views_of_views_share_one_counter(device):
    x = tg.zeros(2, 6, device=device)
    v = x.view(12).view(3, 4).transpose(0, 1).narrow(0, 1, 2)
    assert v._vc is x._vc and v._base is x
    v.add_(1)
    assert x._version == 1 and float(x.sum()) == 6


@pytest.mark.parametrize("fn", [
    lambda x: x.flip(0),
    lambda x: x.repeat(1, 1),
    lambda x: x.tile(1),
    lambda x: tg.cat([x]),
    lambda x: tg.stack([x]),
    lambda x: x.clone(),
    lambda x: x.mT.contiguous(),
    lambda x: x.mT.reshape(-1),
])
def test_copying_ops_do_not_alias(fn, device):
    x = tg.arange(6, dtype=tg.float32, device=device).reshape(2, 3)
    y = fn(x)
    before = y.cpu().numpy().copy()
    x.add_(1)
    np.testing.assert_array_equal(y.cpu().numpy(), before)
    assert y._version == 0


def test_saved_view_modified_in_place_is_detected(device):
    leaf = tg.ones(2, 3, dtype=tg.float64, device=device, requires_grad=True)
    x = leaf * 1
    v = x.view(6)
    y = v * v  # saves v
    x.add_(1)  # bumps the counter v shares
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_reshape_copy_has_its_own_version(device):
    x = tg.zeros(2, 3, device=device).mT
    y = x.reshape(6)
    assert y._vc is not x._vc
    y.add_(1)
    assert x._version == 0 and float(x.sum()) == 0


def test_identity_shapes_return_new_views(device):
    x = tg.zeros(2, 3, device=device, requires_grad=True)
    for y in (x.reshape(2, 3), x.view(2, 3), x.expand(2, 3), x.permute(0, 1), x.transpose(0, 0)):
        assert y is not x and y.grad_fn is not None and y._vc is x._vc


def test_returns_self_where_torch_does(device):
    x = tg.zeros(2, 3, device=device)
    assert x.flatten(1, 1) is x
    assert x.contiguous() is x and tg.contiguous(x) is x
    assert x.mT.contiguous() is not x and x.mT.contiguous().is_contiguous()


def test_unused_pieces_get_zero_gradients(device):
    x = tg.ones(5, 2, dtype=tg.float64, device=device, requires_grad=True)
    a, b, c = x.split(2)
    (b * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0, 0], [0, 0], [3, 3], [3, 3], [0, 0]])
    x.grad = None
    rows = x.unbind(0)
    rows[4].sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy()[:, 0], [0, 0, 0, 0, 1])
    x.grad = None
    x.chunk(2, 1)[0].sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.tile([1.0, 0.0], (5, 1)))


def test_empty_results(device):
    assert tg.zeros(0, 2, device=device).unbind() == ()
    assert tg.zeros(0, device=device).split([]) == ()
    (piece,) = tg.zeros(0, device=device).split(0)
    assert piece.shape == (0,)


@needs_torch
def test_view_and_reshape_agree_with_torch_on_strides():
    """For random strided layouts, view succeeds exactly when PyTorch's does, and never copies."""
    rng = np.random.default_rng(5)
    tried = viewed = 0
    for _ in range(150):
        shape = tuple(int(s) for s in rng.integers(1, 4, size=rng.integers(1, 5)))
        a = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
        perm = tuple(int(p) for p in rng.permutation(len(shape)))
        a = a.transpose(perm)
        t = torch.from_numpy(a)
        x = tg.from_numpy(a)
        for new in ((-1,), (a.shape[-1], -1), (1, -1, 1), a.shape[::-1], (a.shape[0], 1, -1)):
            tried += 1
            try:
                ref = t.view(new)
            except RuntimeError:
                with pytest.raises(RuntimeError, match="view size is not compatible"):
                    x.view(new)
                out = x.reshape(new)
                assert not np.shares_memory(out.numpy(), a)
                np.testing.assert_array_equal(out.numpy(), t.reshape(new).numpy())
                continue
            viewed += 1
            out = x.view(new)
            assert np.shares_memory(out.numpy(), a) and out._vc is x._vc
            np.testing.assert_array_equal(out.numpy(), ref.numpy())
            np.testing.assert_array_equal(x.reshape(new).numpy(), ref.numpy())
    assert 0 < viewed < tried  # both branches were exercised


def test_negative_strides_from_numpy():
    a = np.arange(12.0)[::-1]
    x = tg.from_numpy(a)
    v = x.view(3, 4)
    assert np.shares_memory(v.numpy(), a) and v._vc is x._vc
    np.testing.assert_array_equal(v.numpy(), a.reshape(3, 4))
    b = a[::2].reshape(2, 3).T  # strides (-16, -48): no view to shape (6,)
    y = tg.from_numpy(b)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        y.view(6)
    out = y.reshape(6)
    assert not np.shares_memory(out.numpy(), b)
    np.testing.assert_array_equal(out.numpy(), b.reshape(6))


# ---------------------------------------------------------------- errors (same exception type as PyTorch)
ERROR_CASES = {
    "reshape_bad_numel": (lambda m, x: x.reshape(5, 5), (2, 3, 4), RuntimeError, "invalid for input of size 24"),
    "reshape_two_infer": (lambda m, x: x.reshape(-1, -1), (2, 3), RuntimeError, "only one dimension"),
    "reshape_negative": (lambda m, x: x.reshape(-2, 3), (2, 3), RuntimeError, "invalid shape dimension -2"),
    "reshape_ambiguous": (lambda m, x: x.reshape(0, -1), (0, 3), RuntimeError, "ambiguous"),
    "reshape_float": (lambda m, x: x.reshape(2.0, 3), (2, 3), TypeError, "sequence of ints"),
    "view_noncontig": (lambda m, x: x.mT.view(6), (2, 3), RuntimeError, "Use .reshape"),
    "view_no_args": (lambda m, x: x.view(), (2, 3), TypeError, "missing"),
    "flatten_order": (lambda m, x: x.flatten(2, 1), (2, 3, 4), RuntimeError, "start_dim cannot come after"),
    "flatten_dim_range": (lambda m, x: x.flatten(0, 3), (2, 3, 4), IndexError, "out of range"),
    "unflatten_product": (lambda m, x: x.unflatten(1, (2, 2)), (2, 3), RuntimeError, "don't multiply up"),
    "unflatten_empty": (lambda m, x: x.unflatten(1, ()), (2, 3), RuntimeError, "non-empty"),
    "unflatten_two_infer": (lambda m, x: x.unflatten(1, (-1, -1)), (2, 4), RuntimeError, "only one dimension"),
    "unflatten_infer_mismatch": (lambda m, x: x.unflatten(1, (-1, 3)), (2, 4), RuntimeError,
                                 "don't multiply up"),
    "permute_count": (lambda m, x: x.permute(0, 1), (2, 3, 4), RuntimeError, "number of dims"),
    "permute_repeat": (lambda m, x: x.permute(0, 1, 1), (2, 3, 4), RuntimeError, "duplicate dims"),
    "permute_range": (lambda m, x: x.permute(0, 1, 3), (2, 3, 4), IndexError, "out of range"),
    "transpose_range": (lambda m, x: x.transpose(0, 2), (2, 3), IndexError, r"\[-2, 1\]"),
    "squeeze_range": (lambda m, x: x.squeeze(2), (2, 3), IndexError, "out of range"),
    "squeeze_repeat": (lambda m, x: x.squeeze((0, 0)), (1, 3), RuntimeError, "multiple times"),
    "unsqueeze_range": (lambda m, x: x.unsqueeze(3), (2, 3), IndexError, r"\[-3, 2\]"),
    "expand_too_few": (lambda m, x: x.expand(3), (2, 3), RuntimeError, "number of sizes provided"),
    "expand_mismatch": (lambda m, x: x.expand(2, 4), (2, 3), RuntimeError, "must match the existing size"),
    "expand_leading_minus_one": (lambda m, x: x.expand(-1, 2, 3), (2, 3), RuntimeError, "leading, non-existing"),
    "repeat_too_few": (lambda m, x: x.repeat(2), (2, 3), RuntimeError, "can not be smaller"),
    "repeat_negative": (lambda m, x: x.repeat(2, -1), (2, 3), RuntimeError, "non-negative"),
    "flip_repeat": (lambda m, x: m.flip(x, (0, -2)), (2, 3), RuntimeError, "multiple times"),
    "flip_range": (lambda m, x: x.flip(2), (2, 3), IndexError, "out of range"),
    "narrow_0d": (lambda m, x: x.narrow(0, 0, 1), (), RuntimeError, "0-dim"),
    "narrow_past_end": (lambda m, x: x.narrow(0, 5, 2), (6,), RuntimeError, r"start \(5\) \+ length \(2\)"),
    "narrow_start_range": (lambda m, x: x.narrow(0, -7, 2), (6,), IndexError, "start out of range"),
    "narrow_negative_length": (lambda m, x: x.narrow(0, 1, -1), (6,), RuntimeError, "non-negative"),
    "split_sum": (lambda m, x: x.split([1, 1]), (3,), RuntimeError, "sum exactly to 3"),
    "split_negative_section": (lambda m, x: x.split([2, -1, 2]), (3,), RuntimeError, "non-negative"),
    "split_negative": (lambda m, x: x.split(-1), (3,), RuntimeError, "non-negative"),
    "split_zero": (lambda m, x: x.split(0), (3,), RuntimeError, "can only be 0"),
    "split_0d": (lambda m, x: x.split(1), (), RuntimeError, "at least a 1-dimensional"),
    "split_float": (lambda m, x: x.split(1.5), (3,), TypeError, "int"),
    "chunk_zero": (lambda m, x: x.chunk(0), (3,), RuntimeError, "greater than 0"),
    "chunk_0d": (lambda m, x: x.chunk(2), (), RuntimeError, "at least a 1-dimensional"),
    "chunk_dim_range": (lambda m, x: m.chunk(x, 2, 1), (3,), IndexError, "out of range"),
    "unbind_0d": (lambda m, x: x.unbind(), (), IndexError, "no dimensions"),
    "movedim_count": (lambda m, x: m.movedim(x, (0, 1), (0,)), (2, 3), RuntimeError, "same number of dims"),
    "movedim_repeat_source": (lambda m, x: m.movedim(x, (0, 0), (0, 1)), (2, 3), RuntimeError,
                              "repeated dim in `source`"),
    "movedim_repeat_destination": (lambda m, x: m.movedim(x, (0, 1), (1, 1)), (2, 3), RuntimeError,
                                   "repeated dim in `destination`"),
    "movedim_range": (lambda m, x: m.movedim(x, 2, 0), (2, 3), IndexError, "out of range"),
    "cat_empty_list": (lambda m, x: m.cat([]), (2,), ValueError, "non-empty"),
    "cat_0d": (lambda m, x: m.cat([x, x]), (), RuntimeError, r"zero-dimensional tensor \(at position 0\)"),
    "cat_ndim": (lambda m, x: m.cat([x, x.unsqueeze(0)]), (2, 3), RuntimeError, "same number of dimensions"),
    "cat_sizes": (lambda m, x: m.cat([x, x.mT], 1), (2, 3), RuntimeError,
                  "Sizes of tensors must match except in dimension 1. Expected size 2 but got size 3 for tensor "
                  "number 1 in the list"),
    "cat_dim_range": (lambda m, x: m.cat([x, x], 2), (2, 3), IndexError, "out of range"),
    "cat_tensor_not_list": (lambda m, x: m.cat(x), (2, 3), TypeError, "tuple or list of Tensors"),
    "cat_non_tensor": (lambda m, x: m.cat([x, 1]), (2, 3), TypeError, "element 1"),
    "stack_empty": (lambda m, x: m.stack([]), (2,), RuntimeError, "non-empty"),
    "stack_shapes": (lambda m, x: m.stack([x, x.mT]), (2, 3), RuntimeError,
                     r"equal size, but got \[2, 3\] at entry 0 and \[3, 2\] at entry 1"),
    "stack_dim_range": (lambda m, x: m.stack([x, x], 3), (2, 3), IndexError, "out of range"),
    "hstack_empty": (lambda m, x: m.hstack([]), (2,), RuntimeError, "non-empty"),
    "vstack_empty": (lambda m, x: m.vstack([]), (2,), RuntimeError, "non-empty"),
    "tile_missing": (lambda m, x: x.tile(), (2,), TypeError, "dims"),
    "flip_missing": (lambda m, x: x.flip(), (2,), TypeError, "dims"),
}


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_errors(name, device):
    fn, shape, exc, pattern = ERROR_CASES[name]
    a = rand(*shape)
    x = to_tg(a, device, requires_grad=True)
    with pytest.raises(exc, match=pattern):
        fn(tg, x)
    if torch is not None:  # PyTorch raises the same exception type
        with pytest.raises(exc):
            fn(torch, torch.tensor(a, requires_grad=True))


def test_view_dtype_is_refused_clearly(device):
    x = tg.zeros(2, device=device)
    with pytest.raises(NotImplementedError, match=r"view\(dtype\).*\.to\(dtype\)"):
        x.view(tg.int32)


def test_failed_op_leaves_input_untouched(device):
    x = tg.arange(6, dtype=tg.float64, device=device).reshape(2, 3).requires_grad_()
    for bad in (lambda: x.view(4), lambda: tg.cat([x, x.mT]), lambda: x.narrow(1, 2, 2)):
        with pytest.raises(RuntimeError):
            bad()
    assert x.shape == (2, 3) and x._version == 0 and x.grad_fn is None
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), np.ones((2, 3)))


@pytest.mark.cuda
@pytest.mark.skipif(not tg.cuda.is_available(), reason="needs a CUDA GPU for a second device")
def test_cat_devices_must_match():
    with pytest.raises(RuntimeError, match="same device"):
        tg.cat([tg.zeros(2), tg.zeros(2, device="cuda")])
