// Softmax cross-entropy for training (src/train/ops.ts crossEntropy on the wasm backend), one pass per
// row of logits x [n, v] with integer targets t [n]:
//   m = max_j x_j,  z = sum_j e^(x_j - m) (double),  loss_i = m + log z - x_{t_i},
//   grad_ij = e^(x_j - m) / z - [j = t_i]   (the gradient of loss_i; the caller scales it by dy / n)
// The exponentials are the engine's (engine_exp.h; 8 double lanes with AVX-512), rows split over the
// pool: tfjs-wasm's logSumExp and softmax each took several passes over the [n, v] logits on one thread.
#include <immintrin.h>

#include <cmath>
#include <vector>

#include "engine_exp.h"
#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

BITNET_VNNI void exp_row_avx512(const float* x, int64_t v, float m, double* e) {
  const __m512d vm = _mm512_set1_pd(m);
  int64_t j = 0;
  for (; j + 8 <= v; j += 8) _mm512_storeu_pd(e + j, engine_exp8(_mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + j)), vm)));
  for (; j < v; j++) e[j] = engine_exp(static_cast<double>(x[j]) - m);
}

}  // namespace

void softmax_xent(const float* x, int64_t n, int64_t v, const int32_t* t, float* loss, float* grad) {
  const bool avx512 = isa() == Isa::Avx512Vnni;
  pool_for(n, std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(v, 1)), [&](int64_t r0, int64_t r1) {
    thread_local std::vector<double> e;
    if (static_cast<int64_t>(e.size()) < v) e.resize(static_cast<size_t>(v));
    for (int64_t i = r0; i < r1; i++) {
      const float* xi = x + i * v;
      float m = -INFINITY;
      for (int64_t j = 0; j < v; j++) m = xi[j] > m ? xi[j] : m;
      if (avx512) exp_row_avx512(xi, v, m, e.data());
      else
        for (int64_t j = 0; j < v; j++) e[j] = engine_exp(static_cast<double>(xi[j]) - m);
      double z = 0;
      for (int64_t j = 0; j < v; j++) z += e[j];
      loss[i] = static_cast<float>(static_cast<double>(m) + std::log(z) - static_cast<double>(xi[t[i]]));
      float* gi = grad + i * v;
      const double inv = 1.0 / z;
      for (int64_t j = 0; j < v; j++) gi[j] = static_cast<float>(e[j] * inv);
      gi[t[i]] -= 1.0f;
    }
  });
}

}  // namespace bitnet
