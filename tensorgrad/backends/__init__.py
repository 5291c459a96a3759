"""tensorgrad.backends: PyTorch's switches for its compute libraries, for scripts that set them.

``backends.cudnn`` controls the CUDA convolutions (tensorgrad/fused/conv_algo.py and
cudnn_conv.py); ``backends.cuda`` the float32 matmul precision (TF32); ``backends.mps`` says that
there is no Apple GPU backend.
"""
from . import cuda, cudnn, mps  # noqa: F401

__all__ = ["cuda", "cudnn", "mps"]
