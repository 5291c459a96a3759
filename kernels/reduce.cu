// Sums over every dim but one contiguous run: x viewed as (A, C, B), out[c] = sum over a, b of
// x[(a * C + c) * B + b]. These are the bias gradients of a training step: Linear's (rows, out)
// -> (out,) and a convolution's (N, C, H, W) -> (C,). One launch each, accumulated in acc_t
// (float for float16), deterministic (a fixed tree, no atomics); NumPy reference:
// tensorgrad/fused/reduce.py sum_outer_inner_ref.
// dtypes: float16 float32 float64
#include "common.cuh"

#define TG_SUM_THREADS 256
#define TG_SUM_TILE 32  // columns per block of sum_columns; its blockDim is (TG_SUM_TILE, TG_SUM_THREADS / TG_SUM_TILE)

// B == 1, x (A, C): a block sums TG_SUM_TILE neighbouring columns, its threadIdx.x picking the
// column (a warp reads one contiguous run of a row) and threadIdx.y every blockDim.y-th row;
// the blockDim.y partial sums of a column then meet in shared memory.
extern "C" __global__ void sum_columns(const scalar_t* __restrict__ x, scalar_t* __restrict__ out, long long A,
                                       long long C) {
    __shared__ acc_t part[TG_SUM_THREADS];
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y, rows = (int)blockDim.y;
    for (long long c0 = (long long)blockIdx.x * TG_SUM_TILE; c0 < C; c0 += (long long)gridDim.x * TG_SUM_TILE) {
        const long long c = c0 + tx;
        acc_t s = 0;
        if (c < C)
            for (long long a = ty; a < A; a += rows) s += tg_load(x[a * C + c]);
        part[ty * TG_SUM_TILE + tx] = s;
        __syncthreads();
        for (int k = rows / 2; k > 0; k >>= 1) {  // blockDim.y is a power of two
            if (ty < k) part[ty * TG_SUM_TILE + tx] += part[(ty + k) * TG_SUM_TILE + tx];
            __syncthreads();
        }
        if (ty == 0 && c < C) out[c] = tg_store(part[tx]);
        __syncthreads();  // part is reused by the next tile
    }
}

// B > 1, x (A, C, B): a block per c (grid-stride over C); its threads walk the A * B elements of
// channel c, b fastest so that neighbouring threads read neighbouring memory, then a tree.
extern "C" __global__ void sum_channels(const scalar_t* __restrict__ x, scalar_t* __restrict__ out, long long A,
                                        long long C, long long B) {
    __shared__ acc_t part[TG_SUM_THREADS];
    const int tid = (int)threadIdx.x;
    const long long n = A * B;
    for (long long c = blockIdx.x; c < C; c += gridDim.x) {
        acc_t s = 0;
        for (long long k = tid; k < n; k += blockDim.x) {
            const long long a = k / B, b = k - a * B;
            s += tg_load(x[(a * C + c) * B + b]);
        }
        part[tid] = s;
        __syncthreads();
        for (int k = (int)blockDim.x / 2; k > 0; k >>= 1) {  // blockDim.x is a power of two
            if (tid < k) part[tid] += part[tid + k];
            __syncthreads();
        }
        if (tid == 0) out[c] = tg_store(part[0]);
        __syncthreads();
    }
}
