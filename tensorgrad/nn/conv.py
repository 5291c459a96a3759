"""Conv1d/2d/3d, ConvTranspose1d/2d/3d, LazyConv1d/2d/3d (torch.nn's constructor arguments, parameter names and shapes,
default init and reprs, so state_dicts move between the two).

Errors from the functional ops (shapes, dtypes) are re-raised with the layer's repr in front,
e.g. "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1)): conv2d: expected input with 1 channels ...".
"""
from __future__ import annotations


from .. import creation
from ..ops import conv as _conv
from . import init
from .lazy import LazyModuleMixin, UninitializedParameter
from .module import Module
from .parameter import Parameter


def _ntuple(n):
    def parse(x):
        if isinstance(x, (tuple, list)):
            return tuple(x)
        return (x,) * n
    return parse


_single = _ntuple(1)
_pair = _ntuple(2)
_triple = _ntuple(3)


class _ConvNd(Module):
    """What the convolutions and transposed convolutions share: validation, parameters, init, repr."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        valid_padding_strings = ["same", "valid"]  # a list: the message reads the same every run
        if isinstance(padding, str):
            if padding not in valid_padding_strings:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {valid_padding_strings}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        valid_padding_modes = ["zeros", "reflect", "replicate", "circular"]
        if padding_mode not in valid_padding_modes:
            raise ValueError(f"padding_mode must be one of {valid_padding_modes}, but got "
                             f"padding_mode='{padding_mode}'")
        # padding_mode other than zeros: the input is padded by F.pad in that mode (left/right per
        # spatial dim, the last dim first, as F.pad takes it) and convolved without padding
        if isinstance(padding, str):
            rp = [0, 0] * len(kernel_size)
            if padding == "same":
                for i, (d, k) in enumerate(zip(dilation, kernel_size)):
                    total = d * (k - 1)
                    j = 2 * (len(kernel_size) - 1 - i)
                    rp[j], rp[j + 1] = total // 2, total - total // 2
            self._reversed_padding_repeated_twice = tuple(rp)
        else:
            self._reversed_padding_repeated_twice = tuple(p for p in reversed(padding) for _ in range(2))
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        self.weight = Parameter(creation.empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # fan_in = weight.size(1) * prod(kernel_size) (for a transposed conv: out_channels/groups * ...)
        init._default_weight_and_bias(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = "{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={stride}"
        if self.padding != (0,) * len(self.padding):
            s += ", padding={padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += ", dilation={dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += ", output_padding={output_padding}"
        if self.groups != 1:
            s += ", groups={groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += ", padding_mode={padding_mode}"
        return s.format(**self.__dict__)

    def _padded(self, input):
        """(input, padding) for the convolution: padded here in padding_mode (other than zeros)."""
        if self.padding_mode == "zeros":
            return input, self.padding
        from ..ops.index import pad
        return pad(input, self._reversed_padding_repeated_twice, self.padding_mode), (0,) * len(self.kernel_size)

    def _call(self, fn, *args):
        """fn(*args), with the layer's repr in front of any error message from the op."""
        try:
            return fn(*args)
        except (RuntimeError, TypeError, ValueError, IndexError) as e:
            if e.args and isinstance(e.args[0], str):  # prefix in place: type and traceback stay
                e.args = (f"{self._get_name()}({self.extra_repr()}): {e.args[0]}",) + e.args[1:]
            raise


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or unbatched (C, L) input; weight (out, in/groups, k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _single(kernel_size), _single(stride),
                         padding if isinstance(padding, str) else _single(padding), _single(dilation),
                         False, _single(0), groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, input):
        x, padding = self._padded(input)
        return self._call(_conv.conv1d, x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or unbatched (C, H, W) input; weight (out, in/groups, kH, kW)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         padding if isinstance(padding, str) else _pair(padding), _pair(dilation),
                         False, _pair(0), groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, input):
        x, padding = self._padded(input)
        return self._call(_conv.conv2d, x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def _forward_without_bias(self, input):
        """The convolution alone: nn.Sequential adds the bias fused with the activation that follows."""
        x, padding = self._padded(input)
        return self._call(_conv.conv2d, x, self.weight, None, self.stride, padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """3-D convolution over (N, C, D, H, W) or unbatched (C, D, H, W) input; weight (out, in/groups, kD, kH, kW)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _triple(kernel_size), _triple(stride),
                         padding if isinstance(padding, str) else _triple(padding), _triple(dilation),
                         False, _triple(0), groups, bias, padding_mode, device=device, dtype=dtype)

    def forward(self, input):
        x, padding = self._padded(input)
        return self._call(_conv.conv3d, x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    """What ConvTranspose1d/2d/3d share: ``forward(input, output_size=None)``, where an `output_size`
    picks the output_padding that gives that size, as in torch."""

    _fn = None          # the functional op
    _tuple = None       # int -> n-tuple

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {self.__class__.__name__}')
        t = type(self)._tuple
        super().__init__(in_channels, out_channels, t(kernel_size), t(stride), t(padding), t(dilation), True,
                         t(output_padding), groups, bias, padding_mode, device=device, dtype=dtype)

    def _output_padding(self, input, output_size):
        """torch's _ConvTransposeNd._output_padding."""
        if output_size is None:
            return self.output_padding
        nsd = len(self.kernel_size)
        has_batch_dim = input.dim() == nsd + 2
        nns = 2 if has_batch_dim else 1
        output_size = list(output_size)
        if len(output_size) == nns + nsd:
            output_size = output_size[nns:]
        if len(output_size) != nsd:
            raise ValueError(f"ConvTranspose{nsd}D: for {input.dim()}D input, output_size must have {nsd} or "
                             f"{nns + nsd} elements (got {len(output_size)})")
        min_sizes, max_sizes = [], []
        for d in range(nsd):
            dim_size = ((input.size(d + nns) - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            min_sizes.append(dim_size)
            max_sizes.append(dim_size + self.stride[d] - 1)
        for i, size in enumerate(output_size):
            if size < min_sizes[i] or size > max_sizes[i]:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes range from "
                                 f"{min_sizes} to {max_sizes} (for an input of {list(input.shape[nns:])})")
        return tuple(output_size[d] - min_sizes[d] for d in range(nsd))

    def forward(self, input, output_size=None):
        if output_size is not None:
            nsd = len(self.kernel_size)
            if not hasattr(input, "dim"):
                raise TypeError(f"{self._get_name()}({self.extra_repr()}): expected a Tensor input, got "
                                f"{type(input).__name__}")
            if input.dim() not in (nsd + 1, nsd + 2):
                raise RuntimeError(f"{self._get_name()}({self.extra_repr()}): Expected {nsd + 1}D (unbatched) or "
                                   f"{nsd + 2}D (batched) input, but got input of size: {list(input.shape)}")
        output_padding = self._output_padding(input, output_size)
        return self._call(type(self)._fn, input, self.weight, self.bias, self.stride, self.padding,
                          output_padding, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution; weight (in, out/groups, k)."""

    _fn, _tuple = staticmethod(_conv.conv_transpose1d), staticmethod(_single)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution; weight (in, out/groups, kH, kW)."""

    _fn, _tuple = staticmethod(_conv.conv_transpose2d), staticmethod(_pair)


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution; weight (in, out/groups, kD, kH, kW)."""

    _fn, _tuple = staticmethod(_conv.conv_transpose3d), staticmethod(_triple)


class _LazyConvMixin(LazyModuleMixin):
    """A convolution whose in_channels is the channel dim of its first input (dim 1, or 0 when
    unbatched); weight and bias are UninitializedParameters until then (see LazyModuleMixin)."""

    def _lazy_init(self, out_channels, bias, device, dtype):
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input) -> None:
        nd = len(self.kernel_size) + 1  # channels and spatial dims, without the batch dim
        dim = getattr(input, "ndim", None)
        if dim not in (nd, nd + 1):
            raise RuntimeError(f"Expected {nd}D (unbatched) or {nd + 1}D (batched) input to {self._get_name()}, "
                               f"but got input of size: {list(getattr(input, 'shape', [])) or type(input).__name__}")
        in_channels = int(input.shape[1] if dim == nd + 1 else input.shape[0])
        if in_channels % self.groups != 0:
            raise ValueError(f"{self._get_name()}: in_channels must be divisible by groups, got in_channels="
                             f"{in_channels} (input shape {list(input.shape)}) and groups={self.groups}")
        self.in_channels = in_channels
        self.weight.materialize((self.out_channels, in_channels // self.groups, *self.kernel_size))
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()

    def _on_materialized(self) -> None:
        self.in_channels = self.weight.shape[1] * self.groups


class LazyConv1d(_LazyConvMixin, Conv1d):
    """Conv1d with in_channels inferred from the first input."""

    cls_to_become = Conv1d

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConv2d(_LazyConvMixin, Conv2d):
    """Conv2d with in_channels inferred from the first input."""

    cls_to_become = Conv2d

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)


class LazyConv3d(_LazyConvMixin, Conv3d):
    """Conv3d with in_channels inferred from the first input."""

    cls_to_become = Conv3d

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)


__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "LazyConv1d",
           "LazyConv2d", "LazyConv3d"]
