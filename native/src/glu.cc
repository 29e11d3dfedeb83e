// The gated FFN activation, out[i] = act(gate[i]) * up[i], with the TypeScript reference's arithmetic
// (src/infer/kernels/reference.ts, `glu`): in double, left to right, rounded to float once.
//   silu:  (g / (1 + exp(-g))) * u        relu2:  g > 0 ? (g * g) * u : 0
// exp is the engine's (engine_exp.h), the same double in the TS reference, the scalar body, the 4-lane
// AVX2 body and the 8-lane AVX-512 body, so every result is bit-identical. Training's forward is this
// same function, so a trained model's FFN activations are the engine's; its gradient (glu_grad) is in
// double too:
//   silu:  a = g / (1 + e), s = 1 / (1 + e) with e = exp(-g);  dgate = (dy * u) * (s + a * (1 - s)),  dup = dy * a
//   relu2: g > 0 ? dgate = (dy * u) * (2 * g), dup = dy * (g * g) : 0, 0
// with the same operations in the scalar, AVX2 and AVX-512 bodies (no contraction: -ffp-contract=off).
// Chunks of elements run on the pool threads.
#include <immintrin.h>

#include "engine_exp.h"
#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

constexpr int64_t kGrain = 1024;

void silu_scalar(const float* gate, const float* up, float* out, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; i++) {
    const double g = gate[i];
    out[i] = static_cast<float>((g / (1.0 + engine_exp(-g))) * static_cast<double>(up[i]));
  }
}

BITNET_VNNI void silu_avx512(const float* gate, const float* up, float* out, int64_t b, int64_t e) {
  const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    const __m512d g = _mm512_cvtps_pd(_mm256_loadu_ps(gate + i));
    const __m512d s = _mm512_div_pd(g, _mm512_add_pd(one, engine_exp8(_mm512_sub_pd(zero, g))));
    _mm256_storeu_ps(out + i, _mm512_cvtpd_ps(_mm512_mul_pd(s, _mm512_cvtps_pd(_mm256_loadu_ps(up + i)))));
  }
  silu_scalar(gate, up, out, i, e);
}

BITNET_AVX2 void silu_avx2(const float* gate, const float* up, float* out, int64_t b, int64_t e) {
  const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
  int64_t i = b;
  for (; i + 4 <= e; i += 4) {
    const __m256d g = _mm256_cvtps_pd(_mm_loadu_ps(gate + i));
    const __m256d s = _mm256_div_pd(g, _mm256_add_pd(one, engine_exp4(_mm256_sub_pd(zero, g))));
    _mm_storeu_ps(out + i, _mm256_cvtpd_ps(_mm256_mul_pd(s, _mm256_cvtps_pd(_mm_loadu_ps(up + i)))));
  }
  silu_scalar(gate, up, out, i, e);
}

void silu_grad_scalar(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; i++) {
    const double g = gate[i], d = dy[i];
    const double den = 1.0 + engine_exp(-g);
    const double a = g / den, s = 1.0 / den;
    dgate[i] = static_cast<float>((d * static_cast<double>(up[i])) * (s + a * (1.0 - s)));
    dup[i] = static_cast<float>(d * a);
  }
}

BITNET_VNNI void silu_grad_avx512(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t b,
                                  int64_t e) {
  const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    const __m512d g = _mm512_cvtps_pd(_mm256_loadu_ps(gate + i)), d = _mm512_cvtps_pd(_mm256_loadu_ps(dy + i));
    const __m512d den = _mm512_add_pd(one, engine_exp8(_mm512_sub_pd(zero, g)));
    const __m512d a = _mm512_div_pd(g, den), s = _mm512_div_pd(one, den);
    const __m512d du = _mm512_mul_pd(d, _mm512_cvtps_pd(_mm256_loadu_ps(up + i)));
    const __m512d ds = _mm512_add_pd(s, _mm512_mul_pd(a, _mm512_sub_pd(one, s)));
    _mm256_storeu_ps(dgate + i, _mm512_cvtpd_ps(_mm512_mul_pd(du, ds)));
    _mm256_storeu_ps(dup + i, _mm512_cvtpd_ps(_mm512_mul_pd(d, a)));
  }
  silu_grad_scalar(gate, up, dy, dgate, dup, i, e);
}

BITNET_AVX2 void silu_grad_avx2(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t b,
                                int64_t e) {
  const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
  int64_t i = b;
  for (; i + 4 <= e; i += 4) {
    const __m256d g = _mm256_cvtps_pd(_mm_loadu_ps(gate + i)), d = _mm256_cvtps_pd(_mm_loadu_ps(dy + i));
    const __m256d den = _mm256_add_pd(one, engine_exp4(_mm256_sub_pd(zero, g)));
    const __m256d a = _mm256_div_pd(g, den), s = _mm256_div_pd(one, den);
    const __m256d du = _mm256_mul_pd(d, _mm256_cvtps_pd(_mm_loadu_ps(up + i)));
    const __m256d ds = _mm256_add_pd(s, _mm256_mul_pd(a, _mm256_sub_pd(one, s)));
    _mm_storeu_ps(dgate + i, _mm256_cvtpd_ps(_mm256_mul_pd(du, ds)));
    _mm_storeu_ps(dup + i, _mm256_cvtpd_ps(_mm256_mul_pd(d, a)));
  }
  silu_grad_scalar(gate, up, dy, dgate, dup, i, e);
}

}  // namespace

void glu(const float* gate, const float* up, float* out, int64_t len, bool silu) {
  const bool avx512 = isa() == Isa::Avx512Vnni, avx2 = simd();
  pool_for(len, kGrain, [&](int64_t b, int64_t e) {
    if (silu) {
      if (avx512) silu_avx512(gate, up, out, b, e);
      else if (avx2) silu_avx2(gate, up, out, b, e);
      else silu_scalar(gate, up, out, b, e);
    } else {
      for (int64_t i = b; i < e; i++) {
        const double g = gate[i];
        out[i] = g > 0 ? static_cast<float>((g * g) * static_cast<double>(up[i])) : 0.0f;
      }
    }
  });
}

void glu_grad(const float* gate, const float* up, const float* dy, int64_t len, bool silu, float* dgate, float* dup) {
  const bool avx512 = isa() == Isa::Avx512Vnni, avx2 = simd();
  pool_for(len, kGrain, [&](int64_t b, int64_t e) {
    if (silu) {
      if (avx512) silu_grad_avx512(gate, up, dy, dgate, dup, b, e);
      else if (avx2) silu_grad_avx2(gate, up, dy, dgate, dup, b, e);
      else silu_grad_scalar(gate, up, dy, dgate, dup, b, e);
    } else {
      for (int64_t i = b; i < e; i++) {
        const double g = gate[i], d = dy[i];
        dgate[i] = g > 0 ? static_cast<float>((d * static_cast<double>(up[i])) * (2.0 * g)) : 0.0f;
        dup[i] = g > 0 ? static_cast<float>(d * (g * g)) : 0.0f;
      }
    }
  });
}

}  // namespace bitnet
