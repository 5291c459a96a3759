"""The benchmark workloads, written once against the API tensorgrad and PyTorch share.

A workload is built for one framework, device, dtype, batch size and width (``build``), from
NumPy data drawn with a fixed seed and weights copied from the tensorgrad model, so the two
frameworks compute the same thing. A built Case has three timed parts:

  forward()    the layer or model on its input (for a training step, the loss too), returning
               the output; autograd records as in training
  backward(o)  o.backward(g) with a fixed upstream gradient g of o's shape (a loss: o.backward())
  step()       the optimizer step of a training-step workload (None for the others)

Layers take inputs that require grad, so their backward computes the input gradient too, as
inside a network.
"""
from __future__ import annotations

import numpy as np

# name: (family, what it is, default width, builder name)
WORKLOADS = {
    "linear": ("dense", "Linear(width, width) on (batch, width)", 512),
    "mlp": ("dense", "MLP 784-width-width-10 with ReLU on (batch, 784)", 512),
    "conv2d_mnist": ("conv", "Conv2d(1, 32, 3) on (batch, 1, 28, 28)", 32),
    "conv2d_cifar": ("conv", "Conv2d(3, width, 3, padding=1) on (batch, 3, 32, 32)", 64),
    "maxpool2d_mnist": ("conv", "MaxPool2d(2) on (batch, 64, 24, 24)", 64),
    "maxpool2d_cifar": ("conv", "MaxPool2d(2) on (batch, width, 32, 32)", 64),
    "batchnorm2d": ("conv", "BatchNorm2d(width) in train mode on (batch, width, 16, 16)", 64),
    "mnist_cnn": ("conv", "examples/mnist_cnn.py's CNN (forward to log-softmax)", 32),
    "lstm": ("recurrent", "LSTM(28, width, batch_first) on (batch, 28, 28)", 128),
    "gru": ("recurrent", "GRU(28, width, batch_first) on (batch, 28, 28)", 128),
    "cross_entropy": ("loss", "cross_entropy of (batch, width) logits", 1000),
    "train_mlp": ("dense", "MLP training step: forward, nll_loss, backward, SGD step", 512),
    "train_cnn": ("conv", "MNIST CNN training step: forward, nll_loss, backward, SGD step", 32),
    "train_lstm": ("recurrent", "sequential-MNIST LSTM step: LSTM(28, width) + Linear, cross_entropy, SGD", 128),
}
# workloads whose shapes do not depend on the width (a fixed architecture or input)
FIXED_WIDTH = frozenset({"maxpool2d_mnist", "mnist_cnn", "train_cnn"})


class Framework:
    """tensorgrad or torch, behind the few calls the builders need."""

    def __init__(self, name: str):
        self.name = name
        if name == "tensorgrad":
            import tensorgrad as lib
        elif name == "torch":
            import torch as lib
        else:
            raise ValueError(f"framework must be 'tensorgrad' or 'torch', got {name!r}")
        self.lib, self.nn, self.F, self.optim = lib, lib.nn, lib.nn.functional, lib.optim

    def tensor(self, a: np.ndarray, device: str, requires_grad: bool = False):
        if self.name == "tensorgrad":
            t = self.lib.tensor(a, device=device)
        else:
            t = self.lib.from_numpy(np.ascontiguousarray(a)).to(device)
        return t.requires_grad_(requires_grad) if requires_grad else t

    def dtype(self, name: str):
        return getattr(self.lib, name)


def _cnn(nn, F, flatten):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            x = self.dropout2(F.relu(self.fc1(flatten(self.dropout1(x), 1))))
            return F.log_softmax(self.fc2(x), dim=1)
    return Net()


def _module(fw: Framework, name: str, width: int):
    nn = fw.nn
    if name == "linear":
        return nn.Linear(width, width)
    if name in ("mlp", "train_mlp"):
        return nn.Sequential(nn.Linear(784, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))
    if name == "conv2d_mnist":
        return nn.Conv2d(1, width, 3)
    if name == "conv2d_cifar":
        return nn.Conv2d(3, width, 3, padding=1)
    if name.startswith("maxpool2d"):
        return nn.MaxPool2d(2)
    if name == "batchnorm2d":
        return nn.BatchNorm2d(width)
    if name in ("mnist_cnn", "train_cnn"):
        return _cnn(nn, fw.F, fw.lib.flatten)
    if name in ("lstm", "gru"):
        return (nn.LSTM if name == "lstm" else nn.GRU)(28, width, batch_first=True)
    if name == "train_lstm":
        class SeqMNIST(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(28, width, batch_first=True)
                self.fc = nn.Linear(width, 10)

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.fc(out[:, -1])
        return SeqMNIST()
    if name == "cross_entropy":
        return None
    raise KeyError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")


def _input_shape(name: str, batch: int, width: int):
    return {"linear": (batch, width), "mlp": (batch, 784), "train_mlp": (batch, 1, 28, 28),
            "conv2d_mnist": (batch, 1, 28, 28), "conv2d_cifar": (batch, 3, 32, 32),
            "maxpool2d_mnist": (batch, 64, 24, 24), "maxpool2d_cifar": (batch, width, 32, 32),
            "batchnorm2d": (batch, width, 16, 16), "mnist_cnn": (batch, 1, 28, 28), "train_cnn": (batch, 1, 28, 28),
            "lstm": (batch, 28, 28), "gru": (batch, 28, 28), "train_lstm": (batch, 28, 28),
            "cross_entropy": (batch, width)}[name]


class Case:
    """One workload built for one framework, device, dtype, batch and width (see the module docstring)."""

    def __init__(self, name, fw: Framework, device: str, dtype: str, batch: int, width: int | None = None,
                 reference_state=None, seed: int = 0, train: bool = True):
        if name not in WORKLOADS:
            raise KeyError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
        self.name, self.fw, self.device, self.batch = name, fw, device, batch
        self.width = width or WORKLOADS[name][2]
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(_input_shape(name, batch, self.width)).astype(dtype)
        self.module = _module(fw, name, self.width)
        if self.module is not None:
            if reference_state is not None:  # the tensorgrad model's weights, so both compute the same
                self.module.load_state_dict({k: fw.tensor(v, "cpu") for k, v in reference_state.items()})
            self.module.to(device=device, dtype=fw.dtype(dtype))
            self.module.train(train)  # train mode: dropout and batch statistics, as in training
        self.training = name.startswith("train_")
        self.x = fw.tensor(x, device, requires_grad=not self.training)
        n_cls = self.width if name == "cross_entropy" else 10
        self.y = fw.tensor(rng.integers(0, n_cls, batch).astype(np.int64), device)
        self.opt = fw.optim.SGD(self.module.parameters(), lr=0.01) if self.training else None
        self._g = None
        self._g_rng = rng

    def state(self) -> dict:
        """The module's weights as NumPy arrays (for building the other framework's copy)."""
        if self.module is None:
            return {}
        return {k: v.detach().cpu().numpy() for k, v in self.module.state_dict().items()}

    def forward(self):
        F = self.fw.F
        if self.name == "cross_entropy":
            return F.cross_entropy(self.x, self.y)
        if self.name in ("train_mlp", "train_cnn"):
            x = self.x.reshape(self.batch, 784) if self.name == "train_mlp" else self.x
            out = self.module(x)
            return F.nll_loss(F.log_softmax(out, dim=1) if self.name == "train_mlp" else out, self.y)
        if self.name == "train_lstm":
            return F.cross_entropy(self.module(self.x), self.y)
        out = self.module(self.x)
        return out[0] if isinstance(out, tuple) else out

    def backward(self, out) -> None:
        if self.opt is not None:
            self.opt.zero_grad()
        else:
            self.x.grad = None
            for p in self.module.parameters() if self.module is not None else ():
                p.grad = None
        if out.dim() == 0:
            out.backward()
            return
        if self._g is None:  # one fixed upstream gradient of the output's shape
            g = self._g_rng.standard_normal(tuple(out.shape)).astype(str(out.dtype).split(".")[-1])
            self._g = self.fw.tensor(g, self.device)
        out.backward(self._g)

    def step(self) -> None:
        if self.opt is not None:
            self.opt.step()

    def grads(self) -> dict:
        """Input and parameter gradients as NumPy arrays (to compare the frameworks)."""
        out = {}
        if getattr(self.x, "grad", None) is not None:
            out["input"] = self.x.grad.detach().cpu().numpy()
        if self.module is not None:
            for k, p in self.module.named_parameters():
                if p.grad is not None:
                    out[k] = p.grad.detach().cpu().numpy()
        return out
