"""matmul / mm / bmm / dot / outer / linear / einsum: gradchecks, PyTorch oracle, errors."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import check_grad, check_torch, noncontig, rand, to_np, to_tg, torch

FLOATS = [np.float32, np.float64]


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-7, atol=1e-9)


def _linear(m, *args, **kwargs):
    return (m.nn.functional.linear if m is torch else m.linear)(*args, **kwargs)


# ---------------------------------------------------------------- matmul
MATMUL_SHAPES = [
    ((3,), (3,)),                 # dot
    ((2, 3), (3, 4)),             # matrix product
    ((3,), (3, 4)),               # vector @ matrix
    ((2, 3), (3,)),               # matrix @ vector
    ((4, 2, 3), (3, 5)),          # batch @ matrix
    ((2, 2, 2, 3), (3, 2)),       # 2 batch dims @ matrix
    ((4, 2, 3), (3,)),            # batch @ vector
    ((3,), (4, 3, 2)),            # vector @ batch
    ((2, 3), (4, 3, 5)),          # matrix @ batch
    ((4, 2, 3), (4, 3, 5)),       # same batch
    ((2, 1, 2, 3), (3, 3, 2)),    # broadcast batch dims both ways
    ((1, 2, 3), (4, 3, 2)),       # size-1 batch dim
    ((1, 1), (1, 1)),
    ((1, 3), (3, 1)),
    ((3, 1), (1, 3)),
    ((1,), (1, 2)),
    ((0, 3), (3, 4)),             # zero rows
    ((2, 3), (3, 0)),             # zero columns
    ((2, 0), (0, 4)),             # K = 0: zeros
    ((0,), (0,)),                 # empty dot: 0
    ((2, 0), (0,)),
    ((0, 2, 3), (3, 2)),          # empty batch
    ((2, 0, 3), (2, 3, 2)),
    ((2, 2, 0), (0, 3)),
]
_ids = [f"{a}@{b}" for a, b in MATMUL_SHAPES]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=_ids)
def test_matmul_grad(sa, sb, device):
    check_grad(lambda a, b: tg.matmul(a, b), [rand(*sa), rand(*sb)], device)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=_ids)
def test_matmul_torch(sa, sb, dtype, device):
    check_torch(lambda m, a, b: m.matmul(a, b), [rand(*sa, dtype=dtype), rand(*sb, dtype=dtype)], device,
                **_tol(dtype))


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((3,), (3,)), ((4, 2, 3), (3, 5)), ((2, 3), (4, 3, 5))])
def test_matmul_operator_and_one_input_requiring_grad(sa, sb, device):
    check_torch(lambda m, a, b: a @ b, [rand(*sa), rand(*sb)], device, grad_inputs=[0])
    check_torch(lambda m, a, b: a.matmul(b), [rand(*sa), rand(*sb)], device, grad_inputs=[1])
    check_grad(lambda a, b: a @ b, [rand(*sa), rand(*sb)], device, grad_inputs=[1])


VIEW_CASES = {  # non-contiguous operands made inside the function (identically for tensorgrad and torch)
    "transposed": (lambda m, a, b: m.matmul(a.mT, b.mT), (3, 2), (4, 3)),
    "transposed_batch": (lambda m, a, b: m.matmul(a.transpose(0, 2), b.permute(1, 0, 2)), (3, 2, 4), (3, 4, 2)),
    "expanded_batch": (lambda m, a, b: m.matmul(a.expand(4, 2, 3), b), (2, 3), (4, 3, 5)),
    "expanded_rows": (lambda m, a, b: m.matmul(a.expand(2, 4, 3), b), (2, 1, 3), (3, 2)),
    "transposed_vector_batch": (lambda m, a, b: m.matmul(a.mT, b), (2, 3, 4), (3,)),
}


@pytest.mark.parametrize("case", list(VIEW_CASES))
def test_matmul_views(case, device):
    fn, sa, sb = VIEW_CASES[case]
    check_grad(lambda a, b: fn(tg, a, b), [rand(*sa), rand(*sb)], device)
    for dtype in FLOATS:
        check_torch(fn, [rand(*sa, dtype=dtype), rand(*sb, dtype=dtype)], device, **_tol(dtype))


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((4, 2, 3), (3,)), ((3,), (3,)), ((2, 2, 3), (2, 3, 2))])
def test_matmul_noncontiguous_leaves(sa, sb, device):
    a, b = noncontig(rand(*sa)), noncontig(rand(*sb))
    ta, tb = to_tg(a, device), to_tg(b, device)
    if device == "cpu":
        assert not ta.is_contiguous() and not tb.is_contiguous()
    out = ta @ tb
    pa, pb = torch.from_numpy(a).requires_grad_(), torch.from_numpy(b).requires_grad_()
    ref = pa @ pb
    np.testing.assert_allclose(to_np(out), ref.detach().numpy(), rtol=1e-12)
    seed = rand(*ref.shape)
    out.backward(to_tg(seed, device, False))
    ref.backward(torch.from_numpy(seed))
    np.testing.assert_allclose(to_np(ta.grad), pa.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_np(tb.grad), pb.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert tg.autograd.gradcheck(tg.matmul, (ta, tb))
    assert tg.autograd.gradgradcheck(tg.matmul, (ta, tb))


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((3,), (3,)), ((2, 2, 3), (3,))])
def test_matmul_integer(sa, sb, dtype, device):
    out = check_torch(lambda m, a, b: m.matmul(a, b), [rand(*sa, dtype=dtype), rand(*sb, dtype=dtype)], device)
    assert not out[0].requires_grad


def test_matmul_float16(device):
    a, b = rand(2, 3, dtype=np.float16), rand(3, 4, dtype=np.float16)
    check_torch(lambda m, a, b: m.matmul(a, b), [a, b], device, backward=False, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("sa,sb,match", [
    ((3,), (4,), r"inconsistent tensor size, expected tensor \[3\] and src \[4\]"),
    ((2, 3), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ((3,), (4, 5), r"shapes cannot be multiplied \(3 and 4x5\)"),
    ((2, 3), (4,), r"shapes cannot be multiplied \(2x3 and 4\)"),
    ((5, 2, 3), (5, 4, 2), r"shapes cannot be multiplied \(5x2x3 and 5x4x2\)"),
    ((5, 2, 3), (4, 3, 2), r"batch dimensions \[5\] and \[4\] do not broadcast"),
    ((), (3,), r"both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    ((3,), (), r"both arguments to matmul need to be at least 1D, but they are 1D and 0D"),
])
def test_matmul_shape_errors(sa, sb, match, device):
    with pytest.raises(RuntimeError, match=match):
        tg.matmul(to_tg(rand(*sa), device), to_tg(rand(*sb), device))


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((3,), (3,)), ((2, 2, 3), (3, 4)), ((2, 3), (3,))])
def test_matmul_mixed_dtypes_raise(sa, sb, device):
    a, b = to_tg(rand(*sa, dtype=np.float32), device), to_tg(rand(*sb), device)
    with pytest.raises(RuntimeError, match="same dtype, but got: float32 != float64"):
        tg.matmul(a, b)
    with pytest.raises(RuntimeError, match="same dtype, but got: int64 != float32"):
        tg.matmul(to_tg(rand(*sa, dtype=np.int64), device), to_tg(rand(*sb, dtype=np.float32), device))


def test_matmul_bool_and_non_tensor(device):
    a = to_tg(rand(2, 3, dtype=bool), device)
    with pytest.raises(NotImplementedError, match="Bool"):
        a @ a.mT
    with pytest.raises(TypeError, match="must be a Tensor"):
        tg.matmul(a, [[1.0]])


# ---------------------------------------------------------------- mm / bmm / dot / outer
def test_mm(device):
    for sa, sb in [((2, 3), (3, 4)), ((1, 1), (1, 5)), ((2, 0), (0, 3)), ((0, 2), (2, 3))]:
        check_grad(lambda a, b: tg.mm(a, b), [rand(*sa), rand(*sb)], device)
        for dtype in FLOATS:
            check_torch(lambda m, a, b: a.mm(b), [rand(*sa, dtype=dtype), rand(*sb, dtype=dtype)], device,
                        **_tol(dtype))
    check_torch(lambda m, a, b: m.mm(a.mT, b), [rand(3, 2), rand(3, 4)], device)


def test_mm_errors(device):
    m2, v = to_tg(rand(2, 3), device), to_tg(rand(3), device)
    with pytest.raises(RuntimeError, match="self must be a matrix"):
        tg.mm(v, m2.mT)
    with pytest.raises(RuntimeError, match="mat2 must be a matrix"):
        tg.mm(m2, v)
    with pytest.raises(RuntimeError, match="mat2 must be a matrix"):
        tg.mm(m2, to_tg(rand(1, 3, 2), device))
    with pytest.raises(RuntimeError, match=r"shapes cannot be multiplied \(2x3 and 2x3\)"):
        tg.mm(m2, m2)
    with pytest.raises(RuntimeError, match="same dtype"):
        tg.mm(m2, to_tg(rand(3, 2, dtype=np.float32), device))


def test_bmm(device):
    for sa, sb in [((2, 2, 3), (2, 3, 4)), ((1, 1, 1), (1, 1, 1)), ((0, 2, 3), (0, 3, 2)), ((2, 2, 0), (2, 0, 3))]:
        check_grad(lambda a, b: tg.bmm(a, b), [rand(*sa), rand(*sb)], device)
        for dtype in FLOATS:
            check_torch(lambda m, a, b: a.bmm(b), [rand(*sa, dtype=dtype), rand(*sb, dtype=dtype)], device,
                        **_tol(dtype))
    check_torch(lambda m, a, b: m.bmm(a.mT, b.transpose(0, 1)), [rand(2, 3, 2), rand(3, 2, 4)], device)


def test_bmm_errors(device):
    a = to_tg(rand(2, 2, 3), device)
    with pytest.raises(RuntimeError, match="batch1 must be a 3D tensor"):
        tg.bmm(to_tg(rand(2, 3), device), a)
    with pytest.raises(RuntimeError, match="batch2 must be a 3D tensor"):
        tg.bmm(a, to_tg(rand(3, 2), device))
    with pytest.raises(RuntimeError, match=r"batch2 tensor to be: \[2, 3\] but got: \[1, 3\]"):
        tg.bmm(a, to_tg(rand(1, 3, 2), device))  # no broadcasting of the batch
    with pytest.raises(RuntimeError, match=r"batch2 tensor to be: \[2, 3\] but got: \[2, 4\]"):
        tg.bmm(a, to_tg(rand(2, 4, 2), device))
    with pytest.raises(RuntimeError, match="same dtype"):
        tg.bmm(a, to_tg(rand(2, 3, 2, dtype=np.float32), device))


def test_dot(device):
    for n in (3, 1, 0):
        check_grad(lambda a, b: tg.dot(a, b), [rand(n), rand(n)], device)
        for dtype in FLOATS:
            check_torch(lambda m, a, b: a.dot(b), [rand(n, dtype=dtype), rand(n, dtype=dtype)], device,
                        **_tol(dtype))
    check_torch(lambda m, a, b: m.dot(a, b), [rand(4, dtype=np.int64), rand(4, dtype=np.int64)], device)


def test_dot_errors(device):
    v = to_tg(rand(3), device)
    with pytest.raises(RuntimeError, match="1D tensors expected, but got 2D and 1D tensors"):
        tg.dot(to_tg(rand(2, 3), device), v)
    with pytest.raises(RuntimeError, match="1D tensors expected, but got 0D and 1D tensors"):
        tg.dot(to_tg(rand(), device), v)
    with pytest.raises(RuntimeError, match=r"expected tensor \[3\] and src \[4\]"):
        tg.dot(v, to_tg(rand(4), device))
    with pytest.raises(RuntimeError, match="same dtype, but found float64 and float32"):
        tg.dot(v, to_tg(rand(3, dtype=np.float32), device))


def test_outer(device):
    for n, k in [(3, 2), (1, 1), (0, 2)]:
        check_grad(lambda a, b: tg.outer(a, b), [rand(n), rand(k)], device)
        for dtype in FLOATS:
            check_torch(lambda m, a, b: a.outer(b), [rand(n, dtype=dtype), rand(k, dtype=dtype)], device,
                        **_tol(dtype))
    # outer promotes like mul (unlike matmul)
    check_torch(lambda m, a, b: m.outer(a, b), [rand(3, dtype=np.float32), rand(2)], device)
    check_torch(lambda m, a, b: m.outer(a, b), [rand(3, dtype=np.int64), rand(2, dtype=np.float32)], device)


def test_outer_errors(device):
    with pytest.raises(RuntimeError, match="expected 1-D argument input, but got 2-D"):
        tg.outer(to_tg(rand(3, 2), device), to_tg(rand(2), device))
    with pytest.raises(RuntimeError, match="expected 1-D argument vec2, but got 0-D"):
        tg.outer(to_tg(rand(3), device), to_tg(rand(), device))


# ---------------------------------------------------------------- linear
LINEAR_CASES = [  # input, weight, bias shapes (None: no bias)
    ((2, 3), (4, 3), (4,)),
    ((2, 3), (4, 3), None),
    ((3,), (4, 3), (4,)),
    ((5, 2, 3), (4, 3), (4,)),
    ((2, 3), (4, 3), (2, 4)),     # bias broadcast over the output
    ((2, 3), (4, 3), (2, 1)),
    ((5, 2, 3), (4, 3), (2, 4)),
    ((2, 3), (4, 3), ()),
    ((2, 3), (3,), None),         # weight vector: no out_features dim
    ((0, 3), (4, 3), (4,)),       # empty batch
    ((2, 0), (4, 0), (4,)),       # in_features = 0: bias only
    ((1, 1), (1, 1), (1,)),
]


def _linear_for_gradcheck(*ts):
    # the bias gradient is the output gradient itself when their shapes agree: gradgradcheck must
    # read that aliased gradient correctly
    return tg.linear(*ts)


@pytest.mark.parametrize("sx,sw,sb", LINEAR_CASES, ids=[str(c) for c in LINEAR_CASES])
def test_linear(sx, sw, sb, device):
    shapes = [sx, sw] + ([sb] if sb is not None else [])
    check_grad(_linear_for_gradcheck, [rand(*s) for s in shapes], device)
    for dtype in FLOATS:
        check_torch(lambda m, *ts: _linear(m, *ts), [rand(*s, dtype=dtype) for s in shapes], device,
                    **_tol(dtype))


def test_linear_keywords_views_and_partial_grads(device):
    check_torch(lambda m, x, w, b: _linear(m, input=x, weight=w, bias=b), [rand(2, 3), rand(4, 3), rand(4)], device)
    check_torch(lambda m, x, w, b: _linear(m, x.mT, w, b), [rand(3, 2), rand(4, 3), rand(4)], device)
    check_torch(lambda m, x, w, b: _linear(m, x.expand(3, 2, 3), w.mT, b), [rand(2, 3), rand(3, 4), rand(4)],
                device)
    for grad_inputs in ([0], [1], [2], [1, 2]):
        check_grad(_linear_for_gradcheck, [rand(3), rand(4, 3), rand(4)], device, grad_inputs=grad_inputs)
        check_torch(lambda m, x, w, b: _linear(m, x, w, b), [rand(5, 2, 3), rand(4, 3), rand(4)], device,
                    grad_inputs=grad_inputs)


def test_linear_integer(device):
    out = check_torch(lambda m, x, w, b: _linear(m, x, w, b),
                      [rand(2, 3, dtype=np.int64), rand(4, 3, dtype=np.int64), rand(4, dtype=np.int64)], device)
    assert out[0].dtype == tg.int64


def test_linear_errors(device):
    x, w, b = to_tg(rand(2, 3), device), to_tg(rand(4, 3), device), to_tg(rand(4), device)
    with pytest.raises(RuntimeError, match=r"shapes cannot be multiplied \(2x3 and 5x4\)"):
        tg.linear(x, to_tg(rand(4, 5), device))
    with pytest.raises(RuntimeError, match="at least 1D, but they are 0D and 2D"):
        tg.linear(to_tg(rand(), device), w)
    with pytest.raises(RuntimeError, match="same dtype, but got: float64 != float32"):
        tg.linear(x, to_tg(rand(4, 3, dtype=np.float32), device))
    with pytest.raises(RuntimeError, match="bias to have the same dtype"):
        tg.linear(x, w, to_tg(rand(4, dtype=np.float32), device))
    with pytest.raises(RuntimeError, match=r"bias of shape \[5\] cannot be broadcast to the output shape \[2, 4\]"):
        tg.linear(x, w, to_tg(rand(5), device))
    with pytest.raises(RuntimeError, match=r"bias of shape \[3, 2, 4\] cannot be broadcast"):
        tg.linear(x, w, to_tg(rand(3, 2, 4), device))
    with pytest.raises(RuntimeError, match="weight must be 1-D or 2-D"):
        tg.linear(x, to_tg(rand(2, 4, 3), device))
    with pytest.raises(RuntimeError, match="bias needs a 2-D weight"):
        tg.linear(x, to_tg(rand(3), device), b)


# ---------------------------------------------------------------- einsum
EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),              # matrix product
    ("ij,jk", [(2, 3), (3, 4)]),                  # implicit output
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),     # batch matmul
    ("bi,bj,ij->b", [(3, 2), (3, 4), (2, 4)]),    # bilinear
    ("ii", [(3, 3)]),                             # trace
    ("ii->", [(3, 3)]),
    ("ii->i", [(3, 3)]),                          # diagonal
    ("iij->ji", [(2, 2, 3)]),
    ("iii->i", [(2, 2, 2)]),
    ("ii,jj->ij", [(2, 2), (3, 3)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("ij->ji", [(2, 3)]),                         # transpose
    ("ji", [(2, 3)]),                             # implicit: sorted labels, a transpose
    ("ij->", [(2, 3)]),                           # sum of all
    ("ij->j", [(2, 3)]),                          # sum over an index
    ("i,j->ij", [(2,), (3,)]),                    # outer
    ("i,i->", [(4,), (4,)]),                      # dot
    ("ij,j->i", [(2, 3), (3,)]),                  # matrix-vector
    ("ij,ij->ij", [(2, 3), (2, 3)]),              # elementwise
    ("ij,ij->ij", [(2, 1), (1, 3)]),              # size-1 dims broadcast
    ("bij,jk->bik", [(1, 2, 3), (3, 2)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),   # ellipsis broadcasting
    ("...ij,...jk", [(2, 2, 3), (3, 2)]),         # implicit: ellipsis dims first
    ("...ij,...jk->ik", [(2, 2, 3), (2, 3, 2)]),  # ellipsis dims summed
    ("i...->...", [(2, 3, 2)]),
    ("b...i,i->b...", [(2, 3, 4), (4,)]),
    ("...,...->...", [(2, 3), (3,)]),
    ("bA,Ac", [(2, 3), (3, 4)]),                  # upper-case labels
    (" ij , jk -> ik ", [(2, 3), (3, 4)]),        # spaces
    (",i->i", [(), (3,)]),                        # a 0-d operand
    ("ij,jk->ik", [(2, 0), (0, 3)]),              # zero-size contraction
    ("i->", [(0,)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES, ids=[f"{e}|{s}" for e, s in EINSUM_CASES])
def test_einsum(eq, shapes, device):
    check_grad(lambda *ts: tg.einsum(eq, *ts), [rand(*s) for s in shapes], device)
    for dtype in FLOATS:
        check_torch(lambda m, *ts: m.einsum(eq, *ts), [rand(*s, dtype=dtype) for s in shapes], device,
                    **_tol(dtype))


def test_einsum_large_contraction_path(device):
    # big enough to take the optimized contraction path
    check_torch(lambda m, a, b, c: m.einsum("bi,bj,ij->b", a, b, c), [rand(40, 30), rand(40, 50), rand(30, 50)],
                device, rtol=1e-10, atol=1e-10)


def test_einsum_operand_forms(device):
    arrays = [rand(2, 3), rand(3, 4)]
    check_torch(lambda m, a, b: m.einsum("ij,jk->ik", [a, b]), arrays, device)
    check_torch(lambda m, a, b: m.einsum("ij,jk->ik", (a, b)), arrays, device)
    check_torch(lambda m, a, b: m.einsum(a, [0, 1], b, [1, 2], [0, 2]), arrays, device)
    check_torch(lambda m, a, b: m.einsum(a, [0, 1], b, [1, 2]), arrays, device)
    check_torch(lambda m, a, b: m.einsum(a, [..., 1], b, [1, 2], [..., 2]), [rand(2, 2, 3), rand(3, 4)], device)
    check_torch(lambda m, a, b: m.einsum("bij,bjk->bik", a.mT, b.expand(2, 3, 4)), [rand(2, 3, 2), rand(3, 4)],
                device)
    check_grad(lambda a, b: tg.einsum("ij,jk->ik", a, b), arrays, device, grad_inputs=[1])


def test_einsum_integer_and_bool_dtypes(device):
    ints = [rand(2, 3, dtype=np.int32), rand(2, 3, dtype=np.int32)]
    check_torch(lambda m, a, b: m.einsum("ij,ij->i", a, b), ints, device)   # product keeps int32
    check_torch(lambda m, a, b: m.einsum("ij->", a), ints, device)          # a plain sum gives int64
    bools = [rand(2, 3, dtype=bool), rand(2, 3, dtype=bool)]
    check_torch(lambda m, a, b: m.einsum("ij->ji", a), bools, device)
    check_torch(lambda m, a, b: m.einsum("ij->j", a), bools, device)
    check_torch(lambda m, a, b: m.einsum("ij,ij->ij", a, b), bools, device)
    with pytest.raises(NotImplementedError, match="bool"):
        tg.einsum("ij,kj->ik", *[to_tg(b, device) for b in bools])


def test_einsum_output_does_not_alias_input(device):
    a = rand(3, 3)
    x = to_tg(a.copy(), device, requires_grad=False)
    for eq in ("ij->ji", "ii->i", "ij->ij"):
        tg.einsum(eq, x).add_(1.0)  # NumPy returns views for these; tensorgrad's result owns its memory
        np.testing.assert_array_equal(to_np(x), a)


@pytest.mark.parametrize("eq,shapes,exc,match", [
    ("ij,jk->ik", [(2, 3), (3, 4, 1)], RuntimeError,
     r"number of subscripts in the equation \(2\) does not match the number of dimensions \(3\) for operand 1"),
    ("ij...,jk->ik", [(2,), (3, 4)], RuntimeError, r"\(2\) is more than the number of dimensions \(1\)"),
    ("i1,jk->ik", [(2, 3), (3, 4)], RuntimeError, "invalid subscript given at index 1"),
    ("ij->j->i", [(2, 3)], RuntimeError, "invalid subscript given at index 5"),
    ("ij->i", [(2, 3), (3, 4)], RuntimeError, "more operands were provided than specified"),
    ("ij,jk->ik", [(2, 3)], RuntimeError, "fewer operands were provided than specified"),
    ("ij,jk->iz", [(2, 3), (3, 4)], RuntimeError, "output subscript z does not appear"),
    ("ij,jk->ii", [(2, 3), (3, 4)], RuntimeError, "output subscript i appears more than once"),
    ("ii->i", [(2, 3)], RuntimeError, "subscript i is repeated for operand 0 but the sizes don't match, 2 != 3"),
    ("ij,jk->ik", [(2, 3), (4, 4)], RuntimeError,
     "subscript j has size 4 for operand 1 which does not broadcast with previously seen size 3"),
    ("...ij,...jk->...ik", [(5, 2, 3), (7, 3, 4)], RuntimeError, "dimension 0 covered by ellipsis has size 7"),
    ("...i...->i", [(2, 3)], RuntimeError, "ellipsis was already found"),
    ("..ij->ij", [(2, 3)], RuntimeError, "not part of any ellipsis"),
])
def test_einsum_errors(eq, shapes, exc, match, device):
    with pytest.raises(exc, match=match):
        tg.einsum(eq, *[to_tg(rand(*s), device) for s in shapes])


def test_einsum_argument_errors(device):
    a = to_tg(rand(2, 3), device)
    with pytest.raises(RuntimeError, match="same dtype, but found float64 and float32"):
        tg.einsum("ij,jk", a, to_tg(rand(3, 2, dtype=np.float32), device))
    with pytest.raises(ValueError, match="at least one operand"):
        tg.einsum("ij")
    with pytest.raises(TypeError, match="expected Tensor as operand 1"):
        tg.einsum("ij,jk", a, [[1.0]])
    with pytest.raises(ValueError, match="integers in"):
        tg.einsum(a, [0, 60])
