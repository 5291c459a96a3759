"""The MNIST CNN's state_dict moves from tensorgrad to PyTorch and back (through NumPy) unchanged."""
from __future__ import annotations

import os
import sys

import numpy as np

import tensorgrad as tg
from oracle import needs_torch, torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))


def _torch_net():
    nn = torch.nn
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
            F = nn.functional
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            x = torch.flatten(self.dropout1(x), 1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)
    return Net()


@needs_torch
def test_mnist_cnn_state_dict_round_trip_with_torch():
    from mnist_cnn import Net
    tg.manual_seed(0)
    ours, theirs = Net().eval(), _torch_net().eval()
    sd = ours.state_dict()
    assert list(sd) == list(theirs.state_dict())  # same keys in the same order
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in sd.items()})
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    with tg.no_grad(), torch.no_grad():
        np.testing.assert_allclose(ours(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-4, atol=1e-5)
    # and back: torch's (re-initialised) weights into a fresh tensorgrad model
    theirs = _torch_net().eval()
    fresh = Net().eval()
    fresh.load_state_dict({k: tg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    with tg.no_grad(), torch.no_grad():
        np.testing.assert_allclose(fresh(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-4, atol=1e-5)
