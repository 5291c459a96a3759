"""Fused ops: each family's NumPy reference (the CPU path and the oracle in tests) beside the
dispatch to its CUDA kernel in kernels/<family>.cu, compiled through tensorgrad.kernels.

activation  GELU forward/backward, erf/erfc
rnn_cells   LSTM and GRU cell pointwise steps
"""
