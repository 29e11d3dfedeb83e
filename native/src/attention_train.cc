// Training's causal attention as one kernel each way (contract: src/native/train-kernels.ts
// attentionTrain / attentionTrainGrad), in place of tfjs's q·kᵀ, scale, mask, softmax and p·v (and
// their gradients), which keep a [B, H, T, T] score matrix and its softmax per layer for the backward.
// Here nothing of size T x T outlives a block of query rows: the forward keeps each query row's
// log-sum-exp, and the backward recomputes the block's probabilities from it (FlashAttention's
// recomputation, a block of kQB query rows against all the keys it sees).
//
// Shapes, token-major (the projections' outputs and the o projection's input, no transposes): q, out,
// dout [B, T, H, hd], k and v [B, T, Hkv, hd] (after RoPE; query head h reads kv head h / (H / Hkv));
// lse [B, H, T]. Query t attends keys 0..t. Float32 throughout, as the composite it replaces; sums in
// float32 in a fixed order per ISA, so results do not depend on the thread count.
//
// Backward, per query row t (p_s = exp(scale * q_t.k_s - lse_t), D_t = dout_t . out_t):
//   dv_s += p_s dout_t,   dS_s = p_s (dout_t . v_s - D_t),   dq_t = scale sum_s dS_s k_s,   dk_s += scale dS_s q_t.
// Work splits over (b, kv head): a kv head's dk and dv gather from all its query heads in one task.
//
// On AVX2 and AVX-512 each of those products is a small matrix product run by one register-tiled
// micro-kernel (4 rows x up to 4 vectors: S = Q Kᵀ, O = P V, dP = dO Vᵀ, dQ = dS K, dV += Pᵀ dO,
// dK += dSᵀ Q) on per-task copies of K, V (transposed and row-major, zero-padded to whole vectors) and
// Q, dO, with the exponentials vectorized; the scalar ISA keeps the row-at-a-time body.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "pool.h"

// The generic tiled helpers below take and return vector types without a target attribute of their own;
// they are always inlined into the AVX2 / AVX-512 drivers, so no vector ever crosses an ABI boundary.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace bitnet {
namespace {

// The row primitives of the scalar ISA's row-at-a-time body (AVX2 and AVX-512 run the tiled bodies below).
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

struct Dims {
  int64_t B, H, Hkv, T, hd;
  float scale;
  // token-major rows: q, out, dout, dq [B, T, H, hd] (a token's rows qs floats apart), k, v, dk, dv [B, T, Hkv, hd] (ks)
  int64_t qs() const { return H * hd; }
  int64_t ks() const { return Hkv * hd; }
  int64_t qoff(int64_t b, int64_t h) const { return b * T * H * hd + h * hd; }     // head h's row of token 0
  int64_t kvoff(int64_t b, int64_t g) const { return b * T * Hkv * hd + g * hd; }  // kv head g's row of token 0
  const float* qh(const float* q, int64_t b, int64_t h) const { return q + qoff(b, h); }
  const float* kvh(const float* x, int64_t b, int64_t g) const { return x + kvoff(b, g); }
  int64_t orow(int64_t b, int64_t t, int64_t h) const { return qoff(b, h) + t * qs(); }  // out / dout
};

template <class Ops>
__attribute__((always_inline)) inline void forward_task(const Dims& d, const float* q, const float* k, const float* v, float* out,
                                                        float* lse, int64_t b, int64_t g, float* p) {
  const int64_t rep = d.H / d.Hkv;
  const float* kg = d.kvh(k, b, g);
  const float* vg = d.kvh(v, b, g);
  const int64_t qs = d.qs(), ks = d.ks();
  for (int64_t h = g * rep; h < (g + 1) * rep; h++) {
    const float* qh = d.qh(q, b, h);
    for (int64_t t = 0; t < d.T; t++) {
      const float* qt = qh + t * qs;
      float m = -INFINITY;
      for (int64_t s = 0; s <= t; s++) {
        p[s] = Ops::dot(qt, kg + s * ks, d.hd) * d.scale;
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
      for (int64_t s = 0; s <= t; s++) Ops::axpy(p[s] * inv, vg + s * ks, o, d.hd);
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
  const int64_t qs = d.qs(), ks = d.ks();
  float* dkg = dk + d.kvoff(b, g);
  float* dvg = dv + d.kvoff(b, g);
  for (int64_t s = 0; s < d.T; s++) {
    std::fill(dkg + s * ks, dkg + s * ks + d.hd, 0.0f);
    std::fill(dvg + s * ks, dvg + s * ks + d.hd, 0.0f);
  }
  for (int64_t h = g * rep; h < (g + 1) * rep; h++) {
    const float* qh = d.qh(q, b, h);
    float* dqh = dq + d.qoff(b, h);
    for (int64_t t = 0; t < d.T; t++) {
      const float* qt = qh + t * qs;
      const float* dot = dout + d.orow(b, t, h);
      const float lt = lse[(b * d.H + h) * d.T + t];
      const float D = Ops::dot(dot, out + d.orow(b, t, h), d.hd);
      float* dqt = dqh + t * qs;
      std::fill(dqt, dqt + d.hd, 0.0f);
      for (int64_t s = 0; s <= t; s++) {
        const float ps = std::exp(Ops::dot(qt, kg + s * ks, d.hd) * d.scale - lt);
        Ops::axpy(ps, dot, dvg + s * ks, d.hd);
        p[s] = ps * (Ops::dot(dot, vg + s * ks, d.hd) - D) * d.scale;  // dS_s, times the scale
      }
      for (int64_t s = 0; s <= t; s++) {
        Ops::axpy(p[s], kg + s * ks, dqt, d.hd);
        Ops::axpy(p[s], qt, dkg + s * ks, d.hd);
      }
    }
  }
}

// A range of (b, kv head) tasks with a row buffer of T floats (the scalar ISA), called once per pool chunk.
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
BITNET_ATTN_FWD(forward_scalar, , ScalarOps)
BITNET_ATTN_BWD(backward_scalar, , ScalarOps)


// ---- the tiled bodies (AVX2, AVX-512) ----

// A vector of W floats, the operations the tiled bodies need; JB: vectors per micro-kernel row.
struct V16 {
  using R = __m512;
  static constexpr int64_t W = 16, JB = 4;
  BITNET_VNNI static R zero() { return _mm512_setzero_ps(); }
  BITNET_VNNI static R load(const float* p) { return _mm512_loadu_ps(p); }
  BITNET_VNNI static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  BITNET_VNNI static R set1(float x) { return _mm512_set1_ps(x); }
  BITNET_VNNI static R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  BITNET_VNNI static R fnmadd(R a, R b, R c) { return _mm512_fnmadd_ps(a, b, c); }
  BITNET_VNNI static R add(R a, R b) { return _mm512_add_ps(a, b); }
  BITNET_VNNI static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  BITNET_VNNI static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  BITNET_VNNI static R max(R a, R b) { return _mm512_max_ps(a, b); }
  BITNET_VNNI static R min(R a, R b) { return _mm512_min_ps(a, b); }
  BITNET_VNNI static float hmax(R v) { return _mm512_reduce_max_ps(v); }
  BITNET_VNNI static float hsum(R v) { return _mm512_reduce_add_ps(v); }
  // lanes j with j0 + j <= last keep a, the others get b
  BITNET_VNNI static R keep_upto(int64_t j0, int64_t last, R a, R b) {
    const int64_t n = std::clamp<int64_t>(last - j0 + 1, 0, W);
    return _mm512_mask_blend_ps(static_cast<__mmask16>((1u << n) - 1u), b, a);
  }
  BITNET_VNNI static R round(R x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  BITNET_VNNI static R scale2(R p, R n) { return _mm512_scalef_ps(p, n); }  // p * 2^n
};

struct V8 {
  using R = __m256;
  static constexpr int64_t W = 8, JB = 2;
  BITNET_AVX2 static R zero() { return _mm256_setzero_ps(); }
  BITNET_AVX2 static R load(const float* p) { return _mm256_loadu_ps(p); }
  BITNET_AVX2 static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  BITNET_AVX2 static R set1(float x) { return _mm256_set1_ps(x); }
  BITNET_AVX2 static R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  BITNET_AVX2 static R fnmadd(R a, R b, R c) { return _mm256_fnmadd_ps(a, b, c); }
  BITNET_AVX2 static R add(R a, R b) { return _mm256_add_ps(a, b); }
  BITNET_AVX2 static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  BITNET_AVX2 static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  BITNET_AVX2 static R max(R a, R b) { return _mm256_max_ps(a, b); }
  BITNET_AVX2 static R min(R a, R b) { return _mm256_min_ps(a, b); }
  BITNET_AVX2 static float hmax(R v) {
    alignas(32) float l[8];
    _mm256_store_ps(l, v);
    float m = l[0];
    for (int i = 1; i < 8; i++) m = l[i] > m ? l[i] : m;
    return m;
  }
  BITNET_AVX2 static float hsum(R v) {
    alignas(32) float l[8];
    _mm256_store_ps(l, v);
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
  }
  BITNET_AVX2 static R keep_upto(int64_t j0, int64_t last, R a, R b) {
    const __m256 idx = _mm256_add_ps(_mm256_set1_ps(static_cast<float>(j0)), _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(idx, _mm256_set1_ps(static_cast<float>(last)), _CMP_LE_OQ));
  }
  BITNET_AVX2 static R round(R x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  BITNET_AVX2 static R scale2(R p, R n) {  // n an integer in [-126, 127]
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
};

// exp(x) for x <= 0 (scores minus their row maximum or log-sum-exp): n = round(x log2 e), r = x - n ln 2
// (Cody-Waite, |r| <= ln2/2), the degree-7 Taylor polynomial of e^r (truncation < 6e-9), times 2^n. Lanes
// below -87 give e^-87 ~ 1.6e-38 (the callers zero the masked lanes themselves).
template <class V>
__attribute__((always_inline)) inline typename V::R vexp(typename V::R x) {
  x = V::min(V::max(x, V::set1(-87.0f)), V::set1(0.0f));
  const typename V::R n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  typename V::R r = V::fnmadd(n, V::set1(0.693145751953125f), x);
  r = V::fnmadd(n, V::set1(1.42860682030941723212e-6f), r);
  typename V::R p = V::set1(1.0f / 5040);
  p = V::fmadd(p, r, V::set1(1.0f / 720));
  p = V::fmadd(p, r, V::set1(1.0f / 120));
  p = V::fmadd(p, r, V::set1(1.0f / 24));
  p = V::fmadd(p, r, V::set1(1.0f / 6));
  p = V::fmadd(p, r, V::set1(0.5f));
  p = V::fmadd(p, r, V::set1(1.0f));
  p = V::fmadd(p, r, V::set1(1.0f));
  return V::scale2(p, n);
}

// C[i][j] (=, or += with acc) sum_{k < kn} A(i, k) B[k][j] for 4 rows i and NV vectors of columns j,
// A(i, k) = a[i * ai + k * ak], B row-major (ldb), C row-major (ldc).
template <class V, int NV>
__attribute__((always_inline)) inline void micro(int64_t kn, const float* a, int64_t ai, int64_t ak, const float* b, int64_t ldb,
                                                 float* c, int64_t ldc, bool acc) {
  typename V::R x[4][NV];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < NV; j++) x[i][j] = V::zero();
  for (int64_t k = 0; k < kn; k++) {
    typename V::R bv[NV];
    for (int j = 0; j < NV; j++) bv[j] = V::load(b + k * ldb + j * V::W);
    for (int i = 0; i < 4; i++) {
      const typename V::R av = V::set1(a[i * ai + k * ak]);
      for (int j = 0; j < NV; j++) x[i][j] = V::fmadd(av, bv[j], x[i][j]);
    }
  }
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < NV; j++) {
      float* ci = c + i * ldc + j * V::W;
      V::store(ci, acc ? V::add(V::load(ci), x[i][j]) : x[i][j]);
    }
}

// C (m4 x n) (+)= A (m4 x kn) B (kn x n): m4 a multiple of 4, n of V::W; every A, B, C element addressed
// is inside its (padded) buffer.
template <class V>
__attribute__((always_inline)) inline void gemm4(int64_t m4, int64_t n, int64_t kn, const float* a, int64_t ai, int64_t ak,
                                                 const float* b, int64_t ldb, float* c, int64_t ldc, bool acc) {
  for (int64_t i0 = 0; i0 < m4; i0 += 4)
    for (int64_t j0 = 0; j0 < n; j0 += V::JB * V::W) {
      const int64_t nv = std::min<int64_t>(V::JB, (n - j0) / V::W);
      const float* ar = a + i0 * ai;
      float* cr = c + i0 * ldc + j0;
      if (nv >= 4) micro<V, 4>(kn, ar, ai, ak, b + j0, ldb, cr, ldc, acc);
      else if (nv == 3) micro<V, 3>(kn, ar, ai, ak, b + j0, ldb, cr, ldc, acc);
      else if (nv == 2) micro<V, 2>(kn, ar, ai, ak, b + j0, ldb, cr, ldc, acc);
      else micro<V, 1>(kn, ar, ai, ak, b + j0, ldb, cr, ldc, acc);
    }
}

constexpr int64_t kQB = 32;  // query rows per block: a block's scores are kQB x T floats
inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Per-thread scratch of one task: copies of the head's K, V, Q, dO padded to whole vectors.
struct Scratch {
  std::vector<float> kt, vt, kp, vp, qp, dop, dk, dv, s, p, o;
  static void fit(std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  }
};
thread_local Scratch tl_scratch;

// x: T rows of hd floats, ld apart -> xt [hd][Tp] (transposed, zero past T) and/or xp [Tp][hdp] (zero-padded
// rows and columns).
inline void pad_copy(const float* x, int64_t ld, int64_t T, int64_t hd, int64_t Tp, int64_t hdp, float* xt, float* xp) {
  if (xt) {
    std::fill(xt, xt + hd * Tp, 0.0f);
    for (int64_t s = 0; s < T; s++)
      for (int64_t d = 0; d < hd; d++) xt[d * Tp + s] = x[s * ld + d];
  }
  if (xp) {
    std::fill(xp, xp + Tp * hdp, 0.0f);
    for (int64_t s = 0; s < T; s++) std::copy(x + s * ld, x + s * ld + hd, xp + s * hdp);
  }
}

// The scores of a block's rows r < nb (query t0 + r) against keys 0..Lp: row r of p becomes
// exp(scale * s - base_r) for keys <= t0 + r and 0 past it (rows nb..nb4 all 0); base_r is the row's
// maximum (forward: it returns the row sums in l) or the given log-sum-exp (backward).
template <class V>
__attribute__((always_inline)) inline void softmax_rows(const float* sc, float* p, int64_t nb, int64_t nb4, int64_t Lp, int64_t t0,
                                                        float scale, const float* lse, float* m, float* l) {
  const typename V::R vs = V::set1(scale), ninf = V::set1(-INFINITY), zero = V::zero();
  for (int64_t r = 0; r < nb4; r++) {
    float* pr = p + r * Lp;
    if (r >= nb) {
      std::fill(pr, pr + Lp, 0.0f);
      continue;
    }
    const float* sr = sc + r * Lp;
    const int64_t last = t0 + r;
    float base;
    if (lse) {
      base = lse[r];
    } else {
      typename V::R mx = ninf;
      for (int64_t j = 0; j < Lp; j += V::W) mx = V::max(mx, V::keep_upto(j, last, V::mul(V::load(sr + j), vs), ninf));
      base = V::hmax(mx);
      m[r] = base;
    }
    const typename V::R vb = V::set1(base);
    typename V::R sum = zero;
    for (int64_t j = 0; j < Lp; j += V::W) {
      const typename V::R e = V::keep_upto(j, last, vexp<V>(V::sub(V::mul(V::load(sr + j), vs), vb)), zero);
      V::store(pr + j, e);
      sum = V::add(sum, e);
    }
    if (l) l[r] = V::hsum(sum);
  }
}

template <class V>
__attribute__((always_inline)) inline void forward_tiled(const Dims& d, const float* q, const float* k, const float* v, float* out,
                                                         float* lse, int64_t i0, int64_t i1) {
  const int64_t T = d.T, hd = d.hd, W = V::W, Tp = round_up(T, W), hdp = round_up(hd, W), rep = d.H / d.Hkv;
  Scratch& sc = tl_scratch;
  Scratch::fit(sc.kt, hd * Tp);
  Scratch::fit(sc.vp, Tp * hdp);
  Scratch::fit(sc.s, kQB * Tp);
  Scratch::fit(sc.p, kQB * Tp);
  Scratch::fit(sc.o, kQB * hdp);
  Scratch::fit(sc.qp, Tp * hd);
  float m[kQB], l[kQB];
  for (int64_t i = i0; i < i1; i++) {
    const int64_t b = i / d.Hkv, g = i % d.Hkv;
    pad_copy(d.kvh(k, b, g), d.ks(), T, hd, Tp, hdp, sc.kt.data(), nullptr);
    pad_copy(d.kvh(v, b, g), d.ks(), T, hd, Tp, hdp, nullptr, sc.vp.data());
    for (int64_t h = g * rep; h < (g + 1) * rep; h++) {
      float* qp = sc.qp.data();  // q rows packed hd apart, zero rows past T (a block's last rows read them)
      for (int64_t t = 0; t < T; t++) std::copy(d.qh(q, b, h) + t * d.qs(), d.qh(q, b, h) + t * d.qs() + hd, qp + t * hd);
      std::fill(qp + T * hd, qp + Tp * hd, 0.0f);
      for (int64_t t0 = 0; t0 < T; t0 += kQB) {
        const int64_t nb = std::min(kQB, T - t0), nb4 = round_up(nb, 4), L = t0 + nb, Lp = round_up(L, W);
        gemm4<V>(nb4, Lp, hd, qp + t0 * hd, hd, 1, sc.kt.data(), Tp, sc.s.data(), Lp, false);  // S = Q Kᵀ
        softmax_rows<V>(sc.s.data(), sc.p.data(), nb, nb4, Lp, t0, d.scale, nullptr, m, l);
        gemm4<V>(nb4, hdp, L, sc.p.data(), Lp, 1, sc.vp.data(), hdp, sc.o.data(), hdp, false);  // O = P V
        for (int64_t r = 0; r < nb; r++) {
          const float inv = 1.0f / l[r];
          float* o = out + d.orow(b, t0 + r, h);
          for (int64_t j = 0; j < hd; j++) o[j] = sc.o[r * hdp + j] * inv;
          lse[(b * d.H + h) * T + t0 + r] = m[r] + std::log(l[r]);
        }
      }
    }
  }
}

template <class V>
__attribute__((always_inline)) inline void backward_tiled(const Dims& d, const float* q, const float* k, const float* v,
                                                          const float* out, const float* lse, const float* dout, float* dq,
                                                          float* dk, float* dv, int64_t i0, int64_t i1) {
  const int64_t T = d.T, hd = d.hd, W = V::W, Tp = round_up(T, W), hdp = round_up(hd, W), rep = d.H / d.Hkv;
  Scratch& sc = tl_scratch;
  for (auto* buf : {&sc.kt, &sc.vt}) Scratch::fit(*buf, hd * Tp);
  for (auto* buf : {&sc.kp, &sc.qp, &sc.dop, &sc.dk, &sc.dv}) Scratch::fit(*buf, Tp * hdp);
  for (auto* buf : {&sc.s, &sc.p}) Scratch::fit(*buf, kQB * Tp);
  Scratch::fit(sc.o, kQB * hdp);
  float* ds = sc.s.data();  // S, then dP, then dS, in place
  for (int64_t i = i0; i < i1; i++) {
    const int64_t b = i / d.Hkv, g = i % d.Hkv;
    pad_copy(d.kvh(k, b, g), d.ks(), T, hd, Tp, hdp, sc.kt.data(), sc.kp.data());
    pad_copy(d.kvh(v, b, g), d.ks(), T, hd, Tp, hdp, sc.vt.data(), nullptr);
    std::fill(sc.dk.begin(), sc.dk.begin() + Tp * hdp, 0.0f);
    std::fill(sc.dv.begin(), sc.dv.begin() + Tp * hdp, 0.0f);
    for (int64_t h = g * rep; h < (g + 1) * rep; h++) {
      pad_copy(d.qh(q, b, h), d.qs(), T, hd, Tp, hdp, nullptr, sc.qp.data());
      float* dop = sc.dop.data();
      std::fill(dop, dop + Tp * hdp, 0.0f);
      for (int64_t t = 0; t < T; t++) std::copy(dout + d.orow(b, t, h), dout + d.orow(b, t, h) + hd, dop + t * hdp);
      const float* lh = lse + (b * d.H + h) * T;
      float* dqh = dq + d.qoff(b, h);
      for (int64_t t0 = 0; t0 < T; t0 += kQB) {
        const int64_t nb = std::min(kQB, T - t0), nb4 = round_up(nb, 4), L = t0 + nb, Lp = round_up(L, W), L4 = round_up(L, 4);
        const float* qb = sc.qp.data() + t0 * hdp;
        const float* dob = dop + t0 * hdp;
        gemm4<V>(nb4, Lp, hd, qb, hdp, 1, sc.kt.data(), Tp, ds, Lp, false);  // S = Q Kᵀ
        softmax_rows<V>(ds, sc.p.data(), nb, nb4, Lp, t0, d.scale, lh + t0, nullptr, nullptr);  // P
        gemm4<V>(nb4, Lp, hd, dob, hdp, 1, sc.vt.data(), Tp, ds, Lp, false);  // dP = dO Vᵀ
        for (int64_t r = 0; r < nb4; r++) {  // dS = scale P (dP - D), 0 where P is
          const float* o = out + d.orow(b, std::min(t0 + r, T - 1), h);
          float D = 0;  // one fused multiply-add per j in order, as the micro-kernel sums dP: at T = 1, D == dP exactly
          if (r < nb)
            for (int64_t j = 0; j < hd; j++) D = std::fma(dob[r * hdp + j], o[j], D);
          const typename V::R vd = V::set1(D), vs = V::set1(d.scale);
          float* dsr = ds + r * Lp;
          const float* pr = sc.p.data() + r * Lp;
          for (int64_t j = 0; j < Lp; j += W) V::store(dsr + j, V::mul(V::mul(V::load(pr + j), V::sub(V::load(dsr + j), vd)), vs));
        }
        gemm4<V>(nb4, hdp, L, ds, Lp, 1, sc.kp.data(), hdp, sc.o.data(), hdp, false);  // dQ = dS K
        for (int64_t r = 0; r < nb; r++) std::copy(sc.o.data() + r * hdp, sc.o.data() + r * hdp + hd, dqh + (t0 + r) * d.qs());
        gemm4<V>(L4, hdp, nb4, sc.p.data(), 1, Lp, dob, hdp, sc.dv.data(), hdp, true);  // dV += Pᵀ dO
        gemm4<V>(L4, hdp, nb4, ds, 1, Lp, qb, hdp, sc.dk.data(), hdp, true);            // dK += dSᵀ Q
      }
    }
    float* dkg = dk + d.kvoff(b, g);
    float* dvg = dv + d.kvoff(b, g);
    for (int64_t s = 0; s < T; s++) {
      std::copy(sc.dk.data() + s * hdp, sc.dk.data() + s * hdp + hd, dkg + s * d.ks());
      std::copy(sc.dv.data() + s * hdp, sc.dv.data() + s * hdp + hd, dvg + s * d.ks());
    }
  }
}

BITNET_VNNI void forward_tiled512(const Dims& d, const float* q, const float* k, const float* v, float* out, float* lse, int64_t i0,
                                  int64_t i1) {
  forward_tiled<V16>(d, q, k, v, out, lse, i0, i1);
}
BITNET_AVX2 void forward_tiled256(const Dims& d, const float* q, const float* k, const float* v, float* out, float* lse, int64_t i0,
                                  int64_t i1) {
  forward_tiled<V8>(d, q, k, v, out, lse, i0, i1);
}
BITNET_VNNI void backward_tiled512(const Dims& d, const float* q, const float* k, const float* v, const float* out, const float* lse,
                                   const float* dout, float* dq, float* dk, float* dv, int64_t i0, int64_t i1) {
  backward_tiled<V16>(d, q, k, v, out, lse, dout, dq, dk, dv, i0, i1);
}
BITNET_AVX2 void backward_tiled256(const Dims& d, const float* q, const float* k, const float* v, const float* out, const float* lse,
                                   const float* dout, float* dq, float* dk, float* dv, int64_t i0, int64_t i1) {
  backward_tiled<V8>(d, q, k, v, out, lse, dout, dq, dk, dv, i0, i1);
}
}  // namespace

void attention_train_fwd(const float* q, const float* k, const float* v, int64_t B, int64_t H, int64_t Hkv, int64_t T,
                         int64_t hd, float scale, float* out, float* lse) {
  const Dims d{B, H, Hkv, T, hd, scale};
  if (B * H * T == 0) return;
  const auto fn = isa() == Isa::Avx512Vnni ? forward_tiled512 : isa() == Isa::Avx2 ? forward_tiled256 : forward_scalar;
  pool_for(B * Hkv, 1, [&](int64_t i0, int64_t i1) { fn(d, q, k, v, out, lse, i0, i1); });
}

void attention_train_bwd(const float* q, const float* k, const float* v, const float* out, const float* lse, const float* dout,
                         int64_t B, int64_t H, int64_t Hkv, int64_t T, int64_t hd, float scale, float* dq, float* dk,
                         float* dv) {
  const Dims d{B, H, Hkv, T, hd, scale};
  if (B * H * T == 0) return;
  const auto fn = isa() == Isa::Avx512Vnni ? backward_tiled512 : isa() == Isa::Avx2 ? backward_tiled256 : backward_scalar;
  pool_for(B * Hkv, 1, [&](int64_t i0, int64_t i1) { fn(d, q, k, v, out, lse, dout, dq, dk, dv, i0, i1); });
}

}  // namespace bitnet
