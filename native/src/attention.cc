// Causal multi-head attention with GQA over the engine's f32 KV cache (src/infer/model.ts), the same
// arithmetic as the TypeScript reference (src/infer/kernels/reference.ts, `attention`) in the same order:
//
//   s_t = (sum_j q[j]*k_t[j]) * (1/sqrt(hd))   in double, j ascending          (t = 0..last)
//   e_t = exp(s_t - max_t s_t);  sum = sum_t e_t   in double, t ascending
//   out[j] = float(sum_t (e_t/sum) * v_t[j])     in double, t ascending, multiply then add
//
// Every per-element sum runs in the reference's order, so the SIMD body is the reference's arithmetic
// vectorized *across* positions (scores: lanes are 4 positions, each lane summing its own j ascending)
// or across head dims (the weighted sum: lanes are 4 dims, each summing t ascending). The only possible
// difference from the TypeScript is exp (libm's vs V8's, both within an ulp of double), which almost
// never survives the final rounding to float.
//
// Work items are (token, query head) pairs spread over the pool; each thread keeps its own scratch.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace bitnet {

namespace {

struct Scratch {
  std::vector<double> scores, acc;
};
thread_local Scratch scratch;

// scores[t] = (sum_j q[j]*k[t*hd + j]) * scale for t in [0, len), j ascending per t.
void scores_scalar(const float* q, const float* k, int64_t hd, int64_t len, double scale, double* scores) {
  for (int64_t t = 0; t < len; t++) {
    const float* kt = k + t * hd;
    double s = 0;
    for (int64_t j = 0; j < hd; j++) s += static_cast<double>(q[j]) * static_cast<double>(kt[j]);
    scores[t] = s * scale;
  }
}

// Lanes are positions: 4 rows of K are loaded 4 dims at a time and transposed in registers, so each lane
// adds its own products j ascending; 8 positions at a time (two independent add chains). A float times
// a float is exact in double, so mul-then-add equals the reference's s += q*k exactly.
BITNET_AVX2 inline void transpose4(const float* r0, int64_t hd, __m128 c[4]) {
  __m128 a = _mm_loadu_ps(r0), b = _mm_loadu_ps(r0 + hd), cc = _mm_loadu_ps(r0 + 2 * hd), dd = _mm_loadu_ps(r0 + 3 * hd);
  _MM_TRANSPOSE4_PS(a, b, cc, dd);
  c[0] = a, c[1] = b, c[2] = cc, c[3] = dd;
}

BITNET_AVX2 void scores_avx2(const float* q, const float* k, int64_t hd, int64_t len, double scale, double* scores) {
  if (hd % 4 != 0) return scores_scalar(q, k, hd, len, scale, scores);
  const __m256d vscale = _mm256_set1_pd(scale);
  int64_t t = 0;
  for (; t + 8 <= len; t += 8) {
    const float* k0 = k + t * hd;
    const float* k1 = k0 + 4 * hd;
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    for (int64_t j = 0; j < hd; j += 4) {
      __m128 c0[4], c1[4];
      transpose4(k0 + j, hd, c0);
      transpose4(k1 + j, hd, c1);
      for (int m = 0; m < 4; m++) {
        const __m256d qj = _mm256_set1_pd(static_cast<double>(q[j + m]));
        s0 = _mm256_add_pd(s0, _mm256_mul_pd(qj, _mm256_cvtps_pd(c0[m])));
        s1 = _mm256_add_pd(s1, _mm256_mul_pd(qj, _mm256_cvtps_pd(c1[m])));
      }
    }
    _mm256_storeu_pd(scores + t, _mm256_mul_pd(s0, vscale));
    _mm256_storeu_pd(scores + t + 4, _mm256_mul_pd(s1, vscale));
  }
  scores_scalar(q, k + t * hd, hd, len - t, scale, scores + t);
}

// out[j] = float(sum_t p_t * v[t*hd + j]) with p_t = e_t / sum, t ascending per j.
void weighted_scalar(const double* e, double sum, const float* v, int64_t hd, int64_t len, double* acc, float* out) {
  std::fill(acc, acc + hd, 0.0);
  for (int64_t t = 0; t < len; t++) {
    const double p = e[t] / sum;
    const float* vt = v + t * hd;
    for (int64_t j = 0; j < hd; j++) acc[j] += p * static_cast<double>(vt[j]);
  }
  for (int64_t j = 0; j < hd; j++) out[j] = static_cast<float>(acc[j]);
}

// 16 dims per pass held in registers while t runs (4 independent chains); p_t recomputed per pass.
BITNET_AVX2 void weighted_avx2(const double* e, double sum, const float* v, int64_t hd, int64_t len, double* acc, float* out) {
  int64_t j0 = 0;
  for (; j0 + 16 <= hd; j0 += 16) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
    const float* vt = v + j0;
    for (int64_t t = 0; t < len; t++, vt += hd) {
      const __m256d p = _mm256_set1_pd(e[t] / sum);
      a0 = _mm256_add_pd(a0, _mm256_mul_pd(p, _mm256_cvtps_pd(_mm_loadu_ps(vt))));
      a1 = _mm256_add_pd(a1, _mm256_mul_pd(p, _mm256_cvtps_pd(_mm_loadu_ps(vt + 4))));
      a2 = _mm256_add_pd(a2, _mm256_mul_pd(p, _mm256_cvtps_pd(_mm_loadu_ps(vt + 8))));
      a3 = _mm256_add_pd(a3, _mm256_mul_pd(p, _mm256_cvtps_pd(_mm_loadu_ps(vt + 12))));
    }
    _mm_storeu_ps(out + j0, _mm256_cvtpd_ps(a0));
    _mm_storeu_ps(out + j0 + 4, _mm256_cvtpd_ps(a1));
    _mm_storeu_ps(out + j0 + 8, _mm256_cvtpd_ps(a2));
    _mm_storeu_ps(out + j0 + 12, _mm256_cvtpd_ps(a3));
  }
  if (j0 < hd) {
    const int64_t rest = hd - j0;
    std::fill(acc, acc + rest, 0.0);
    for (int64_t t = 0; t < len; t++) {
      const double p = e[t] / sum;
      const float* vt = v + t * hd + j0;
      for (int64_t j = 0; j < rest; j++) acc[j] += p * static_cast<double>(vt[j]);
    }
    for (int64_t j = 0; j < rest; j++) out[j0 + j] = static_cast<float>(acc[j]);
  }
}

}  // namespace

void attention(const float* q, int64_t n, int64_t pos0, const float* kc, const float* vc, int64_t heads,
               int64_t kv_heads, int64_t hd, int64_t max_seq, float* out) {
  if (n == 0 || heads == 0 || hd == 0) return;
  const bool avx2 = simd();
  const int64_t group = heads / kv_heads;
  const int64_t d = heads * hd;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  pool_for(n * heads, 1, [&](int64_t b, int64_t e) {
    Scratch& s = scratch;
    if (static_cast<int64_t>(s.scores.size()) < pos0 + n) s.scores.resize(pos0 + n);
    if (static_cast<int64_t>(s.acc.size()) < hd) s.acc.resize(hd);
    double* sc = s.scores.data();
    for (int64_t item = b; item < e; item++) {
      const int64_t i = item / heads, h = item % heads;
      const int64_t len = pos0 + i + 1;  // positions 0..pos0+i
      const float* qh = q + i * d + h * hd;
      const int64_t base = (h / group) * max_seq * hd;
      if (avx2) scores_avx2(qh, kc + base, hd, len, scale, sc);
      else scores_scalar(qh, kc + base, hd, len, scale, sc);
      double mx = -INFINITY;
      for (int64_t t = 0; t < len; t++) mx = sc[t] > mx ? sc[t] : mx;
      double sum = 0;
      for (int64_t t = 0; t < len; t++) {
        const double ex = std::exp(sc[t] - mx);
        sc[t] = ex;
        sum += ex;
      }
      float* o = out + i * d + h * hd;
      if (avx2) weighted_avx2(sc, sum, vc + base, hd, len, s.acc.data(), o);
      else weighted_scalar(sc, sum, vc + base, hd, len, s.acc.data(), o);
    }
  });
}

}  // namespace bitnet
