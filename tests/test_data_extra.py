"""StackDataset and ChainDataset against torch.utils.data: items, batches through the DataLoader,
lengths, and errors."""
from __future__ import annotations

import numpy as np
import pytest
from oracle import needs_torch, torch

import tensorgrad as tg
from tensorgrad.utils.data import ChainDataset, DataLoader, IterableDataset, StackDataset, TensorDataset


def make_toys(m):
    """Toy datasets on module m's Dataset classes (tensorgrad's, or torch's to compare with)."""
    data = m.utils.data

    class Squares(data.Dataset):
        """A map-style dataset without __getitems__: item i is i * i (a Python int)."""

        def __init__(self, n):
            self.n = n
            self.calls = 0

        def __getitem__(self, i):
            self.calls += 1
            if not 0 <= i < self.n:
                raise IndexError(i)
            return i * i

        def __len__(self):
            return self.n

    class Batched(Squares):
        """The same items, with a batched __getitems__ that counts its calls."""

        def __init__(self, n):
            super().__init__(n)
            self.batch_calls = 0

        def __getitems__(self, indices):
            self.batch_calls += 1
            return [i * i for i in indices]

    class Stream(data.IterableDataset):
        def __init__(self, start, n, with_len=True):
            self.start, self.n, self.with_len = start, n, with_len

        def __iter__(self):
            return iter(range(self.start, self.start + self.n))

        def __len__(self):
            if not self.with_len:
                raise TypeError("Stream has no len()")
            return self.n

    return Squares, Batched, Stream


Squares, Batched, Stream = make_toys(tg)


# ---------------------------------------------------------------------------------------------- StackDataset
def test_stack_dataset_tuple_and_dict_items():
    x = tg.arange(12).reshape(4, 3)
    ds = StackDataset(TensorDataset(x), Squares(4), "abcd")
    assert len(ds) == 4
    item = ds[2]
    assert isinstance(item, tuple) and len(item) == 3
    assert item[0][0].tolist() == [6, 7, 8] and item[1] == 4 and item[2] == "c"
    named = StackDataset(x=Squares(4), y=list("wxyz"))
    assert named[3] == {"x": 9, "y": "z"} and list(named.datasets) == ["x", "y"]
    with pytest.raises(IndexError):
        ds[4]


def test_stack_dataset_batches_use_each_datasets_getitems():
    a, b = Batched(6), Squares(6)
    ds = StackDataset(a, b)
    batch = ds.__getitems__([4, 0, 5])
    assert batch == [(16, 16), (0, 0), (25, 25)]
    assert a.batch_calls == 1 and a.calls == 0 and b.calls == 3
    named = StackDataset(sq=Batched(3), t=TensorDataset(tg.arange(3) * 10))
    got = named.__getitems__(np.array([2, 1]))
    assert [g["sq"] for g in got] == [4, 1] and [g["t"][0].item() for g in got] == [20, 10]


def test_stack_dataset_through_the_dataloader():
    x = tg.tensor(np.arange(10, dtype=np.float32).reshape(5, 2))
    ds = StackDataset(feat=TensorDataset(x), sq=Batched(5))
    batches = list(DataLoader(ds, batch_size=2))
    assert len(batches) == 3
    assert batches[0]["sq"].tolist() == [0, 1] and batches[2]["sq"].tolist() == [16]
    assert batches[1]["feat"][0].tolist() == [[4.0, 5.0], [6.0, 7.0]]
    tup = list(DataLoader(StackDataset(Squares(5), Batched(5)), batch_size=4))
    assert [t.tolist() for t in tup[0]] == [[0, 1, 4, 9], [0, 1, 4, 9]]


def test_stack_dataset_nested_size_mismatch():
    class Short(Squares):
        def __getitems__(self, indices):
            return [0]

    with pytest.raises(ValueError, match="Nested dataset's output size mismatch. Expected 2, got 1"):
        StackDataset(Short(3), Squares(3)).__getitems__([0, 1])


@pytest.mark.parametrize("args,kwargs,msg", [
    ((), {}, "At least one dataset should be passed"),
    ((Squares(2),), {"y": Squares(2)}, "both types are given"),
    ((Squares(3), Squares(2)), {}, "Size mismatch between datasets"),
    ((), {"x": [1, 2], "y": [1]}, "Size mismatch between datasets"),
])
def test_stack_dataset_errors(args, kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        StackDataset(*args, **kwargs)
    if torch is not None:  # torch raises the same exception type, with the same words
        targs = tuple(torch.utils.data.TensorDataset(torch.zeros(len(a))) for a in args)
        tkwargs = {k: v for k, v in kwargs.items()}
        with pytest.raises(ValueError, match=msg.split(":")[0].replace("``", "")):
            torch.utils.data.StackDataset(*targs, **tkwargs)


@needs_torch
def test_stack_dataset_matches_torch():
    data = np.arange(8, dtype=np.float32).reshape(4, 2)
    results = []
    for m in (tg, torch):
        sq = make_toys(m)[1](4)
        td = m.utils.data.TensorDataset(m.tensor(data))
        items = []
        for ds in (m.utils.data.StackDataset(sq, td), m.utils.data.StackDataset(a=sq, b=td, c=list("pqrs"))):
            items += [ds[i] for i in range(len(ds))] + ds.__getitems__([3, 1])
        results.append(items)
    assert len(results[0]) == len(results[1]) == 12
    for o, r in zip(*results):
        assert type(o) is type(r)
        keys = list(r) if isinstance(r, dict) else list(range(len(r)))
        assert (list(o) if isinstance(o, dict) else list(range(len(o)))) == keys
        for k in keys:
            if isinstance(r[k], tuple):  # TensorDataset's item: a 1-tuple of a tensor
                np.testing.assert_array_equal(o[k][0].numpy(), r[k][0].numpy())
            else:
                assert o[k] == r[k]


# ---------------------------------------------------------------------------------------------- ChainDataset
def test_chain_dataset_streams_in_order_and_lazily():
    started = []

    class Noisy(Stream):
        def __iter__(self):
            started.append(self.start)
            return super().__iter__()

    chain = ChainDataset([Noisy(0, 3), Noisy(10, 2), Noisy(20, 0), Noisy(30, 1)])
    it = iter(chain)
    assert next(it) == 0 and started == [0]
    assert list(it) == [1, 2, 10, 11, 30] and started == [0, 10, 20, 30]
    assert len(chain) == 6
    assert list(chain) == list(chain)  # iterable again
    assert isinstance(chain, IterableDataset)


def test_iterable_dataset_add_chains():
    a, b, c = Stream(0, 2), Stream(5, 2), Stream(9, 1)
    chained = a + b
    assert isinstance(chained, ChainDataset) and list(chained) == [0, 1, 5, 6]
    assert list(chained + c) == [0, 1, 5, 6, 9]


def test_chain_dataset_through_the_dataloader():
    chain = ChainDataset([Stream(0, 3), Stream(100, 4)])
    batches = [b.tolist() for b in DataLoader(chain, batch_size=3)]
    assert batches == [[0, 1, 2], [100, 101, 102], [103]]
    assert [b.tolist() for b in DataLoader(chain, batch_size=3, drop_last=True)] == [[0, 1, 2], [100, 101, 102]]


def test_chain_dataset_errors():
    bad = ChainDataset([Stream(0, 2), Squares(3)])
    it = iter(bad)
    assert [next(it), next(it)] == [0, 1]  # the check comes when the chain reaches the map-style dataset
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        next(it)
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        len(bad)
    with pytest.raises(TypeError, match="Stream has no len"):
        len(ChainDataset([Stream(0, 1, with_len=False)]))


@needs_torch
def test_chain_dataset_matches_torch():
    out = []
    for m in (tg, torch):
        parts = [make_toys(m)[2](s, n) for s, n in ((0, 3), (7, 0), (40, 2))]
        chain = m.utils.data.ChainDataset(parts)
        added = parts[0] + parts[2]
        out.append((list(chain), len(chain), type(added).__name__, list(added)))
        bad = m.utils.data.ChainDataset([parts[0], [1, 2]])
        with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
            list(bad)
    assert out[0] == out[1]
