"""Activations: relu, leaky_relu, elu, gelu (fused kernel), silu, softplus; bias + relu/gelu (fused).

Gradients at kinks follow PyTorch (relu'(0) = 0). GELU runs through the kernel
registry: a fused CUDA kernel on the GPU, its NumPy reference on the CPU.
"""
from __future__ import annotations

from .. import autocast_mode as _autocast
from ..fused import activation as fused_act
from ..autograd.function import Op
from ..backend import xp_of
from .arithmetic import Where, clamp_max
from .elementwise import exp, sigmoid, tanh
from ._util import wrap_dim
from ._pointwise import _GELU_C, _INV_SQRT_2PI, _SQRT_2_OVER_PI, _const, _float_only, _masked, _sigmoid_arr, _type_error

# ---------------------------------------------------------------- activations
class Relu(Op):
    save_output = True

    def forward(self, x):
        return xp_of(x).maximum(x, 0)

    def backward(self, grad):
        (y,) = self.saved_tensors
        return MaskGrad()(grad, y)


class MaskGrad(Op):
    """grad where y > 0 (or NaN), else 0, in one op: relu's backward, itself differentiable in `grad`."""

    save_inputs = (1,)

    def forward(self, grad, y):
        # a select, not a product: an inf/nan gradient stays out of the masked positions, and a
        # NaN y passes the gradient (PyTorch's threshold_backward); one launch on CUDA
        return fused_act.relu_backward(y, grad)

    def backward(self, gg):
        (y,) = self.saved_tensors
        return MaskGrad()(gg, y), None


def relu(input):
    try:
        if input._data.dtype.kind == "b":
            raise RuntimeError("relu: Boolean inputs not supported for relu; convert with .float() first")
    except AttributeError:
        raise _type_error("relu", input) from None
    return Relu()(input)


class LeakyRelu(Op):
    save_inputs = (0,)

    def __init__(self, negative_slope):
        self.slope = negative_slope

    def forward(self, x):
        return xp_of(x).where(x > 0, x, x * self.slope)

    def backward(self, grad):
        (x,) = self.saved_tensors
        d = x._data
        t = d.dtype.type
        return grad * _const(xp_of(d).where(d > 0, t(1), t(self.slope)))


class Elu(Op):
    save_inputs = (0,)

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = xp_of(x)
        return xp.where(x > 0, x, xp.expm1(xp.minimum(x, 0)) * self.alpha)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return EluBackward(self.alpha)(x, grad)


class EluBackward(Op):
    """grad * elu'(x) in one op: alpha * exp(x) for x <= 0 (PyTorch's side at 0), 1 above.
    From x, not from the output: y + alpha would cancel to 0 in the far negative tail."""

    save_inputs = (0, 1)

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x, grad):
        xp = xp_of(x)
        return xp.where(x > 0, grad, grad * (xp.exp(xp.minimum(x, 0)) * self.alpha))

    def backward(self, gg):
        x, grad = self.saved_tensors
        nx, ng = self.needs_input_grad
        gx = None
        if nx:  # elu'' = alpha * exp(x) for x <= 0, 0 above
            gx = _masked(gg * grad * (exp(clamp_max(x, 0)) * self.alpha), x._data <= 0)
        return gx, (EluBackward(self.alpha)(x, gg) if ng else None)


class Gelu(Op):
    save_inputs = (0,)

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        return fused_act.gelu_forward(x, self.approximate)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return GeluBackward(self.approximate)(x, grad)


class GeluBackward(Op):
    """grad * gelu'(x) by the fused kernel. Recorded under create_graph=True, where its own
    backward (composed tensor ops for gelu'') gives the second derivative."""

    save_inputs = (0, 1)

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x, grad):
        return fused_act.gelu_backward(x, grad, self.approximate)

    def backward(self, gg):
        x, grad = self.saved_tensors
        nx, ng = self.needs_input_grad
        gx = gg * grad * _gelu_second_derivative(x, self.approximate) if nx else None
        return gx, (GeluBackward(self.approximate)(x, gg) if ng else None)


def _gelu_second_derivative(x, approximate):
    x2 = x * x
    if approximate == "none":  # gelu' = Phi + x phi, so gelu'' = phi * (2 - x²)
        return exp(x2 * -0.5) * ((2 - x2) * _INV_SQRT_2PI)
    # u = k (x + c x³), t = tanh(u): gelu'' = (1 - t²) (u' - x t u'² + 3 k c x²)
    k = _SQRT_2_OVER_PI
    t = tanh((x + x * x2 * _GELU_C) * k)
    du = (x2 * (3 * _GELU_C) + 1) * k
    return (1 - t * t) * (du - x * t * du * du + x2 * (3 * k * _GELU_C))


class Silu(Op):
    save_inputs = (0,)

    def forward(self, x):
        return x * _sigmoid_arr(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return SiluBackward()(x, grad)


class SiluBackward(Op):
    """grad * s (1 + x (1 - s)) with s = sigmoid(x), in one op; differentiable in x and grad."""

    save_inputs = (0, 1)

    def forward(self, x, grad):
        s = _sigmoid_arr(x)
        return grad * (s * (1 + x * (1 - s)))

    def backward(self, gg):
        x, grad = self.saved_tensors
        nx, ng = self.needs_input_grad
        gx = None
        if nx:  # silu'' = s (1 - s) (2 + x (1 - 2 s))
            s = sigmoid(x)
            gx = gg * grad * (s * (1 - s) * (x * (1 - s * 2) + 2))
        return gx, (SiluBackward()(x, gg) if ng else None)


class Softplus(Op):
    save_inputs = (0,)

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp = xp_of(x)
        bx = x * self.beta if self.beta != 1 else x
        # log1p(exp(bx)) / beta, linear above the threshold; exp never sees more than it
        soft = xp.log1p(xp.exp(xp.minimum(bx, self.threshold)))
        if self.beta != 1:
            soft /= self.beta
        return xp.where(bx > self.threshold, x, soft)

    def backward(self, grad):
        (x,) = self.saved_tensors
        bx = x * self.beta if self.beta != 1 else x
        return Where()(_const(bx._data > self.threshold), grad, grad * sigmoid(bx))


# ---------------------------------------------------------------- bias + activation (one fused op)
class BiasActivation(Op):
    """act(z + bias), bias along `channel_dim`, in one pass (fused/activation.py). What
    nn.Sequential runs for a Linear or Conv2d followed by ReLU or GELU (see nn/containers.py)."""

    def __init__(self, channel_dim, activation, approximate):
        self.channel_dim, self.activation, self.approximate = channel_dim, activation, approximate
        # relu's backward is a mask of the output; gelu's needs z + bias, recomputed from z and bias
        self.save_output = activation == "relu"
        self.save_inputs = () if activation == "relu" else (0, 1)

    def forward(self, z, bias):
        return fused_act.bias_act_forward(z, bias, self.channel_dim, self.activation, self.approximate)

    def backward(self, grad):
        if self.activation == "relu":
            (y,) = self.saved_tensors
            dz = MaskGrad()(grad, y)
        else:
            z, bias = self.saved_tensors
            shape = [1] * z.ndim
            shape[self.channel_dim] = -1
            dz = GeluBackward(self.approximate)(z + bias.reshape(shape), grad)
        dims = tuple(d for d in range(dz.ndim) if d != self.channel_dim)
        db = (dz.sum(dims) if dims else dz) if self.needs_input_grad[1] else None
        return dz, db


def bias_activation(z, bias, activation, channel_dim=1, approximate="none"):
    """activation(z + bias) as one fused op; bias is 1-D, of z's size along `channel_dim`."""
    channel_dim = wrap_dim(channel_dim, z._data.ndim, "bias_activation")
    if bias._data.ndim != 1 or bias._data.shape[0] != z._data.shape[channel_dim]:
        raise RuntimeError(f"bias_activation: bias of shape {list(bias._data.shape)} does not match dim "
                           f"{channel_dim} of input {list(z._data.shape)}; it must be 1-D of that size")
    return BiasActivation(channel_dim, activation, approximate)(z, bias)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    _float_only("leaky_relu", input)
    if inplace:
        return input._inplace(leaky_relu, negative_slope)
    return LeakyRelu(negative_slope)(input)


def elu(input, alpha=1.0, inplace=False):
    _float_only("elu", input)
    if inplace:
        return input._inplace(elu, alpha)
    return Elu(alpha)(input)


def gelu(input, approximate="none"):
    _float_only("gelu", input)
    if approximate != "none" and approximate != "tanh":
        raise RuntimeError(f"gelu: approximate argument must be either 'none' or 'tanh', got {approximate!r}")
    return Gelu(approximate)(input)


def silu(input, inplace=False):
    _float_only("silu", input)
    if inplace:
        return input._inplace(silu)
    return Silu()(input)


@_autocast.policy(cuda="float32")
def softplus(input, beta=1.0, threshold=20.0):
    _float_only("softplus", input)
    return Softplus(beta, threshold)(input)


__all__ = ['relu', 'leaky_relu', 'elu', 'gelu', 'silu', 'softplus']
