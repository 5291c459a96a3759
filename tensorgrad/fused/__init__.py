"""Fused ops: each family's NumPy reference (the CPU path and the oracle in tests) beside the
dispatch to its CUDA kernel in kernels/<family>.cu, compiled through tensorgrad.kernels.

activation  GELU forward/backward, bias + ReLU/GELU, ReLU's backward, erf/erfc
loss        cross entropy / NLL over class indices (log-softmax and NLL in one pass each way)
softmax     softmax / log_softmax over one dim (one pass each way, backward from the output)
reduce      sums over all dims but one contiguous run (bias gradients) in one launch
dropout     dropout with a counter-based RNG (Philox4x32-10), the mask regenerated on CUDA
pool        max-pool 2-D forward with argmax, backward as a gather
im2col      im2col / col2im of a convolution as gathers (CUDA only; conv.py has the reference)
rnn_cells   LSTM and GRU cell pointwise steps
rnn_seq     a whole LSTM/GRU layer's time loop (one direction) in one launch each way, H <= 1024
batchnorm   batch norm statistics, scale-shift and backward (NumPy/CuPy array math; no CUDA kernel yet)
"""
