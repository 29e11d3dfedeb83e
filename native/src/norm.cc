// RMSNorm, with the TypeScript reference's arithmetic (src/infer/kernels/reference.ts, `rmsNorm`):
//   ss = sum of x[j]^2 in double as 8 interleaved partial sums s_l (j = l mod 8, ascending), combined
//        ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)), then the tail j >= 8*floor(cols/8) in order;
//   r = 1 / sqrt(ss / cols + eps);   out[j] = float((x[j] * r) * w[j]).
// The partial sums are the lanes of one 512-bit vector of doubles, so the SIMD body and the scalar one
// (and the TS) give the same float; the interleaving also frees the sum from one long add chain.
#include <immintrin.h>

#include <cmath>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

double combine(const double s[8]) { return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); }

void row_scalar(const float* x, const float* w, int64_t cols, double eps, float* out) {
  double s[8] = {};
  const int64_t body = cols / 8 * 8;
  for (int64_t j = 0; j < body; j += 8)
    for (int l = 0; l < 8; l++) s[l] += static_cast<double>(x[j + l]) * static_cast<double>(x[j + l]);
  double ss = combine(s);
  for (int64_t j = body; j < cols; j++) ss += static_cast<double>(x[j]) * static_cast<double>(x[j]);
  const double r = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
  for (int64_t j = 0; j < cols; j++) out[j] = static_cast<float>((static_cast<double>(x[j]) * r) * static_cast<double>(w[j]));
}

BITNET_VNNI void row_avx512(const float* x, const float* w, int64_t cols, double eps, float* out) {
  __m512d acc = _mm512_setzero_pd();
  const int64_t body = cols / 8 * 8;
  for (int64_t j = 0; j < body; j += 8) {
    const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x + j));
    acc = _mm512_add_pd(acc, _mm512_mul_pd(v, v));
  }
  alignas(64) double s[8];
  _mm512_store_pd(s, acc);
  double ss = combine(s);
  for (int64_t j = body; j < cols; j++) ss += static_cast<double>(x[j]) * static_cast<double>(x[j]);
  const double r = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
  const __m512d vr = _mm512_set1_pd(r);
  for (int64_t j = 0; j < body; j += 8) {
    const __m512d v = _mm512_mul_pd(_mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + j)), vr), _mm512_cvtps_pd(_mm256_loadu_ps(w + j)));
    _mm256_storeu_ps(out + j, _mm512_cvtpd_ps(v));
  }
  for (int64_t j = body; j < cols; j++) out[j] = static_cast<float>((static_cast<double>(x[j]) * r) * static_cast<double>(w[j]));
}

}  // namespace

void rms_norm(const float* x, const float* w, int64_t n, int64_t cols, double eps, float* out) {
  const bool avx512 = isa() == Isa::Avx512Vnni;
  auto rows = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      if (avx512) row_avx512(x + i * cols, w, cols, eps, out + i * cols);
      else row_scalar(x + i * cols, w, cols, eps, out + i * cols);
    }
  };
  if (n * cols >= (1 << 16)) pool_for(n, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1)), rows);
  else rows(0, n);
}

}  // namespace bitnet

namespace bitnet {

// Training's RMSNorm (src/train/ops.ts rmsNorm on wasm): forward y = x * r * w with r = 1/sqrt(mean(x^2) + eps)
// per row (kept for the backward), and the backward
//   dx = r * (dy*w) - x * r^3 / cols * sum_j (dy*w*x)_j        dw = sum over rows of dy * x * r
// float32 outputs, row sums in double. dw is reduced per thread then added in a fixed order.
void rms_norm_train_fwd(const float* x, const float* w, int64_t n, int64_t cols, float eps, float* y, float* r) {
  pool_for(n, std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(cols, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      const float* xi = x + i * cols;
      double ss = 0;
      for (int64_t j = 0; j < cols; j++) ss += static_cast<double>(xi[j]) * xi[j];
      const float ri = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(cols) + eps));
      r[i] = ri;
      float* yi = y + i * cols;
      for (int64_t j = 0; j < cols; j++) yi[j] = xi[j] * ri * w[j];
    }
  });
}

void rms_norm_train_bwd(const float* x, const float* w, const float* r, const float* dy, int64_t n, int64_t cols,
                        float* dx, float* dw) {
  const int64_t chunks = std::min<int64_t>(n, 64);
  std::vector<double> part(static_cast<size_t>(chunks * cols), 0.0);
  const int64_t per = (n + chunks - 1) / chunks;
  pool_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      double* pc = &part[c * cols];
      for (int64_t i = c * per; i < std::min(n, (c + 1) * per); i++) {
        const float* xi = x + i * cols;
        const float* di = dy + i * cols;
        const double ri = r[i];
        double dot = 0;
        for (int64_t j = 0; j < cols; j++) dot += static_cast<double>(di[j]) * w[j] * xi[j];
        const double k = ri * ri * ri * dot / static_cast<double>(cols);
        float* o = dx + i * cols;
        for (int64_t j = 0; j < cols; j++) {
          o[j] = static_cast<float>(ri * (static_cast<double>(di[j]) * w[j]) - xi[j] * k);
          pc[j] += static_cast<double>(di[j]) * xi[j] * ri;
        }
      }
    }
  });
  for (int64_t j = 0; j < cols; j++) {
    double s = 0;
    for (int64_t c = 0; c < chunks; c++) s += part[c * cols + j];
    dw[j] = static_cast<float>(s);
  }
}

}  // namespace bitnet
