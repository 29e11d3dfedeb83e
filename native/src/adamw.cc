// AdamW on float32 arrays in place (training's parameters and moments on the wasm heap), the op order of
// src/train/optimizer.ts's tfjs version in float32 with its constants rounded to float32:
//   g' = g*s;  m = m*b1 + g'*(1-b1);  v = v*b2 + (g'*g')*(1-b2);  u = (m/bc1) / (sqrt(v/bc2) + eps)
//   p = p*decay - u*lr          (decay = 1 - lr*wd, or 1 for parameters without weight decay)
// Chunks of elements run on the pool. sum_squares gives the global norm's terms in double.
#include <cmath>

#include "kernels.h"
#include "pool.h"

namespace bitnet {

namespace {

// The update of elements [i0, i1). Elementwise IEEE operations (no contraction: -ffp-contract=off), so
// the compiler's vectorized copy below gives the same bits as this one.
__attribute__((always_inline)) inline void adamw_range(float* p, float* m, float* v, const float* g, int64_t i0, int64_t i1,
                                                       float gscale, float lr, float b1, float b2, float eps, float bc1,
                                                       float bc2, float decay) {
  const float c1 = 1.0f - b1, c2 = 1.0f - b2;
  for (int64_t i = i0; i < i1; i++) {
    const float gi = gscale == 1.0f ? g[i] : g[i] * gscale;
    const float mi = m[i] * b1 + gi * c1;
    const float vi = v[i] * b2 + (gi * gi) * c2;
    m[i] = mi;
    v[i] = vi;
    const float u = (mi / bc1) / (std::sqrt(vi / bc2) + eps);
    p[i] = (decay == 1.0f ? p[i] : p[i] * decay) - u * lr;
  }
}

void adamw_scalar(float* p, float* m, float* v, const float* g, int64_t i0, int64_t i1, float gscale, float lr, float b1,
                  float b2, float eps, float bc1, float bc2, float decay) {
  adamw_range(p, m, v, g, i0, i1, gscale, lr, b1, b2, eps, bc1, bc2, decay);
}

// The same loop compiled for AVX2: 8 lanes of vdivps / vsqrtps (correctly rounded, as the scalar ones).
BITNET_AVX2 void adamw_avx2(float* p, float* m, float* v, const float* g, int64_t i0, int64_t i1, float gscale, float lr,
                            float b1, float b2, float eps, float bc1, float bc2, float decay) {
  adamw_range(p, m, v, g, i0, i1, gscale, lr, b1, b2, eps, bc1, bc2, decay);
}

}  // namespace

void adamw_step(float* p, float* m, float* v, const float* g, int64_t n, float gscale, float lr, float b1, float b2,
                float eps, float bc1, float bc2, float decay) {
  const auto body = simd() ? adamw_avx2 : adamw_scalar;
  pool_for(n, 1 << 14, [&](int64_t i0, int64_t i1) { body(p, m, v, g, i0, i1, gscale, lr, b1, b2, eps, bc1, bc2, decay); });
}

double sum_squares(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return s;
}

}  // namespace bitnet
