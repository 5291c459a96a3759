"""Dataset, IterableDataset, TensorDataset, ConcatDataset, StackDataset, ChainDataset, Subset,
random_split (torch.utils.data semantics), and get_worker_info."""
from __future__ import annotations

import bisect
import math

import numpy as np

from ... import backend
from ...tensor import Tensor


def _rng(generator, op="generator"):
    """The NumPy Generator to draw indices from, for `generator`: a CPU tensorgrad.Generator, a raw
    numpy.random.Generator (accepted as before tg.Generator existed), or None for tensorgrad's global
    CPU generator (seeded by tg.manual_seed). Anything else, a CUDA Generator included, is a TypeError."""
    return backend.host_rng(generator, op)


class Dataset:
    """Map-style dataset: subclasses define ``__getitem__`` and ``__len__``.

    A subclass may also define ``__getitems__(indices)`` returning a whole batch; the DataLoader then
    fetches each batch with one call (and passes its result to the collate function, or uses it as
    the batch as-is with the default collation if it is already collated).
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__`` (and may define ``__len__``). The
    DataLoader batches what the iterator yields, in order; samplers and shuffle do not apply."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class WorkerInfo:
    """What get_worker_info() describes while a DataLoader with num_workers > 0 loads: here the
    calling process, as worker 0 of 1 (so code that shards a stream by worker takes all of it)."""

    def __init__(self, id, num_workers, seed, dataset):
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker: list = [None]  # the WorkerInfo while a DataLoader with workers runs dataset code, else None


def get_worker_info():
    """The current WorkerInfo while a DataLoader with num_workers > 0 runs worker_init_fn or the
    dataset's code (tensorgrad runs them in the calling process, as worker 0 of 1); None otherwise,
    as PyTorch answers in the main process."""
    return _worker[0]


class ConcatDataset(Dataset):
    """The items of several datasets one after another; ``cumulative_sizes`` are the running totals."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"absolute value of index {idx} should not exceed dataset length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"index {idx} is out of range for a ConcatDataset of length {n}")
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[k][idx - (self.cumulative_sizes[k - 1] if k else 0)]


class StackDataset(Dataset):
    """Several datasets of one length side by side: item i is the tuple of their items i
    (``StackDataset(a, b)``), or the dict of them by name (``StackDataset(x=a, y=b)``)."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset: supported either tuple-like (via args) or dict-like (via kwargs) "
                             "input/output, but both types are given")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed to StackDataset (as arguments or keywords)")
        datasets = args if args else kwargs
        lengths = [len(d) for d in (args if args else kwargs.values())]
        if any(n != lengths[0] for n in lengths):
            names = range(len(lengths)) if args else list(kwargs)
            raise ValueError("Size mismatch between datasets: StackDataset needs them all of one length, got "
                             + ", ".join(f"{k}: {n}" for k, n in zip(names, lengths)))
        self.datasets = datasets
        self._length = lengths[0]

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices):
        """A batch as a list of samples (tuples or dicts), each dataset read in one batched call
        where it has ``__getitems__``."""
        indices = indices.tolist() if isinstance(indices, np.ndarray) else list(indices)
        named = isinstance(self.datasets, dict)
        columns = {k: self._column(d, indices) for k, d in
                   (self.datasets.items() if named else enumerate(self.datasets))}
        if named:
            return [{k: col[j] for k, col in columns.items()} for j in range(len(indices))]
        return [tuple(col[j] for col in columns.values()) for j in range(len(indices))]

    @staticmethod
    def _column(dataset, indices):
        """The items of one dataset at `indices`, as a list of samples."""
        getitems = getattr(dataset, "__getitems__", None)
        if not callable(getitems):
            return [dataset[i] for i in indices]
        items = getitems(indices)
        if isinstance(items, _Collated):  # stacked per field (TensorDataset): back to samples
            return [tuple(field[j] for field in items) for j in range(len(indices))]
        if len(items) != len(indices):
            raise ValueError(f"Nested dataset's output size mismatch. Expected {len(indices)}, got {len(items)}")
        return list(items)

    def __len__(self):
        return self._length


class ChainDataset(IterableDataset):
    """Several IterableDatasets one after another, as one stream (built lazily: a dataset is
    only iterated when the chain reaches it)."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            _check_iterable(d)
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            _check_iterable(d)
            total += len(d)
        return total


def _check_iterable(d):
    if not isinstance(d, IterableDataset):  # AssertionError: torch's exception type here
        raise AssertionError(f"ChainDataset only supports IterableDataset, got a {type(d).__name__}")


def _index_array(indices):
    return np.asarray(indices, dtype=np.int64)


class TensorDataset(Dataset):
    """Wraps tensors sharing their first dimension; item i is the tuple of each tensor's row i."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset takes tensors, got {type(t).__name__}")
            if t.dim() == 0:
                raise ValueError("TensorDataset: tensors must have at least one dimension")
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"Size mismatch between tensors: first dimensions are {sizes}; "
                             f"TensorDataset needs them all equal")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices):
        """A whole batch by one fancy index per tensor: a tuple of stacked tensors (already collated)."""
        idx = _index_array(indices)
        out = []
        for t in self.tensors:
            arr = t._data
            out.append(Tensor._make(arr[backend.to_device(idx, backend.device_of(arr))], None, 0, None))
        return _Collated(out)

    def __len__(self):
        return self.tensors[0].shape[0]


class _Collated(tuple):
    """Marks a batch that __getitems__ already collated (the default collate passes it through)."""


class Subset(Dataset):
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        inner = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(inner)
        return [self.dataset[i] for i in inner]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Split into non-overlapping Subsets of the given lengths, or fractions summing to 1 (as torch).

    `generator`: a CPU tensorgrad.Generator (or a numpy.random.Generator); None uses the global one.
    """
    g = _rng(generator, "random_split()")  # a wrong generator fails before any work
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        if any(not (0 <= f <= 1) for f in lengths):
            raise ValueError(f"Fraction at index must be between 0 and 1: {lengths}")
        sizes = [int(math.floor(n * f)) for f in lengths]
        remainder = n - sum(sizes)
        for i in range(remainder):  # round-robin, as torch does
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if any(int(x) != x or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions summing to 1, "
                         f"got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths ({sum(lengths)}) does not equal the length of the input "
                         f"dataset ({n})!")
    perm = g.permutation(n).tolist()
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + int(length)]))
        offset += int(length)
    return out
