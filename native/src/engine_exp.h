// The engine's exponential: engineExp of src/infer/kernels/reference.ts, operation for operation, so the
// TypeScript reference, the scalar C and every SIMD lane compute the same double (libm's exp and V8's
// differ in the last bit now and then). Used by the softmax (attention.cc), SiLU (glu.cc) and the
// training cross-entropy (xent.cc).
//
//   x NaN -> NaN;  x < -708.3 -> 0;  x > 709 -> inf;  else
//   k = floor(x*log2(e) + 1/2),  r = (x - k*ln2_hi) - k*ln2_lo,
//   p = Horner of sum_{n=0..12} r^n/n! (each step a multiply then an add),  result p * 2^k.
#pragma once

#include <immintrin.h>

#include <cmath>

#include "kernels.h"

namespace bitnet {

constexpr double kExpLog2e = 1.4426950408889634;
constexpr double kExpLn2Hi = 6.93147180369123816490e-1;  // 32 trailing zero bits: k*ln2_hi is exact
constexpr double kExpLn2Lo = 1.90821492927058770002e-10;
constexpr double kExpMin = -708.3;
constexpr double kExpMax = 709.0;
// 1/n! for n = 12 down to 0: the correctly rounded quotients, as the TS literals 1 / 479001600 ...
constexpr double kExpPoly[13] = {1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320,
                                 1.0 / 5040,      1.0 / 720,      1.0 / 120,     1.0 / 24,     1.0 / 6,
                                 1.0 / 2,         1.0,            1.0};

inline double engine_exp(double x) {
  if (!(x >= kExpMin)) return x < kExpMin ? 0.0 : x;  // NaN stays NaN
  if (x > kExpMax) return INFINITY;
  const double k = std::floor(x * kExpLog2e + 0.5);
  const double r = (x - k * kExpLn2Hi) - k * kExpLn2Lo;
  double p = kExpPoly[0];
  for (int i = 1; i < 13; i++) p = p * r + kExpPoly[i];
  return p * std::ldexp(1.0, static_cast<int>(k));  // exact: k in [-1022, 1023]
}

// Eight lanes of engine_exp; 2^k is built from its exponent bits (exact, like ldexp). Lanes outside
// [kExpMin, kExpMax] (NaN included) are redone by the scalar function.
BITNET_VNNI inline __m512d engine_exp8(__m512d x) {
  const __mmask8 special = _mm512_cmp_pd_mask(x, _mm512_set1_pd(kExpMin), _CMP_NGE_UQ) |
                           _mm512_cmp_pd_mask(x, _mm512_set1_pd(kExpMax), _CMP_GT_OQ);
  const __m512d xc = _mm512_mask_blend_pd(special, x, _mm512_setzero_pd());  // keeps k in range
  const __m512d k = _mm512_roundscale_pd(_mm512_add_pd(_mm512_mul_pd(xc, _mm512_set1_pd(kExpLog2e)), _mm512_set1_pd(0.5)),
                                         _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512d r = _mm512_sub_pd(_mm512_sub_pd(xc, _mm512_mul_pd(k, _mm512_set1_pd(kExpLn2Hi))), _mm512_mul_pd(k, _mm512_set1_pd(kExpLn2Lo)));
  __m512d p = _mm512_set1_pd(kExpPoly[0]);
  for (int i = 1; i < 13; i++) p = _mm512_add_pd(_mm512_mul_pd(p, r), _mm512_set1_pd(kExpPoly[i]));
  const __m512i ki = _mm512_cvtepi32_epi64(_mm512_cvtpd_epi32(k));
  const __m512d two_k = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(ki, _mm512_set1_epi64(1023)), 52));
  __m512d e = _mm512_mul_pd(p, two_k);
  if (special) {
    alignas(64) double xs[8], es[8];
    _mm512_store_pd(xs, x);
    _mm512_store_pd(es, e);
    for (int u = 0; u < 8; u++)
      if (special & (1u << u)) es[u] = engine_exp(xs[u]);
    e = _mm512_load_pd(es);
  }
  return e;
}

// Four lanes of engine_exp on AVX2, the same operations as engine_exp8 (no contraction: the build has
// -ffp-contract=off), so every lane is the scalar function's double. 2^k from its exponent bits.
BITNET_AVX2 inline __m256d engine_exp4(__m256d x) {
  const __m256d special_v = _mm256_or_pd(_mm256_cmp_pd(x, _mm256_set1_pd(kExpMin), _CMP_NGE_UQ),
                                         _mm256_cmp_pd(x, _mm256_set1_pd(kExpMax), _CMP_GT_OQ));
  const int special = _mm256_movemask_pd(special_v);
  const __m256d xc = _mm256_blendv_pd(x, _mm256_setzero_pd(), special_v);  // keeps k in range
  const __m256d k = _mm256_floor_pd(_mm256_add_pd(_mm256_mul_pd(xc, _mm256_set1_pd(kExpLog2e)), _mm256_set1_pd(0.5)));
  const __m256d r = _mm256_sub_pd(_mm256_sub_pd(xc, _mm256_mul_pd(k, _mm256_set1_pd(kExpLn2Hi))), _mm256_mul_pd(k, _mm256_set1_pd(kExpLn2Lo)));
  __m256d p = _mm256_set1_pd(kExpPoly[0]);
  for (int i = 1; i < 13; i++) p = _mm256_add_pd(_mm256_mul_pd(p, r), _mm256_set1_pd(kExpPoly[i]));
  const __m256i ki = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(k));  // k is integral: exact
  const __m256d two_k = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(ki, _mm256_set1_epi64x(1023)), 52));
  __m256d e = _mm256_mul_pd(p, two_k);
  if (special) {
    alignas(32) double xs[4], es[4];
    _mm256_store_pd(xs, x);
    _mm256_store_pd(es, e);
    for (int u = 0; u < 4; u++)
      if (special & (1 << u)) es[u] = engine_exp(xs[u]);
    e = _mm256_load_pd(es);
  }
  return e;
}

}  // namespace bitnet
