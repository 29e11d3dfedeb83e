// int8 per-token (per-row) absmax quantization of activations, bit for bit as DESIGN.md and the TS
// reference: s = 127 / max(max|x|, 1e-5) in float32; xq = clamp(nearbyint(x * s), -128, 127) with the
// float32 product and round half to even; NaN products (x = NaN, or x = +-inf with s = 0) give 0;
// NaN inputs do not take part in max|x|.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

constexpr float kEps = 1e-5f;

inline int8_t quant1(float x, float s) {
  float r = std::nearbyint(x * s);
  r = r > 127.0f ? 127.0f : r;
  r = r < -128.0f ? -128.0f : r;
  return r == r ? static_cast<int8_t>(r) : 0;
}

float row_scale(float amax) { return 127.0f / std::max(amax, kEps); }

float abs_max_scalar(const float* x, int64_t n) {
  float m = 0;
  for (int64_t k = 0; k < n; k++) {
    const float a = std::fabs(x[k]);
    m = a > m ? a : m;  // a NaN never compares greater: skipped
  }
  return m;
}

BITNET_AVX2 float abs_max_avx2(const float* x, int64_t n) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 mv = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)  // max(a, m) returns m when a is NaN: NaN is skipped, as in the scalar loop
    mv = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + k), absmask), mv);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, mv);
  float m = abs_max_scalar(x + k, n - k);
  for (float l : lanes) m = l > m ? l : m;
  return m;
}

void row_scalar(const float* x, int64_t cols, int8_t* q, float* sx) {
  const float s = row_scale(abs_max_scalar(x, cols));
  *sx = s;
  for (int64_t k = 0; k < cols; k++) q[k] = quant1(x[k], s);
}

BITNET_AVX2 __m256i quant8(__m256 x, __m256 s, __m256 lo, __m256 hi) {
  __m256 r = _mm256_round_ps(_mm256_mul_ps(x, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_min_ps(hi, _mm256_max_ps(lo, r));  // NaN passes through (second operand)...
  r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));  // ...and becomes 0 here
  return _mm256_cvttps_epi32(r);
}

BITNET_AVX2 void row_avx2(const float* x, int64_t cols, int8_t* q, float* sx) {
  const float s = row_scale(abs_max_avx2(x, cols));
  *sx = s;
  const __m256 sv = _mm256_set1_ps(s), lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t k = 0;
  for (; k + 32 <= cols; k += 32) {
    const __m256i a = quant8(_mm256_loadu_ps(x + k), sv, lo, hi);
    const __m256i b = quant8(_mm256_loadu_ps(x + k + 8), sv, lo, hi);
    const __m256i c = quant8(_mm256_loadu_ps(x + k + 16), sv, lo, hi);
    const __m256i d = quant8(_mm256_loadu_ps(x + k + 24), sv, lo, hi);
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + k), _mm256_permutevar8x32_epi32(p, perm));
  }
  for (; k < cols; k++) q[k] = quant1(x[k], s);
}

}  // namespace

float abs_max(const float* x, int64_t n) { return simd() ? abs_max_avx2(x, n) : abs_max_scalar(x, n); }

void quantize_rows(const float* x, int64_t n, int64_t cols, int8_t* xq, float* sx) {
  const bool avx2 = simd();
  auto rows = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      if (avx2) row_avx2(x + i * cols, cols, xq + i * cols, sx + i);
      else row_scalar(x + i * cols, cols, xq + i * cols, sx + i);
    }
  };
  if (n * cols >= (1 << 16)) pool_for(n, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1)), rows);
  else rows(0, n);
}

}  // namespace bitnet
