"""tensorgrad: a small PyTorch-style tensor library with tape-based autodiff on NumPy and CuPy.

    import tensorgrad as tg
    x = tg.randn(3, requires_grad=True)
    (x * 2 + 1).relu().sum().backward()
    x.grad
"""
from __future__ import annotations

from . import dtypes
from .dtypes import (bool_ as bool, double, float, float16, float32, float64, half, int, int8, int16,  # noqa: A004
                     int32, int64, long, short, uint8, dtype, get_default_dtype, set_default_dtype,
                     promote_types, finfo, iinfo)
from .dtypes import bfloat16, complex64, complex128  # noqa: F401 - named, refused when used (TypeError says why)
from .memory_format import *  # noqa: F401,F403 - channels_last, ... (accepted; layout stays C order)
from .backend import Device as device, Generator, default_generator
from .tensor import Tensor, Size
from .autograd.grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, as_tensor, bernoulli, empty, empty_like, eye, from_dlpack, from_numpy, full,
                       full_like, get_rng_state, initial_seed, linspace, manual_seed, multinomial, normal, ones, ones_like,
                       rand, rand_like, randint, randn, randn_like, randperm, seed, set_rng_state, tensor,
                       zeros, zeros_like)
from .ops.arithmetic import *  # noqa: F401,F403
from .ops.elementwise import *  # noqa: F401,F403
from .ops.activation import *  # noqa: F401,F403
from .ops.comparison import *  # noqa: F401,F403
from .ops.reduce import *  # noqa: F401,F403
from .ops.linalg import *  # noqa: F401,F403
from .ops.shape import *  # noqa: F401,F403
from .ops.index import *  # noqa: F401,F403
from .ops.sort import *  # noqa: F401,F403
from .ops.special import *  # noqa: F401,F403
from .ops.gamma import *  # noqa: F401,F403
from .ops.arrange import *  # noqa: F401,F403
from .ops.stats import *  # noqa: F401,F403
from .ops.search import *  # noqa: F401,F403
from .ops.scatter_extra import *  # noqa: F401,F403
from .ops.stats_extra import *  # noqa: F401,F403
from .ops.histogram import *  # noqa: F401,F403
from .ops.shape_extra import *  # noqa: F401,F403
from .ops.pointwise_extra import *  # noqa: F401,F403
from . import autograd, cuda, accelerator, backends  # noqa: E402
from .autograd import functional as _autograd_functional  # noqa: E402,F401 - tg.autograd.functional (needs Tensor)
from . import nn, optim, utils, datasets, transforms, profiler, distributions, linalg, special  # noqa: E402
from .linalg.legacy import *  # noqa: F401,F403,E402 - torch.det, torch.inverse, ...
# torch's older top-level forms: svd/qr (some=True, V not Vh), pinverse, cross (first size-3 dim)
from .linalg.decomp import pinverse, svd_legacy as svd, qr_legacy as qr  # noqa: E402,F401
from .linalg.matfn import matrix_exp, matrix_power, cross_legacy as cross  # noqa: E402,F401
from . import amp  # noqa: E402
from . import compiler  # noqa: E402
from . import random  # noqa: E402 - torch.random: fork_rng, get_rng_state, ...
from . import distributed, func, testing  # noqa: E402 - torch.distributed (one process), torch.func, torch.testing
from . import jit  # noqa: E402 - torch.jit's decorators, as no-ops (tensorgrad is eager)
from .compiler import compile  # noqa: E402,A004 - torch.compile: returns the model (tensorgrad is eager)
from .autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled  # noqa: E402
from .tensor_types import *  # noqa: F401,F403,E402 - FloatTensor, LongTensor, ...
from .settings import *  # noqa: F401,F403,E402 - use_deterministic_algorithms, set_num_threads, ...
from ._format import set_printoptions  # noqa: E402
from . import tensor_types as _tensor_types  # noqa: E402

cuda.amp = amp.cuda_amp  # tg.cuda.amp.GradScaler / autocast, PyTorch's older names
autograd.profiler = profiler  # torch.autograd.profiler.profile / record_function
for _t in _tensor_types._CUDA.values():  # tg.cuda.FloatTensor, ...
    setattr(cuda, _t.__name__, _t)
from .serialization import load, save  # noqa: E402

__version__ = "0.1.0"
from . import version  # noqa: E402 - tg.version.__version__, tg.version.cuda

# PyTorch's float constants (the names float and int are dtypes here)
from math import e, inf, nan, pi  # noqa: E402


def result_type(tensor1, tensor2):
    return dtypes.result_type(tensor1, tensor2)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input) -> int:
    return input.numel()


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """base ** linspace(start, end, steps)."""
    out = base ** linspace(start, end, steps, dtype=dtype, device=device)
    return out.requires_grad_() if requires_grad else out


def randint_like(input, low=0, high=None, *, dtype=None, device=None, generator=None):
    """randint of input's shape, dtype and device; randint_like(input, high) draws from [0, high)."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=input.dtype if dtype is None else dtype,
                   device=input.device if device is None else device, generator=generator)

