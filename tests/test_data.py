"""tensorgrad.utils.data against torch.utils.data: batches, order, drop_last, len, collation,
reproducible shuffles, random_split; and tensorgrad.transforms against manual NumPy."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import transforms as T
from tensorgrad.utils.data import (BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler,
                                   Subset, TensorDataset, default_collate, random_split)

torch = pytest.importorskip("torch", reason="PyTorch (the oracle) is not installed")
tud = torch.utils.data


def _np(x):
    return x.numpy() if isinstance(x, (tg.Tensor, torch.Tensor)) else np.asarray(x)


def _pair(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64) * 7
    return x, y


class ListDataset(Dataset):
    """Per-sample dataset without __getitems__ (the slow path)."""

    def __init__(self, items):
        self.items = items

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


def test_tensordataset_items_and_len():
    x, y = _pair()
    ds = TensorDataset(tg.tensor(x), tg.tensor(y))
    tds = tud.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ds) == len(tds) == 10
    for i in (0, 3, -1):
        a, b = ds[i]
        ta, tb = tds[i]
        np.testing.assert_array_equal(_np(a), _np(ta))
        assert int(b.item()) == int(tb.item())


def test_tensordataset_size_mismatch():
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(tg.zeros(3, 2), tg.zeros(4))
    with pytest.raises(TypeError):
        TensorDataset(np.zeros(3))


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (4, True), (10, False),
                                                  (12, False), (12, True)])
def test_loader_matches_torch(batch_size, drop_last):
    x, y = _pair(10)
    ours = DataLoader(TensorDataset(tg.tensor(x), tg.tensor(y)), batch_size=batch_size, drop_last=drop_last)
    ref = tud.DataLoader(tud.TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=batch_size,
                         drop_last=drop_last)
    assert len(ours) == len(ref)
    got, want = list(ours), list(ref)
    assert len(got) == len(want)
    for (a, b), (ta, tb) in zip(got, want):
        assert isinstance(a, tg.Tensor) and a.dtype == tg.float32 and b.dtype == tg.int64
        np.testing.assert_array_equal(_np(a), _np(ta))
        np.testing.assert_array_equal(_np(b), _np(tb))


@pytest.mark.parametrize("drop_last", [False, True])
def test_slow_path_collation_matches_torch(drop_last):
    rng = np.random.default_rng(1)
    items = [(rng.standard_normal((2, 2)).astype(np.float32), int(i), float(i) / 2, {"k": i, "v": np.ones(2) * i},
              [i, i + 1], f"s{i}") for i in range(7)]
    ours = DataLoader(ListDataset(items), batch_size=3, drop_last=drop_last)
    ref = tud.DataLoader(items, batch_size=3, drop_last=drop_last)
    assert len(ours) == len(ref)
    for g, w in zip(ours, ref, strict=True):
        assert isinstance(g, list) and len(g) == len(w) == 6
        np.testing.assert_array_equal(_np(g[0]), _np(w[0]))
        assert g[1].dtype == tg.int64 and g[2].dtype == tg.float64
        np.testing.assert_array_equal(_np(g[1]), _np(w[1]))
        np.testing.assert_array_equal(_np(g[2]), _np(w[2]))
        assert set(g[3]) == {"k", "v"}
        np.testing.assert_array_equal(_np(g[3]["k"]), _np(w[3]["k"]))
        np.testing.assert_array_equal(_np(g[3]["v"]), _np(w[3]["v"]))
        assert len(g[4]) == 2 and all((_np(a) == _np(b)).all() for a, b in zip(g[4], w[4]))
        assert g[5] == w[5] and isinstance(g[5], tuple)  # a position's strings: a tuple, as torch


def test_collate_tensors_stack_and_dict():
    batch = [{"x": tg.tensor([1.0, 2.0]), "y": 1}, {"x": tg.tensor([3.0, 4.0]), "y": 2}]
    out = default_collate(batch)
    np.testing.assert_array_equal(out["x"].numpy(), [[1, 2], [3, 4]])
    assert out["y"].tolist() == [1, 2]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([tg.zeros(2), tg.zeros(3)])


def test_tensordataset_custom_collate_gets_samples():
    x, y = _pair(6)
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return samples

    out = list(DataLoader(TensorDataset(tg.tensor(x), tg.tensor(y)), batch_size=4, collate_fn=collate))
    assert seen == [4, 2] and isinstance(out[0][0], tuple)
    np.testing.assert_array_equal(out[1][1][0].numpy(), x[5])


def test_batch_size_none_and_batch_sampler():
    x, y = _pair(5)
    ds = TensorDataset(tg.tensor(x), tg.tensor(y))
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 5 and tuple(items[2][0].shape) == (3,)
    bl = DataLoader(ds, batch_sampler=[[4, 0], [1, 2, 3]])
    got = [b[1].tolist() for b in bl]
    assert got == [[28, 0], [7, 14, 21]]
    with pytest.raises(ValueError):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError):
        DataLoader(ds, shuffle=True, sampler=SequentialSampler(ds))


def test_shuffle_is_permutation_and_reproducible():
    x, y = _pair(50)
    ds = TensorDataset(tg.tensor(x), tg.tensor(y))

    def epoch(loader):
        return np.concatenate([b[1].numpy() for b in loader])

    tg.manual_seed(123)
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    e1, e2 = epoch(loader), epoch(loader)
    assert sorted(e1.tolist()) == sorted(y.tolist())
    assert not np.array_equal(e1, e2)  # a new order each epoch
    assert not np.array_equal(e1, y)
    tg.manual_seed(123)
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    np.testing.assert_array_equal(epoch(loader), e1)
    np.testing.assert_array_equal(epoch(loader), e2)
    # a passed NumPy Generator
    a = epoch(DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(7)))
    b = epoch(DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(7)))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError):
        list(DataLoader(ds, shuffle=True, generator=123))


def test_samplers():
    ds = list(range(10))
    assert list(SequentialSampler(ds)) == list(range(10))
    rs = RandomSampler(ds, generator=np.random.default_rng(0))
    assert sorted(rs) == list(range(10)) and len(rs) == 10
    rr = RandomSampler(ds, replacement=True, num_samples=25, generator=np.random.default_rng(0))
    draws = list(rr)
    assert len(draws) == 25 and all(0 <= d < 10 for d in draws)
    assert list(BatchSampler(SequentialSampler(ds), 4, False)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert list(BatchSampler(range(10), 4, True)) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(BatchSampler(range(10), 4, True)) == 2 and len(BatchSampler(range(10), 4, False)) == 3
    with pytest.raises(ValueError):
        BatchSampler(range(3), 0, False)


def test_random_split_sizes_disjoint_reproducible():
    ds = TensorDataset(tg.arange(100))
    parts = random_split(ds, [70, 20, 10], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [70, 20, 10]
    idx = [set(p.indices) for p in parts]
    assert set().union(*idx) == set(range(100)) and sum(map(len, idx)) == 100
    again = random_split(ds, [70, 20, 10], generator=np.random.default_rng(0))
    assert [p.indices for p in again] == [p.indices for p in parts]
    for frac, n in (([0.5, 0.3, 0.2], 10), ([0.3, 0.3, 0.4], 7)):
        ours = [len(p) for p in random_split(list(range(n)), frac)]
        ref = [len(p) for p in tud.random_split(list(range(n)), frac)]
        assert ours == ref
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [50, 10])
    # subset items and batched fetch through a subset
    sub = parts[1]
    assert int(sub[3][0].item()) == sub.indices[3]
    got = np.concatenate([b[0].numpy() for b in DataLoader(sub, batch_size=6)])
    np.testing.assert_array_equal(got, sub.indices)


def test_subset_of_slow_dataset():
    ds = ListDataset([(i, float(i)) for i in range(10)])
    sub = Subset(ds, [9, 2, 5])
    out = list(DataLoader(sub, batch_size=2))
    assert out[0][0].tolist() == [9, 2] and out[1][1].tolist() == [5.0]


@pytest.mark.skipif(tg.cuda.is_available(), reason="checks the behaviour without CUDA")
def test_pin_memory_without_cuda_warns_and_loads_unpinned():
    ds = TensorDataset(tg.arange(4))
    with pytest.warns(UserWarning, match="pin_memory=True but CUDA is not usable"):
        loader = DataLoader(ds, batch_size=2, pin_memory=True)
    batches = list(loader)
    assert [b[0].tolist() for b in batches] == [[0, 1], [2, 3]]
    assert not batches[0][0].is_pinned()
    with pytest.raises(RuntimeError, match=r"pin_memory\(\): pinned memory needs a usable CUDA device"):
        tg.ones(3).pin_memory()


@pytest.mark.skipif(not tg.cuda.is_available(), reason="needs a CUDA GPU")
def test_pin_memory_with_cuda_pins_every_tensor_of_the_batch():
    class Pairs(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return {"x": tg.full((3,), float(i)), "y": i}
    loader = DataLoader(Pairs(), batch_size=4, pin_memory=True)
    first = next(iter(loader))
    assert first["x"].is_pinned() and first["y"].is_pinned()
    assert first["x"][:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    up = first["x"].to("cuda", non_blocking=True)
    assert up.device.type == "cuda" and up.cpu().tolist() == first["x"].tolist()
    assert first["x"].pin_memory() is first["x"]  # already pinned
    a = tg.ones(3, requires_grad=True)
    p = a.pin_memory()
    assert p.is_pinned() and not a.is_pinned()
    (p * 2).sum().backward()
    assert a.grad.tolist() == [2.0, 2.0, 2.0]


def test_to_takes_non_blocking_and_copy_positionally_as_torch():
    t = tg.arange(3.0)
    assert t.to(tg.float32, False, False) is t
    c = t.to(tg.float32, False, True)  # (dtype, non_blocking, copy)
    assert c is not t and c.tolist() == t.tolist()
    tt = torch.arange(3.0)
    assert (tt.to(torch.float32, False, True) is tt) is (c is t)
    with pytest.raises(TypeError, match=r"at most two positional bools \(non_blocking, copy\), got 3"):
        t.to(tg.float32, False, True, True)
    with pytest.raises(TypeError, match="both positionally and as keywords"):
        t.to(tg.float32, False, non_blocking=True)


# ---------------------------------------------------------------- transforms
def test_to_tensor_uint8_and_float_and_batch():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(5, 4), dtype=np.uint8)
    t = T.ToTensor()(img)
    assert tuple(t.shape) == (1, 5, 4) and t.dtype == tg.float32
    np.testing.assert_array_equal(t.numpy()[0], img.astype(np.float32) / 255)
    np.testing.assert_array_equal(T.ToTensor()(tg.tensor(img)).numpy(), t.numpy())
    hwc = rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(T.ToTensor()(hwc).numpy(), hwc.transpose(2, 0, 1).astype(np.float32) / 255)
    f = rng.random((3, 3)).astype(np.float64)
    np.testing.assert_allclose(T.ToTensor()(f).numpy()[0], f.astype(np.float32))
    batch = rng.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    b = T.ToTensor().batch_call(batch)
    assert tuple(b.shape) == (6, 1, 5, 4)
    np.testing.assert_array_equal(b.numpy()[:, 0], batch.astype(np.float32) / 255)
    # against torchvision-equivalent torch arithmetic
    np.testing.assert_array_equal(t.numpy(), (torch.from_numpy(img).float().div(255))[None].numpy())


def test_normalize_and_compose_per_sample_and_batch():
    rng = np.random.default_rng(0)
    x = rng.random((3, 4, 4)).astype(np.float32)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    n = T.Normalize(mean, std)(tg.tensor(x))
    want = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(n.numpy(), want, rtol=1e-6, atol=1e-6)
    comp = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,)), T.Lambda(lambda t: t * 2)])
    img = rng.integers(0, 256, size=(7, 7), dtype=np.uint8)
    got = comp(img).numpy()
    np.testing.assert_allclose(got, 2 * (img[None].astype(np.float32) / 255 - 0.1307) / 0.3081, rtol=1e-5,
                               atol=1e-5)
    assert not comp.supports_batch
    batchable = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    assert batchable.supports_batch
    imgs = rng.integers(0, 256, size=(4, 7, 7), dtype=np.uint8)
    b = batchable.batch_call(imgs).numpy()
    for i in range(4):
        np.testing.assert_allclose(b[i], batchable(imgs[i]).numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="float"):
        T.Normalize((0.5,), (0.5,))(tg.zeros(1, 2, 2, dtype=tg.int64))
    with pytest.raises(ValueError):
        T.Normalize((0.5,), (0.0,))
    with pytest.raises(TypeError):
        T.Lambda(3)
