// Rotate-half (NEOX) RoPE on [rows, T, hd] float32 (training's tfjs tensors on the wasm heap), the
// arithmetic of src/train/ops.ts's composite in float32 with one rounding per operation:
//   forward  o1 = x1*c - x2*s,  o2 = x2*c + x1*s        inverse (the gradient)  o1 = x1*c + x2*s,  o2 = x2*c - x1*s
// with x1 = x[..j], x2 = x[..half+j], c = cos[t, j], s = sin[t, j]. Rows are split over the pool.
#include "kernels.h"
#include "pool.h"

namespace bitnet {

void rope_apply(const float* x, float* out, int64_t rows, int64_t T, int64_t hd, const float* cos, const float* sin,
                bool inverse) {
  const int64_t half = hd / 2;
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(T * hd, 1));
  pool_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
      for (int64_t t = 0; t < T; t++) {
        const float* xi = x + (r * T + t) * hd;
        float* o = out + (r * T + t) * hd;
        const float* c = cos + t * half;
        const float* s = sin + t * half;
        for (int64_t j = 0; j < half; j++) {
          const float x1 = xi[j], x2 = xi[half + j];
          const float a = x1 * c[j], b = x2 * s[j], e = x2 * c[j], f = x1 * s[j];
          o[j] = inverse ? a + b : a - b;
          o[half + j] = inverse ? e - f : e + f;
        }
      }
  });
}

}  // namespace bitnet
