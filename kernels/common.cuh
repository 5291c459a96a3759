// Shared prelude of the tensorgrad kernels: the element type.
//
// tensorgrad/kernels.py compiles each kernels/*.cu once per dtype, defining exactly one of
// TG_FLOAT16, TG_FLOAT32, TG_FLOAT64 (-D option), and pastes this file in place of the
// `#include "common.cuh"` line (so CuPy's compile cache, keyed on the source text, sees it).
//   scalar_t  the type stored in memory
//   acc_t     the type the math is done in (float for float16: no half math in the kernels)
//   tg_load / tg_store  convert between the two
// float16 is stored as its 16-bit pattern and converted with PTX cvt instructions, so the
// kernels need no cuda_fp16.h (which a pip-installed NVRTC does not ship).
#ifndef TG_COMMON_CUH
#define TG_COMMON_CUH

#if defined(TG_FLOAT64)
typedef double scalar_t;
typedef double acc_t;
__device__ __forceinline__ acc_t tg_load(scalar_t v) { return v; }
__device__ __forceinline__ scalar_t tg_store(acc_t v) { return v; }
#elif defined(TG_FLOAT16)
typedef unsigned short scalar_t;
typedef float acc_t;
__device__ __forceinline__ acc_t tg_load(scalar_t v) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v));
    return f;
}
__device__ __forceinline__ scalar_t tg_store(acc_t v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
}
#else  // TG_FLOAT32, also the default so the file compiles on its own
typedef float scalar_t;
typedef float acc_t;
__device__ __forceinline__ acc_t tg_load(scalar_t v) { return v; }
__device__ __forceinline__ scalar_t tg_store(acc_t v) { return v; }
#endif

// Math in acc_t: overloads pick the float or double CUDA function.
__device__ __forceinline__ float tg_exp(float x) { return expf(x); }
__device__ __forceinline__ double tg_exp(double x) { return exp(x); }
__device__ __forceinline__ float tg_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double tg_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float tg_erfc(float x) { return erfcf(x); }
__device__ __forceinline__ double tg_erfc(double x) { return erfc(x); }
__device__ __forceinline__ float tg_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double tg_sqrt(double x) { return sqrt(x); }
// NaN-propagating, as NumPy's maximum and PyTorch's (fmax would drop a NaN)
__device__ __forceinline__ float tg_max(float a, float b) { return (a > b || a != a) ? a : b; }
__device__ __forceinline__ double tg_max(double a, double b) { return (a > b || a != a) ? a : b; }

// Infinity and NaN by their bit patterns (a pip-installed NVRTC has no <math.h> for INFINITY/NAN).
#if defined(TG_FLOAT64)
#define TG_INF __longlong_as_double(0x7ff0000000000000LL)
#define TG_NAN __longlong_as_double(0x7ff8000000000000LL)
#else
#define TG_INF __int_as_float(0x7f800000)
#define TG_NAN __int_as_float(0x7fc00000)
#endif
__device__ __forceinline__ bool tg_isinf(acc_t x) { return x == TG_INF || x == -TG_INF; }

// Grid-stride loop over n elements (any grid size covers any n).
#define TG_FOR_EACH(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

#endif  // TG_COMMON_CUH
