"""Identity, Linear, LazyLinear, Bilinear (and F.bilinear), Flatten, Unflatten (torch.nn's), and the
lazy-module machinery (UninitializedParameter, LazyModuleMixin) LazyLinear and the lazy convolutions
share."""
from __future__ import annotations

import math

from .. import creation
from ..ops.linalg import linear
from ..ops._util import check_tensor
from ..ops.shape import flatten, reshape, unflatten
from . import init
from .module import Module
from .lazy import LazyModuleMixin, UninitializedParameter
from .parameter import Parameter


class Identity(Module):
    """Returns its input; any constructor arguments are ignored."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x @ weight.T + bias, weight (out_features, in_features), PyTorch's default init."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(creation.empty((out_features, in_features), device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init._default_weight_and_bias(self.weight, self.bias)

    def _check_input(self, input):
        shape = getattr(input, "shape", None)
        if shape is not None and (len(shape) == 0 or shape[-1] != self.in_features):
            raise RuntimeError(f"{self._get_name()}({self.extra_repr()}): expected input with last dimension "
                               f"{self.in_features}, got shape {list(shape)}")

    def forward(self, input):
        self._check_input(input)
        return linear(input, self.weight, self.bias)

    def _forward_without_bias(self, input):
        """input @ weight.T: nn.Sequential adds the bias fused with the activation that follows."""
        self._check_input(input)
        return linear(input, self.weight, None)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


# ---------------------------------------------------------------------- lazy modules
class LazyLinear(LazyModuleMixin, Linear):
    """A Linear whose in_features is the last dim of its first input: weight and bias are
    UninitializedParameters until then, initialized then as Linear's; it then is a Linear."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        Module.__init__(self)
        self.in_features = 0
        self.out_features = out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input) -> None:
        shape = getattr(input, "shape", None)
        if shape is None or len(shape) == 0:
            raise RuntimeError(f"{self._get_name()}(out_features={self.out_features}): expected a Tensor input with "
                               f"at least 1 dimension to infer in_features from its last one, got "
                               f"{'shape []' if shape is not None else type(input).__name__}")
        self.in_features = int(shape[-1])
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        self.reset_parameters()

    def _on_materialized(self) -> None:
        self.in_features = self.weight.shape[1]


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij input1[..., i] * weight[o, i, j] * input2[..., j] + bias[o]
    (torch.nn.functional.bilinear): input1 (*, in1), input2 (*, in2) with the same leading dims,
    weight (out, in1, in2), bias (out,).

    Composed of differentiable ops: one linear of input2 against weight seen as (out*in1, in2),
    then the products with input1 summed over in1; so gradients of every input, and double
    backward, come from those ops."""
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        check_tensor("bilinear", t, name)
    s1, s2, sw = tuple(input1.shape), tuple(input2.shape), tuple(weight.shape)
    if len(sw) != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D (out_features, in1_features, in2_features), got "
                           f"shape {list(sw)}")
    if len(s1) != len(s2) or len(s1) == 0:
        raise RuntimeError(f"bilinear(): input dimensions do not match: input1 of shape {list(s1)} and input2 of "
                           f"shape {list(s2)} must have the same number of dims (at least 1)")
    for d, (a, b) in enumerate(zip(s1[:-1], s2[:-1])):
        if a != b:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {d}: got {a} and {b} "
                               f"(input1 {list(s1)}, input2 {list(s2)})")
    out, in1, in2 = sw
    if s1[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {s1[-1]} but expected {in1} "
                           f"(weight {list(sw)})")
    if s2[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {s2[-1]} but expected {in2} "
                           f"(weight {list(sw)})")
    if bias is not None and tuple(bias.shape) != (out,):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {list(bias.shape)} but "
                           f"expected [{out}] (weight {list(sw)})")
    t = linear(input2, reshape(weight, (out * in1, in2)))  # (*, out*in1): weight[o, i, :] . input2
    t = reshape(t, s1[:-1] + (out, in1))
    y = (t * input1.unsqueeze(-2)).sum(-1)
    return y if bias is None else y + bias


class Bilinear(Module):
    """y = x1^T A x2 + b per output feature; weight (out, in1, in2) and bias (out,) uniform in
    +-1/sqrt(in1_features), torch's init."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = Parameter(creation.empty((out_features, in1_features, in2_features), device=device,
                                               dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flattens dims start_dim..end_dim (by default all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim `dim` into `unflattened_size`."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, int):
            if not isinstance(unflattened_size, (tuple, list)) or not all(
                    isinstance(s, int) for s in unflattened_size):
                raise TypeError(f"unflattened_size must be tuple of ints, but found type "
                                f"{type(unflattened_size).__name__}")
        elif isinstance(dim, str):
            raise TypeError("Unflatten with a named dim is not supported by tensorgrad (no named tensors)")
        else:
            raise TypeError("invalid argument type for dim parameter")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        return unflatten(input, self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


__all__ = ["Identity", "Linear", "LazyLinear", "UninitializedParameter", "LazyModuleMixin", "Bilinear", "bilinear", "Flatten", "Unflatten"]
