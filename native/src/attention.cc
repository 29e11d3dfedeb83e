// Causal multi-head attention with GQA over the engine's f32 KV cache (src/infer/model.ts), the same
// arithmetic as the TypeScript reference (src/infer/kernels/reference.ts, `attention`) in the same order.
// K is cached transposed, [kv head][dim][position], so the scores of consecutive positions are
// consecutive floats; V is [kv head][position][dim].
//
//   s_t = (sum_j q[j]*k_t[j]) * (1/sqrt(hd))   in double, j ascending          (t = 0..last)
//   e_t = exp(s_t - max_t s_t);  sum = sum_t e_t   in double, t ascending
//   out[j] = float(sum_t (e_t/sum) * v_t[j])     in double, t ascending, multiply then add
//
// Every per-element sum runs in the reference's order, so the SIMD body is the reference's arithmetic
// vectorized *across* positions (scores: lanes are positions, each lane summing its own j ascending)
// or across head dims (the weighted sum: lanes are dims, each summing t ascending). The exponential is
// the engine's own (engine_exp.h), not libm's, so the SIMD lanes and the TypeScript agree bit for bit.
//
// Work items are (token, query head) pairs spread over the pool; each thread keeps its own scratch.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine_exp.h"
#include "kernels.h"
#include "pool.h"

namespace bitnet {

namespace {

struct Scratch {
  std::vector<double> scores, acc;
};
thread_local Scratch scratch;

// e[t] = engine_exp(sc[t] - mx) in place, 8 lanes at a time.
BITNET_VNNI void exp_shifted_avx512(double* sc, int64_t len, double mx) {
  const __m512d vmx = _mm512_set1_pd(mx);
  int64_t t = 0;
  for (; t + 8 <= len; t += 8) _mm512_storeu_pd(sc + t, engine_exp8(_mm512_sub_pd(_mm512_loadu_pd(sc + t), vmx)));
  for (; t < len; t++) sc[t] = engine_exp(sc[t] - mx);
}

// scores[t] = (sum_j q[j]*kt[j*ms + t]) * scale for t in [0, len), j ascending per t (kt: one kv head's
// transposed keys, rows of ms positions).
void scores_scalar(const float* q, const float* kt, int64_t hd, int64_t ms, int64_t t0, int64_t len, double scale,
                   double* scores) {
  for (int64_t t = t0; t < len; t++) {
    double s = 0;
    for (int64_t j = 0; j < hd; j++) s += static_cast<double>(q[j]) * static_cast<double>(kt[j * ms + t]);
    scores[t] = s * scale;
  }
}

// Lanes are positions; 16 at a time (four independent add chains). A float times a float is exact in
// double, so mul-then-add equals the reference's s += q*k exactly.
BITNET_AVX2 void scores_avx2(const float* q, const float* kt, int64_t hd, int64_t ms, int64_t len, double scale,
                             double* scores) {
  const __m256d vscale = _mm256_set1_pd(scale);
  int64_t t = 0;
  for (; t + 16 <= len; t += 16) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t j = 0; j < hd; j++) {
      const float* kj = kt + j * ms + t;
      const __m256d qj = _mm256_set1_pd(static_cast<double>(q[j]));
      s0 = _mm256_add_pd(s0, _mm256_mul_pd(qj, _mm256_cvtps_pd(_mm_loadu_ps(kj))));
      s1 = _mm256_add_pd(s1, _mm256_mul_pd(qj, _mm256_cvtps_pd(_mm_loadu_ps(kj + 4))));
      s2 = _mm256_add_pd(s2, _mm256_mul_pd(qj, _mm256_cvtps_pd(_mm_loadu_ps(kj + 8))));
      s3 = _mm256_add_pd(s3, _mm256_mul_pd(qj, _mm256_cvtps_pd(_mm_loadu_ps(kj + 12))));
    }
    _mm256_storeu_pd(scores + t, _mm256_mul_pd(s0, vscale));
    _mm256_storeu_pd(scores + t + 4, _mm256_mul_pd(s1, vscale));
    _mm256_storeu_pd(scores + t + 8, _mm256_mul_pd(s2, vscale));
    _mm256_storeu_pd(scores + t + 12, _mm256_mul_pd(s3, vscale));
  }
  for (; t + 4 <= len; t += 4) {
    __m256d s0 = _mm256_setzero_pd();
    for (int64_t j = 0; j < hd; j++)
      s0 = _mm256_add_pd(s0, _mm256_mul_pd(_mm256_set1_pd(static_cast<double>(q[j])), _mm256_cvtps_pd(_mm_loadu_ps(kt + j * ms + t))));
    _mm256_storeu_pd(scores + t, _mm256_mul_pd(s0, vscale));
  }
  scores_scalar(q, kt, hd, ms, t, len, scale, scores);
}

// The same with 8 positions per 512-bit vector, 32 at a time.
BITNET_VNNI void scores_avx512(const float* q, const float* kt, int64_t hd, int64_t ms, int64_t len, double scale,
                               double* scores) {
  const __m512d vscale = _mm512_set1_pd(scale);
  int64_t t = 0;
  for (; t + 32 <= len; t += 32) {
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t j = 0; j < hd; j++) {
      const float* kj = kt + j * ms + t;
      const __m512d qj = _mm512_set1_pd(static_cast<double>(q[j]));
      s0 = _mm512_add_pd(s0, _mm512_mul_pd(qj, _mm512_cvtps_pd(_mm256_loadu_ps(kj))));
      s1 = _mm512_add_pd(s1, _mm512_mul_pd(qj, _mm512_cvtps_pd(_mm256_loadu_ps(kj + 8))));
      s2 = _mm512_add_pd(s2, _mm512_mul_pd(qj, _mm512_cvtps_pd(_mm256_loadu_ps(kj + 16))));
      s3 = _mm512_add_pd(s3, _mm512_mul_pd(qj, _mm512_cvtps_pd(_mm256_loadu_ps(kj + 24))));
    }
    _mm512_storeu_pd(scores + t, _mm512_mul_pd(s0, vscale));
    _mm512_storeu_pd(scores + t + 8, _mm512_mul_pd(s1, vscale));
    _mm512_storeu_pd(scores + t + 16, _mm512_mul_pd(s2, vscale));
    _mm512_storeu_pd(scores + t + 24, _mm512_mul_pd(s3, vscale));
  }
  for (; t + 8 <= len; t += 8) {
    __m512d s0 = _mm512_setzero_pd();
    for (int64_t j = 0; j < hd; j++)
      s0 = _mm512_add_pd(s0, _mm512_mul_pd(_mm512_set1_pd(static_cast<double>(q[j])), _mm512_cvtps_pd(_mm256_loadu_ps(kt + j * ms + t))));
    _mm512_storeu_pd(scores + t, _mm512_mul_pd(s0, vscale));
  }
  scores_scalar(q, kt, hd, ms, t, len, scale, scores);
}

// out[j] = float(sum_t p[t] * v[t*hd + j]), t ascending per j (p[t] = e_t / sum, computed once).
// (width dims of rows hd apart)
void weighted_scalar(const double* p, const float* v, int64_t hd, int64_t len, double* acc, float* out, int64_t width) {
  std::fill(acc, acc + width, 0.0);
  for (int64_t t = 0; t < len; t++) {
    const double pt = p[t];
    const float* vt = v + t * hd;
    for (int64_t j = 0; j < width; j++) acc[j] += pt * static_cast<double>(vt[j]);
  }
  for (int64_t j = 0; j < width; j++) out[j] = static_cast<float>(acc[j]);
}

// 32 dims per pass held in registers while t runs (8 independent chains).
BITNET_AVX2 void weighted_avx2(const double* p, const float* v, int64_t hd, int64_t len, double* acc, float* out) {
  int64_t j0 = 0;
  for (; j0 + 32 <= hd; j0 += 32) {
    __m256d a[8];
    for (auto& x : a) x = _mm256_setzero_pd();
    const float* vt = v + j0;
    for (int64_t t = 0; t < len; t++, vt += hd) {
      const __m256d pt = _mm256_set1_pd(p[t]);
      for (int u = 0; u < 8; u++) a[u] = _mm256_add_pd(a[u], _mm256_mul_pd(pt, _mm256_cvtps_pd(_mm_loadu_ps(vt + 4 * u))));
    }
    for (int u = 0; u < 8; u++) _mm_storeu_ps(out + j0 + 4 * u, _mm256_cvtpd_ps(a[u]));
  }
  for (; j0 + 4 <= hd; j0 += 4) {
    __m256d a0 = _mm256_setzero_pd();
    const float* vt = v + j0;
    for (int64_t t = 0; t < len; t++, vt += hd) a0 = _mm256_add_pd(a0, _mm256_mul_pd(_mm256_set1_pd(p[t]), _mm256_cvtps_pd(_mm_loadu_ps(vt))));
    _mm_storeu_ps(out + j0, _mm256_cvtpd_ps(a0));
  }
  if (j0 < hd) weighted_scalar(p, v + j0, hd, len, acc, out + j0, hd - j0);
}

// 64 dims per pass (8 zmm chains), then 8 at a time, then the scalar tail.
BITNET_VNNI void weighted_avx512(const double* p, const float* v, int64_t hd, int64_t len, double* acc, float* out) {
  int64_t j0 = 0;
  for (; j0 + 64 <= hd; j0 += 64) {
    __m512d a[8];
    for (auto& x : a) x = _mm512_setzero_pd();
    const float* vt = v + j0;
    for (int64_t t = 0; t < len; t++, vt += hd) {
      const __m512d pt = _mm512_set1_pd(p[t]);
      for (int u = 0; u < 8; u++) a[u] = _mm512_add_pd(a[u], _mm512_mul_pd(pt, _mm512_cvtps_pd(_mm256_loadu_ps(vt + 8 * u))));
    }
    for (int u = 0; u < 8; u++) _mm256_storeu_ps(out + j0 + 8 * u, _mm512_cvtpd_ps(a[u]));
  }
  for (; j0 + 8 <= hd; j0 += 8) {
    __m512d a0 = _mm512_setzero_pd();
    const float* vt = v + j0;
    for (int64_t t = 0; t < len; t++, vt += hd) a0 = _mm512_add_pd(a0, _mm512_mul_pd(_mm512_set1_pd(p[t]), _mm512_cvtps_pd(_mm256_loadu_ps(vt))));
    _mm256_storeu_ps(out + j0, _mm512_cvtpd_ps(a0));
  }
  if (j0 < hd) weighted_scalar(p, v + j0, hd, len, acc, out + j0, hd - j0);
}

}  // namespace

void attention(const float* q, int64_t n, int64_t pos0, const float* kc, const float* vc, int64_t heads,
               int64_t kv_heads, int64_t hd, int64_t max_seq, float* out) {
  if (n == 0 || heads == 0 || hd == 0) return;
  const bool avx2 = simd(), avx512 = isa() == Isa::Avx512Vnni;
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
      if (avx512) scores_avx512(qh, kc + base, hd, max_seq, len, scale, sc);
      else if (avx2) scores_avx2(qh, kc + base, hd, max_seq, len, scale, sc);
      else scores_scalar(qh, kc + base, hd, max_seq, 0, len, scale, sc);
      double mx = -INFINITY;
      for (int64_t t = 0; t < len; t++) mx = sc[t] > mx ? sc[t] : mx;
      if (avx512) exp_shifted_avx512(sc, len, mx);
      else
        for (int64_t t = 0; t < len; t++) sc[t] = engine_exp(sc[t] - mx);
      double sum = 0;
      for (int64_t t = 0; t < len; t++) sum += sc[t];
      for (int64_t t = 0; t < len; t++) sc[t] /= sum;  // p_t, as the reference's sc[t] / sum
      float* o = out + i * d + h * hd;
      if (avx512) weighted_avx512(sc, vc + base, hd, len, s.acc.data(), o);
      else if (avx2) weighted_avx2(sc, vc + base, hd, len, s.acc.data(), o);
      else weighted_scalar(sc, vc + base, hd, len, s.acc.data(), o, hd);
    }
  });
}

}  // namespace bitnet
