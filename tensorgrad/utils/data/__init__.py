"""Datasets, samplers and the DataLoader, with torch.utils.data's names and semantics."""
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
                      WorkerInfo, get_worker_info, random_split)
from .dataloader import (BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler,
                         SubsetRandomSampler, WeightedRandomSampler, default_collate)
from . import distributed  # noqa: F401 - DistributedSampler
from .distributed import DistributedSampler  # noqa: F401

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "StackDataset", "ChainDataset", "Subset",
           "random_split", "get_worker_info", "WorkerInfo", "DataLoader", "default_collate", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "DistributedSampler"]
