"""tensorgrad.Generator: torch.Generator's API, honoured by every function that takes generator=."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.utils.data import DataLoader, RandomSampler, TensorDataset, random_split
from oracle import needs_torch, torch

_CUDA_REASON = tg.cuda.unavailable_reason()

# each draws one tensor on `device` from generator g
DRAWS = {
    "rand": lambda g, d: tg.rand(4, 3, generator=g, device=d),
    "randn": lambda g, d: tg.randn(4, 3, generator=g, device=d),
    "rand_like": lambda g, d: tg.rand_like(tg.zeros(5, device=d), generator=g),
    "randn_like": lambda g, d: tg.randn_like(tg.zeros(5, device=d), generator=g),
    "randint": lambda g, d: tg.randint(0, 1000, (12,), generator=g, device=d),
    "randperm": lambda g, d: tg.randperm(20, generator=g, device=d),
    "normal": lambda g, d: tg.normal(2.0, 3.0, (6,), generator=g, device=d),
    "normal_tensor_mean": lambda g, d: tg.normal(tg.zeros(6, device=d), 1.0, generator=g),
    "uniform_": lambda g, d: tg.empty(8, device=d).uniform_(-1, 1, generator=g),
    "normal_": lambda g, d: tg.empty(8, device=d).normal_(0, 2, generator=g),
    "bernoulli_": lambda g, d: tg.empty(32, device=d).bernoulli_(0.5, generator=g),
    "kaiming_uniform_": lambda g, d: tg.nn.init.kaiming_uniform_(tg.empty(6, 5, device=d), generator=g),
    "kaiming_normal_": lambda g, d: tg.nn.init.kaiming_normal_(tg.empty(6, 5, device=d), generator=g),
    "xavier_uniform_": lambda g, d: tg.nn.init.xavier_uniform_(tg.empty(6, 5, device=d), generator=g),
    "trunc_normal_": lambda g, d: tg.nn.init.trunc_normal_(tg.empty(6, 5, device=d), generator=g),
    "orthogonal_": lambda g, d: tg.nn.init.orthogonal_(tg.empty(6, 5, device=d), generator=g),
}


def _np(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_same_seed_same_draws_different_seed_differs(name, device):
    draw = DRAWS[name]
    a = _np(draw(tg.Generator(device).manual_seed(1), device))
    b = _np(draw(tg.Generator(device).manual_seed(1), device))
    c = _np(draw(tg.Generator(device).manual_seed(2), device))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_generator_leaves_the_global_stream_alone(name, device):
    tg.manual_seed(5)
    first, second = _np(tg.rand(10, device=device)), _np(tg.rand(10, device=device))
    tg.manual_seed(5)
    assert np.array_equal(_np(tg.rand(10, device=device)), first)
    DRAWS[name](tg.Generator(device).manual_seed(9), device)
    np.testing.assert_array_equal(_np(tg.rand(10, device=device)), second)


def test_one_generator_advances_between_draws(device):
    g = tg.Generator(device).manual_seed(0)
    assert not np.array_equal(_np(tg.rand(8, generator=g, device=device)), _np(tg.rand(8, generator=g, device=device)))


def test_float16_uniform_with_generator_stays_below_one(device):
    g = tg.Generator(device).manual_seed(0)
    u = tg.rand(100_000, dtype=tg.float16, generator=g, device=device)
    assert u.dtype == tg.float16 and float(u.max().item()) < 1.0 and float(u.min().item()) >= 0.0


def test_manual_seed_returns_self_and_chains():
    g = tg.Generator()
    assert g.manual_seed(3) is g
    assert g.manual_seed(4).manual_seed(5).initial_seed() == 5
    assert tg.manual_seed(7) is tg.default_generator
    assert tg.initial_seed() == 7 == tg.default_generator.initial_seed()


def test_initial_seed_default_and_seed():
    g = tg.Generator()
    assert g.initial_seed() == 67280421310721  # torch.Generator()'s default seed
    assert g.device == tg.device("cpu") and str(g.device) == "cpu"
    s = g.seed()
    assert isinstance(s, int) and 0 <= s < 2 ** 64 and g.initial_seed() == s
    a = _np(tg.rand(5, generator=g))
    np.testing.assert_array_equal(a, _np(tg.rand(5, generator=tg.Generator().manual_seed(s))))
    s2 = tg.seed()
    assert tg.initial_seed() == s2


def test_seed_range_matches_torch():
    g = tg.Generator()
    assert g.manual_seed(-1).initial_seed() == 2 ** 64 - 1  # negatives wrap to uint64, as in torch
    assert g.manual_seed(2 ** 64 - 1).initial_seed() == 2 ** 64 - 1
    for bad in (2 ** 64, -2 ** 63 - 1):
        with pytest.raises(ValueError, match="out of range"):
            g.manual_seed(bad)
    with pytest.raises(TypeError, match="seed must be an int"):
        g.manual_seed("0")


def test_unseeded_default_generators_start_at_the_documented_seed():
    a, b = tg.Generator(), tg.Generator()
    np.testing.assert_array_equal(_np(tg.randn(6, generator=a)), _np(tg.randn(6, generator=b)))


def test_get_state_set_state_replays_draws():
    g = tg.Generator().manual_seed(11)
    tg.rand(3, generator=g)
    state = g.get_state()
    assert state.dtype == tg.uint8 and state.dim() == 1 and state.device == tg.device("cpu")
    a = _np(tg.randn(7, generator=g))
    b = _np(tg.randint(0, 100, (7,), generator=g))
    assert g.set_state(state) is g
    np.testing.assert_array_equal(_np(tg.randn(7, generator=g)), a)
    np.testing.assert_array_equal(_np(tg.randint(0, 100, (7,), generator=g)), b)
    # onto another generator: the stream and the initial seed move with the state
    h = tg.Generator().manual_seed(99).set_state(state)
    assert h.initial_seed() == 11
    np.testing.assert_array_equal(_np(tg.randn(7, generator=h)), a)
    # get_state returns a copy: changing it does not change the generator
    s1 = g.get_state()
    before = _np(s1).copy()
    s1[:] = 0
    np.testing.assert_array_equal(_np(g.get_state()), before)
    np.testing.assert_array_equal(_np(tg.randn(7, generator=tg.Generator().set_state(g.get_state()))),
                                  _np(tg.randn(7, generator=g)))


def test_clone_state():
    g = tg.Generator().manual_seed(4)
    tg.rand(2, generator=g)
    c = g.clone_state()
    assert c is not g and c.initial_seed() == 4
    np.testing.assert_array_equal(_np(tg.rand(5, generator=c)), _np(tg.rand(5, generator=g)))


def test_global_rng_state_round_trip():
    tg.manual_seed(21)
    tg.rand(4)
    state = tg.get_rng_state()
    a = _np(tg.rand(6))
    tg.rand(100)
    tg.set_rng_state(state)
    np.testing.assert_array_equal(_np(tg.rand(6)), a)
    assert tg.initial_seed() == 21


def test_corrupt_or_foreign_state_raises():
    g = tg.Generator().manual_seed(1)
    good = g.get_state()
    before = _np(tg.rand(4, generator=g.clone_state()))
    flipped = good.clone()
    flipped[-5] = (int(flipped[-5].item()) + 1) % 256
    for bad in (flipped, good[:-3], tg.zeros(3, dtype=tg.uint8), tg.zeros(5056, dtype=tg.uint8)):
        with pytest.raises(RuntimeError, match="invalid generator state"):
            g.set_state(bad)
    for bad in (good.to(tg.int64), good.reshape(1, -1), good.numpy(), [1, 2, 3]):
        with pytest.raises(TypeError, match="uint8 Tensor"):
            g.set_state(bad)
    np.testing.assert_array_equal(_np(tg.rand(4, generator=g)), before)  # failures left it untouched


def test_wrong_generator_type_raises():
    for fn in (lambda g: tg.rand(2, generator=g), lambda g: tg.randperm(4, generator=g),
               lambda g: tg.empty(3).uniform_(generator=g), lambda g: tg.nn.init.normal_(tg.empty(3), generator=g)):
        with pytest.raises(TypeError, match="tensorgrad.Generator"):
            fn(np.random.default_rng(0))
        with pytest.raises(TypeError, match="tensorgrad.Generator"):
            fn(0)


@pytest.mark.skipif(_CUDA_REASON is None, reason="checks the error raised without CUDA")
def test_cuda_generator_without_cuda_says_why():
    with pytest.raises(RuntimeError, match="CUDA"):
        tg.Generator(device="cuda")
    with pytest.raises(RuntimeError, match="CUDA"):
        tg.Generator("cuda:0")


@pytest.mark.skipif(_CUDA_REASON is not None, reason=f"needs a CUDA GPU: {_CUDA_REASON}")
def test_device_mismatch_raises():
    gc, gcpu = tg.Generator("cuda"), tg.Generator()
    assert gc.device.type == "cuda" and gc.device.index is not None
    with pytest.raises(RuntimeError, match=r"generator is on cuda:\d but the tensor is requested on cpu"):
        tg.rand(3, generator=gc)
    with pytest.raises(RuntimeError, match=r"randn\(\): generator is on cpu but the tensor is requested on cuda"):
        tg.randn(3, device="cuda", generator=gcpu)
    with pytest.raises(RuntimeError, match="generator is on cpu"):
        tg.empty(3, device="cuda").normal_(generator=gcpu)
    with pytest.raises(NotImplementedError, match="CUDA generator"):
        gc.get_state()
    with pytest.raises(TypeError, match="CPU tensorgrad.Generator"):
        DataLoader(TensorDataset(tg.arange(4)), shuffle=True, generator=gc)


def test_invalid_device_string():
    with pytest.raises(RuntimeError, match="unknown device type"):
        tg.Generator("tpu")


def _order(loader):
    return np.concatenate([_np(b[0]) for b in loader])


def test_dataloader_shuffle_with_generator():
    ds = TensorDataset(tg.arange(40))
    a = _order(DataLoader(ds, batch_size=7, shuffle=True, generator=tg.Generator().manual_seed(0)))
    b = _order(DataLoader(ds, batch_size=7, shuffle=True, generator=tg.Generator().manual_seed(0)))
    c = _order(DataLoader(ds, batch_size=7, shuffle=True, generator=tg.Generator().manual_seed(1)))
    np.testing.assert_array_equal(a, b)
    assert sorted(a.tolist()) == list(range(40)) and not np.array_equal(a, c)
    # one loader: a new order each epoch, drawn from its generator, whatever the global stream does
    loader = DataLoader(ds, batch_size=7, shuffle=True, generator=tg.Generator().manual_seed(0))
    e1 = _order(loader)
    tg.manual_seed(123)
    e2 = _order(loader)
    np.testing.assert_array_equal(e1, a)
    assert not np.array_equal(e1, e2)
    tg.manual_seed(5)
    again = DataLoader(ds, batch_size=7, shuffle=True, generator=tg.Generator().manual_seed(0))
    _order(again)
    np.testing.assert_array_equal(_order(again), e2)


def test_dataloader_generator_leaves_the_global_stream_alone():
    ds = TensorDataset(tg.arange(10))
    tg.manual_seed(3)
    want = _np(tg.rand(4))
    tg.manual_seed(3)
    _order(DataLoader(ds, batch_size=3, shuffle=True, generator=tg.Generator().manual_seed(0)))
    np.testing.assert_array_equal(_np(tg.rand(4)), want)


def test_random_sampler_with_replacement_and_generator():
    ds = range(30)
    a = list(RandomSampler(ds, replacement=True, num_samples=50, generator=tg.Generator().manual_seed(2)))
    b = list(RandomSampler(ds, replacement=True, num_samples=50, generator=tg.Generator().manual_seed(2)))
    assert a == b and len(a) == 50 and all(0 <= i < 30 for i in a)


def test_random_split_with_generator_is_reproducible():
    ds = TensorDataset(tg.arange(20))
    s1 = [list(s.indices) for s in random_split(ds, [5, 15], generator=tg.Generator().manual_seed(42))]
    s2 = [list(s.indices) for s in random_split(ds, [0.25, 0.75], generator=tg.Generator().manual_seed(42))]
    s3 = [list(s.indices) for s in random_split(ds, [5, 15], generator=tg.Generator().manual_seed(43))]
    assert s1 == s2 and s1 != s3
    assert sorted(s1[0] + s1[1]) == list(range(20))


def test_data_utils_still_take_a_numpy_generator():
    ds = TensorDataset(tg.arange(12))
    a = _order(DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(7)))
    b = _order(DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(7)))
    np.testing.assert_array_equal(a, b)
    assert len(random_split(ds, [6, 6], generator=np.random.default_rng(0))[0]) == 6


def test_data_utils_reject_wrong_generator_types():
    ds = TensorDataset(tg.arange(6))
    for bad in (0, "seed", np.random.RandomState(0)):
        with pytest.raises(TypeError, match="RandomSampler: generator must be a CPU tensorgrad.Generator"):
            DataLoader(ds, shuffle=True, generator=bad)
        with pytest.raises(TypeError, match="random_split"):
            random_split(ds, [3, 3], generator=bad)


def test_bernoulli():
    g = tg.Generator().manual_seed(0)
    p = tg.tensor([0.0, 1.0, 0.5, 0.25] * 2000)
    x = tg.bernoulli(p, generator=g)
    assert x.dtype == p.dtype and x.shape == p.shape
    xs = _np(x).reshape(-1, 4)
    assert (xs[:, 0] == 0).all() and (xs[:, 1] == 1).all()
    assert abs(xs[:, 2].mean() - 0.5) < 0.05 and abs(xs[:, 3].mean() - 0.25) < 0.05
    np.testing.assert_array_equal(_np(p.bernoulli(generator=tg.Generator().manual_seed(0))), _np(x))
    i = tg.zeros(1000, dtype=tg.int64).bernoulli_(0.3, generator=g)
    assert i.dtype == tg.int64 and set(_np(i).tolist()) == {0, 1}
    with pytest.raises(RuntimeError, match=r"probabilities must be in \[0, 1\]"):
        tg.bernoulli(tg.tensor([1.5]))
    with pytest.raises(RuntimeError, match=r"probabilities must be in \[0, 1\]"):
        tg.zeros(3).bernoulli_(-0.1)


@needs_torch
def test_api_matches_torch():
    assert tg.Generator().initial_seed() == torch.Generator().initial_seed()
    for name in ("manual_seed", "seed", "initial_seed", "get_state", "set_state", "clone_state", "device"):
        assert hasattr(torch.Generator(), name) and hasattr(tg.Generator(), name), name
    for name in ("Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
                 "set_rng_state", "bernoulli"):
        assert hasattr(torch, name) and hasattr(tg, name), name
    assert str(tg.Generator().device) == str(torch.Generator().device)
    assert isinstance(tg.manual_seed(0), tg.Generator) and isinstance(torch.manual_seed(0), torch.Generator)
    assert tg.Generator().manual_seed(-1).initial_seed() == torch.Generator().manual_seed(-1).initial_seed()
    # the state is a 1-D uint8 CPU tensor in both (contents are each library's own)
    ts, gs = torch.Generator().get_state(), tg.Generator().get_state()
    assert ts.dtype == torch.uint8 and gs.dtype == tg.uint8 and ts.dim() == gs.dim() == 1


def test_fork_rng_restores_the_outer_stream():
    tg.manual_seed(3)
    expected = tg.rand(4).numpy()
    tg.manual_seed(3)
    with tg.random.fork_rng():
        tg.rand(10)  # the block's draws
    np.testing.assert_array_equal(tg.rand(4).numpy(), expected)
    with tg.random.fork_rng(enabled=False):
        tg.rand(1)
    assert not np.array_equal(tg.rand(4).numpy(), expected)
    with pytest.raises(RuntimeError, match="device_type 'xla'"):
        with tg.random.fork_rng(device_type="xla"):
            pass
