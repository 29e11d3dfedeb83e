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
// activations each (TQ1_0's trits with 16-bit multiplies, even and odd bytes apart so that no carry
// crosses a byte), then multiplied with maddubs (AVX2) or vpdpbusd (VNNI); sum c*x - sum x = sum t*x.
// A row whose blocks all carry the same finite d (our exports and synth's files) accumulates in int32
// vectors and reduces once; otherwise each block is reduced and scaled on its own.
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

inline uint16_t rd16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

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

// Trit selected by `pow` (3^n per 16-bit lane) of every byte of qe (even bytes, high bytes zeroed) and
// qo (odd bytes, low bytes zeroed): ((byte * 3^n) mod 256) * 3 >> 8, as bytes.
BITNET_AVX2 inline __m256i trits(__m256i qe, __m256i qo, __m256i pow) {
  const __m256i te = _mm256_and_si256(_mm256_mullo_epi16(qe, pow), _mm256_set1_epi16(0x00FF));
  const __m256i re = _mm256_mulhi_epu16(te, _mm256_set1_epi16(768));  // (te * 3) >> 8 in the low byte
  const __m256i to = _mm256_mullo_epi16(qo, pow);                     // (byte * 3^n mod 256) << 8: no carry in
  const __m256i ro = _mm256_slli_epi16(_mm256_mulhi_epu16(to, _mm256_set1_epi16(3)), 8);
  return _mm256_or_si256(re, ro);
}

BITNET_AVX2 inline void split(__m256i q, __m256i* qe, __m256i* qo) {
  *qe = _mm256_and_si256(q, _mm256_set1_epi16(0x00FF));
  *qo = _mm256_and_si256(q, _mm256_set1_epi16(static_cast<short>(0xFF00)));
}

BITNET_AVX2 inline void decode_tq1_avx2(const uint8_t* b, __m256i v[8]) {
  __m256i qe, qo;
  split(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), &qe, &qo);
  v[0] = trits(qe, qo, _mm256_set1_epi16(1));
  v[1] = trits(qe, qo, _mm256_set1_epi16(3));
  v[2] = trits(qe, qo, _mm256_set1_epi16(9));
  v[3] = trits(qe, qo, _mm256_set1_epi16(27));
  v[4] = trits(qe, qo, _mm256_set1_epi16(81));
  // qs[32..47] in both halves: trits (0 | 1) are columns 160..191, (2 | 3) columns 192..223
  const __m128i s2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 32));
  split(_mm256_set_m128i(s2, s2), &qe, &qo);
  v[5] = trits(qe, qo, _mm256_setr_epi16(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3));
  v[6] = trits(qe, qo, _mm256_setr_epi16(9, 9, 9, 9, 9, 9, 9, 9, 27, 27, 27, 27, 27, 27, 27, 27));
  // columns 224..239: trit 4 of qs[32..47]; 240..255: byte e is trit e/4 of qh[e mod 4]
  int32_t qh;
  std::memcpy(&qh, b + 48, 4);
  const __m128i h = _mm_shuffle_epi8(_mm_cvtsi32_si128(qh), _mm_setr_epi8(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3));
  split(_mm256_set_m128i(h, s2), &qe, &qo);
  v[7] = trits(qe, qo, _mm256_setr_epi16(81, 81, 81, 81, 81, 81, 81, 81, 1, 1, 3, 3, 9, 9, 27, 27));
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

BITNET_AVX2 inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
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

#define BITNET_ROWS_SIMD(NAME, ATTR, DOT)                                                                     \
  template <int T>                                                                                          \
  ATTR void NAME(const Job& j, int64_t i0, int64_t r0, int64_t r1) {                                        \
    const bool tq1 = j.type == TernaryBlocks::TQ1_0;                                                         \
    for (int64_t r = r0; r < r1; r++) {                                                                      \
      const uint8_t* row = j.w + r * j.nb * j.bb;                                                            \
      const bool uni = uniform_row(row, j.nb, j.bb);                                                         \
      __m256i lanes[T];                                                                                      \
      double acc[T] = {};                                                                                    \
      for (int t = 0; t < T; t++) lanes[t] = _mm256_setzero_si256();                                         \
      for (int64_t b = 0; b < j.nb; b++) {                                                                   \
        const uint8_t* blk = row + b * j.bb;                                                                 \
        _mm_prefetch(reinterpret_cast<const char*>(blk + kPrefetchBytes), _MM_HINT_T0);                      \
        __m256i v[8];                                                                                        \
        if (tq1) decode_tq1_avx2(blk, v);                                                                    \
        else decode_tq2_avx2(blk, v);                                                                        \
        if (uni) {                                                                                           \
          for (int t = 0; t < T; t++) lanes[t] = _mm256_add_epi32(lanes[t], DOT(v, j.xq + (i0 + t) * j.cols + b * kQK)); \
        } else {                                                                                             \
          const double d = static_cast<double>(half_to_float(rd16(blk + j.bb - 2)));                         \
          for (int t = 0; t < T; t++) {                                                                      \
            const int32_t s = hsum_i32(DOT(v, j.xq + (i0 + t) * j.cols + b * kQK));                          \
            acc[t] += static_cast<double>(s - j.asum[(i0 + t) * j.nb + b]) * d;                              \
          }                                                                                                  \
        }                                                                                                    \
      }                                                                                                      \
      if (uni) {                                                                                             \
        const double d = static_cast<double>(half_to_float(rd16(row + j.bb - 2)));                           \
        for (int t = 0; t < T; t++)                                                                          \
          acc[t] = static_cast<double>(static_cast<int64_t>(hsum_i32(lanes[t])) - j.rsum[i0 + t]) * d;       \
      }                                                                                                      \
      for (int t = 0; t < T; t++) j.y[(i0 + t) * j.rows + r] = static_cast<float>(acc[t] / static_cast<double>(j.sx[i0 + t])); \
    }                                                                                                        \
  }

BITNET_ROWS_SIMD(rows_avx2, BITNET_AVX2, block_dot_avx2)
BITNET_ROWS_SIMD(rows_vnni, BITNET_VNNI, block_dot_vnni)
#undef BITNET_ROWS_SIMD

using RowsFn = void (*)(const Job&, int64_t, int64_t, int64_t);

template <int T>
RowsFn pick_t(Isa level) {
  switch (level) {
    case Isa::Avx512Vnni: return rows_vnni<T>;
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
  Job j{type, w, rows, cols, n, cols / kQK, block_bytes(type), xq, sx, nullptr, nullptr, y};
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
