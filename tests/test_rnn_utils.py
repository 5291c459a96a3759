"""tensorgrad.nn.utils.rnn: packing and padding of variable-length sequences.

Checked against PyTorch (torch.nn.utils.rnn) for values, batch_sizes, permutations and the
gradients of random upstream gradients, in float32 and float64; gradcheck in float64; the
helpers the recurrent layers use; PackedSequence's conversions; and the error messages.
"""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from oracle import on_device, needs_torch, rand, to_np, to_tg, torch
from tensorgrad.nn.utils import rnn


FLOATS = [np.float32, np.float64]
TRNN = torch.nn.utils.rnn if torch is not None else None

# (lengths, enforce_sorted): sorted, unsorted with ties, all equal, single sequence
LENGTH_CASES = [([5, 3, 3, 1], True), ([2, 5, 1, 5, 3], False), ([4, 4, 4], True), ([4, 4, 4], False),
                ([3], True), ([1, 2], False)]


def close(a, b, dtype=np.float64):
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(to_np(a) if isinstance(a, tg.Tensor) else a,
                               b.detach().numpy() if torch is not None and isinstance(b, torch.Tensor) else b,
                               rtol=tol, atol=tol)


def same_ints(a, b):
    if b is None:
        assert a is None
        return
    assert a is not None and a.dtype == tg.int64
    np.testing.assert_array_equal(to_np(a), b.numpy())


def check_packed(p, q, device):
    """tensorgrad PackedSequence p against torch's q."""
    assert isinstance(p, rnn.PackedSequence) and isinstance(p, tuple)
    close(p.data, q.data)
    assert p.data.dtype.name == str(q.data.dtype).replace("torch.", "")
    assert p.batch_sizes.device.type == "cpu" and p.batch_sizes.dtype == tg.int64
    same_ints(p.batch_sizes, q.batch_sizes)
    same_ints(p.sorted_indices, q.sorted_indices)
    same_ints(p.unsorted_indices, q.unsorted_indices)
    for t in (p.sorted_indices, p.unsorted_indices):
        assert t is None or (t.device == p.data.device and on_device(t, device))


def padded_input(lengths, batch_first, dtype, tail=(2,), extra=1):
    steps = max(lengths) + extra
    shape = (len(lengths), steps) if batch_first else (steps, len(lengths))
    return rand(*shape, *tail, dtype=dtype)


def pair(a, device):
    """(tensorgrad leaf on device, torch leaf), both requiring grad."""
    return to_tg(a.copy(), device, True), torch.tensor(a.copy(), requires_grad=True)


def backward_both(out_t, out_p, dtype):
    seed = rand(*out_p.shape, dtype=dtype)
    out_t.backward(to_tg(seed, str(out_t.device), False))
    out_p.backward(torch.tensor(seed))


# ---------------------------------------------------------------- pack_padded_sequence / pad_packed_sequence
@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", LENGTH_CASES)
def test_pack_padded_matches_torch(device, dtype, batch_first, lengths, enforce_sorted):
    x_t, x_p = pair(padded_input(lengths, batch_first, dtype, tail=(3, 2)), device)
    p = rnn.pack_padded_sequence(x_t, lengths, batch_first, enforce_sorted)
    q = TRNN.pack_padded_sequence(x_p, lengths, batch_first, enforce_sorted)
    check_packed(p, q, device)
    backward_both(p.data, q.data, dtype)
    close(x_t.grad, x_p.grad, dtype)  # padding positions: zero gradient


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", LENGTH_CASES)
def test_pack_then_pad_matches_torch(device, dtype, batch_first, lengths, enforce_sorted):
    x_t, x_p = pair(padded_input(lengths, batch_first, dtype), device)
    lens = tg.tensor(lengths)  # a CPU tensor this time
    out_t, len_t = rnn.pad_packed_sequence(rnn.pack_padded_sequence(x_t, lens, batch_first, enforce_sorted),
                                           batch_first, padding_value=-1.5)
    out_p, len_p = TRNN.pad_packed_sequence(TRNN.pack_padded_sequence(x_p, lengths, batch_first, enforce_sorted),
                                            batch_first, padding_value=-1.5)
    assert tuple(out_t.shape) == tuple(out_p.shape) and out_t.dtype.name == str(out_p.dtype)[6:]
    close(out_t, out_p)
    same_ints(len_t, len_p)
    assert len_t.device.type == "cpu"
    backward_both(out_t, out_p, dtype)
    close(x_t.grad, x_p.grad, dtype)


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", LENGTH_CASES[:3])
def test_pad_packed_from_leaf_data_matches_torch(device, dtype, batch_first, lengths, enforce_sorted):
    """Gradient from the padded output to the packed data (a leaf), with total_length."""
    ref = TRNN.pack_padded_sequence(torch.zeros(max(lengths), len(lengths), 3), lengths,
                                    enforce_sorted=enforce_sorted)
    data = rand(ref.data.shape[0], 3, dtype=dtype)
    d_t, d_p = pair(data, device)
    perm = ref.sorted_indices
    p = rnn.PackedSequence(d_t, tg.tensor(ref.batch_sizes.numpy()),
                           None if perm is None else tg.tensor(perm.numpy(), device=device))
    q = TRNN.PackedSequence(d_p, ref.batch_sizes, perm)
    same_ints(p.unsorted_indices, q.unsorted_indices)
    total = max(lengths) + 2
    out_t, len_t = rnn.pad_packed_sequence(p, batch_first, 0.25, total_length=total)
    out_p, len_p = TRNN.pad_packed_sequence(q, batch_first, 0.25, total_length=total)
    close(out_t, out_p)
    same_ints(len_t, len_p)
    backward_both(out_t, out_p, dtype)
    close(d_t.grad, d_p.grad, dtype)


@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_pad_gradcheck(device, batch_first):
    x = to_tg(padded_input([3, 1, 2], batch_first, np.float64), device, True)

    def round_trip(x):
        p = rnn.pack_padded_sequence(x, [3, 1, 2], batch_first, enforce_sorted=False)
        return rnn.pad_packed_sequence(p, batch_first, padding_value=2.0, total_length=5)[0]

    assert tg.autograd.gradcheck(round_trip, [x])
    assert tg.autograd.gradgradcheck(round_trip, [x])


def test_integer_data(device):
    x = to_tg(np.arange(12).reshape(3, 4), device, False)
    p = rnn.pack_padded_sequence(x, [3, 2, 2, 1])
    np.testing.assert_array_equal(to_np(p.data), [0, 1, 2, 3, 4, 5, 6, 8])
    out, lengths = rnn.pad_packed_sequence(p, padding_value=-1)
    assert out.dtype == tg.int64
    np.testing.assert_array_equal(to_np(out), [[0, 1, 2, 3], [4, 5, 6, -1], [8, -1, -1, -1]])


# ---------------------------------------------------------------- helpers for the recurrent layers
@needs_torch
@pytest.mark.parametrize("lengths", [[5, 3, 3, 1], [2, 2], [1]])
def test_packed_padded_helpers(device, lengths):
    x = rand(max(lengths), len(lengths), 3, 2)
    q = TRNN.pack_padded_sequence(torch.tensor(x), lengths)  # sorted: no permutation
    d_t = to_tg(q.data.numpy(), device, True)
    p = rnn.PackedSequence(d_t, tg.tensor(q.batch_sizes.numpy()))
    padded, batch_sizes = rnn._packed_to_padded(p)
    assert batch_sizes == q.batch_sizes.tolist() and all(type(b) is int for b in batch_sizes)
    want = x * (np.arange(max(lengths))[:, None] < np.array(lengths)[None, :])[..., None, None]
    close(padded, want)
    assert str(padded.device) == str(d_t.device)
    data = rnn._padded_to_packed(padded, batch_sizes)
    close(data, q.data)
    # a tensor batch_sizes and a larger padded (extra steps and columns are ignored) work too
    big = to_tg(np.pad(x, ((0, 2), (0, 1), (0, 0), (0, 0))), device, True)
    data2 = rnn._padded_to_packed(big, p.batch_sizes)
    close(data2, q.data)
    seed = rand(*q.data.shape)
    data2.backward(to_tg(seed, device, False))
    want_grad = np.zeros_like(to_np(big))
    want_grad[: max(lengths), : len(lengths)] = to_np(rnn._packed_to_padded(
        rnn.PackedSequence(to_tg(seed, device, False), p.batch_sizes))[0])
    close(big.grad, want_grad)
    assert tg.autograd.gradcheck(lambda d: rnn._packed_to_padded(rnn.PackedSequence(d, p.batch_sizes))[0],
                                 [d_t.detach().requires_grad_()])
    assert tg.autograd.gradcheck(lambda y: rnn._padded_to_packed(y, batch_sizes),
                                 [to_tg(x, device, True)])


def test_padded_to_packed_errors():
    with pytest.raises(ValueError, match=r"_padded_to_packed\(\).*shape \[2, 3, 1\].*\[3, 1, 1\]"):
        rnn._padded_to_packed(tg.zeros(2, 3, 1), [3, 1, 1])
    with pytest.raises(ValueError, match=r"_padded_to_packed\(\).*non-increasing.*\[1, 2\]"):
        rnn._padded_to_packed(tg.zeros(2, 3, 1), [1, 2])
    with pytest.raises(ValueError, match=r"_packed_to_padded\(\).*5 rows.*\[2, 1\] sum to 3"):
        rnn._packed_to_padded(rnn.PackedSequence(tg.zeros(5, 2), tg.tensor([2, 1])))


# ---------------------------------------------------------------- pad_sequence / pack_sequence / unpad / unpack
def seq_arrays(lengths, dtype=np.float64, tail=(2,)):
    return [rand(n, *tail, dtype=dtype) for n in lengths]


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("lengths", [[3, 0, 5, 2], [2, 2], [4]])
def test_pad_sequence_matches_torch(device, dtype, batch_first, padding_side, lengths):
    pairs = [pair(a, device) for a in seq_arrays(lengths, dtype, tail=(3, 2))]
    out_t = rnn.pad_sequence([a for a, _ in pairs], batch_first, 0.5, padding_side)
    out_p = TRNN.pad_sequence([b for _, b in pairs], batch_first, 0.5, padding_side)
    assert tuple(out_t.shape) == tuple(out_p.shape)
    close(out_t, out_p)
    backward_both(out_t, out_p, dtype)
    for a, b in pairs:
        close(a.grad, b.grad, dtype)


def test_pad_sequence_forms(device):
    rows = to_tg(rand(3, 4), device, True)
    out = rnn.pad_sequence(rows)  # a tensor is a sequence of its rows
    assert tuple(out.shape) == (4, 3)
    np.testing.assert_array_equal(to_np(out), to_np(rows).T)
    a, b = to_tg(rand(2, 1), device), to_tg(rand(3, 1).astype(np.float32), device)
    out = rnn.pad_sequence((a, b), batch_first=True)  # a tuple; the first sequence's dtype wins
    assert out.dtype == tg.float64 and tuple(out.shape) == (2, 3, 1)
    out = rnn.pad_sequence(iter([to_tg(np.zeros((0, 2)), device)] * 2))  # all empty
    assert tuple(out.shape) == (0, 2, 2)
    assert tg.autograd.gradcheck(lambda x, y: rnn.pad_sequence([x, y], padding_side="left"),
                                 [to_tg(rand(2, 3), device, True), to_tg(rand(4, 3), device, True)])


@needs_torch
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("lengths,enforce_sorted", LENGTH_CASES)
def test_pack_unpack_sequence_matches_torch(device, dtype, lengths, enforce_sorted):
    pairs = [pair(a, device) for a in seq_arrays(lengths, dtype)]
    p = rnn.pack_sequence([a for a, _ in pairs], enforce_sorted)
    q = TRNN.pack_sequence([b for _, b in pairs], enforce_sorted)
    check_packed(p, q, device)
    outs_t, outs_p = rnn.unpack_sequence(p), TRNN.unpack_sequence(q)
    assert len(outs_t) == len(outs_p) == len(lengths)
    seeds = [rand(*o.shape, dtype=dtype) for o in outs_p]
    for o_t, o_p in zip(outs_t, outs_p):
        close(o_t, o_p)
    tg.autograd.backward(outs_t, [to_tg(s, device, False) for s in seeds])
    torch.autograd.backward(outs_p, [torch.tensor(s) for s in seeds])
    for a, b in pairs:
        close(a.grad, b.grad, dtype)


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [[3, 1, 4], [2, 2], [6, 0, 1]])
def test_unpad_sequence_matches_torch(device, batch_first, lengths):
    x_t, x_p = pair(padded_input([max(lengths)] * len(lengths), batch_first, np.float64), device)
    outs_t = rnn.unpad_sequence(x_t, tg.tensor(lengths, device=device), batch_first)
    outs_p = TRNN.unpad_sequence(x_p.clone(), torch.tensor(lengths), batch_first)  # torch transposes in place
    assert tuple(x_t.shape) == tuple(x_p.shape)  # left alone here
    seeds = [rand(*o.shape) for o in outs_p]
    for o_t, o_p in zip(outs_t, outs_p):
        assert tuple(o_t.shape) == tuple(o_p.shape)
        close(o_t, o_p)
    tg.autograd.backward(outs_t, [to_tg(s, device, False) for s in seeds])
    torch.autograd.backward(outs_p, [torch.tensor(s) for s in seeds])
    close(x_t.grad, x_p.grad)
    assert [tuple(o.shape) for o in rnn.unpad_sequence(x_t, lengths, batch_first)] == \
        [tuple(o.shape) for o in outs_p]  # a list of ints works as well


def test_pad_unpad_round_trip(device):
    seqs = [to_tg(a, device) for a in seq_arrays([2, 5, 1], tail=(3,))]
    padded = rnn.pad_sequence(seqs, batch_first=True)
    for a, b in zip(seqs, rnn.unpad_sequence(padded, [2, 5, 1], batch_first=True)):
        np.testing.assert_array_equal(to_np(a), to_np(b))


# ---------------------------------------------------------------- PackedSequence
def test_packed_sequence_fields_and_conversions(device):
    x = to_tg(rand(4, 3, 2).astype(np.float32), device, True)
    p = rnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
    data, batch_sizes, sorted_indices, unsorted_indices = p
    assert p._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    assert p.is_cuda == (device == "cuda") and p.is_pinned() is False
    assert p.to(device) is p and p.to(tg.float32) is p and p.float() is p
    d = p.double()
    assert isinstance(d, rnn.PackedSequence) and d.data.dtype == tg.float64
    assert d.batch_sizes is p.batch_sizes and d.sorted_indices.dtype == tg.int64
    assert d.data.grad_fn is not None  # the conversion is recorded
    for q in (p.to("cpu"), p.cpu(), p.to(tg.zeros(1, dtype=tg.float64))):
        assert q.data.device.type == "cpu" and q.sorted_indices.device.type == "cpu"
        assert q.unsorted_indices.device.type == "cpu" and q.batch_sizes.device.type == "cpu"
    assert p.to(device="cpu", dtype=tg.float64).data.dtype == tg.float64
    if device == "cuda":
        c = p.cpu().cuda()
        assert c.is_cuda and c.sorted_indices.is_cuda and not c.batch_sizes.is_cuda
        with pytest.raises(ValueError, match="batch_sizes should always be on CPU"):
            rnn.PackedSequence(data, batch_sizes.cuda())
    np.testing.assert_array_equal(to_np(rnn.invert_permutation(sorted_indices)), to_np(unsorted_indices))
    assert rnn.invert_permutation(None) is None
    q = rnn.PackedSequence((data, batch_sizes), sorted_indices=sorted_indices)
    assert q.data is data and q.batch_sizes is batch_sizes
    np.testing.assert_array_equal(to_np(q.unsorted_indices), to_np(unsorted_indices))
    assert rnn.PackedSequence(data, batch_sizes).sorted_indices is None
    with pytest.raises(AssertionError, match="list or tuple of length 2"):
        rnn.PackedSequence(data)
    assert "PackedSequence(data=" in repr(p)


def test_registered():
    assert tg.nn.utils.rnn.pack_padded_sequence is rnn.pack_padded_sequence
    assert "rnn" in tg.nn.utils.__all__
    assert set(rnn.__all__) >= {"PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
                                "pack_sequence", "unpad_sequence", "unpack_sequence"}


# ---------------------------------------------------------------- errors
def test_pack_padded_errors(device):
    x = to_tg(rand(5, 3, 2), device)
    with pytest.raises(RuntimeError, match=r"pack_padded_sequence\(\): `lengths` array must be sorted in "
                                           r"decreasing order when `enforce_sorted` is True.*\[3, 5, 2\]"):
        rnn.pack_padded_sequence(x, [3, 5, 2])
    for lengths, es in (([5, 3, 0], True), ([0, 3, 5], False), ([5, -1, 3], False)):
        with pytest.raises(RuntimeError, match=r"pack_padded_sequence\(\): Length of all samples has to be "
                                               r"greater than 0.*lengths=\[" + ", ".join(map(str, lengths))):
            rnn.pack_padded_sequence(x, lengths, enforce_sorted=es)
    with pytest.raises(RuntimeError, match=r"pack_padded_sequence\(\):.*longest length is 6 but the input "
                                           r"holds 5 steps \(lengths=\[3, 6, 2\]\)"):
        rnn.pack_padded_sequence(x, [3, 6, 2], enforce_sorted=False)
    with pytest.raises(RuntimeError, match=r"pack_padded_sequence\(\): Expected `len\(lengths\)` to be equal "
                                           r"to batch_size, but got 2 \(batch_size=3\)"):
        rnn.pack_padded_sequence(x, [5, 3])
    with pytest.raises(RuntimeError, match=r"but got 3 \(batch_size=5\)"):
        rnn.pack_padded_sequence(x, [5, 3, 2], batch_first=True)
    with pytest.raises(RuntimeError, match=r"pack_padded_sequence\(\): 'lengths' argument should be a 1D CPU "
                                           r"int64 tensor, but got 2D"):
        rnn.pack_padded_sequence(x, tg.tensor([[5, 3, 2]]))
    with pytest.raises(RuntimeError, match=r"pack_padded_sequence\(\): Cannot pack empty tensors"):
        rnn.pack_padded_sequence(to_tg(np.zeros((5, 0, 2)), device), [])
    with pytest.raises(IndexError, match=r"pack_padded_sequence\(\): .*shape \[5\]"):
        rnn.pack_padded_sequence(to_tg(rand(5), device), [5])
    if device == "cuda":
        with pytest.raises(RuntimeError, match=r"should be a 1D CPU int64 tensor, but got 1D cuda"):
            rnn.pack_padded_sequence(x, tg.tensor([5, 3, 2], device="cuda"))


def test_other_errors(device):
    p = rnn.pack_padded_sequence(to_tg(rand(5, 3, 2), device), [5, 3, 2])
    with pytest.raises(ValueError, match=r"pad_packed_sequence\(\): Expected total_length to be at least the "
                                         r"length of the longest sequence in input, but got total_length=4 and "
                                         r"max sequence length being 5"):
        rnn.pad_packed_sequence(p, total_length=4)
    with pytest.raises(RuntimeError, match=r"pad_sequence\(\): received an empty list of sequences"):
        rnn.pad_sequence([])
    with pytest.raises(RuntimeError, match=r"pad_sequence: Expected iterable for input sequences"):
        rnn.pad_sequence(3)
    a, b = to_tg(rand(3, 2), device), to_tg(rand(4, 3), device)
    with pytest.raises(RuntimeError, match=r"pad_sequence\(\): .*sequence 0 has shape \[3, 2\] and sequence 1 "
                                           r"has shape \[4, 3\]"):
        rnn.pad_sequence([a, b])
    with pytest.raises(RuntimeError, match=r"pad_sequence\(\): Expected padding_side to be one of left or right, "
                                           r"but got middle"):
        rnn.pad_sequence([a, a], padding_side="middle")
    with pytest.raises(TypeError, match=r"pad_sequence\(\): expected Tensor as element 1"):
        rnn.pad_sequence([a, [1, 2]])
    with pytest.raises(RuntimeError, match=r"pack_sequence\(\): `lengths` array must be sorted.*\[3, 4\]"):
        rnn.pack_sequence([to_tg(rand(3), device), to_tg(rand(4), device)])
    with pytest.raises(RuntimeError, match=r"pack_sequence\(\): Cannot pack empty tensors"):
        rnn.pack_sequence([to_tg(np.zeros((0, 2)), device)] * 2, enforce_sorted=False)
    with pytest.raises(RuntimeError, match=r"pack_sequence\(\): Length of all samples.*lengths=\[2, 0\]"):
        rnn.pack_sequence([to_tg(rand(2, 1), device), to_tg(np.zeros((0, 1)), device)])
    with pytest.raises(ValueError, match=r"unpad_sequence\(\): got 2 lengths for a batch of 3 sequences "
                                         r"\(padded_sequences of shape \[4, 3\]"):
        rnn.unpad_sequence(to_tg(rand(4, 3), device), [2, 1])
