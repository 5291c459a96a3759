"""Datasets, samplers and the DataLoader, with torch.utils.data's names and semantics."""
from .dataset import Dataset, Subset, TensorDataset, random_split
from .dataloader import (BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler,
                         default_collate)

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate",
           "Sampler", "SequentialSampler", "RandomSampler", "BatchSampler"]
