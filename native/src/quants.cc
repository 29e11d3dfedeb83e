// GGUF block-quantized heads and embeddings: matmul_quant (EngineKernels.matmulQuant) computes
// y[n, rows] = x[n, cols] . W[rows, cols]^T with W in Q8_0 / Q4_0 / Q4_K / Q6_K (integer dot products
// against x quantized to int8 per block-sized group, as llama.cpp's vec_dot with Q8_0 / Q8_K activations)
// or BF16 (float), and dequant_rows (dequantRows) the embedding lookup. The contract that defines the
// result bit for bit is in src/native/engine-kernels.ts, the TS reference in src/infer/kernels/quant.ts,
// the block layouts (from llama.cpp's ggml-common.h / ggml-quants.c) in src/quant/{q8_0,q4_0,q4_k,q6_k,bf16}.ts.
//
// Why every body gives the same bits: the integer lane sums I[u] (u = (element mod 32) / 4) are exact
// however they are formed (maddubs + madd, or vpdpbusd; no step saturates: |x codes| <= 127, and the
// sign trick keeps |w| <= 128), and the float steps are the same multiplies and adds in the same
// order (separate mul / add intrinsics, and the build has -ffp-contract=off, so nothing fuses).
//
// Speed: the head GEMV (n = 1, 128256 x 2560 at the 2B4T shape) reads each weight once, so it is
// memory-bound; each body streams one row at a time (one sequential stream per thread, what the
// prefetcher follows best: see fmatmul.cc) and the rows are split over the pool in long runs.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "fp.h"
#include "kernels.h"
#include "pool.h"

namespace bitnet {

namespace {

// ---- blocks in integer form (scalar; the layouts of src/quant) ----

// get_scale_min_k4 for all 8 sub-blocks of a Q4_K super-block's 12 scale bytes.
inline void q4k_scales(const uint8_t* s, int32_t sc[8], int32_t m[8]) {
  for (int j = 0; j < 4; j++) {
    sc[j] = s[j] & 63;
    m[j] = s[j + 4] & 63;
  }
  for (int j = 4; j < 8; j++) {
    sc[j] = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    m[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// The 4-bit code of element e of a Q4_K super-block (qs at byte 16: low nibbles 64c + l, high 64c + 32 + l).
inline int q4k_q(const uint8_t* blk, int e) {
  const uint8_t byte = blk[16 + 32 * (e >> 6) + (e & 31)];
  return (e & 32) ? byte >> 4 : byte & 15;
}

// The signed 6-bit code q = Q - 32 of element e = 128h + 32k + l of a Q6_K super-block.
inline int q6k_q(const uint8_t* blk, int e) {
  const int h = e >> 7, k = (e >> 5) & 3, l = e & 31;
  const int low = (blk[64 * h + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 15;
  const int high = (blk[128 + 32 * h + l] >> (2 * k)) & 3;
  return (low | (high << 4)) - 32;
}

inline int q6k_scale(const uint8_t* blk, int e) { return static_cast<int8_t>(blk[192 + (e >> 4)]); }

// The block at `blk`: code[e] (value = d * code - dmin * mins[e / 32]), as src/quant's unpack*.
template <QuantType T>
void unpack_block(const uint8_t* blk, int32_t* code, int32_t* mins, float* d, float* dmin) {
  *dmin = 0;
  if (T == QuantType::Q8_0) {
    *d = half_to_float(rd16(blk));
    for (int e = 0; e < 32; e++) code[e] = static_cast<int8_t>(blk[2 + e]);
  } else if (T == QuantType::Q4_0) {
    *d = half_to_float(rd16(blk));
    for (int j = 0; j < 16; j++) {
      code[j] = (blk[2 + j] & 15) - 8;
      code[j + 16] = (blk[2 + j] >> 4) - 8;
    }
  } else if (T == QuantType::Q4_K) {
    *d = half_to_float(rd16(blk));
    *dmin = half_to_float(rd16(blk + 2));
    int32_t sc[8];
    q4k_scales(blk + 4, sc, mins);
    for (int e = 0; e < 256; e++) code[e] = sc[e >> 5] * q4k_q(blk, e);
  } else {  // Q6_K
    *d = half_to_float(rd16(blk + 208));
    for (int e = 0; e < 256; e++) code[e] = q6k_scale(blk, e) * q6k_q(blk, e);
  }
}

// ---- outputs: a weight row against one token's quantized x ----
// xq: the token's int8 codes (cols); dx: 1/s per block-sized group; bsum: sum of xq per 32 columns (Q4_K's
// mins); xs8: 8 * (sum of xq over each 4 consecutive columns), the lanes' share of Q4_0's "- 8" (Q4_0);
// c, h: room for a row's block scales and their fp16 bits (nb each), per thread.
struct Tok {
  const int8_t* xq;
  const float* dx;
  const int16_t* bsum;
  const int32_t* xs8;
  float* c;
  uint16_t* h;
};
using RowFn = float (*)(const uint8_t* w, int64_t nb, const Tok& t);

inline float lane_tree(const float a[8]) { return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])); }

// The scalar body: the contract read literally (and what the SIMD bodies are tested against).
template <QuantType T>
float row_scalar(const uint8_t* w, int64_t nb, const Tok& t) {
  constexpr int64_t bs = quant_block(T), bb = quant_block_bytes(T);
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float macc = 0;
  int32_t code[256], mins[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t b = 0; b < nb; b++) {
    float d, dmin;
    unpack_block<T>(w + b * bb, code, mins, &d, &dmin);
    int32_t lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t e = 0; e < bs; e++) lane[(e & 31) >> 2] += code[e] * t.xq[b * bs + e];
    const float c = d * t.dx[b];
    for (int u = 0; u < 8; u++) acc[u] = acc[u] + c * static_cast<float>(lane[u]);
    if (T == QuantType::Q4_K) {
      int32_t m = 0;
      for (int j = 0; j < 8; j++) m += mins[j] * t.bsum[b * 8 + j];
      macc = macc + (dmin * t.dx[b]) * static_cast<float>(m);
    }
  }
  const float y = lane_tree(acc);
  return T == QuantType::Q4_K ? y - macc : y;
}

// ---- AVX2 ----

BITNET_AVX2 inline float f16_avx2(const uint8_t* p) { return _cvtsh_ss(rd16(p)); }

BITNET_AVX2 inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Lane u of the result: sum of a[4u..4u+3] * b[4u..4u+3], a unsigned, b signed (pairs stay < 2^15).
BITNET_AVX2 inline __m256i dot_u8s8(__m256i a, __m256i b) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

// acc[u] = acc[u] + c * float(I[u]), c read from memory
BITNET_AVX2 inline __m256 lanes_add(__m256 acc, const float* c, __m256i isum) {
  return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_broadcast_ss(c), _mm256_cvtepi32_ps(isum)));
}

// c[b] = d_b * dx[b] for the nb blocks of a row of `bytes`-byte blocks whose fp16 d is at byte `at`:
// the fp16 bits gathered first, then converted and multiplied 8 at a time (the same conversion and
// the same float product as the scalar body's, so the same c).
BITNET_AVX2 void row_scales(const uint8_t* w, int64_t nb, int64_t bytes, int64_t at, const float* dx, float* c, uint16_t* h) {
  for (int64_t b = 0; b < nb; b++) h[b] = rd16(w + bytes * b + at);
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + b)));
    _mm256_storeu_ps(c + b, _mm256_mul_ps(d, _mm256_loadu_ps(dx + b)));
  }
  for (; b < nb; b++) c[b] = _cvtsh_ss(h[b]) * dx[b];
}

// Q8_0: |q| times x with q's sign (x is never -128, so flipping its sign is exact; |q| <= 128 unsigned).
BITNET_AVX2 float row_q8_0_avx2(const uint8_t* w, int64_t nb, const Tok& t) {
  row_scales(w, nb, 34, 0, t.dx, t.c, t.h);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const __m256i q = load256(w + 34 * b + 2);
    acc = lanes_add(acc, t.c + b, dot_u8s8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(load256(t.xq + 32 * b), q)));
  }
  return hsum_ps(acc);
}

// A Q4_0 block's 32 nibbles (0..15) in element order: the low nibbles are elements 0..15, the high 16..31.
// (The 16 bytes go to both 128-bit halves, the high half is shifted right by 4, both are masked.)
BITNET_AVX2 inline __m256i q4_0_nibbles(const uint8_t* blk) {
  const __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
  return _mm256_and_si256(_mm256_srlv_epi32(q, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(15));
}

// Q4_0: I[u] = sum nibble * x - 8 * sum x (the second term precomputed per token).
BITNET_AVX2 float row_q4_0_avx2(const uint8_t* w, int64_t nb, const Tok& t) {
  row_scales(w, nb, 18, 0, t.dx, t.c, t.h);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const __m256i i = _mm256_sub_epi32(dot_u8s8(q4_0_nibbles(w + 18 * b), load256(t.xq + 32 * b)), load256(t.xs8 + 8 * b));
    acc = lanes_add(acc, t.c + b, i);
  }
  return hsum_ps(acc);
}

// Q4_K's twelve scale bytes as four words of bytes: sc_0..3, sc_4..7, m_0..3, m_4..7 (get_scale_min_k4
// on four sub-blocks at once: bytes 0-3 and 4-7 hold sc_0..3 and m_0..3 in their low 6 bits and the top
// 2 bits of sc_4..7 and m_4..7 in bits 7-6; bytes 8-11 hold the low nibbles of sc_4..7 and m_4..7).
inline void q4k_scale_words(const uint8_t* s, uint32_t out[4]) {
  uint32_t w0, w1, w2;
  std::memcpy(&w0, s, 4);
  std::memcpy(&w1, s + 4, 4);
  std::memcpy(&w2, s + 8, 4);
  out[0] = w0 & 0x3f3f3f3fu;
  out[1] = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
  out[2] = w1 & 0x3f3f3f3fu;
  out[3] = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
}

// sc_0..7 then m_0..7 as 16 int16 (low 128 bits: the scales, high: the mins).
BITNET_AVX2 inline __m256i q4k_scales16(const uint8_t* s) {
  uint32_t u[4];
  q4k_scale_words(s, u);
  return _mm256_cvtepu8_epi16(_mm_set_epi32(static_cast<int>(u[3]), static_cast<int>(u[2]), static_cast<int>(u[1]), static_cast<int>(u[0])));
}

// Q4_K's mins term of one super-block: M = sum_j m_j * bsum_j (m16: the 8 mins as int16); macc + (dmin * dx) * float(M).
BITNET_AVX2 inline float q4k_mins(float macc, __m128i m16, const int16_t* bsum, float dmin, float dx) {
  __m128i p = _mm_madd_epi16(m16, _mm_loadu_si128(reinterpret_cast<const __m128i*>(bsum)));
  p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(1, 0, 3, 2)));
  p = _mm_add_epi32(p, _mm_shuffle_epi32(p, _MM_SHUFFLE(2, 3, 0, 1)));
  return macc + (dmin * dx) * static_cast<float>(_mm_cvtsi128_si32(p));
}

BITNET_AVX2 float row_q4_k_avx2(const uint8_t* w, int64_t nb, const Tok& t) {
  const __m256i m4 = _mm256_set1_epi8(15);
  // byte pairs (2j, 2j + 1) everywhere: a shuffle that spreads int16 lane j of a 128-bit lane over it
  __m256i pick[8];
  for (int j = 0; j < 8; j++) pick[j] = _mm256_set1_epi16(static_cast<int16_t>((2 * j + 1) << 8 | (2 * j)));
  __m256 acc = _mm256_setzero_ps();
  float macc = 0;
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* blk = w + 144 * b;
    const int8_t* xb = t.xq + 256 * b;
    const __m256i s16 = q4k_scales16(blk + 4);
    const __m256i sc = _mm256_permute2x128_si256(s16, s16, 0x00);  // the 8 scales in both 128-bit lanes
    __m256i isum = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {  // 32 bytes: sub-block 2c in the low nibbles, 2c + 1 in the high ones
      const __m256i q = load256(blk + 16 + 32 * c);
      const __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(q, m4), load256(xb + 64 * c));
      const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), load256(xb + 64 * c + 32));
      isum = _mm256_add_epi32(isum, _mm256_add_epi32(_mm256_madd_epi16(lo, _mm256_shuffle_epi8(sc, pick[2 * c])),
                                                     _mm256_madd_epi16(hi, _mm256_shuffle_epi8(sc, pick[2 * c + 1]))));
    }
    const float c = f16_avx2(blk) * t.dx[b];
    acc = lanes_add(acc, &c, isum);
    macc = q4k_mins(macc, _mm256_extracti128_si256(s16, 1), t.bsum + 8 * b, f16_avx2(blk + 2), t.dx[b]);
  }
  return hsum_ps(acc) - macc;
}

// Quarter k of half h of a Q6_K super-block: the 32 unsigned codes Q = q + 32 of elements 128h + 32k + l.
template <int K>
BITNET_AVX2 inline __m256i q6_k_quarter(__m256i ql0, __m256i ql1, __m256i qh) {
  const __m256i ql = (K & 1) ? ql1 : ql0;
  const __m256i low = _mm256_and_si256((K >> 1) ? _mm256_srli_epi16(ql, 4) : ql, _mm256_set1_epi8(15));
  const __m256i high = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * K), _mm256_set1_epi8(3));
  return _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
}

// The 8 lanes of sum scale * (Q - 32) * x over a quarter; s: int16 scales spread over the quarter's lanes.
BITNET_AVX2 inline __m256i q6_k_dot(__m256i q, const int8_t* x, __m256i s) {
  const __m256i xv = load256(x);
  const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, xv), _mm256_maddubs_epi16(_mm256_set1_epi8(32), xv));
  return _mm256_madd_epi16(p, s);
}

BITNET_AVX2 float row_q6_k_avx2(const uint8_t* w, int64_t nb, const Tok& t) {
  // quarter k's shuffle: int16 scale 2k over the low 128-bit lane (its elements 0..15), 2k + 1 over the high
  __m256i pick[4];
  for (int k = 0; k < 4; k++)
    pick[k] = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>((4 * k + 3) << 8 | (4 * k + 2))),
                               _mm_set1_epi16(static_cast<int16_t>((4 * k + 1) << 8 | (4 * k))));
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* blk = w + 210 * b;
    const int8_t* xb = t.xq + 256 * b;
    const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192)));
    __m256i isum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
      const __m256i ql0 = load256(blk + 64 * h), ql1 = load256(blk + 64 * h + 32), qh = load256(blk + 128 + 32 * h);
      const __m256i sh = h ? _mm256_permute2x128_si256(s16, s16, 0x11) : _mm256_permute2x128_si256(s16, s16, 0x00);
      const int8_t* xh = xb + 128 * h;
      isum = _mm256_add_epi32(isum, q6_k_dot(q6_k_quarter<0>(ql0, ql1, qh), xh, _mm256_shuffle_epi8(sh, pick[0])));
      isum = _mm256_add_epi32(isum, q6_k_dot(q6_k_quarter<1>(ql0, ql1, qh), xh + 32, _mm256_shuffle_epi8(sh, pick[1])));
      isum = _mm256_add_epi32(isum, q6_k_dot(q6_k_quarter<2>(ql0, ql1, qh), xh + 64, _mm256_shuffle_epi8(sh, pick[2])));
      isum = _mm256_add_epi32(isum, q6_k_dot(q6_k_quarter<3>(ql0, ql1, qh), xh + 96, _mm256_shuffle_epi8(sh, pick[3])));
    }
    const float c = f16_avx2(blk + 208) * t.dx[b];
    acc = lanes_add(acc, &c, isum);
  }
  return hsum_ps(acc);
}

// ---- AVX-512 (VNNI) ----

BITNET_VNNI inline __m512i join256(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
BITNET_VNNI inline __m256i lo256(__m512i v) { return _mm512_castsi512_si256(v); }
BITNET_VNNI inline __m256i hi256(__m512i v) { return _mm512_extracti64x4_epi64(v, 1); }

// Q8_0 with 256-bit vpdpbusd (one instruction for maddubs + madd): the AVX2 body's sign trick, same lanes.
BITNET_VNNI float row_q8_0_vnni(const uint8_t* w, int64_t nb, const Tok& t) {
  row_scales(w, nb, 34, 0, t.dx, t.c, t.h);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const __m256i q = load256(w + 34 * b + 2);
    const __m256i i = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(q, q), _mm256_sign_epi8(load256(t.xq + 32 * b), q));
    acc = lanes_add(acc, t.c + b, i);
  }
  return hsum_ps(acc);
}

// Q4_0: vpdpbusd accumulates sum nibble * x onto -8 * sum x, which is I itself.
BITNET_VNNI float row_q4_0_vnni(const uint8_t* w, int64_t nb, const Tok& t) {
  row_scales(w, nb, 18, 0, t.dx, t.c, t.h);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const __m256i minus8x = _mm256_sub_epi32(_mm256_setzero_si256(), load256(t.xs8 + 8 * b));
    acc = lanes_add(acc, t.c + b, _mm256_dpbusd_epi32(minus8x, q4_0_nibbles(w + 18 * b), load256(t.xq + 32 * b)));
  }
  return hsum_ps(acc);
}

BITNET_VNNI float row_q4_k_avx512(const uint8_t* w, int64_t nb, const Tok& t) {
  const __m256i m4 = _mm256_set1_epi8(15);
  // int16 lanes 0..15 take scale 2c, 16..31 scale 2c + 1 (the low and the high nibbles of chunk c)
  __m512i pick[4];
  for (int c = 0; c < 4; c++) pick[c] = join256(_mm256_set1_epi16(static_cast<int16_t>(2 * c)), _mm256_set1_epi16(static_cast<int16_t>(2 * c + 1)));
  __m256 acc = _mm256_setzero_ps();
  float macc = 0;
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* blk = w + 144 * b;
    const int8_t* xb = t.xq + 256 * b;
    const __m256i s16 = q4k_scales16(blk + 4);
    const __m512i s512 = _mm512_castsi256_si512(s16);
    __m512i isum = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {  // sub-blocks 2c and 2c + 1: 64 codes against 64 consecutive x
      const __m256i q = load256(blk + 16 + 32 * c);
      const __m512i codes = join256(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
      const __m512i p = _mm512_maddubs_epi16(codes, _mm512_loadu_si512(xb + 64 * c));
      isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, _mm512_permutexvar_epi16(pick[c], s512)));
    }
    const float c = f16_avx2(blk) * t.dx[b];
    acc = lanes_add(acc, &c, _mm256_add_epi32(lo256(isum), hi256(isum)));
    macc = q4k_mins(macc, _mm256_extracti128_si256(s16, 1), t.bsum + 8 * b, f16_avx2(blk + 2), t.dx[b]);
  }
  return hsum_ps(acc) - macc;
}

BITNET_VNNI float row_q6_k_avx512(const uint8_t* w, int64_t nb, const Tok& t) {
  const __m512i m4 = _mm512_set1_epi8(15), m3 = _mm512_set1_epi8(3), m32 = _mm512_set1_epi8(32);
  // the int16 lanes of quarters (2p, 2p + 1) of half h take scales 8h + 4p + (lane / 8)
  __m512i pick[4];
  for (int hp = 0; hp < 4; hp++) {
    alignas(64) int16_t idx[32];
    for (int l = 0; l < 32; l++) idx[l] = static_cast<int16_t>(4 * hp + l / 8);
    pick[hp] = _mm512_load_si512(idx);
  }
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t* blk = w + 210 * b;
    const int8_t* xb = t.xq + 256 * b;
    const __m512i s16 = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192))));
    __m512i isum = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
      const __m512i ql = join256(load256(blk + 64 * h), load256(blk + 64 * h + 32));  // quarters 0 | 1 (low), 2 | 3 (high nibbles)
      const __m256i qh256 = load256(blk + 128 + 32 * h);
      const __m512i qh = join256(qh256, _mm256_srli_epi16(qh256, 2));  // quarter 0's high bits in bits 1-0, quarter 1's likewise
      const __m512i q01 = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(qh, m3), 4));
      const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                          _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh, 4), m3), 4));
      for (int p = 0; p < 2; p++) {
        const __m512i x = _mm512_loadu_si512(xb + 128 * h + 64 * p);
        const __m512i d16 = _mm512_sub_epi16(_mm512_maddubs_epi16(p ? q23 : q01, x), _mm512_maddubs_epi16(m32, x));
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(d16, _mm512_permutexvar_epi16(pick[2 * h + p], s16)));
      }
    }
    const float c = f16_avx2(blk + 208) * t.dx[b];
    acc = lanes_add(acc, &c, _mm256_add_epi32(lo256(isum), hi256(isum)));
  }
  return hsum_ps(acc);
}

template <QuantType T>
RowFn pick_row() {
  const Isa level = isa();
  const bool v512 = level == Isa::Avx512Vnni, v256 = level == Isa::Avx2;
  switch (T) {
    case QuantType::Q8_0: return v512 ? row_q8_0_vnni : v256 ? row_q8_0_avx2 : row_scalar<T>;
    case QuantType::Q4_0: return v512 ? row_q4_0_vnni : v256 ? row_q4_0_avx2 : row_scalar<T>;
    case QuantType::Q4_K: return v512 ? row_q4_k_avx512 : v256 ? row_q4_k_avx2 : row_scalar<T>;
    default: return v512 ? row_q6_k_avx512 : v256 ? row_q6_k_avx2 : row_scalar<T>;
  }
}

// Rows per pool chunk: about 4 chunks per thread (handed out dynamically, so a core busy elsewhere
// does not hold the call back), each at least 64 KB of work (W bytes times tokens), as fmatmul.cc's GEMV.
int64_t row_grain(int64_t rows, int64_t row_work) {
  const int nthreads = pool_threads();
  const int64_t min_rows = (int64_t(1) << 16) / std::max<int64_t>(row_work, 1) + 1;
  return std::max<int64_t>(min_rows, (rows + nthreads * 4 - 1) / (nthreads * 4));
}

template <QuantType T>
void matmul_int(const float* x, int64_t n, int64_t cols, const uint8_t* w, int64_t rows, float* y) {
  constexpr int64_t bs = quant_block(T);  // the activation group is one weight block
  const int64_t nb = cols / bs, groups = n * nb, row_bytes = nb * quant_block_bytes(T);
  std::vector<int8_t> xq(static_cast<size_t>(n * cols));
  std::vector<float> sx(static_cast<size_t>(groups)), dx(static_cast<size_t>(groups));
  quantize_rows(x, groups, bs, xq.data(), sx.data());  // each group as a "row": quantizeActivations' formula
  for (int64_t g = 0; g < groups; g++) dx[g] = 1.0f / sx[g];
  std::vector<int16_t> bsum(T == QuantType::Q4_K ? static_cast<size_t>(n * cols / 32) : 0);  // |sum| <= 32 * 127
  for (size_t g = 0; g < bsum.size(); g++) {
    int32_t s = 0;
    for (int k = 0; k < 32; k++) s += xq[32 * g + k];
    bsum[g] = static_cast<int16_t>(s);
  }
  std::vector<int32_t> xs8(T == QuantType::Q4_0 ? static_cast<size_t>(n * cols / 4) : 0);
  for (size_t g = 0; g < xs8.size(); g++) xs8[g] = 8 * (xq[4 * g] + xq[4 * g + 1] + xq[4 * g + 2] + xq[4 * g + 3]);
  const RowFn fn = pick_row<T>();
  const int8_t* xqp = xq.data();
  const float* dxp = dx.data();
  const int16_t* bsp = bsum.data();
  const int32_t* xsp = xs8.data();
  pool_for(rows, row_grain(rows, row_bytes * n), [&](int64_t r0, int64_t r1) {
    std::vector<float> c(static_cast<size_t>(nb));
    std::vector<uint16_t> h(static_cast<size_t>(nb));
    for (int64_t r = r0; r < r1; r++)
      for (int64_t i = 0; i < n; i++) {
        const Tok t{xqp + i * cols, dxp + i * nb, bsp + i * (cols / 32), xsp + i * (cols / 4), c.data(), h.data()};
        y[i * rows + r] = fn(w + r * row_bytes, nb, t);
      }
  });
}

// ---- BF16: 32 float partial sums s[k mod 32], combined (s[j] + s[16+j]) + (s[8+j] + s[24+j]), the lane tree, the tail ----

// w: the row's bf16 values as bytes (a Uint8Array at any offset, so never read through a uint16_t*).
using Bf16Fn = float (*)(const uint8_t* w, const float* x, int64_t cols);

inline float bf16_to_float(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_tail(float y, const uint8_t* w, const float* x, int64_t k, int64_t cols) {
  for (; k < cols; k++) y = y + x[k] * bf16_to_float(rd16(w + 2 * k));
  return y;
}

float bf16_scalar(const uint8_t* w, const float* x, int64_t cols) {
  float s[32] = {};
  const int64_t body = cols - cols % 32;
  for (int64_t k = 0; k < body; k++) s[k & 31] = s[k & 31] + x[k] * bf16_to_float(rd16(w + 2 * k));
  float t[8];
  for (int j = 0; j < 8; j++) t[j] = (s[j] + s[16 + j]) + (s[8 + j] + s[24 + j]);
  return bf16_tail(lane_tree(t), w, x, body, cols);
}

BITNET_AVX2 inline __m256 bf16x8(const uint8_t* w) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w))), 16));
}

BITNET_AVX2 float bf16_avx2(const uint8_t* w, const float* x, int64_t cols) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;  // s[0..7], s[8..15], s[16..23], s[24..31]
  int64_t k = 0;
  for (; k + 32 <= cols; k += 32) {
    a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(x + k), bf16x8(w + 2 * k)));
    a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(x + k + 8), bf16x8(w + 2 * k + 16)));
    a2 = _mm256_add_ps(a2, _mm256_mul_ps(_mm256_loadu_ps(x + k + 16), bf16x8(w + 2 * k + 32)));
    a3 = _mm256_add_ps(a3, _mm256_mul_ps(_mm256_loadu_ps(x + k + 24), bf16x8(w + 2 * k + 48)));
  }
  return bf16_tail(hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3))), w, x, k, cols);
}

BITNET_VNNI inline __m512 bf16x16(const uint8_t* w) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w))), 16));
}

BITNET_VNNI float bf16_avx512(const uint8_t* w, const float* x, int64_t cols) {
  __m512 z0 = _mm512_setzero_ps(), z1 = z0;  // s[0..15], s[16..31]
  int64_t k = 0;
  for (; k + 32 <= cols; k += 32) {
    z0 = _mm512_add_ps(z0, _mm512_mul_ps(_mm512_loadu_ps(x + k), bf16x16(w + 2 * k)));
    z1 = _mm512_add_ps(z1, _mm512_mul_ps(_mm512_loadu_ps(x + k + 16), bf16x16(w + 2 * k + 32)));
  }
  const __m512 z = _mm512_add_ps(z0, z1);  // lanes j: s[j] + s[16+j]; lanes 8 + j: s[8+j] + s[24+j]
  const __m256 t = _mm256_add_ps(_mm512_castps512_ps256(z), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(z), 1)));
  return bf16_tail(hsum_ps(t), w, x, k, cols);
}

void matmul_bf16(const float* x, int64_t n, int64_t cols, const uint8_t* w, int64_t rows, float* y) {
  const Bf16Fn fn = isa() == Isa::Avx512Vnni ? bf16_avx512 : isa() == Isa::Avx2 ? bf16_avx2 : bf16_scalar;
  pool_for(rows, row_grain(rows, 2 * cols * n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
      for (int64_t i = 0; i < n; i++) y[i * rows + r] = fn(w + 2 * r * cols, x + i * cols, cols);
  });
}

// ---- dequantization (scalar: an embedding lookup is ids.length rows, not a matrix) ----

// ggml's dequantize_row_* expressions, operand for operand: (d * sc) * q is the same product as
// d * (sc * q) except for the sign of a zero (q = 0 with sc < 0 gives -0), so the K types are not
// decoded through unpack_block's codes.
template <QuantType T>
void dequant_row(const uint8_t* w, int64_t cols, float* out) {
  constexpr int64_t bs = quant_block(T), bb = quant_block_bytes(T);
  int32_t code[32], sc[8], m[8];
  for (int64_t b = 0; b < cols / bs; b++) {
    const uint8_t* blk = w + b * bb;
    float* o = out + b * bs;
    if (T == QuantType::Q4_K) {
      const float d = half_to_float(rd16(blk)), dmin = half_to_float(rd16(blk + 2));
      q4k_scales(blk + 4, sc, m);
      for (int e = 0; e < 256; e++) {
        const float d1 = d * static_cast<float>(sc[e >> 5]), m1 = dmin * static_cast<float>(m[e >> 5]);
        o[e] = d1 * static_cast<float>(q4k_q(blk, e)) - m1;
      }
    } else if (T == QuantType::Q6_K) {
      const float d = half_to_float(rd16(blk + 208));
      for (int e = 0; e < 256; e++) o[e] = (d * static_cast<float>(q6k_scale(blk, e))) * static_cast<float>(q6k_q(blk, e));
    } else {  // Q8_0, Q4_0: x[i].qs[j] * d, (nibble - 8) * d
      float d, dmin;
      unpack_block<T>(blk, code, m, &d, &dmin);
      for (int e = 0; e < 32; e++) o[e] = static_cast<float>(code[e]) * d;
    }
  }
}

}  // namespace

void matmul_quant(QuantType t, const float* x, int64_t n, int64_t cols, const uint8_t* w, int64_t rows, float* y) {
  if (rows == 0 || n == 0) return;
  switch (t) {
    case QuantType::Q8_0: return matmul_int<QuantType::Q8_0>(x, n, cols, w, rows, y);
    case QuantType::Q4_0: return matmul_int<QuantType::Q4_0>(x, n, cols, w, rows, y);
    case QuantType::Q4_K: return matmul_int<QuantType::Q4_K>(x, n, cols, w, rows, y);
    case QuantType::Q6_K: return matmul_int<QuantType::Q6_K>(x, n, cols, w, rows, y);
    case QuantType::BF16: return matmul_bf16(x, n, cols, w, rows, y);
  }
}

void dequant_rows(QuantType t, const uint8_t* w, int64_t cols, const int32_t* ids, int64_t n, float* out) {
  const int64_t row_bytes = cols / quant_block(t) * quant_block_bytes(t);
  for (int64_t i = 0; i < n; i++) {
    const uint8_t* row = w + ids[i] * row_bytes;
    float* o = out + i * cols;
    switch (t) {
      case QuantType::Q8_0: dequant_row<QuantType::Q8_0>(row, cols, o); break;
      case QuantType::Q4_0: dequant_row<QuantType::Q4_0>(row, cols, o); break;
      case QuantType::Q4_K: dequant_row<QuantType::Q4_K>(row, cols, o); break;
      case QuantType::Q6_K: dequant_row<QuantType::Q6_K>(row, cols, o); break;
      case QuantType::BF16:
        for (int64_t k = 0; k < cols; k++) o[k] = bf16_to_float(rd16(row + 2 * k));
        break;
    }
  }
}

}  // namespace bitnet
