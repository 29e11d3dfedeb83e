// The kernels behind the addon's functions. Every argument here has already been validated by
// addon.cc (types, lengths, sizes): these functions trust their pointers and sizes.
//
// Each kernel has a portable scalar body and, where it pays, an AVX2 (+FMA, +F16C) body in a function
// compiled for that target only (BITNET_AVX2 below); simd() picks one at run time, so no AVX2
// instruction ever runs on a CPU that lacks it.
#pragma once

#include <cstddef>
#include <cstdint>

#define BITNET_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace bitnet {

struct CpuFeatures {
  bool avx2, fma, f16c, avx512vnni;
};
const CpuFeatures& cpu_features();
// True when the AVX2+FMA+F16C kernels are in use: the CPU has them and setSimd(false) was not called.
bool simd();
void set_simd(bool on);

// ---- ternary (packed layout: see src/infer/kernels/layout.ts and ternary.cc) ----
constexpr int64_t kBlockCols = 128;  // columns per packed block
constexpr int64_t kBlockBytes = 32;  // bytes per packed block (2 bits per column)

inline int64_t ternary_row_bytes(int64_t cols) { return (cols + kBlockCols - 1) / kBlockCols * kBlockBytes; }

// out[i*rows + r] = sum_k xq[i*cols + k] * t[r][k], exact.
void ternary_matmul(const uint8_t* packed, int64_t rows, int64_t cols, const int8_t* xq, int64_t n,
                    int32_t* out);
// y[i*rows + r] = sum over segments g of acc_g * scale[...] / sx[i], in double, stored as float.
// scale_mode 0: one scale; 1: scale[r]; 2: scale[r*ngroups + g] with groups of group_size columns
// (group_size a multiple of kBlockCols).
void ternary_matmul_scaled(const uint8_t* packed, int64_t rows, int64_t cols, const int8_t* xq,
                           const float* sx, int64_t n, const float* scale, int scale_mode,
                           int64_t group_size, float* y);

// ---- float matmul: y[n, rows] = x[n, cols] . W[rows, cols]^T ----
void matmul_f32(const float* x, int64_t n, int64_t cols, const float* w, int64_t rows, float* y);
void matmul_f16(const float* x, int64_t n, int64_t cols, const uint16_t* w, int64_t rows, float* y);
void f16_to_f32(const uint16_t* src, float* dst, int64_t count);

// ---- sgemm: C[b] = op(A[b]) . op(B[b]), row-major; op(A) is m x k, op(B) is k x n ----
void sgemm_batched(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, int64_t stride_a,
                   bool trans_a, const float* b, int64_t stride_b, bool trans_b, float* c,
                   int64_t stride_c);

// ---- int8 per-token activation quantization ----
void quantize_rows(const float* x, int64_t n, int64_t cols, int8_t* xq, float* sx);

}  // namespace bitnet
