"""DataLoader, samplers and default_collate (torch.utils.data semantics, loaded in-process).

Fast path: when the dataset has ``__getitems__`` (TensorDataset, MNIST, Subsets of them), each batch is
fetched by one call with the batch's index array (one fancy index) instead of one call per sample.
"""
from __future__ import annotations

import collections.abc
import numbers
import warnings

import numpy as np

from ... import backend
from ...tensor import Tensor
from . import dataset as _ds
from .dataset import IterableDataset, WorkerInfo, _Collated, _rng


# ---------------------------------------------------------------- samplers
class Sampler:
    """Base class: iterates over dataset indices."""

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def _indices(self):
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh permutation each epoch (or `num_samples` draws with replacement).

    `generator`: a CPU tensorgrad.Generator (e.g. ``tg.Generator().manual_seed(0)``; a
    numpy.random.Generator is accepted too); None uses tensorgrad's global CPU generator (tg.manual_seed).
    Each epoch draws the next permutation from it, as torch does.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _rng(generator, "RandomSampler")  # reject a wrong generator now, not at the first epoch
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _indices(self):
        n, g = len(self.data_source), _rng(self.generator, "RandomSampler")
        if self.replacement:
            return g.integers(0, n, size=self.num_samples, dtype=np.int64)
        reps = -(-self.num_samples // n)
        return np.concatenate([g.permutation(n) for _ in range(reps)])[:self.num_samples].astype(np.int64)

    def __iter__(self):
        return iter(self._indices().tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a fresh random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator
        _rng(generator, "SubsetRandomSampler")

    def _indices(self):
        idx = np.asarray(self.indices, dtype=np.int64).reshape(-1)
        return idx[_rng(self.generator, "SubsetRandomSampler").permutation(len(idx))]

    def __iter__(self):
        return iter(self._indices().tolist())

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices in [0, len(weights)), each drawn with probability proportional to its
    weight (with replacement by default; without, no index twice)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = np.asarray(weights.cpu().numpy() if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise RuntimeError(f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                               f"from {np.count_nonzero(w)} non-zero weights")
        self.weights, self.num_samples, self.replacement, self.generator = w, num_samples, replacement, generator
        _rng(generator, "WeightedRandomSampler")

    def _indices(self):
        g = _rng(self.generator, "WeightedRandomSampler")
        return g.choice(len(self.weights), self.num_samples, replace=self.replacement,
                        p=self.weights / self.weights.sum()).astype(np.int64)

    def __iter__(self):
        return iter(self._indices().tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups a sampler's indices into lists of `batch_size` (the last one shorter unless drop_last)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def _batches(self):
        if hasattr(self.sampler, "_indices"):  # our samplers: split one index array, no Python loop
            idx = self.sampler._indices()
            n = len(idx) - (len(idx) % self.batch_size if self.drop_last else 0)
            for s in range(0, n, self.batch_size):
                yield idx[s:s + self.batch_size]
            return
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __iter__(self):
        for b in self._batches():
            yield b.tolist() if isinstance(b, np.ndarray) else b

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ---------------------------------------------------------------- collation
def _stack_arrays(arrs):
    xp = backend.xp_of(arrs[0])
    return Tensor._make(xp.stack(arrs), None, 0, None)


def default_collate(batch):
    """Stack tensors/arrays, turn numbers into tensors, recurse into tuples/lists (per position) and
    dicts (per key); strings stay as they come (a tuple of a position's strings when the samples are
    tuples/lists, as PyTorch). A batch already collated by ``__getitems__`` is a list as-is."""
    if isinstance(batch, _Collated):
        return list(batch)
    elem = batch[0]
    if isinstance(elem, Tensor):
        shapes = {tuple(b.shape) for b in batch}
        if len(shapes) > 1:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, got shapes "
                               f"{sorted(shapes)}")
        return _stack_arrays([b._data for b in batch])
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OUSV":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                            f"lists; found array of dtype {elem.dtype}")
        return _stack_arrays([np.asarray(b) for b in batch])
    if isinstance(elem, np.generic):
        return Tensor._make(np.array(batch, dtype=elem.dtype), None, 0, None)
    if isinstance(elem, bool):
        return Tensor._make(np.array(batch, dtype=np.bool_), None, 0, None)
    if isinstance(elem, numbers.Integral):
        return Tensor._make(np.array(batch, dtype=np.int64), None, 0, None)
    if isinstance(elem, numbers.Real):
        return Tensor._make(np.array(batch, dtype=np.float64), None, 0, None)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(s) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


# ---------------------------------------------------------------- loader
class DataLoader:
    """Iterates a dataset in batches. Workers are not spawned: loading runs in the calling process,
    as one worker. num_workers and PyTorch's worker options (timeout, prefetch_factor,
    persistent_workers, multiprocessing_context, in_order) are accepted and checked as PyTorch
    checks them; with num_workers > 0, worker_init_fn(0) runs at the start of each pass over the
    data, where PyTorch's workers would run it. pin_memory=True copies every tensor of each batch
    into page-locked memory, so that `.to('cuda', non_blocking=True)` uploads asynchronously; without
    a usable CUDA device it warns and loads into ordinary memory, as PyTorch does. `generator` (a CPU tensorgrad.Generator, or a numpy.random.Generator) drives the
    shuffle order when shuffle=True; None uses the global generator (tg.manual_seed)."""

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device="", in_order=True):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"worker_init_fn must be callable, got {type(worker_init_fn).__name__}")
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            for name, given in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if given:
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                                     f"but got {name}={given}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.generator = num_workers, generator
        self._auto_collation = batch_sampler is not None or (self._iterable and batch_size is not None)
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else _convert)
        self.pin_memory = bool(pin_memory)
        reason = backend.cuda_unavailable_reason() if self.pin_memory else None
        if reason is not None:  # as PyTorch: warn, and load into ordinary memory
            warnings.warn(f"pin_memory=True but CUDA is not usable ({reason}); batches are not pinned",
                          stacklevel=2)
        self._pin = self.pin_memory and reason is None

    def _fetch(self, indices):
        ds = self.dataset
        getitems = getattr(ds, "__getitems__", None)
        if callable(getitems):
            items = getitems(indices)
            if not isinstance(items, _Collated) or self.collate_fn is default_collate:
                return self.collate_fn(items)
        idx = indices.tolist() if isinstance(indices, np.ndarray) else indices
        return self.collate_fn([ds[i] for i in idx])

    def __iter__(self):
        info = None
        if self.num_workers > 0:  # this process is the one worker: worker_init_fn and the dataset see it
            seed = int(_rng(self.generator, "DataLoader").integers(0, 2 ** 63))
            info = WorkerInfo(0, 1, seed, self.dataset)
            if self.worker_init_fn is not None:
                with _as_worker(info):
                    self.worker_init_fn(0)
        pin = _pin if self._pin else _same
        if self._iterable:
            batches = self._stream()
        elif not self._auto_collation:
            batches = (self.collate_fn(self.dataset[i]) for i in self.sampler)
        else:
            bs = self.batch_sampler
            batches = (self._fetch(b) for b in (bs._batches() if isinstance(bs, BatchSampler) else iter(bs)))
        while True:
            with _as_worker(info):
                batch = next(batches, _DONE)
            if batch is _DONE:
                return
            yield pin(batch)

    def _stream(self):
        """An IterableDataset's samples, collated in batches of batch_size as they come."""
        if not self._auto_collation:
            yield from (self.collate_fn(item) for item in self.dataset)
            return
        batch = []
        for item in self.dataset:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self):
        if self._iterable:  # as PyTorch: from the dataset's own length, when it has one
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self._auto_collation else len(self.sampler)


_DONE = object()


class _as_worker:
    """get_worker_info() answers `info` inside (None: leave it as it is)."""

    def __init__(self, info):
        self.info = info

    def __enter__(self):
        self.prev = _ds._worker[0]
        if self.info is not None:
            _ds._worker[0] = self.info

    def __exit__(self, *exc):
        _ds._worker[0] = self.prev
        return False


def _same(batch):
    return batch


def _pin(batch):
    """The batch with every CPU tensor in it copied to pinned memory (for non_blocking uploads)."""
    if isinstance(batch, Tensor):
        return batch.pin_memory() if batch.device.type == "cpu" else batch
    if isinstance(batch, collections.abc.Mapping):
        return {k: _pin(v) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_pin(b) for b in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(_pin(b) for b in batch)
    return batch


def _convert(data):
    """Collation with batch_size=None: arrays become tensors, containers recurse, the rest stays."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OUSV":
        return Tensor._make(data, None, 0, None)
    if isinstance(data, collections.abc.Mapping):
        return {k: _convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_convert(d) for d in data))
    if isinstance(data, tuple):
        return [_convert(d) for d in data]
    if isinstance(data, list):
        return [_convert(d) for d in data]
    return data
