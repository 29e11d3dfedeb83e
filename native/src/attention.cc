// Causal multi-head attention with GQA over the engine's f32 KV cache (src/infer/model.ts), the same
// arithmetic as the TypeScript reference (src/infer/kernels/reference.ts, `attention`) in the same order.
// K is cached in tiles of 32 positions, [kv head][tile][dim][32], so the scores of consecutive positions
// are consecutive floats and a tile is read front to back; V is [kv head][position][dim].
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

// The same with 4 lanes (AVX2): each lane is the scalar engine_exp's double.
BITNET_AVX2 void exp_shifted_avx2(double* sc, int64_t len, double mx) {
  const __m256d vmx = _mm256_set1_pd(mx);
  int64_t t = 0;
  for (; t + 4 <= len; t += 4) _mm256_storeu_pd(sc + t, engine_exp4(_mm256_sub_pd(_mm256_loadu_pd(sc + t), vmx)));
  for (; t < len; t++) sc[t] = engine_exp(sc[t] - mx);
}

// K of one kv head in tiles of kKvTile positions: tile b holds positions 32b..32b+31 as hd rows of 32
// floats, kt[b*hd*32 + j*32 + (t mod 32)] (kernels.h). A tile is one contiguous 16 KB stretch (hd 128)
// read front to back, where a [dim][position] layout jumped maxSeq floats per dim (a new page per dim
// at long contexts: measured 4x slower in the engine, where the cache is cold after the weights).
// scores[t] = (sum_j q[j]*k_t[j]) * scale for t in [t0, len), j ascending per t.
void scores_scalar(const float* q, const float* kt, int64_t hd, int64_t t0, int64_t len, double scale, double* scores) {
  for (int64_t t = t0; t < len; t++) {
    const float* kb = kt + (t / kKvTile) * hd * kKvTile + t % kKvTile;
    double s = 0;
    for (int64_t j = 0; j < hd; j++) s += static_cast<double>(q[j]) * static_cast<double>(kb[j * kKvTile]);
    scores[t] = s * scale;
  }
}

// Lanes are positions, a whole tile (32) at a time in eight independent add chains. A float times a
// float is exact in double, so mul-then-add equals the reference's s += q*k exactly. Lanes past len
// compute on whatever the tile holds (zeros or an older sequence) and are not stored.
BITNET_AVX2 void scores_avx2(const float* q, const float* kt, int64_t hd, int64_t len, double scale, double* scores) {
  const __m256d vscale = _mm256_set1_pd(scale);
  for (int64_t t0 = 0; t0 < len; t0 += kKvTile) {
    const float* kb = kt + (t0 / kKvTile) * hd * kKvTile;
    __m256d s[8];
    for (auto& v : s) v = _mm256_setzero_pd();
    for (int64_t j = 0; j < hd; j++) {
      const float* kj = kb + j * kKvTile;
      const __m256d qj = _mm256_set1_pd(static_cast<double>(q[j]));
      for (int u = 0; u < 8; u++) s[u] = _mm256_add_pd(s[u], _mm256_mul_pd(qj, _mm256_cvtps_pd(_mm_loadu_ps(kj + 4 * u))));
    }
    alignas(32) double out[kKvTile];
    for (int u = 0; u < 8; u++) _mm256_store_pd(out + 4 * u, _mm256_mul_pd(s[u], vscale));
    std::copy(out, out + std::min<int64_t>(kKvTile, len - t0), scores + t0);
  }
}

// The same with 8 positions per 512-bit vector.
BITNET_VNNI void scores_avx512(const float* q, const float* kt, int64_t hd, int64_t len, double scale, double* scores) {
  const __m512d vscale = _mm512_set1_pd(scale);
  for (int64_t t0 = 0; t0 < len; t0 += kKvTile) {
    const float* kb = kt + (t0 / kKvTile) * hd * kKvTile;
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t j = 0; j < hd; j++) {
      const float* kj = kb + j * kKvTile;
      const __m512d qj = _mm512_set1_pd(static_cast<double>(q[j]));
      s0 = _mm512_add_pd(s0, _mm512_mul_pd(qj, _mm512_cvtps_pd(_mm256_loadu_ps(kj))));
      s1 = _mm512_add_pd(s1, _mm512_mul_pd(qj, _mm512_cvtps_pd(_mm256_loadu_ps(kj + 8))));
      s2 = _mm512_add_pd(s2, _mm512_mul_pd(qj, _mm512_cvtps_pd(_mm256_loadu_ps(kj + 16))));
      s3 = _mm512_add_pd(s3, _mm512_mul_pd(qj, _mm512_cvtps_pd(_mm256_loadu_ps(kj + 24))));
    }
    alignas(64) double out[kKvTile];
    _mm512_store_pd(out, _mm512_mul_pd(s0, vscale));
    _mm512_store_pd(out + 8, _mm512_mul_pd(s1, vscale));
    _mm512_store_pd(out + 16, _mm512_mul_pd(s2, vscale));
    _mm512_store_pd(out + 24, _mm512_mul_pd(s3, vscale));
    std::copy(out, out + std::min<int64_t>(kKvTile, len - t0), scores + t0);
  }
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
    const int64_t kt_stride = kv_tiled_len(max_seq) * hd;
    for (int64_t item = b; item < e; item++) {
      const int64_t i = item / heads, h = item % heads;
      const int64_t len = pos0 + i + 1;  // positions 0..pos0+i
      const float* qh = q + i * d + h * hd;
      const int64_t base = (h / group) * max_seq * hd;
      const float* kt = kc + (h / group) * kt_stride;
      if (avx512) scores_avx512(qh, kt, hd, len, scale, sc);
      else if (avx2) scores_avx2(qh, kt, hd, len, scale, sc);
      else scores_scalar(qh, kt, hd, 0, len, scale, sc);
      double mx = -INFINITY;
      for (int64_t t = 0; t < len; t++) mx = sc[t] > mx ? sc[t] : mx;
      if (avx512) exp_shifted_avx512(sc, len, mx);
      else if (avx2) exp_shifted_avx2(sc, len, mx);
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
