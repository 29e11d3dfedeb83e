// Ternary x int8 matmul on GGUF's TQ1_0 and TQ2_0 blocks as the file stores them, so that the engine
// can run a memory-mapped file in place (src/infer/mapped.ts): a 100B-parameter TQ1_0 model (21.6 GB)
// fits a 24 GB machine only if its weights are never copied, and the engine's 2-bit repack of TQ1_0 is
// 1.19x larger than the file.
//
// Block layouts (256 weights, code c = t + 1 in 0..2; src/quant/tq1_0.ts and tq2_0.ts document them):
//   TQ1_0, 54 bytes: qs[0..31] byte m holds elements m + 32n (n = 0..4) as base-3 trits, qs[32..47]
//     byte 32+m elements 160 + m + 16n, qh[0..3] byte 48+j elements 240 + j + 4n (n = 0..3), then the
//     fp16 d at byte 52. Trit n of a byte is ((byte * 3^n mod 256) * 3) >> 8.
//   TQ2_0, 66 bytes: qs[0..63], byte 32h + m holds elements 128h + 32q + m in bits 2q..2q+1, then d.
//
// Contract (src/native/engine-kernels.ts ternaryMatmulBlocks): y[i, r] = float((sum over blocks b of
// I_b * d_b) / sx[i]) in double, I_b = sum over the block of t * xq exactly, blocks in column order.
// For finite scales this is bit for bit what ternaryMatmulScaled gives on the same weights repacked
// (all I_b * d_b and their sums are exact in double: |I_b| < 2^15 and d has an 11-bit significand), so
// a mapped model and a copied one produce the same logits.
//
// Kernel: each block is decoded into eight vectors of 32 codes that line up with 32 consecutive
// activations each (TQ1_0's trits with byte adds, subtractions and minima only: trits0 below), then multiplied with maddubs (AVX2) or vpdpbusd (VNNI); sum c*x - sum x = sum t*x.
// A row whose blocks all carry the same finite d (our exports and synth's files) accumulates in int32
// vectors and reduces once; otherwise each block is reduced and scaled on its own. On the VNNI level
// (AVX-512) two blocks share each 512-bit vector, which halves the decoding instructions per weight.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "fp.h"
#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

constexpr int64_t kQK = 256;
constexpr int kMaxT = 4;  // tokens per pass over a row
constexpr int64_t kPrefetchBytes = 2048;

inline int64_t block_bytes(TernaryBlocks t) { return t == TernaryBlocks::TQ1_0 ? 54 : 66; }

inline int tq1_trit(int byte, int n) {
  static const int pow3[5] = {1, 3, 9, 27, 81};
  return (((byte * pow3[n]) & 0xff) * 3) >> 8;
}

// codes c (0..2) of one block in column order
void decode_scalar(TernaryBlocks type, const uint8_t* b, uint8_t* c) {
  if (type == TernaryBlocks::TQ1_0) {
    for (int m = 0; m < 32; m++)
      for (int n = 0; n < 5; n++) c[m + 32 * n] = static_cast<uint8_t>(tq1_trit(b[m], n));
    for (int m = 0; m < 16; m++)
      for (int n = 0; n < 5; n++) c[160 + m + 16 * n] = static_cast<uint8_t>(tq1_trit(b[32 + m], n));
    for (int j = 0; j < 4; j++)
      for (int n = 0; n < 4; n++) c[240 + j + 4 * n] = static_cast<uint8_t>(tq1_trit(b[48 + j], n));
  } else {
    for (int h = 0; h < 2; h++)
      for (int m = 0; m < 32; m++)
        for (int q = 0; q < 4; q++) c[128 * h + 32 * q + m] = static_cast<uint8_t>((b[32 * h + m] >> (2 * q)) & 3);
  }
}

// ---- AVX2 decoding into 8 vectors: v[k] holds the codes of columns 32k .. 32k+31 of the block ----

// Trits without multiplies: for a stored byte B, trit 0 is (3B) >> 8, i.e. [B >= 86] + [B >= 171],
// and the byte for trit n+1 is 3B mod 256 (two wrapping byte adds), so trit n of every byte of a
// vector takes 5 + 2 cheap byte operations.
BITNET_AVX2 inline __m256i trit0(__m256i b) {
  const __m256i one = _mm256_set1_epi8(1);
  return _mm256_add_epi8(_mm256_min_epu8(_mm256_subs_epu8(b, _mm256_set1_epi8(85)), one),
                         _mm256_min_epu8(_mm256_subs_epu8(b, _mm256_set1_epi8(static_cast<char>(170))), one));
}
BITNET_AVX2 inline __m256i times3(__m256i b) { return _mm256_add_epi8(_mm256_add_epi8(b, b), b); }
BITNET_AVX2 inline __m128i times3(__m128i b) { return _mm_add_epi8(_mm_add_epi8(b, b), b); }

// qs[32..47] times 1, 3, ..., 81 and qh times 1, 3, 9, 27 laid out as elements 240.. need them:
// byte e of the 16 is qh[e mod 4] times 3^(e / 4).
struct Tq1Tail {
  __m128i s[5];  // qs[32..47] * 3^n
  __m128i h;     // the 16 qh bytes
};
BITNET_AVX2 inline Tq1Tail tq1_tail(const uint8_t* b) {
  Tq1Tail t;
  t.s[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 32));
  for (int n = 1; n < 5; n++) t.s[n] = times3(t.s[n - 1]);
  int32_t qh;
  std::memcpy(&qh, b + 48, 4);
  const __m128i h1 = _mm_cvtsi32_si128(qh), h3 = times3(h1), h9 = times3(h3), h27 = times3(h9);
  t.h = _mm_unpacklo_epi64(_mm_unpacklo_epi32(h1, h3), _mm_unpacklo_epi32(h9, h27));
  return t;
}

BITNET_AVX2 inline void decode_tq1_avx2(const uint8_t* b, __m256i v[8]) {
  __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  for (int n = 0; n < 5; n++) {
    v[n] = trit0(q);  // columns 32n .. 32n+31
    if (n < 4) q = times3(q);
  }
  const Tq1Tail t = tq1_tail(b);
  v[5] = trit0(_mm256_set_m128i(t.s[1], t.s[0]));  // columns 160..175 | 176..191
  v[6] = trit0(_mm256_set_m128i(t.s[3], t.s[2]));  // 192..207 | 208..223
  v[7] = trit0(_mm256_set_m128i(t.h, t.s[4]));     // 224..239 | 240..255
}

BITNET_AVX2 inline void decode_tq2_avx2(const uint8_t* b, __m256i v[8]) {
  const __m256i mask = _mm256_set1_epi8(3);
  for (int h = 0; h < 2; h++) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32 * h));
    v[4 * h + 0] = _mm256_and_si256(q, mask);
    v[4 * h + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 2), mask);
    v[4 * h + 2] = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
    v[4 * h + 3] = _mm256_and_si256(_mm256_srli_epi16(q, 6), mask);
  }
}

// sum of code * x over one block, as 8 int32 lanes (maddubs: a pair is at most 2 * 2 * 128 in
// magnitude, eight of them 4096, inside int16)
BITNET_AVX2 inline __m256i block_dot_avx2(const __m256i v[8], const int8_t* x) {
  __m256i s = _mm256_setzero_si256();
  for (int k = 0; k < 8; k++)
    s = _mm256_add_epi16(s, _mm256_maddubs_epi16(v[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32 * k))));
  return _mm256_madd_epi16(s, _mm256_set1_epi16(1));
}

BITNET_VNNI inline __m256i block_dot_vnni(const __m256i v[8], const int8_t* x) {
  __m256i a = _mm256_setzero_si256(), b = a;
  for (int k = 0; k < 8; k += 2) {
    a = _mm256_dpbusd_epi32(a, v[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32 * k)));
    b = _mm256_dpbusd_epi32(b, v[k + 1], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32 * k + 32)));
  }
  return _mm256_add_epi32(a, b);
}

struct Job {
  TernaryBlocks type;
  const uint8_t* w;
  int64_t rows, cols, n, nb, bb;
  const int8_t* xq;
  const float* sx;
  const int32_t* asum;  // [n, nb] activation sum per block
  const int64_t* rsum;  // [n] activation sum per token
  float* y;
  // VNNI only: each token's activations by block pair, xi[i * xi_stride + p * 512 + 64k + 32h + m] =
  // x[i][(2p + h) * 256 + 32k + m], so that one 512-bit load meets field k of blocks 2p and 2p+1
  const int8_t* xi;
  int64_t xi_stride;
};

// The bodies below compute y for rows [r0, r1) and tokens [i0, i0 + T).
template <int T>
void rows_scalar(const Job& j, int64_t i0, int64_t r0, int64_t r1) {
  uint8_t c[kQK];
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t* row = j.w + r * j.nb * j.bb;
    double acc[T] = {};
    for (int64_t b = 0; b < j.nb; b++) {
      const uint8_t* blk = row + b * j.bb;
      decode_scalar(j.type, blk, c);
      const double d = static_cast<double>(half_to_float(rd16(blk + j.bb - 2)));
      for (int t = 0; t < T; t++) {
        const int8_t* x = j.xq + (i0 + t) * j.cols + b * kQK;
        int32_t s = 0;
        for (int e = 0; e < kQK; e++) s += c[e] * x[e];
        acc[t] += static_cast<double>(s - j.asum[(i0 + t) * j.nb + b]) * d;
      }
    }
    for (int t = 0; t < T; t++) j.y[(i0 + t) * j.rows + r] = static_cast<float>(acc[t] / static_cast<double>(j.sx[i0 + t]));
  }
}

// One row's blocks share a finite d: then sum_b I_b * d = (sum_b I_b) * d exactly (see the top).
inline bool uniform_row(const uint8_t* row, int64_t nb, int64_t bb) {
  const uint16_t d0 = rd16(row + bb - 2);
  if ((d0 & 0x7c00) == 0x7c00) return false;  // inf or NaN
  for (int64_t b = 1; b < nb; b++)
    if (rd16(row + b * bb + bb - 2) != d0) return false;
  return true;
}

template <int T>
BITNET_AVX2 void rows_avx2(const Job& j, int64_t i0, int64_t r0, int64_t r1) {
  const bool tq1 = j.type == TernaryBlocks::TQ1_0;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t* row = j.w + r * j.nb * j.bb;
    const bool uni = uniform_row(row, j.nb, j.bb);
    __m256i lanes[T];
    double acc[T] = {};
    for (int t = 0; t < T; t++) lanes[t] = _mm256_setzero_si256();
    for (int64_t b = 0; b < j.nb; b++) {
      const uint8_t* blk = row + b * j.bb;
      _mm_prefetch(reinterpret_cast<const char*>(blk + kPrefetchBytes), _MM_HINT_T0);
      __m256i v[8];
      if (tq1) decode_tq1_avx2(blk, v);
      else decode_tq2_avx2(blk, v);
      if (uni) {
        for (int t = 0; t < T; t++) lanes[t] = _mm256_add_epi32(lanes[t], block_dot_avx2(v, j.xq + (i0 + t) * j.cols + b * kQK));
      } else {
        const double d = static_cast<double>(half_to_float(rd16(blk + j.bb - 2)));
        for (int t = 0; t < T; t++) {
          const int32_t s = hsum_epi32(block_dot_avx2(v, j.xq + (i0 + t) * j.cols + b * kQK));
          acc[t] += static_cast<double>(s - j.asum[(i0 + t) * j.nb + b]) * d;
        }
      }
    }
    if (uni) {
      const double d = static_cast<double>(half_to_float(rd16(row + j.bb - 2)));
      for (int t = 0; t < T; t++)
        acc[t] = static_cast<double>(static_cast<int64_t>(hsum_epi32(lanes[t])) - j.rsum[i0 + t]) * d;
    }
    for (int t = 0; t < T; t++) j.y[(i0 + t) * j.rows + r] = static_cast<float>(acc[t] / static_cast<double>(j.sx[i0 + t]));
  }
}

// ---- AVX-512 (the VNNI level): two blocks per 512-bit vector, block 2p in the low half ----

BITNET_VNNI inline __m512i trit0_512(__m512i b) {
  const __m512i one = _mm512_set1_epi8(1);
  return _mm512_add_epi8(_mm512_min_epu8(_mm512_subs_epu8(b, _mm512_set1_epi8(85)), one),
                         _mm512_min_epu8(_mm512_subs_epu8(b, _mm512_set1_epi8(static_cast<char>(170))), one));
}

BITNET_VNNI inline __m512i pair256(const uint8_t* a, const uint8_t* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), 1);
}

// four 128-bit lanes, lowest first
BITNET_VNNI inline __m512i lanes4(__m128i a, __m128i b, __m128i c, __m128i d) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(b, a)), _mm256_set_m128i(d, c), 1);
}

// The pair's qs[32..47] and qh in whole 512-bit vectors: Z = [s0, s0, s1, s1] (128-bit lanes) tripled
// in place, the odd lanes one power of 3 ahead of the even ones by a blend, so that v5 = [s0, 3 s0, s1,
// 3 s1], v6 = [9 s0, 27 s0, 9 s1, 27 s1] and v7 = [81 s0, h0, 81 s1, h1], h the 16 qh bytes of a block.
BITNET_VNNI inline void decode_tq1_pair(const uint8_t* b0, const uint8_t* b1, __m512i v[8]) {
  __m512i q = pair256(b0, b1);
  for (int n = 0; n < 5; n++) {
    v[n] = trit0_512(q);
    if (n < 4) q = _mm512_add_epi8(_mm512_add_epi8(q, q), q);
  }
  const __m128i s0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b0 + 32));
  const __m128i s1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b1 + 32));
  const __mmask8 odd = 0xCC;  // qwords of lanes 1 and 3
  const __m512i z1 = lanes4(s0, s0, s1, s1);
  const __m512i z3 = _mm512_add_epi8(_mm512_add_epi8(z1, z1), z1);
  const __m512i z9 = _mm512_add_epi8(_mm512_add_epi8(z3, z3), z3);
  const __m512i z27 = _mm512_add_epi8(_mm512_add_epi8(z9, z9), z9);
  const __m512i z81 = _mm512_add_epi8(_mm512_add_epi8(z27, z27), z27);
  v[5] = trit0_512(_mm512_mask_blend_epi64(odd, z1, z3));
  v[6] = trit0_512(_mm512_mask_blend_epi64(odd, z9, z27));
  // qh of both blocks as one qword (block 0 low), tripled: then per block [h, 3h, 9h, 27h] as dwords
  int32_t qh[2];
  std::memcpy(&qh[0], b0 + 48, 4);
  std::memcpy(&qh[1], b1 + 48, 4);
  int64_t both;
  std::memcpy(&both, qh, 8);
  const __m128i h1 = _mm_cvtsi64_si128(both), h3 = times3(h1), h9 = times3(h3), h27 = times3(h9);
  const __m128i a = _mm_unpacklo_epi32(h1, h3), c = _mm_unpacklo_epi32(h9, h27);  // [h1_0, h3_0, h1_1, h3_1], [h9_0, ...]
  const __m128i hb0 = _mm_unpacklo_epi64(a, c), hb1 = _mm_unpackhi_epi64(a, c);
  v[7] = trit0_512(_mm512_mask_blend_epi64(odd, z81, lanes4(hb0, hb0, hb1, hb1)));
}

BITNET_VNNI inline void decode_tq2_pair(const uint8_t* b0, const uint8_t* b1, __m512i v[8]) {
  const __m512i mask = _mm512_set1_epi8(3);
  for (int h = 0; h < 2; h++) {
    const __m512i q = pair256(b0 + 32 * h, b1 + 32 * h);
    v[4 * h + 0] = _mm512_and_si512(q, mask);
    v[4 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 2), mask);
    v[4 * h + 2] = _mm512_and_si512(_mm512_srli_epi16(q, 4), mask);
    v[4 * h + 3] = _mm512_and_si512(_mm512_srli_epi16(q, 6), mask);
  }
}

// code * x of the pair as 16 int32 lanes: lanes 0-7 block 2p, 8-15 block 2p+1
BITNET_VNNI inline __m512i pair_dot(const __m512i v[8], const int8_t* xi) {
  __m512i a = _mm512_setzero_si512(), b = a;
  for (int k = 0; k < 8; k += 2) {
    a = _mm512_dpbusd_epi32(a, v[k], _mm512_loadu_si512(xi + 64 * k));
    b = _mm512_dpbusd_epi32(b, v[k + 1], _mm512_loadu_si512(xi + 64 * k + 64));
  }
  return _mm512_add_epi32(a, b);
}

template <int T>
BITNET_VNNI void rows_vnni512(const Job& j, int64_t i0, int64_t r0, int64_t r1) {
  const bool tq1 = j.type == TernaryBlocks::TQ1_0;
  const int64_t npairs = j.nb / 2;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t* row = j.w + r * j.nb * j.bb;
    const bool uni = uniform_row(row, j.nb, j.bb);
    __m512i lanes[T];
    double acc[T] = {};
    for (int t = 0; t < T; t++) lanes[t] = _mm512_setzero_si512();
    for (int64_t p = 0; p < npairs; p++) {
      const uint8_t* b0 = row + 2 * p * j.bb;
      const uint8_t* b1 = b0 + j.bb;
      _mm_prefetch(reinterpret_cast<const char*>(b0 + kPrefetchBytes), _MM_HINT_T0);
      __m512i v[8];
      if (tq1) decode_tq1_pair(b0, b1, v);
      else decode_tq2_pair(b0, b1, v);
      if (uni) {
        for (int t = 0; t < T; t++) lanes[t] = _mm512_add_epi32(lanes[t], pair_dot(v, j.xi + (i0 + t) * j.xi_stride + p * 512));
      } else {
        const double d0 = static_cast<double>(half_to_float(rd16(b0 + j.bb - 2)));
        const double d1 = static_cast<double>(half_to_float(rd16(b1 + j.bb - 2)));
        for (int t = 0; t < T; t++) {
          const __m512i s = pair_dot(v, j.xi + (i0 + t) * j.xi_stride + p * 512);
          const int64_t i = i0 + t;
          acc[t] += static_cast<double>(hsum_epi32(_mm512_castsi512_si256(s)) - j.asum[i * j.nb + 2 * p]) * d0;
          acc[t] += static_cast<double>(hsum_epi32(_mm512_extracti64x4_epi64(s, 1)) - j.asum[i * j.nb + 2 * p + 1]) * d1;
        }
      }
    }
    if (j.nb & 1) {  // the last block alone, on the 256-bit body
      const uint8_t* blk = row + (j.nb - 1) * j.bb;
      __m256i v[8];
      if (tq1) decode_tq1_avx2(blk, v);
      else decode_tq2_avx2(blk, v);
      const double d = static_cast<double>(half_to_float(rd16(blk + j.bb - 2)));
      for (int t = 0; t < T; t++) {
        const __m256i s = block_dot_vnni(v, j.xq + (i0 + t) * j.cols + (j.nb - 1) * kQK);
        if (uni) lanes[t] = _mm512_add_epi32(lanes[t], _mm512_zextsi256_si512(s));
        else acc[t] += static_cast<double>(hsum_epi32(s) - j.asum[(i0 + t) * j.nb + j.nb - 1]) * d;
      }
    }
    if (uni) {
      const double d = static_cast<double>(half_to_float(rd16(row + j.bb - 2)));
      for (int t = 0; t < T; t++) {
        const __m256i s = _mm256_add_epi32(_mm512_castsi512_si256(lanes[t]), _mm512_extracti64x4_epi64(lanes[t], 1));
        acc[t] = static_cast<double>(static_cast<int64_t>(hsum_epi32(s)) - j.rsum[i0 + t]) * d;
      }
    }
    for (int t = 0; t < T; t++) j.y[(i0 + t) * j.rows + r] = static_cast<float>(acc[t] / static_cast<double>(j.sx[i0 + t]));
  }
}

using RowsFn = void (*)(const Job&, int64_t, int64_t, int64_t);

template <int T>
RowsFn pick_t(Isa level) {
  switch (level) {
    case Isa::Avx512Vnni: return rows_vnni512<T>;
    case Isa::Avx2: return rows_avx2<T>;
    default: return rows_scalar<T>;
  }
}

RowsFn pick(int tile, Isa level) {
  switch (tile) {
    case 1: return pick_t<1>(level);
    case 2: return pick_t<2>(level);
    case 3: return pick_t<3>(level);
    default: return pick_t<4>(level);
  }
}

}  // namespace

int64_t ternary_blocks_bytes(TernaryBlocks t) { return block_bytes(t); }

int64_t ternary_blocks_to_packed(TernaryBlocks type, const uint8_t* w, int64_t nblocks, uint8_t* packed, float* d) {
  const int64_t bb = block_bytes(type);
  std::atomic<int64_t> bad{-1};
  pool_for(nblocks, 1024, [&](int64_t b0, int64_t b1) {
    uint8_t c[kQK];
    for (int64_t b = b0; b < b1; b++) {
      const uint8_t* blk = w + b * bb;
      decode_scalar(type, blk, c);
      uint8_t* o = packed + b * 64;  // two 128-column blocks of the packed layout
      for (int h = 0; h < 2; h++)
        for (int m = 0; m < 32; m++) {
          const uint8_t* e = c + 128 * h + m;
          o[32 * h + m] = static_cast<uint8_t>(e[0] | (e[32] << 2) | (e[64] << 4) | (e[96] << 6));
        }
      if (type == TernaryBlocks::TQ2_0 && std::find(c, c + kQK, 3) != c + kQK) {
        int64_t cur = bad.load();  // keep the smallest such block
        while ((cur < 0 || b < cur) && !bad.compare_exchange_weak(cur, b)) {
        }
      }
      d[b] = half_to_float(rd16(blk + bb - 2));
    }
  });
  return bad.load();
}

// Lanes stay exact: a block adds at most 8 * 2 * 4 * 128 = 8192 to a lane, and addon.cc limits cols
// to 2^24 (65536 blocks): 2^29 < 2^31.
void ternary_matmul_blocks(TernaryBlocks type, const uint8_t* w, int64_t rows, int64_t cols, const int8_t* xq,
                           const float* sx, int64_t n, float* y) {
  if (rows == 0 || n == 0) return;
  Job j{type, w, rows, cols, n, cols / kQK, block_bytes(type), xq, sx, nullptr, nullptr, y, nullptr, 0};
  std::vector<int32_t> asum(static_cast<size_t>(n * j.nb));
  std::vector<int64_t> rsum(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) {
    int64_t tot = 0;
    for (int64_t b = 0; b < j.nb; b++) {
      int32_t s = 0;
      const int8_t* x = xq + i * cols + b * kQK;
      for (int e = 0; e < kQK; e++) s += x[e];
      asum[i * j.nb + b] = s;
      tot += s;
    }
    rsum[i] = tot;
  }
  j.asum = asum.data();
  j.rsum = rsum.data();
  const Isa level = isa();
  std::vector<int8_t> xi;
  if (level == Isa::Avx512Vnni && j.nb >= 2) {
    j.xi_stride = j.nb / 2 * 512;
    xi.resize(static_cast<size_t>(n * j.xi_stride));
    for (int64_t i = 0; i < n; i++)
      for (int64_t p = 0; p < j.nb / 2; p++)
        for (int k = 0; k < 8; k++)
          for (int h = 0; h < 2; h++)
            std::memcpy(&xi[i * j.xi_stride + p * 512 + 64 * k + 32 * h], xq + i * cols + (2 * p + h) * kQK + 32 * k, 32);
    j.xi = xi.data();
  }
  const int nthreads = pool_threads();
  // one token: long runs of rows (one sequential stream per thread); a batch: small chunks
  const int64_t grain = n == 1 ? std::max<int64_t>(16, (rows + nthreads * 4 - 1) / (nthreads * 4))
                               : std::clamp<int64_t>(rows / (nthreads * 4), 1, 64);
  pool_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t i0 = 0; i0 < n; i0 += kMaxT) {
      const int tile = static_cast<int>(std::min<int64_t>(kMaxT, n - i0));
      pick(tile, level)(j, i0, r0, r1);
    }
  });
}

}  // namespace bitnet
