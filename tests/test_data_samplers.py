"""ConcatDataset, IterableDataset (and get_worker_info), SubsetRandomSampler and
WeightedRandomSampler, with torch.utils.data as the oracle where behaviour is deterministic."""
from __future__ import annotations

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad.utils.data import (ConcatDataset, DataLoader, Dataset, IterableDataset, SubsetRandomSampler,
                                   TensorDataset, WeightedRandomSampler, get_worker_info)
from oracle import needs_torch, torch


class Squares(Dataset):
    def __init__(self, n, offset=0):
        self.n, self.offset = n, offset

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.offset + i * i

    def __len__(self):
        return self.n


class Stream(IterableDataset):
    def __init__(self, n, with_len=True):
        self.n, self.with_len = n, with_len
        self.worker_infos = []

    def __iter__(self):
        self.worker_infos.append(get_worker_info())
        for i in range(self.n):
            yield tg.tensor([float(i), 2.0 * i])

    def __len__(self):
        if not self.with_len:
            raise TypeError("no length")
        return self.n


# ---------------------------------------------------------------- ConcatDataset
def test_concat_dataset_chains_items():
    a, b, c = Squares(3), Squares(0), Squares(2, offset=100)
    cat = ConcatDataset([a, b, c])
    assert len(cat) == 5 and cat.cumulative_sizes == [3, 3, 5]
    assert [cat[i] for i in range(5)] == [0, 1, 4, 100, 101] and cat[-1] == 101 and cat[-5] == 0
    with pytest.raises(IndexError, match="out of range"):
        cat[5]
    with pytest.raises(ValueError, match="should not exceed"):
        cat[-6]
    assert len(a + c) == 5 and isinstance(a + c, ConcatDataset)
    batches = [b.tolist() for b in DataLoader(a + c, batch_size=2)]
    assert batches == [[0, 1], [4, 100], [101]]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([a, Stream(2)])


@needs_torch
def test_concat_dataset_matches_torch():
    class T(torch.utils.data.Dataset):
        def __init__(self, n, offset=0):
            self.n, self.offset = n, offset

        def __getitem__(self, i):
            return self.offset + i * i

        def __len__(self):
            return self.n
    ours = ConcatDataset([Squares(4), Squares(3, 7), Squares(2)])
    theirs = torch.utils.data.ConcatDataset([T(4), T(3, 7), T(2)])
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-len(ours), len(ours))] == [theirs[i] for i in range(-len(theirs), len(theirs))]


# ---------------------------------------------------------------- IterableDataset
def test_iterable_dataset_batches_in_order():
    s = Stream(5)
    loader = DataLoader(s, batch_size=2)
    assert len(loader) == 3
    got = [b.tolist() for b in loader]
    assert got == [[[0.0, 0.0], [1.0, 2.0]], [[2.0, 4.0], [3.0, 6.0]], [[4.0, 8.0]]]
    assert s.worker_infos == [None]                                   # loading runs in this process
    assert len(DataLoader(s, batch_size=2, drop_last=True)) == 2
    assert [b.tolist() for b in DataLoader(s, batch_size=2, drop_last=True)][-1] == [[2.0, 4.0], [3.0, 6.0]]
    assert [b.tolist() for b in DataLoader(Stream(2, with_len=False), batch_size=None)] == [[0.0, 0.0], [1.0, 2.0]]


@needs_torch
@pytest.mark.parametrize("kwargs", [dict(shuffle=True), dict(sampler=[0, 1])])
def test_iterable_dataset_rejects_shuffle_and_samplers_as_torch(kwargs):
    class T(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(3))
    with pytest.raises(ValueError) as ours:
        DataLoader(Stream(3), **kwargs)
    with pytest.raises(ValueError) as theirs:
        torch.utils.data.DataLoader(T(), **kwargs)
    assert str(ours.value) == str(theirs.value)


# ---------------------------------------------------------------- samplers
def test_subset_random_sampler_permutes_its_indices():
    idx = [3, 7, 9, 11, 20]
    s = SubsetRandomSampler(idx, generator=tg.Generator().manual_seed(1))
    first, second = list(s), list(s)
    assert sorted(first) == idx and sorted(second) == idx and first != second and len(s) == 5
    again = list(SubsetRandomSampler(idx, generator=tg.Generator().manual_seed(1)))
    assert again == first                                             # reproducible from the seed
    ds = TensorDataset(tg.arange(30))
    seen = [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=SubsetRandomSampler(idx))]
    assert sorted(sum(seen, [])) == idx


def test_weighted_random_sampler_follows_the_weights():
    s = WeightedRandomSampler([1.0, 3.0, 0.0, 6.0], 50_000, generator=tg.Generator().manual_seed(0))
    freq = np.bincount(list(s), minlength=4) / 50_000
    np.testing.assert_allclose(freq, [0.1, 0.3, 0.0, 0.6], atol=0.01)
    draws = list(WeightedRandomSampler(tg.tensor([1.0, 1.0, 5.0]), 3, replacement=False))
    assert sorted(draws) == [0, 1, 2] and len(WeightedRandomSampler([1.0], 7)) == 7


@pytest.mark.parametrize("args,err,match", [
    (([1.0, 2.0], 0), ValueError, "num_samples should be a positive integer"),
    (([1.0, 2.0], 2, 1), ValueError, "replacement should be a boolean"),
    (([[1.0, 2.0]], 2), ValueError, "1d sequence"),
    (([1.0, -1.0], 2), RuntimeError, "non-negative"),
    (([1.0, 0.0], 2, False), RuntimeError, "without replacement"),
])
def test_weighted_random_sampler_errors(args, err, match):
    with pytest.raises(err, match=match):
        WeightedRandomSampler(*args)


def test_worker_info_inside_worker_init_fn_and_the_dataset():
    """PyTorch's documented sharding idiom: worker_init_fn splits an IterableDataset's range by
    get_worker_info(); here one worker (this process) takes all of it, once."""
    import math

    class Range(IterableDataset):
        def __init__(self, start, end):
            self.start, self.end, self.seen = start, end, []

        def __iter__(self):
            self.seen.append(get_worker_info())
            return iter(range(self.start, self.end))

    def worker_init_fn(worker_id):
        info = get_worker_info()
        ds = info.dataset
        per = int(math.ceil((ds.end - ds.start) / float(info.num_workers)))
        ds.start, ds.end = ds.start + info.id * per, min(ds.start + info.id * per + per, ds.end)

    ds = Range(3, 7)
    got = [int(b) for b in DataLoader(ds, num_workers=2, worker_init_fn=worker_init_fn)]
    assert got == [3, 4, 5, 6]
    assert ds.seen[0].id == 0 and ds.seen[0].num_workers == 1 and ds.seen[0].dataset is ds
    assert get_worker_info() is None                                    # outside the loader's work
    list(DataLoader(ds))
    assert ds.seen[-1] is None                                          # no workers: the main process
