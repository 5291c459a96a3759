"""Benchmarks of tensorgrad's forward and backward passes, CPU and GPU, side by side with PyTorch.

    python -m tensorgrad.bench                       # the default comparison (under 2 min on 2 cores)
    python -m tensorgrad.bench --workloads lstm,gru --batch-sizes 16,64,256 --devices cpu,cuda

workloads.py defines what is timed (shared with benchmarks/test_suite.py, the pytest-benchmark
suite), timing.py how (CUDA events on a GPU, perf_counter on the CPU, warm-up excluded), and
__main__.py the command: a table, the raw figures as JSON and a plot of backward time against
batch size (matplotlib, the optional ``bench`` extra).
"""
from .timing import Measurement, measure
from .workloads import WORKLOADS, Case, Framework

__all__ = ["WORKLOADS", "Case", "Framework", "Measurement", "measure"]
