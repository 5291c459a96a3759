// Dropout with a counter-based RNG: y = x * (keep ? scale : 0), the keep mask regenerated from
// (seed, offset) on every call, so the backward (the same map applied to the gradient) needs no
// stored mask.
// dtypes: float16 float32 float64
//
// Same math as the NumPy reference in tensorgrad/fused/dropout.py (its docstring has the scheme):
// Philox4x32-10 (Salmon et al., SC'11) with key = (lo32(seed), hi32(seed)) and, for mask index m,
// counter = (lo32(m >> 2), hi32(m >> 2), lo32(offset), hi32(offset)); m keeps its element iff
// (word[m & 3] >> 8) < threshold. Element i has mask index i / inner.
//
// One thread per (counter c, position j < inner): it runs Philox once and applies the four words
// to elements (4c + w) * inner + j, w = 0..3, so Philox is evaluated once per four mask entries,
// and for inner > 1 neighbouring threads still touch neighbouring elements. x may be y (each
// element is read before the same thread writes it).
#include "common.cuh"

#define TG_PHILOX_M0 0xD2511F53u
#define TG_PHILOX_M1 0xCD9E8D57u
#define TG_PHILOX_W0 0x9E3779B9u
#define TG_PHILOX_W1 0xBB67AE85u

// hi and lo halves of a 32 x 32 -> 64-bit product (a plain 64-bit multiply rather than
// __umulhi, so the host-compiled test build needs no CUDA intrinsic; NVCC emits mul.wide.u32)
__device__ __forceinline__ unsigned int tg_mulhilo(unsigned int a, unsigned int b, unsigned int* hi) {
    unsigned long long p = (unsigned long long)a * b;
    *hi = (unsigned int)(p >> 32);
    return (unsigned int)p;
}

__device__ __forceinline__ void tg_philox4x32_10(unsigned int c[4], unsigned int k0, unsigned int k1) {
    for (int r = 0; r < 10; ++r) {
        if (r) {  // the key advances by the Weyl increments between rounds
            k0 += TG_PHILOX_W0;
            k1 += TG_PHILOX_W1;
        }
        unsigned int hi0, hi1;
        unsigned int lo0 = tg_mulhilo(TG_PHILOX_M0, c[0], &hi0);
        unsigned int lo1 = tg_mulhilo(TG_PHILOX_M1, c[2], &hi1);
        c[0] = hi1 ^ c[1] ^ k0;
        c[1] = lo1;
        c[2] = hi0 ^ c[3] ^ k1;
        c[3] = lo0;
    }
}

// The forward (x = input, y = output) and the backward (x = grad, y = grad input) of dropout.
// n_mask mask entries, each covering `inner` consecutive elements (n_mask * inner in all).
extern "C" __global__ void dropout_apply(const scalar_t* x, scalar_t* y, long long n_mask, long long inner,
                                         unsigned long long seed, unsigned long long offset,
                                         unsigned long long threshold, acc_t scale) {
    long long n_ctr = (n_mask + 3) / 4;
    TG_FOR_EACH(t, n_ctr * inner) {
        long long c = t / inner, j = t - c * inner;
        unsigned int w[4] = {(unsigned int)c, (unsigned int)((unsigned long long)c >> 32),
                             (unsigned int)offset, (unsigned int)(offset >> 32)};
        tg_philox4x32_10(w, (unsigned int)seed, (unsigned int)(seed >> 32));
        for (int q = 0; q < 4; ++q) {
            long long m = 4 * c + q;
            if (m >= n_mask) break;
            long long i = m * inner + j;
            acc_t factor = ((unsigned long long)(w[q] >> 8) < threshold) ? scale : (acc_t)0;
            y[i] = tg_store(tg_load(x[i]) * factor);
        }
    }
}
