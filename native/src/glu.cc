// The gated FFN activation, gate[i] = act(gate[i]) * up[i], with the TypeScript reference's arithmetic
// (src/infer/kernels/reference.ts, `glu`): in double, left to right, rounded to float once.
//   silu:  (g / (1 + exp(-g))) * u        relu2:  g > 0 ? (g * g) * u : 0
// exp is the engine's (engine_exp.h), the same double in the TS reference, the scalar body and the
// 8-lane AVX-512 body, so every result is bit-identical. Chunks of elements run on the pool threads.
#include <immintrin.h>

#include "engine_exp.h"
#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

void silu_scalar(float* gate, const float* up, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; i++) {
    const double g = gate[i];
    gate[i] = static_cast<float>((g / (1.0 + engine_exp(-g))) * static_cast<double>(up[i]));
  }
}

BITNET_VNNI void silu_avx512(float* gate, const float* up, int64_t b, int64_t e) {
  const __m512d one = _mm512_set1_pd(1.0), zero = _mm512_setzero_pd();
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    const __m512d g = _mm512_cvtps_pd(_mm256_loadu_ps(gate + i));
    const __m512d s = _mm512_div_pd(g, _mm512_add_pd(one, engine_exp8(_mm512_sub_pd(zero, g))));
    _mm256_storeu_ps(gate + i, _mm512_cvtpd_ps(_mm512_mul_pd(s, _mm512_cvtps_pd(_mm256_loadu_ps(up + i)))));
  }
  silu_scalar(gate, up, i, e);
}

}  // namespace

void glu(float* gate, const float* up, int64_t len, bool silu) {
  constexpr int64_t kGrain = 1024;
  const bool avx512 = isa() == Isa::Avx512Vnni;
  pool_for(len, kGrain, [&](int64_t b, int64_t e) {
    if (silu) {
      if (avx512) silu_avx512(gate, up, b, e);
      else silu_scalar(gate, up, b, e);
    } else {
      for (int64_t i = b; i < e; i++) {
        const double g = gate[i];
        gate[i] = g > 0 ? static_cast<float>((g * g) * static_cast<double>(up[i])) : 0.0f;
      }
    }
  });
}

}  // namespace bitnet
