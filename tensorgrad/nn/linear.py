"""Identity, Linear, Flatten, Unflatten (torch.nn's)."""
from __future__ import annotations


from .. import creation
from ..ops.linalg import linear
from ..ops.shape import flatten, unflatten
from . import init
from .module import Module
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


__all__ = ["Identity", "Linear", "Flatten", "Unflatten"]
