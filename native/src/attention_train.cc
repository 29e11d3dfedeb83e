// Training's causal attention as one kernel each way (contract: src/native/train-kernels.ts
// attentionTrain / attentionTrainGrad), in place of tfjs's q·kᵀ, scale, mask, softmax and p·v (and
// their gradients), which keep a [B, H, T, T] score matrix and its softmax per layer for the backward.
// Here nothing of size T x T outlives a row: the forward keeps each query row's log-sum-exp, and the
// backward recomputes the row's probabilities from it (FlashAttention's recomputation, one row at a time:
// at training's context lengths a row's T scores sit in L1).
//
// Shapes: q [B, H, T, hd], k and v [B, Hkv, T, hd] (after RoPE; query head h reads kv head
// h / (H / Hkv)); out and dout [B, T, H, hd] (token-major: the o projection's input, no transpose);
// lse [B, H, T]. Query t attends keys 0..t. Float32 throughout, as the composite it replaces; row sums
// in float32 in a fixed order per ISA, so results do not depend on the thread count.
//
// Backward, per query row t (p_s = exp(scale * q_t.k_s - lse_t), D_t = dout_t . out_t):
//   dv_s += p_s dout_t,   dS_s = p_s (dout_t . v_s - D_t),   dq_t = scale sum_s dS_s k_s,   dk_s += scale dS_s q_t.
// Work splits over (b, kv head): a kv head's dk and dv gather from all its query heads in one task.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

// The row primitives, one body compiled per ISA (always inlined into each ISA's driver below).
struct ScalarOps {
  static float dot(const float* a, const float* b, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
  }
  static void axpy(float a, const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
  }
};

struct Avx2Ops {
  BITNET_AVX2 static float dot(const float* a, const float* b, int64_t n) {
    __m256 s = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s);
    alignas(32) float l[8];
    _mm256_store_ps(l, s);
    float r = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (; i < n; i++) r += a[i] * b[i];
    return r;
  }
  BITNET_AVX2 static void axpy(float a, const float* x, float* y, int64_t n) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
  }
};

struct Avx512Ops {
  BITNET_VNNI static float dot(const float* a, const float* b, int64_t n) {
    __m512 s = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) s = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s);
    float r = _mm512_reduce_add_ps(s);
    for (; i < n; i++) r += a[i] * b[i];
    return r;
  }
  BITNET_VNNI static void axpy(float a, const float* x, float* y, int64_t n) {
    const __m512 av = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
  }
};

struct Dims {
  int64_t B, H, Hkv, T, hd;
  float scale;
  const float* qh(const float* q, int64_t b, int64_t h) const { return q + ((b * H + h) * T) * hd; }
  const float* kvh(const float* x, int64_t b, int64_t g) const { return x + ((b * Hkv + g) * T) * hd; }
  int64_t orow(int64_t b, int64_t t, int64_t h) const { return ((b * T + t) * H + h) * hd; }  // out / dout
};

template <class Ops>
__attribute__((always_inline)) inline void forward_task(const Dims& d, const float* q, const float* k, const float* v, float* out,
                                                        float* lse, int64_t b, int64_t g, float* p) {
  const int64_t rep = d.H / d.Hkv;
  const float* kg = d.kvh(k, b, g);
  const float* vg = d.kvh(v, b, g);
  for (int64_t h = g * rep; h < (g + 1) * rep; h++) {
    const float* qh = d.qh(q, b, h);
    for (int64_t t = 0; t < d.T; t++) {
      const float* qt = qh + t * d.hd;
      float m = -INFINITY;
      for (int64_t s = 0; s <= t; s++) {
        p[s] = Ops::dot(qt, kg + s * d.hd, d.hd) * d.scale;
        m = p[s] > m ? p[s] : m;
      }
      float l = 0;
      for (int64_t s = 0; s <= t; s++) {
        p[s] = std::exp(p[s] - m);
        l += p[s];
      }
      float* o = out + d.orow(b, t, h);
      std::fill(o, o + d.hd, 0.0f);
      const float inv = 1.0f / l;
      for (int64_t s = 0; s <= t; s++) Ops::axpy(p[s] * inv, vg + s * d.hd, o, d.hd);
      lse[(b * d.H + h) * d.T + t] = m + std::log(l);
    }
  }
}

template <class Ops>
__attribute__((always_inline)) inline void backward_task(const Dims& d, const float* q, const float* k, const float* v,
                                                         const float* out, const float* lse, const float* dout, float* dq,
                                                         float* dk, float* dv, int64_t b, int64_t g, float* p) {
  const int64_t rep = d.H / d.Hkv;
  const float* kg = d.kvh(k, b, g);
  const float* vg = d.kvh(v, b, g);
  float* dkg = dk + ((b * d.Hkv + g) * d.T) * d.hd;
  float* dvg = dv + ((b * d.Hkv + g) * d.T) * d.hd;
  std::fill(dkg, dkg + d.T * d.hd, 0.0f);
  std::fill(dvg, dvg + d.T * d.hd, 0.0f);
  for (int64_t h = g * rep; h < (g + 1) * rep; h++) {
    const float* qh = d.qh(q, b, h);
    float* dqh = dq + ((b * d.H + h) * d.T) * d.hd;
    for (int64_t t = 0; t < d.T; t++) {
      const float* qt = qh + t * d.hd;
      const float* dot = dout + d.orow(b, t, h);
      const float lt = lse[(b * d.H + h) * d.T + t];
      const float D = Ops::dot(dot, out + d.orow(b, t, h), d.hd);
      float* dqt = dqh + t * d.hd;
      std::fill(dqt, dqt + d.hd, 0.0f);
      for (int64_t s = 0; s <= t; s++) {
        const float ps = std::exp(Ops::dot(qt, kg + s * d.hd, d.hd) * d.scale - lt);
        Ops::axpy(ps, dot, dvg + s * d.hd, d.hd);
        p[s] = ps * (Ops::dot(dot, vg + s * d.hd, d.hd) - D) * d.scale;  // dS_s, times the scale
      }
      for (int64_t s = 0; s <= t; s++) {
        Ops::axpy(p[s], kg + s * d.hd, dqt, d.hd);
        Ops::axpy(p[s], qt, dkg + s * d.hd, d.hd);
      }
    }
  }
}

// A range of (b, kv head) tasks with a row buffer of T floats; one body, one function per ISA (so the
// row primitives inline into it), called once per pool chunk.
template <class Ops>
__attribute__((always_inline)) inline void forward_range(const Dims& d, const float* q, const float* k, const float* v, float* out,
                                                         float* lse, int64_t i0, int64_t i1) {
  std::vector<float> p(static_cast<size_t>(d.T));
  for (int64_t i = i0; i < i1; i++) forward_task<Ops>(d, q, k, v, out, lse, i / d.Hkv, i % d.Hkv, p.data());
}
template <class Ops>
__attribute__((always_inline)) inline void backward_range(const Dims& d, const float* q, const float* k, const float* v,
                                                          const float* out, const float* lse, const float* dout, float* dq,
                                                          float* dk, float* dv, int64_t i0, int64_t i1) {
  std::vector<float> p(static_cast<size_t>(d.T));
  for (int64_t i = i0; i < i1; i++) backward_task<Ops>(d, q, k, v, out, lse, dout, dq, dk, dv, i / d.Hkv, i % d.Hkv, p.data());
}

#define BITNET_ATTN_FWD(name, attr, ops) \
  attr void name(const Dims& d, const float* q, const float* k, const float* v, float* out, float* lse, int64_t i0, int64_t i1) { \
    forward_range<ops>(d, q, k, v, out, lse, i0, i1);                                                                             \
  }
#define BITNET_ATTN_BWD(name, attr, ops)                                                                                    \
  attr void name(const Dims& d, const float* q, const float* k, const float* v, const float* out, const float* lse,          \
                 const float* dout, float* dq, float* dk, float* dv, int64_t i0, int64_t i1) {                              \
    backward_range<ops>(d, q, k, v, out, lse, dout, dq, dk, dv, i0, i1);                                                   \
  }
BITNET_ATTN_FWD(forward_avx512, BITNET_VNNI, Avx512Ops)
BITNET_ATTN_FWD(forward_avx2, BITNET_AVX2, Avx2Ops)
BITNET_ATTN_FWD(forward_scalar, , ScalarOps)
BITNET_ATTN_BWD(backward_avx512, BITNET_VNNI, Avx512Ops)
BITNET_ATTN_BWD(backward_avx2, BITNET_AVX2, Avx2Ops)
BITNET_ATTN_BWD(backward_scalar, , ScalarOps)

}  // namespace

void attention_train_fwd(const float* q, const float* k, const float* v, int64_t B, int64_t H, int64_t Hkv, int64_t T,
                         int64_t hd, float scale, float* out, float* lse) {
  const Dims d{B, H, Hkv, T, hd, scale};
  if (B * H * T == 0) return;
  const auto fn = isa() == Isa::Avx512Vnni ? forward_avx512 : isa() == Isa::Avx2 ? forward_avx2 : forward_scalar;
  pool_for(B * Hkv, 1, [&](int64_t i0, int64_t i1) { fn(d, q, k, v, out, lse, i0, i1); });
}

void attention_train_bwd(const float* q, const float* k, const float* v, const float* out, const float* lse, const float* dout,
                         int64_t B, int64_t H, int64_t Hkv, int64_t T, int64_t hd, float scale, float* dq, float* dk,
                         float* dv) {
  const Dims d{B, H, Hkv, T, hd, scale};
  if (B * H * T == 0) return;
  const auto fn = isa() == Isa::Avx512Vnni ? backward_avx512 : isa() == Isa::Avx2 ? backward_avx2 : backward_scalar;
  pool_for(B * Hkv, 1, [&](int64_t i0, int64_t i1) { fn(d, q, k, v, out, lse, dout, dq, dk, dv, i0, i1); });
}

}  // namespace bitnet
