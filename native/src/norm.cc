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

double row_scalar(const float* x, const float* w, int64_t cols, double eps, float* out) {
  double s[8] = {};
  const int64_t body = cols / 8 * 8;
  for (int64_t j = 0; j < body; j += 8)
    for (int l = 0; l < 8; l++) s[l] += static_cast<double>(x[j + l]) * static_cast<double>(x[j + l]);
  double ss = combine(s);
  for (int64_t j = body; j < cols; j++) ss += static_cast<double>(x[j]) * static_cast<double>(x[j]);
  const double r = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
  for (int64_t j = 0; j < cols; j++) out[j] = static_cast<float>((static_cast<double>(x[j]) * r) * static_cast<double>(w[j]));
  return r;
}

BITNET_VNNI double row_avx512(const float* x, const float* w, int64_t cols, double eps, float* out) {
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
  return r;
}

}  // namespace

double rms_norm_row(const float* x, const float* w, int64_t cols, double eps, float* out) {
  return isa() == Isa::Avx512Vnni ? row_avx512(x, w, cols, eps, out) : row_scalar(x, w, cols, eps, out);
}

void rms_norm(const float* x, const float* w, int64_t n, int64_t cols, double eps, float* out) {
  auto rows = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) rms_norm_row(x + i * cols, w, cols, eps, out + i * cols);
  };
  if (n * cols >= (1 << 16)) pool_for(n, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1)), rows);
  else rows(0, n);
}

}  // namespace bitnet

namespace bitnet {

// Training's RMSNorm (src/train/ops.ts rmsNorm on wasm): the forward is the engine's (rms_norm_row: the
// same floats as inference, the row factor r = 1/sqrt(mean(x^2) + eps) kept as a float for the backward)
//   dx = r * (dy*w) - x * r^3 / cols * sum_j (dy*w*x)_j        dw = sum over rows of dy * x * r
// float32 outputs, row sums in double. dw is reduced per thread then added in a fixed order.
namespace {

int64_t rows_per_task(int64_t cols) { return std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(cols, 1)); }

}  // namespace

void rms_norm_train_fwd(const float* x, const float* w, int64_t n, int64_t cols, double eps, float* y, float* r) {
  pool_for(n, rows_per_task(cols), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) r[i] = static_cast<float>(rms_norm_row(x + i * cols, w, cols, eps, y + i * cols));
  });
}

// The norm and the activation fake-quant of its output in one pass per row: the normalized row lives
// in a per-task buffer (one row of floats) instead of an [n, cols] tensor that only the quantizer reads.
// The same float operations as rms_norm_train_fwd then act_fake_quant, so the same bits.
void rms_norm_act_quant_fwd(const float* x, const float* w, int64_t n, int64_t cols, double eps, float qmax, float lo,
                            float hi, float qeps, float* xq, float* sx, float* r) {
  pool_for(n, rows_per_task(cols), [&](int64_t b, int64_t e) {
    std::vector<float> y(static_cast<size_t>(cols));
    for (int64_t i = b; i < e; i++) {
      r[i] = static_cast<float>(rms_norm_row(x + i * cols, w, cols, eps, y.data()));
      sx[i] = act_quant_row(y.data(), cols, qmax, lo, hi, qeps, xq + i * cols);
    }
  });
}

namespace {

// One row of the backward: returns nothing, writes o (dx) and adds the row's dw terms into pc. The dot
// sum_j (dy*w)*x runs in 8 interleaved double partial sums combined as combine() (then the tail in
// order) in both bodies, so the scalar and AVX-512 rows give the same bits.
void bwd_row_scalar(const float* xi, const float* di, const float* w, double ri, int64_t cols, float* o, double* pc) {
  double s[8] = {};
  const int64_t body = cols / 8 * 8;
  for (int64_t j = 0; j < body; j += 8)
    for (int l = 0; l < 8; l++) s[l] += (static_cast<double>(di[j + l]) * w[j + l]) * xi[j + l];
  double dot = combine(s);
  for (int64_t j = body; j < cols; j++) dot += (static_cast<double>(di[j]) * w[j]) * xi[j];
  const double k = ri * ri * ri * dot / static_cast<double>(cols);
  for (int64_t j = 0; j < cols; j++) {
    o[j] = static_cast<float>(ri * (static_cast<double>(di[j]) * w[j]) - xi[j] * k);
    pc[j] += (static_cast<double>(di[j]) * xi[j]) * ri;
  }
}

BITNET_VNNI void bwd_row_avx512(const float* xi, const float* di, const float* w, double ri, int64_t cols, float* o,
                                double* pc) {
  const int64_t body = cols / 8 * 8;
  __m512d acc = _mm512_setzero_pd();
  for (int64_t j = 0; j < body; j += 8) {
    const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(di + j)), wv = _mm512_cvtps_pd(_mm256_loadu_ps(w + j));
    acc = _mm512_add_pd(acc, _mm512_mul_pd(_mm512_mul_pd(d, wv), _mm512_cvtps_pd(_mm256_loadu_ps(xi + j))));
  }
  alignas(64) double s[8];
  _mm512_store_pd(s, acc);
  double dot = combine(s);
  for (int64_t j = body; j < cols; j++) dot += (static_cast<double>(di[j]) * w[j]) * xi[j];
  const double k = ri * ri * ri * dot / static_cast<double>(cols);
  const __m512d vr = _mm512_set1_pd(ri), vk = _mm512_set1_pd(k);
  for (int64_t j = 0; j < body; j += 8) {
    const __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(di + j)), wv = _mm512_cvtps_pd(_mm256_loadu_ps(w + j));
    const __m512d xv = _mm512_cvtps_pd(_mm256_loadu_ps(xi + j));
    _mm256_storeu_ps(o + j, _mm512_cvtpd_ps(_mm512_sub_pd(_mm512_mul_pd(vr, _mm512_mul_pd(d, wv)), _mm512_mul_pd(xv, vk))));
    _mm512_storeu_pd(pc + j, _mm512_add_pd(_mm512_loadu_pd(pc + j), _mm512_mul_pd(_mm512_mul_pd(d, xv), vr)));
  }
  for (int64_t j = body; j < cols; j++) {
    o[j] = static_cast<float>(ri * (static_cast<double>(di[j]) * w[j]) - xi[j] * k);
    pc[j] += (static_cast<double>(di[j]) * xi[j]) * ri;
  }
}

}  // namespace

void rms_norm_train_bwd(const float* x, const float* w, const float* r, const float* dy, int64_t n, int64_t cols,
                        float* dx, float* dw) {
  const int64_t chunks = std::min<int64_t>(n, 64);
  std::vector<double> part(static_cast<size_t>(chunks * cols), 0.0);
  const int64_t per = (n + chunks - 1) / chunks;
  const bool avx512 = isa() == Isa::Avx512Vnni;
  pool_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      double* pc = &part[c * cols];
      for (int64_t i = c * per; i < std::min(n, (c + 1) * per); i++)
        (avx512 ? bwd_row_avx512 : bwd_row_scalar)(x + i * cols, dy + i * cols, w, r[i], cols, dx + i * cols, pc);
    }
  });
  for (int64_t j = 0; j < cols; j++) {
    double s = 0;
    for (int64_t c = 0; c < chunks; c++) s += part[c * cols + j];
    dw[j] = static_cast<float>(s);
  }
}

}  // namespace bitnet
