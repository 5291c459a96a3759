"""tensorgrad.nn.functional: the functional ops under torch.nn.functional's names.

Activations, softmax, linear, pad and one_hot come from tensorgrad's ops; losses, convolutions
and pooling from ``tensorgrad.ops.loss`` / ``conv`` / ``pool`` where those modules are present.
"""
from __future__ import annotations

import warnings

from ..ops import activation as _act
from ..ops import reduce as _rd
from ..ops.activation import elu, gelu, leaky_relu, silu, softplus  # noqa: F401
from ..ops.activation_extra import *  # noqa: F401,F403 - relu6, hardtanh, selu, glu, prelu, gumbel_softmax, ...
from ..ops.elementwise import sigmoid, tanh  # noqa: F401
from ..ops.index import one_hot, pad  # noqa: F401
from ..ops.interpolate import interpolate, upsample  # noqa: F401
from ..ops.grid_sample import affine_grid, grid_sample  # noqa: F401
from ..ops.attention import scaled_dot_product_attention  # noqa: F401
from .pixel_shuffle import channel_shuffle, pixel_shuffle, pixel_unshuffle  # noqa: F401,E402
from ..ops.unfold import fold, unfold  # noqa: F401,E402
from ..ops.linalg import linear  # noqa: F401
from .linear import bilinear  # noqa: F401,E402

from ..ops.loss import *  # noqa: F401,F403 - cross_entropy, nll_loss, mse_loss, ...
from ..ops.loss_extra import *  # noqa: F401,F403 - kl_div, cosine_similarity, triplet_margin_loss, ...
from ..ops.ctc import ctc_loss  # noqa: F401
from ..ops.conv import *  # noqa: F401,F403 - conv1d/2d/3d, conv_transpose1d/2d/3d
from ..ops.pool import *  # noqa: F401,F403 - max/avg/adaptive/lp pooling 1-3d, max_unpool1d/2d/3d
from ..ops.norm import *  # noqa: F401,F403 - batch_norm, layer_norm, group_norm, embedding
from ..ops.embedding_bag import embedding_bag  # noqa: F401
from ..ops.dropout import *  # noqa: F401,F403 - dropout, dropout2d


def relu(input, inplace: bool = False):
    return input.relu_() if inplace else _act.relu(input)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  f"dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return _rd.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return _rd.log_softmax(input, dim, dtype=dtype)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """input / max(||input||_p over dim, eps)."""
    denom = _rd.norm(input, p, dim, keepdim=True).clamp_min(eps)
    return input / denom.expand_as(input)
