// Training's rotate-half (NEOX) RoPE on [rows, T, heads, hd] float32 (the tfjs tensors on the wasm heap:
// rows = batch, token-major heads), position t for every head of token t, with the engine's arithmetic
// (rope_store below: double operands, one rounding to float), so a trained model's rotated q and k are
// the engine's floats:
//   forward  o1 = x1*c - x2*s,  o2 = x2*c + x1*s        inverse (the gradient)  o1 = x1*c + x2*s,  o2 = x2*c - x1*s
// with x1 = x[..j], x2 = x[..half+j], c = cos[t, j], s = sin[t, j]. Tokens are split over the pool.
#include "kernels.h"
#include "pool.h"

namespace bitnet {

void rope_apply(const float* x, float* out, int64_t rows, int64_t T, int64_t heads, int64_t hd, const float* cos,
                const float* sin, bool inverse) {
  const int64_t half = hd / 2, width = heads * hd;
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(width, 1));
  pool_for(rows * T, grain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const int64_t t = i % T;
      const float* c = cos + t * half;
      const float* s = sin + t * half;
      for (int64_t h = 0; h < heads; h++) {
        const float* xi = x + i * width + h * hd;
        float* o = out + i * width + h * hd;
        for (int64_t j = 0; j < half; j++) {
          const double x1 = xi[j], x2 = xi[half + j], cj = c[j], sj = s[j];
          o[j] = static_cast<float>(inverse ? x1 * cj + x2 * sj : x1 * cj - x2 * sj);
          o[half + j] = static_cast<float>(inverse ? x2 * cj - x1 * sj : x2 * cj + x1 * sj);
        }
      }
    }
  });
}

}  // namespace bitnet

namespace bitnet {

// The engine's RoPE + KV store (src/infer/kernels/reference.ts ropeStore): rotate-half on q and k in
// place in double (float products are exact in double; one rounding to float at the store), then k
// and v into the caches (K in tiles of kKvTile positions, V row-major).
void rope_store(float* q, float* k, const float* v, int64_t n, int64_t pos0, int64_t heads, int64_t kv_heads, int64_t hd,
                const float* cos, const float* sin, float* kc, float* vc, int64_t max_seq) {
  const int64_t half = hd / 2;
  auto rows = [&](float* a, int64_t nh) {
    for (int64_t i = 0; i < n; i++) {
      const float* c = cos + (pos0 + i) * half;
      const float* s = sin + (pos0 + i) * half;
      for (int64_t h = 0; h < nh; h++) {
        float* o = a + (i * nh + h) * hd;
        for (int64_t j = 0; j < half; j++) {
          const double x1 = o[j], x2 = o[half + j], cj = c[j], sj = s[j];
          o[j] = static_cast<float>(x1 * cj - x2 * sj);
          o[half + j] = static_cast<float>(x2 * cj + x1 * sj);
        }
      }
    }
  };
  rows(q, heads);
  rows(k, kv_heads);
  const int64_t kt = kv_tiled_len(max_seq);
  for (int64_t i = 0; i < n; i++)
    for (int64_t h = 0; h < kv_heads; h++) {
      const int64_t src = (i * kv_heads + h) * hd, t = pos0 + i;
      float* kd = kc + h * hd * kt + (t / kKvTile) * hd * kKvTile + t % kKvTile;
      float* vd = vc + (h * max_seq + t) * hd;
      for (int64_t j = 0; j < hd; j++) {
        kd[j * kKvTile] = k[src + j];
        vd[j] = v[src + j];
      }
    }
}

}  // namespace bitnet
