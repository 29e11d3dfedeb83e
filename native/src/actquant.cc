// Training's activation fake-quantization forward (src/quant/ste.ts actQuantForward, the tfjs ops in
// one pass), per row of `cols` in float32: m = max|x| (NaN skipped, as tfjs's max over |x| of finite
// values), s = qmax / max(m, eps), y = clip(round_half_even(x * s), lo, hi) / s. Rows over the pool.
// Also the embedding gather (rows of a [V, d] table), which tfjs-wasm ran at ~40 M floats/s.
#include <cmath>
#include <cstring>

#include "kernels.h"
#include "pool.h"

namespace bitnet {

void act_fake_quant(const float* x, int64_t n, int64_t cols, float qmax, float lo, float hi, float eps, float* y) {
  pool_for(n, std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(cols, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; i++) {
      const float* xi = x + i * cols;
      float* yi = y + i * cols;
      float m = 0;
      for (int64_t j = 0; j < cols; j++) {
        const float a = std::fabs(xi[j]);
        m = a > m ? a : m;
      }
      const float s = qmax / (m > eps ? m : eps);
      for (int64_t j = 0; j < cols; j++) {
        float q = std::nearbyint(xi[j] * s);  // the default rounding mode: half to even, as tf.round
        q = q < lo ? lo : (q > hi ? hi : q);
        yi[j] = q / s;
      }
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
void weight_fake_quant(const float* w, int64_t size, int64_t g, bool binary, float eps, float* out) {
  const int64_t granules = size / g;
  pool_for(granules, std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(g, 1)), [&](int64_t b, int64_t e) {
    for (int64_t q = b; q < e; q++) {
      const float* v = w + q * g;
      float* o = out + q * g;
      double sa = 0, s = 0;
      for (int64_t j = 0; j < g; j++) {
        sa += std::fabs(static_cast<double>(v[j]));
        s += v[j];
      }
      const float beta = static_cast<float>(sa / static_cast<double>(g));
      if (binary) {
        const float alpha = static_cast<float>(s / static_cast<double>(g));
        for (int64_t j = 0; j < g; j++) o[j] = (v[j] - alpha > 0 ? 1.0f : -1.0f) * beta;
      } else {
        const float d = beta > eps ? beta : eps;
        for (int64_t j = 0; j < g; j++) {
          float c = std::nearbyint(v[j] / d);
          c = c < -1.0f ? -1.0f : (c > 1.0f ? 1.0f : c);
          o[j] = c * beta;
        }
      }
    }
  });
}

}  // namespace bitnet
