"""Dropout with a counter-based RNG (tensorgrad/fused/dropout.py, kernels/dropout.cu, ops/dropout.py):
Philox4x32-10 against the Random123 known-answer vectors and a plain scalar implementation, the
keep mask's statistics, the host-compiled kernel against the NumPy reference (bit-identical
masks), the op (mask regenerated in backward, gradcheck, double backward, dropout2d broadcasting,
reproducibility) and the generator's Philox offset (draws, reseeding, state round trip).
CUDA tests run where a GPU is usable."""
from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import backend
from tensorgrad.fused import dropout as FD
from tensorgrad.ops.dropout import Dropout, dropout, dropout2d

from oracle import check_grad, rand, to_np
import test_kernels_on_host as _host

CUDA_REASON = tg.cuda.unavailable_reason()
needs_gpu = pytest.mark.skipif(CUDA_REASON is not None, reason=f"needs a CUDA GPU: {CUDA_REASON}")
U32 = 0xFFFFFFFF
host_library = _host.host_library  # the fixture that compiles a kernels/*.cu with the host compiler
_call = _host._call
needs_cxx = pytest.mark.skipif(_host.CXX is None, reason="needs a host C++ compiler (g++ or clang++)")


def _philox_scalar(ctr, key):
    """Philox4x32-10 on Python ints, written straight from the paper: the independent oracle."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & U32, (k1 + 0xBB67AE85) & U32
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & U32, (p0 >> 32) ^ c3 ^ k1, p0 & U32
    return c0, c1, c2, c3


def _mask_scalar(seed, offset, n_mask, threshold):
    out = []
    for m in range(n_mask):
        c = m >> 2
        w = _philox_scalar((c & U32, c >> 32, offset & U32, offset >> 32), (seed & U32, seed >> 32))[m & 3]
        out.append((w >> 8) < threshold)
    return np.array(out, bool)


# ---------------------------------------------------------------- Philox reference
# Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors):
# (counter, key, output), words as written there.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((U32, U32, U32, U32), (U32, U32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,want", KAT)
def test_philox_known_answers(ctr, key, want):
    assert tuple(int(w) for w in FD.philox4x32(ctr, key)) == want
    assert _philox_scalar(ctr, key) == want


def test_philox_vectorized_matches_scalar():
    rng = np.random.default_rng(3)
    ctr = [rng.integers(0, 1 << 32, 50, dtype=np.uint64) for _ in range(4)]
    key = (0x01234567, 0x89ABCDEF)
    got = FD.philox4x32(ctr, key)
    for i in range(50):
        want = _philox_scalar(tuple(int(c[i]) for c in ctr), key)
        assert tuple(int(g[i]) for g in got) == want


@pytest.mark.parametrize("seed,offset", [(0, 0), (42, 7), ((1 << 64) - 1, (1 << 40) + 3), (0x123456789ABCDEF0, U32)])
def test_keep_mask_matches_scalar_philox(seed, offset):
    n_mask, threshold = 37, FD.keep_threshold(0.4)  # not a multiple of 4: the last counter is partly used
    np.testing.assert_array_equal(FD.keep_mask_ref(seed, offset, n_mask, threshold),
                                  _mask_scalar(seed, offset, n_mask, threshold))


def test_keep_mask_across_blocks_and_high_counter_words():
    # the reference works in blocks of counters: entries on both sides of a block edge, and
    # counters past 2**32 (only reachable through the split into words, checked on philox4x32)
    n = FD._BLOCK * 4 + 9
    seed, offset, thr = 5, 11, FD.keep_threshold(0.5)
    mask = FD.keep_mask_ref(seed, offset, n, thr)
    for m in (0, 1, FD._BLOCK * 4 - 1, FD._BLOCK * 4, n - 1):
        c = m >> 2
        w = _philox_scalar((c, 0, offset, 0), (seed, 0))[m & 3]
        assert mask[m] == ((w >> 8) < thr)
    big = (1 << 32) + 5
    words = FD.philox4x32((big & U32, big >> 32, offset, 0), (seed, 0))
    assert tuple(int(w) for w in words) == _philox_scalar((big & U32, big >> 32, offset, 0), (seed, 0))


def test_threshold_and_extremes():
    assert FD.keep_threshold(0.0) == 1 << 24 and FD.keep_threshold(1.0) == 0
    assert FD.keep_threshold(0.5) == 1 << 23
    assert FD.keep_mask_ref(1, 2, 1000, FD.keep_threshold(0.0)).all()
    assert not FD.keep_mask_ref(1, 2, 1000, 0).any()
    assert FD.keep_mask_ref(1, 2, 0, 5).shape == (0,)
    with pytest.raises(ValueError, match="between 0 and 1"):
        FD.keep_threshold(1.5)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_fraction_and_independence_across_offsets(p):
    n, thr = 200_000, FD.keep_threshold(p)
    a = FD.keep_mask_ref(9, 0, n, thr)
    b = FD.keep_mask_ref(9, 1, n, thr)  # the next offset: disjoint counters
    c = FD.keep_mask_ref(10, 0, n, thr)  # another seed
    tol = 5 * np.sqrt(p * (1 - p) / n)  # 5 sigma
    for m in (a, b, c):
        assert abs(m.mean() - (1 - p)) < tol
    for other in (b, c):  # independent: both kept with probability (1-p)^2
        assert abs((a & other).mean() - (1 - p) ** 2) < 5 * np.sqrt((1 - p) ** 2 / n)
    # the four words of one counter are independent too
    words = a[: n - n % 4].reshape(-1, 4)
    assert abs((words[:, 0] & words[:, 3]).mean() - (1 - p) ** 2) < 10 * np.sqrt((1 - p) ** 2 / n)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_reference_apply_is_x_times_scaled_mask(dtype):
    x = rand(6, 5, 4, low=-3, high=3).astype(dtype)
    thr, scale = FD.keep_threshold(0.3), 1 / 0.7
    keep = FD.keep_mask_ref(3, 4, 30, thr)
    y = FD.dropout_apply_ref(x, 3, 4, thr, scale, inner=4)
    assert y.dtype == dtype and y.shape == x.shape
    math = np.float32 if dtype == np.float16 else dtype
    want = (x.astype(math) * np.where(keep, math(scale), math(0)).reshape(6, 5, 1)).astype(dtype)
    np.testing.assert_array_equal(y, want)
    with pytest.raises(ValueError, match="inner=7 does not divide"):
        FD.dropout_apply(x, 3, 4, thr, scale, inner=7)


def test_reference_propagates_nan_like_a_product():
    x = np.array([np.nan, np.inf, 1.0, -np.inf] * 4)
    with np.errstate(invalid="ignore"):
        y = FD.dropout_apply_ref(x, 1, 0, 0, 0.0)  # everything dropped: x * 0
    assert np.isnan(y).tolist() == [True, True, False, True] * 4


# ---------------------------------------------------------------- kernel on the host
@needs_cxx
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_mask,inner", [(1, 1), (7, 1), (1001, 1), (13, 6), (4, 9)])
def test_host_kernel_matches_reference(host_library, dtype, n_mask, inner):
    lib = host_library("dropout", dtype)
    x = rand(n_mask * inner, dtype=dtype, low=0.5, high=2.0)  # no zeros: y != 0 is the mask
    seed, offset = 0xFEDCBA9876543210, (1 << 33) + 17  # both words of seed and offset matter
    thr, scale = FD.keep_threshold(0.35), 1 / 0.65
    y = np.empty_like(x)
    # seed and offset go through ctypes' long long: the same 64 bits as unsigned long long
    _call(lib, "dropout_apply", [x, y], n_mask, inner, seed, offset, thr, reals=(scale,))
    ref = FD.dropout_apply_ref(x, seed, offset, thr, scale, inner)
    keep = FD.keep_mask_ref(seed, offset, n_mask, thr)
    np.testing.assert_array_equal((y != 0).reshape(n_mask, inner), np.repeat(keep[:, None], inner, 1))
    np.testing.assert_array_equal(y, ref)  # same product in the same type: exactly equal
    inplace = x.copy()  # x may be y
    _call(lib, "dropout_apply", [inplace, inplace], n_mask, inner, seed, offset, thr, reals=(scale,))
    np.testing.assert_array_equal(inplace, ref)


@needs_cxx
def test_host_kernel_mask_equals_reference_for_many_seeds(host_library):
    lib = host_library("dropout", "float64")
    x = np.ones(4099)
    for seed, offset, p in ((0, 0, 0.5), (1, 1, 0.1), ((1 << 64) - 1, (1 << 64) - 1, 0.9), (1 << 32, 1 << 32, 0.5)):
        thr = FD.keep_threshold(p)
        y = np.empty_like(x)
        _call(lib, "dropout_apply", [x, y], x.size, 1, seed, offset, thr, reals=(1 / (1 - p),))
        np.testing.assert_array_equal(y != 0, FD.keep_mask_ref(seed, offset, x.size, thr))


# ---------------------------------------------------------------- the op
def _draw_state():
    return tg.default_generator.initial_seed(), tg.default_generator.philox_offset()


@pytest.fixture(params=FD.CPU_MASK_MODES)
def cpu_masks(request):
    """Each CPU mask mode in turn, and the keep mask it draws for (seed, offset, n_mask, threshold)."""
    before = FD.set_cpu_masks(request.param)
    yield FD.keep_mask_ref if request.param == "philox" else FD.keep_mask_fast
    FD.set_cpu_masks(before)


@pytest.fixture
def philox_cpu_masks():
    before = FD.set_cpu_masks("philox")
    yield
    FD.set_cpu_masks(before)


def _apply(keep_fn, x, seed, offset, thr, scale, inner=1):
    return FD._apply_keep(x, keep_fn(seed, offset, x.size // inner, thr), scale, inner)


def test_dropout_output_is_the_reference_at_the_generators_seed_and_offset(cpu_masks):
    x = rand(50, 30)
    tg.manual_seed(77)
    assert _draw_state() == (77, 0)
    y = to_np(dropout(tg.tensor(x), 0.25))
    np.testing.assert_array_equal(y, _apply(cpu_masks, x, 77, 0, FD.keep_threshold(0.25), 1 / 0.75))
    assert _draw_state() == (77, 1500 // 4)  # one counter per four mask entries
    y2 = to_np(dropout(tg.tensor(x), 0.25))
    np.testing.assert_array_equal(y2, _apply(cpu_masks, x, 77, 375, FD.keep_threshold(0.25), 1 / 0.75))
    dropout(tg.ones(5), 0.5)  # 5 entries: 2 counters
    assert _draw_state() == (77, 752)


def test_dropout_leaves_the_uniform_stream_alone():
    tg.manual_seed(3)
    a = to_np(tg.rand(10))
    tg.manual_seed(3)
    dropout(tg.ones(100), 0.5)
    np.testing.assert_array_equal(to_np(tg.rand(10)), a)


def test_p1_and_eval_do_not_draw():
    tg.manual_seed(1)
    dropout(tg.ones(10), 1.0)
    dropout(tg.ones(10), 0.5, training=False)
    dropout(tg.ones(10), 0.0)
    assert _draw_state() == (1, 0)


def test_backward_regenerates_the_same_mask():
    x = tg.tensor(rand(40, 25, low=0.5, high=2.0), requires_grad=True)
    y = dropout(x, 0.4)
    node = y.grad_fn
    assert not any(isinstance(v, np.ndarray) for v in vars(node).values())  # nothing the input's size
    assert (node.threshold, node.inner) == (FD.keep_threshold(0.4), 1)
    tg.rand(100)  # other draws between forward and backward change nothing
    dropout(tg.ones(100), 0.5)
    g = rand(40, 25)
    y.backward(tg.tensor(g))
    kept = to_np(y) != 0
    np.testing.assert_array_equal(to_np(x.grad), np.where(kept, g * (1 / 0.6), 0.0))


def test_gradcheck_and_double_backward_with_fixed_seed_offset():
    thr, scale = FD.keep_threshold(0.3), 1 / 0.7

    def f(x):  # the op at a fixed (seed, offset): the same mask on every evaluation
        return Dropout(123, 45, thr, scale, 1)(x)

    def f2(x):  # dropout2d's layout: one entry per (n, c), broadcast over H*W
        return Dropout(9, 0, thr, scale, 4)(x)

    def g(x):
        tg.manual_seed(5)
        return dropout(x * x, 0.5)  # nonlinear around dropout: a non-zero second derivative
    check_grad(f, [rand(4, 6)])
    check_grad(f2, [rand(2, 3, 2, 2)])
    check_grad(g, [rand(3, 5)])


def test_double_backward_values():
    x = tg.tensor(rand(8, 9, low=0.5, high=2.0), requires_grad=True)
    tg.manual_seed(2)
    y = dropout(x, 0.5)
    (gx,) = tg.autograd.grad((y * y).sum(), x, create_graph=True)  # 2 * m^2 * x, m = keep * 2
    m = (to_np(y) != 0) * 2.0
    np.testing.assert_allclose(to_np(gx), 2 * m * m * to_np(x))
    v = rand(8, 9)
    (ggx,) = tg.autograd.grad((gx * tg.tensor(v)).sum(), x)
    np.testing.assert_allclose(to_np(ggx), 2 * m * m * v)
    assert ggx.grad_fn is None


def test_manual_seed_reproduces_dropout_and_its_gradient():
    x = rand(20, 20)
    outs = []
    for _ in range(2):
        tg.manual_seed(1234)
        t = tg.tensor(x, requires_grad=True)
        a, b = dropout(t, 0.5), dropout2d(t.reshape(4, 5, 4, 5), 0.5)
        (a.sum() + b.sum()).backward()
        outs.append((to_np(a), to_np(b), to_np(t.grad)))
    for u, v in zip(*outs):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(outs[0][0], to_np(dropout(tg.tensor(x), 0.5)))


@pytest.mark.parametrize("shape,lead", [((6, 5, 3, 4), 2), ((5, 3, 4), 1), ((4, 3, 2, 2, 2), 2), ((6, 7), 2)])
def test_dropout2d_mask_covers_the_trailing_dims(shape, lead, cpu_masks):
    x = rand(*shape, low=0.5, high=2.0)
    tg.manual_seed(8)
    with pytest.warns(UserWarning) if len(shape) not in (3, 4) else _no_warning():
        y = to_np(dropout2d(tg.tensor(x), 0.4))
    n_mask = int(np.prod(shape[:lead]))
    keep = cpu_masks(8, 0, n_mask, FD.keep_threshold(0.4)).reshape(shape[:lead] + (1,) * (len(shape) - lead))
    np.testing.assert_array_equal(y, x * np.where(keep, 1 / 0.6, 0.0))
    assert _draw_state() == (8, (n_mask + 3) // 4)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_inplace_draws_once_and_backward_matches():
    tg.manual_seed(6)
    x = tg.tensor(rand(10, 10, low=0.5, high=2.0), requires_grad=True)
    h = x * 1.0
    dropout(h, 0.5, inplace=True)
    assert _draw_state() == (6, 25)
    h.sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), (to_np(h) != 0) * 2.0)


# ---------------------------------------------------------------- generator offset
def test_philox_draw_advances_and_reseeding_resets():
    g = tg.Generator().manual_seed(11)
    assert g.philox_draw(3) == (11, 0)
    assert g.philox_draw(0) == (11, 3)
    assert g.philox_draw(10) == (11, 3)
    assert g.philox_offset() == 13
    g.manual_seed(12)
    assert g.philox_draw(1) == (12, 0)
    s = g.seed()
    assert g.philox_draw(1) == (s, 0)
    with pytest.raises(ValueError, match="n_counters must be >= 0"):
        g.philox_draw(-1)
    g._philox_offset = (1 << 64) - 1  # the 64-bit offset wraps, as a counter does
    g.philox_draw(2)
    assert g.philox_offset() == 1


def test_state_round_trip_keeps_the_offset():
    g = tg.Generator().manual_seed(21)
    g.philox_draw(40)
    state = g.get_state()
    u = to_np(tg.rand(3, generator=g))
    g.philox_draw(7)
    h = tg.Generator().set_state(state)
    assert (h.initial_seed(), h.philox_offset()) == (21, 40)
    np.testing.assert_array_equal(to_np(tg.rand(3, generator=h)), u)
    assert g.clone_state().philox_offset() == 47
    # the global generator: tg.get_rng_state / set_rng_state carry it too
    tg.manual_seed(4)
    dropout(tg.ones(64), 0.5)
    st = tg.get_rng_state()
    a = to_np(dropout(tg.ones(64), 0.5))
    tg.set_rng_state(st)
    np.testing.assert_array_equal(to_np(dropout(tg.ones(64), 0.5)), a)


def _reencode(state, edit):
    data = to_np(state).tobytes()
    head = len(backend._STATE_MAGIC) + 4
    payload = json.loads(data[head:])
    edit(payload)
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    raw = backend._STATE_MAGIC + zlib.crc32(body).to_bytes(4, "little") + body
    return tg.tensor(np.frombuffer(raw, np.uint8).copy())


def test_state_without_offset_loads_with_offset_zero_and_bad_offsets_raise():
    g = tg.Generator().manual_seed(3)
    g.philox_draw(9)
    old = _reencode(g.get_state(), lambda p: p.pop("philox_offset"))  # as saved before the offset existed
    h = tg.Generator().set_state(old)
    assert (h.initial_seed(), h.philox_offset()) == (3, 0)
    for bad in (-1, 1 << 64, "7", True):
        state = _reencode(g.get_state(), lambda p: p.update(philox_offset=bad))
        with pytest.raises(RuntimeError, match="invalid generator state"):
            tg.Generator().set_state(state)


# ---------------------------------------------------------------- CUDA
@needs_gpu
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("n_mask,inner", [(1, 1), (1001, 1), (1 << 18, 1), (13, 6), (257, 33)])
def test_cuda_kernel_matches_reference(dtype, n_mask, inner):
    import cupy as cp
    x = rand(n_mask * inner, low=0.5, high=2.0).astype(dtype)
    seed, offset = 0xFEDCBA9876543210, (1 << 33) + 17
    thr, scale = FD.keep_threshold(0.35), 1 / 0.65
    y = FD.dropout_apply(cp.asarray(x), seed, offset, thr, scale, inner).get()
    keep = FD.keep_mask_ref(seed, offset, n_mask, thr)
    np.testing.assert_array_equal((y != 0).reshape(n_mask, inner), np.repeat(keep[:, None], inner, 1))
    np.testing.assert_array_equal(y, FD.dropout_apply_ref(x, seed, offset, thr, scale, inner))


@needs_gpu
@pytest.mark.cuda
def test_cuda_launch_does_not_synchronize():
    import cupyx
    t = tg.ones(256, 64, device="cuda")
    dropout(t, 0.5)  # compiles the kernel and makes the device's generator outside the check
    with cupyx.allow_synchronize(False):  # raises cupyx.DeviceSynchronized on a host sync
        y = dropout(t, 0.5)
        dropout2d(t.reshape(4, 64, 8, 8), 0.5)
        Dropout(1, 2, FD.keep_threshold(0.5), 2.0, 1).backward(y)


@needs_gpu
@pytest.mark.cuda
def test_same_seed_same_mask_on_cpu_and_cuda(philox_cpu_masks):
    x = rand(33, 70, low=0.5, high=2.0)
    for fn, arr in ((dropout, x), (dropout2d, x.reshape(3, 11, 7, 10))):
        tg.manual_seed(99)
        a = to_np(fn(tg.tensor(arr), 0.3))
        tg.manual_seed(99)
        t = tg.tensor(arr, device="cuda:0", requires_grad=True)
        b = fn(t, 0.3)
        np.testing.assert_array_equal(to_np(b), a)
        b.backward(tg.ones_like(b))
        np.testing.assert_array_equal(to_np(t.grad) != 0, a != 0)
        assert backend.default_generator_for(tg.device("cuda:0")).philox_offset() > 0


@pytest.mark.parametrize("inner", [1, 5])
def test_cpu_forward_keeps_the_mask_bits_the_backward_applies(inner, cpu_masks):
    """dropout_forward's packed bits give what regenerating the mask from (seed, offset) gives."""
    x = np.random.default_rng(3).normal(size=(7, 9 * inner)).astype(np.float32)
    g = np.random.default_rng(4).normal(size=x.shape).astype(np.float32)
    thr = FD.keep_threshold(0.35)
    y, bits = FD.dropout_forward(x, 1234, 56, thr, 1 / 0.65, inner)
    np.testing.assert_array_equal(y, _apply(cpu_masks, x, 1234, 56, thr, 1 / 0.65, inner))
    assert bits.nbytes == (x.size // inner + 7) // 8
    np.testing.assert_array_equal(FD.dropout_apply_bits(g, bits, x.size // inner, 1 / 0.65, inner),
                                  _apply(cpu_masks, g, 1234, 56, thr, 1 / 0.65, inner))
    # regenerating from (seed, offset), as a Dropout op without stored bits does, gives the same
    np.testing.assert_array_equal(FD.dropout_apply(g, 1234, 56, thr, 1 / 0.65, inner),
                                  _apply(cpu_masks, g, 1234, 56, thr, 1 / 0.65, inner))


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_fast_cpu_masks_keep_the_right_fraction_and_are_reproducible(p):
    n, thr = 200_000, FD.keep_threshold(p)
    a = FD.keep_mask_fast(5, 7, n, thr)
    assert abs(a.mean() - (1 - p)) < 4e-3
    np.testing.assert_array_equal(a, FD.keep_mask_fast(5, 7, n, thr))
    if 0 < p < 1:  # another offset or seed: an independent mask
        for b in (FD.keep_mask_fast(5, 8, n, thr), FD.keep_mask_fast(6, 7, n, thr)):
            assert abs((a & b).mean() - (1 - p) ** 2) < 4e-3


def test_cpu_mask_mode_switch_and_errors():
    assert FD.cpu_masks() == "fast"  # the default
    before = FD.set_cpu_masks("philox")
    try:
        assert FD.cpu_masks() == "philox"
        y, _ = FD.dropout_forward(np.ones(40, np.float32), 3, 4, FD.keep_threshold(0.5), 2.0)
        np.testing.assert_array_equal(y != 0, FD.keep_mask_ref(3, 4, 40, FD.keep_threshold(0.5)))
    finally:
        FD.set_cpu_masks(before)
    with pytest.raises(ValueError, match="mode must be one of fast, philox"):
        FD.set_cpu_masks("mt19937")
