"""DistributedSampler: each rank's share of a dataset's indices (torch.utils.data.distributed semantics).

The index arithmetic is torch's: the list is padded by repeating its start (or cut, with drop_last) to a
multiple of num_replicas, and rank r takes every num_replicas-th index from r. Shuffling draws a
permutation seeded by seed + epoch, so all ranks agree and `set_epoch` reshuffles; the permutation comes
from NumPy, so it is not the one torch draws, but the unshuffled order is identical.
"""
from __future__ import annotations

import math

import numpy as np

from ... import distributed as dist
from .dataloader import Sampler


class DistributedSampler(Sampler):
    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None:
            num_replicas = dist.get_world_size()  # ValueError without a process group, as torch
        if rank is None:
            rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # Drop the tail so that every rank gets the same number of samples.
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:  # fewer samples than ranks: repeat the whole list
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        assert len(indices) == self.total_size
        indices = indices[self.rank:self.total_size:self.num_replicas]
        assert len(indices) == self.num_samples
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Call before each epoch when shuffling, so that every epoch (and only it) gets a new order."""
        self.epoch = epoch


__all__ = ["DistributedSampler"]
