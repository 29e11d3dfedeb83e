// Training's activation fake-quantization forward (src/quant/ste.ts actQuantForward, the tfjs ops in
// one pass), per row of `cols` in float32: m = max|x| (NaN skipped, as tfjs's max over |x| of finite
// values), s = qmax / max(m, eps), y = clip(round_half_even(x * s), lo, hi) / s. Rows over the pool.
// Also the embedding gather (rows of a [V, d] table), which tfjs-wasm ran at ~40 M floats/s.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace bitnet {

BITNET_AVX2 void act_row_avx2(const float* xi, int64_t cols, float s, float lo, float hi, float* yi) {
  const __m256 sv = _mm256_set1_ps(s), lov = _mm256_set1_ps(lo), hiv = _mm256_set1_ps(hi);
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    __m256 q = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(xi + j), sv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm256_min_ps(_mm256_max_ps(q, lov), hiv);
    _mm256_storeu_ps(yi + j, _mm256_div_ps(q, sv));
  }
  for (; j < cols; j++) {
    float q = std::nearbyint(xi[j] * s);
    q = q < lo ? lo : (q > hi ? hi : q);
    yi[j] = q / s;
  }
}

float act_quant_row(const float* xi, int64_t cols, float qmax, float lo, float hi, float eps, float* yi) {
  const float m = abs_max(xi, cols);
  const float s = qmax / (m > eps ? m : eps);
  if (yi == nullptr) return s;  // the scale only
  if (simd()) {
    act_row_avx2(xi, cols, s, lo, hi, yi);
    return s;
  }
  for (int64_t j = 0; j < cols; j++) {
    float q = std::nearbyint(xi[j] * s);  // the default rounding mode: half to even, as tf.round
    q = q < lo ? lo : (q > hi ? hi : q);
    yi[j] = q / s;
  }
  return s;
}

void act_fake_quant(const float* x, int64_t n, int64_t cols, float qmax, float lo, float hi, float eps, float* y, float* sx) {
  pool_for(n, std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(cols, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; i++) {
      const float s = act_quant_row(x + i * cols, cols, qmax, lo, hi, eps, y ? y + i * cols : nullptr);
      if (sx) sx[i] = s;
    }
  });
}

void gather_rows(const float* table, int64_t rows, int64_t cols, const int32_t* ids, int64_t n, float* out) {
  pool_for(n, std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(cols, 1)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) std::memcpy(out + i * cols, table + static_cast<int64_t>(ids[i]) * cols, static_cast<size_t>(cols) * 4);
  });
}

}  // namespace bitnet

namespace bitnet {

// Training's weight fake-quant forward (src/quant/ste.ts ternaryForward / binaryForward) over contiguous
// granules of g elements of w (a tensor: all of it; a row: cols; a group: g columns), in float32 but with
// the granule means summed in double (tfjs sums in float32: the scale differs in the last bits):
//   ternary: beta = mean|v|, out = clip(round_half_even(v / max(beta, eps)), -1, 1) * beta
//   binary:  alpha = mean v, beta = mean|v|, out = (v - alpha > 0 ? 1 : -1) * beta
// Sums over fixed chunks of kChunk elements, combined in chunk order: the same double whatever the
// thread count; a per-tensor granule (the default) is spread over the pool too.
constexpr int64_t kChunk = 8192;

BITNET_AVX2 void chunk_sums_avx2(const float* v, int64_t n, double* sa, double* s) {
  const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256d x0 = _mm256_cvtps_pd(_mm_loadu_ps(v + j)), x1 = _mm256_cvtps_pd(_mm_loadu_ps(v + j + 4));
    a0 = _mm256_add_pd(a0, _mm256_and_pd(x0, absmask));
    a1 = _mm256_add_pd(a1, _mm256_and_pd(x1, absmask));
    b0 = _mm256_add_pd(b0, x0);
    b1 = _mm256_add_pd(b1, x1);
  }
  alignas(32) double la[4], lb[4];
  _mm256_store_pd(la, _mm256_add_pd(a0, a1));
  _mm256_store_pd(lb, _mm256_add_pd(b0, b1));
  double ra = (la[0] + la[1]) + (la[2] + la[3]), rb = (lb[0] + lb[1]) + (lb[2] + lb[3]);
  for (; j < n; j++) {
    ra += std::fabs(static_cast<double>(v[j]));
    rb += v[j];
  }
  *sa = ra;
  *s = rb;
}

void chunk_sums_scalar(const float* v, int64_t n, double* sa, double* s) {
  double ra = 0, rb = 0;
  for (int64_t j = 0; j < n; j++) {
    ra += std::fabs(static_cast<double>(v[j]));
    rb += v[j];
  }
  *sa = ra;
  *s = rb;
}

BITNET_AVX2 void ternary_apply_avx2(const float* v, int64_t n, float d, float beta, float* o) {
  const __m256 dv = _mm256_set1_ps(d), bv = _mm256_set1_ps(beta), one = _mm256_set1_ps(1.0f), mone = _mm256_set1_ps(-1.0f);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 c = _mm256_round_ps(_mm256_div_ps(_mm256_loadu_ps(v + j), dv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    c = _mm256_min_ps(_mm256_max_ps(c, mone), one);
    _mm256_storeu_ps(o + j, _mm256_mul_ps(c, bv));
  }
  for (; j < n; j++) {
    float c = std::nearbyint(v[j] / d);
    c = c < -1.0f ? -1.0f : (c > 1.0f ? 1.0f : c);
    o[j] = c * beta;
  }
}

void weight_fake_quant(const float* w, int64_t size, int64_t g, bool binary, float eps, float* out, float* beta_out) {
  const int64_t granules = size / g, per = (g + kChunk - 1) / kChunk, nchunks = granules * per;
  const bool avx2 = simd();
  std::vector<double> sa(static_cast<size_t>(nchunks)), s(static_cast<size_t>(nchunks));
  pool_for(nchunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      const int64_t q = c / per, k0 = (c % per) * kChunk, k1 = std::min(g, k0 + kChunk);
      (avx2 ? chunk_sums_avx2 : chunk_sums_scalar)(w + q * g + k0, k1 - k0, &sa[c], &s[c]);
    }
  });
  std::vector<float> beta(static_cast<size_t>(granules)), alpha(static_cast<size_t>(granules));
  for (int64_t q = 0; q < granules; q++) {
    double ta = 0, t = 0;
    for (int64_t c = q * per; c < (q + 1) * per; c++) ta += sa[c], t += s[c];
    beta[q] = static_cast<float>(ta / static_cast<double>(g));
    alpha[q] = static_cast<float>(t / static_cast<double>(g));
  }
  if (beta_out) std::copy(beta.begin(), beta.end(), beta_out);
  if (out == nullptr) return;  // the scales only
  pool_for(nchunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      const int64_t q = c / per, k0 = (c % per) * kChunk, k1 = std::min(g, k0 + kChunk);
      const float* v = w + q * g + k0;
      float* o = out + q * g + k0;
      const float b = beta[q];
      if (binary) {
        for (int64_t j = 0; j < k1 - k0; j++) o[j] = (v[j] - alpha[q] > 0 ? 1.0f : -1.0f) * b;
      } else if (avx2) {
        ternary_apply_avx2(v, k1 - k0, b > eps ? b : eps, b, o);
      } else {
        const float d = b > eps ? b : eps;
        for (int64_t j = 0; j < k1 - k0; j++) {
          float cq = std::nearbyint(v[j] / d);
          cq = cq < -1.0f ? -1.0f : (cq > 1.0f ? 1.0f : cq);
          o[j] = cq * b;
        }
      }
    }
  });
}

}  // namespace bitnet
