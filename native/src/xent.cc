// Softmax cross-entropy for training (src/train/ops.ts crossEntropy on the wasm backend), one pass per
// row of logits x [n, v] with integer targets t [n]:
//   m = max_j x_j,  z = sum_j e^(x_j - m) (double),  loss_i = m + log z - x_{t_i},
//   grad_ij = e^(x_j - m) / z - [j = t_i]   (the gradient of loss_i; the caller scales it by dy / n)
// The exponentials are the engine's (engine_exp.h; 8 double lanes with AVX-512, which also sum z in 8
// interleaved partial sums instead of one serial chain; 4 lanes with AVX2, summed in index order like
// the scalar loop, so AVX2 and scalar give the same bits), rows split over the
// pool: tfjs-wasm's logSumExp and softmax each took several passes over the [n, v] logits on one thread.
#include <immintrin.h>

#include <cmath>
#include <vector>

#include "engine_exp.h"
#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

// The row's maximum (NaN skipped, as the scalar loop's comparison does), 16 lanes at a time.
BITNET_VNNI float max_row_avx512(const float* x, int64_t v) {
  __m512 m = _mm512_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 16 <= v; j += 16) m = _mm512_max_ps(_mm512_loadu_ps(x + j), m);  // a NaN lane of x keeps m
  float r = _mm512_reduce_max_ps(m);
  for (; j < v; j++) r = x[j] > r ? x[j] : r;
  return r;
}

// e_j = exp(x_j - m) into e, and their sum: 8 double lanes each summing j = l mod 8 in order, combined
// ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)), then the tail in order.
BITNET_VNNI double exp_row_avx512(const float* x, int64_t v, float m, double* e) {
  const __m512d vm = _mm512_set1_pd(m);
  __m512d acc = _mm512_setzero_pd();
  int64_t j = 0;
  for (; j + 8 <= v; j += 8) {
    const __m512d ej = engine_exp8(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + j)), vm));
    _mm512_storeu_pd(e + j, ej);
    acc = _mm512_add_pd(acc, ej);
  }
  alignas(64) double l[8];
  _mm512_store_pd(l, acc);
  double z = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
  for (; j < v; j++) z += (e[j] = engine_exp(static_cast<double>(x[j]) - m));
  return z;
}

// e_j = exp(x_j - m) into e, 4 double lanes at a time (each lane the scalar engine_exp's double), and
// their sum in index order, as the scalar loop adds them: the AVX2 path gives the scalar path's bits.
BITNET_AVX2 double exp_row_avx2(const float* x, int64_t v, float m, double* e) {
  const __m256d vm = _mm256_set1_pd(m);
  int64_t j = 0;
  for (; j + 4 <= v; j += 4) _mm256_storeu_pd(e + j, engine_exp4(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j)), vm)));
  for (; j < v; j++) e[j] = engine_exp(static_cast<double>(x[j]) - m);
  double z = 0;
  for (j = 0; j < v; j++) z += e[j];
  return z;
}

}  // namespace

void softmax_xent(const float* x, int64_t n, int64_t v, const int32_t* t, float* loss, float* grad) {
  const bool avx512 = isa() == Isa::Avx512Vnni, avx2 = simd();
  pool_for(n, std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(v, 1)), [&](int64_t r0, int64_t r1) {
    thread_local std::vector<double> e;
    if (static_cast<int64_t>(e.size()) < v) e.resize(static_cast<size_t>(v));
    for (int64_t i = r0; i < r1; i++) {
      const float* xi = x + i * v;
      float m = -INFINITY;
      double z = 0;
      if (avx512) {
        m = max_row_avx512(xi, v);
        z = exp_row_avx512(xi, v, m, e.data());
      } else {
        for (int64_t j = 0; j < v; j++) m = xi[j] > m ? xi[j] : m;
        if (avx2) z = exp_row_avx2(xi, v, m, e.data());
        else
          for (int64_t j = 0; j < v; j++) z += (e[j] = engine_exp(static_cast<double>(xi[j]) - m));
      }
      loss[i] = static_cast<float>(static_cast<double>(m) + std::log(z) - static_cast<double>(xi[t[i]]));
      float* gi = grad + i * v;
      const double inv = 1.0 / z;
      for (int64_t j = 0; j < v; j++) gi[j] = static_cast<float>(e[j] * inv);
      gi[t[i]] -= 1.0f;
    }
  });
}

}  // namespace bitnet
