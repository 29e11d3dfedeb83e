// Ternary x int8 matmul on the engine's packed layout.
//
// Packed layout (the same bytes as the `qs` of GGUF's TQ2_0, without the per-256 fp16 scales; the TS
// packer and its documentation are src/infer/kernels/layout.ts):
//   - row r starts at byte r * ceil(cols / 128) * 32;
//   - block j of a row covers columns 128j .. 128j+127 and takes 32 bytes;
//   - byte m (0..31) of a block holds columns 128j + m + 32q, q = 0..3, in bits 2q..2q+1 (LSB first);
//   - the 2-bit code is c = t + 1 (t = -1, 0, 1 -> 0, 1, 2); columns past `cols` are padded with c = 1.
//
// Kernel (I2_S idea): unsigned codes times signed int8 activations with _mm256_maddubs_epi16, then
// subtract the activation sum: sum_k c_k x_k - sum_k x_k = sum_k t_k x_k. Exact integer arithmetic:
// a maddubs lane is at most 2 * 3 * 128 = 768 in magnitude (even for the invalid code 3), a block adds
// four of them (3072), and the int16 accumulators are widened to int32 every 8 blocks (24576 < 32767).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "fp.h"
#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

constexpr int kMaxTile = 4;       // tokens per register tile
constexpr int64_t kFlushBlocks = 8;  // blocks between int16 -> int32 widenings (see above)

// res[t] = sum over blocks [b0, b1) of code * x, for T tokens whose padded rows start at x[t].
template <int T>
void dot_scalar(const uint8_t* w, const int8_t* const* x, const int8_t* const*, int64_t b0, int64_t b1, int32_t* res) {
  int32_t acc[T] = {};
  for (int64_t b = b0; b < b1; b++) {
    const uint8_t* q = w + b * kBlockBytes;
    for (int t = 0; t < T; t++) {
      const int8_t* xb = x[t] + b * kBlockCols;
      int32_t s = 0;
      for (int m = 0; m < 32; m++) {
        int v = q[m];
        s += (v & 3) * xb[m] + ((v >> 2) & 3) * xb[m + 32] + ((v >> 4) & 3) * xb[m + 64] + (v >> 6) * xb[m + 96];
      }
      acc[t] += s;
    }
  }
  for (int t = 0; t < T; t++) res[t] = acc[t];
}

template <int T>
BITNET_AVX2 void dot_avx2(const uint8_t* w, const int8_t* const* x, const int8_t* const*, int64_t b0, int64_t b1, int32_t* res) {
  const __m256i mask = _mm256_set1_epi8(3);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc32[T];
  for (int t = 0; t < T; t++) acc32[t] = _mm256_setzero_si256();
  for (int64_t b = b0; b < b1;) {
    const int64_t bend = std::min(b + kFlushBlocks, b1);
    __m256i acc16[T];
    for (int t = 0; t < T; t++) acc16[t] = _mm256_setzero_si256();
    for (; b < bend; b++) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + b * kBlockBytes));
      const __m256i w0 = _mm256_and_si256(q, mask);
      const __m256i w1 = _mm256_and_si256(_mm256_srli_epi16(q, 2), mask);
      const __m256i w2 = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
      const __m256i w3 = _mm256_and_si256(_mm256_srli_epi16(q, 6), mask);
      for (int t = 0; t < T; t++) {
        const int8_t* xb = x[t] + b * kBlockCols;
        __m256i s0 = _mm256_maddubs_epi16(w0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb)));
        __m256i s1 = _mm256_maddubs_epi16(w1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 32)));
        __m256i s2 = _mm256_maddubs_epi16(w2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 64)));
        __m256i s3 = _mm256_maddubs_epi16(w3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 96)));
        acc16[t] = _mm256_add_epi16(acc16[t], _mm256_add_epi16(_mm256_add_epi16(s0, s1), _mm256_add_epi16(s2, s3)));
      }
    }
    for (int t = 0; t < T; t++) acc32[t] = _mm256_add_epi32(acc32[t], _mm256_madd_epi16(acc16[t], ones));
  }
  for (int t = 0; t < T; t++) res[t] = hsum_epi32(acc32[t]);
}

// The same with AVX-512 VNNI on 256-bit vectors (and its 32 ymm registers). vpdpbusd multiplies
// unsigned bytes by signed bytes and adds groups of four products straight into int32 lanes, without
// an int16 stage, so the 2-bit fields need no shift: field f is used in place as (q & (3 << 2f)) =
// 4^f * c, accumulated apart, and divided back exactly by an arithmetic shift of 2f at the end of a
// chunk. A lane gains at most 4 * 192 * 128 per block, so chunks of 4096 blocks stay below 2^31.
constexpr int64_t kVnniChunk = 4096;

template <int T>  // single blocks of dot_vnni512
BITNET_VNNI void dot_vnni(const uint8_t* w, const int8_t* const* x, const int8_t* const*, int64_t b0, int64_t b1, int32_t* res) {
  const __m256i mask[4] = {_mm256_set1_epi8(0x03), _mm256_set1_epi8(0x0C), _mm256_set1_epi8(0x30),
                           _mm256_set1_epi8(static_cast<char>(0xC0))};
  int64_t total[T] = {};
  for (int64_t b = b0; b < b1;) {
    const int64_t bend = std::min(b + kVnniChunk, b1);
    __m256i acc[T][4];
    for (int t = 0; t < T; t++)
      for (int f = 0; f < 4; f++) acc[t][f] = _mm256_setzero_si256();
    for (; b < bend; b++) {
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + b * kBlockBytes));
      __m256i wf[4];
      for (int f = 0; f < 4; f++) wf[f] = _mm256_and_si256(q, mask[f]);
      for (int t = 0; t < T; t++) {
        const int8_t* xb = x[t] + b * kBlockCols;
        for (int f = 0; f < 4; f++)
          acc[t][f] = _mm256_dpbusd_epi32(acc[t][f], wf[f], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 32 * f)));
      }
    }
    for (int t = 0; t < T; t++) {
      const __m256i s = _mm256_add_epi32(_mm256_add_epi32(acc[t][0], _mm256_srai_epi32(acc[t][1], 2)),
                                         _mm256_add_epi32(_mm256_srai_epi32(acc[t][2], 4), _mm256_srai_epi32(acc[t][3], 6)));
      total[t] += hsum_epi32(s);
    }
  }
  for (int t = 0; t < T; t++) res[t] = static_cast<int32_t>(total[t]);
}

// The same on 512-bit vectors, two blocks per load. Field f of the two blocks b, b+1 (b even) meets 64
// activation bytes that are not adjacent in x, so each token's activations are also kept interleaved
// by block pair (interleave_pairs below): xi[p*256 + 64f + 32h + m] = x[(2p + h)*128 + 32f + m]. A
// block range that starts or ends on an odd block takes that block through the 256-bit body. Weights
// are prefetched kPrefetch bytes ahead: the rows of a matrix are one sequential stream, and the
// hardware prefetcher alone left a single core at ~75% of its read bandwidth (measured).
constexpr int64_t kPrefetch = 8192;

// The two 256-bit halves of v added lane by lane.
BITNET_VNNI inline __m256i half(__m512i v) { return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)); }

template <int T>
BITNET_VNNI void dot_vnni512(const uint8_t* w, const int8_t* const* x, const int8_t* const* xi, int64_t b0,
                             int64_t b1, int32_t* res) {
  int64_t total[T] = {};
  if (b0 & 1) {
    int32_t one[T];
    dot_vnni<T>(w, x, nullptr, b0, b0 + 1, one);
    for (int t = 0; t < T; t++) total[t] += one[t];
    b0++;
  }
  if (b1 > b0 && (b1 & 1)) {
    int32_t one[T];
    dot_vnni<T>(w, x, nullptr, b1 - 1, b1, one);
    for (int t = 0; t < T; t++) total[t] += one[t];
    b1--;
  }
  const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0C), m2 = _mm512_set1_epi8(0x30),
                m3 = _mm512_set1_epi8(static_cast<char>(0xC0));
  for (int64_t p = b0 / 2, pend = b1 / 2; p < pend;) {
    const int64_t cend = std::min(p + kVnniChunk / 2, pend);
    __m512i acc[T][4];
    for (int t = 0; t < T; t++)
      for (int f = 0; f < 4; f++) acc[t][f] = _mm512_setzero_si512();
    for (; p < cend; p++) {
      _mm_prefetch(reinterpret_cast<const char*>(w + p * 64 + kPrefetch), _MM_HINT_T0);
      const __m512i q = _mm512_loadu_si512(w + p * 64);
      const __m512i q0 = _mm512_and_si512(q, m0), q1 = _mm512_and_si512(q, m1), q2 = _mm512_and_si512(q, m2),
                    q3 = _mm512_and_si512(q, m3);
      for (int t = 0; t < T; t++) {
        const int8_t* xp = xi[t] + p * 256;
        acc[t][0] = _mm512_dpbusd_epi32(acc[t][0], q0, _mm512_loadu_si512(xp));
        acc[t][1] = _mm512_dpbusd_epi32(acc[t][1], q1, _mm512_loadu_si512(xp + 64));
        acc[t][2] = _mm512_dpbusd_epi32(acc[t][2], q2, _mm512_loadu_si512(xp + 128));
        acc[t][3] = _mm512_dpbusd_epi32(acc[t][3], q3, _mm512_loadu_si512(xp + 192));
      }
    }
    for (int t = 0; t < T; t++) {
      const __m512i s = _mm512_add_epi32(_mm512_add_epi32(acc[t][0], _mm512_srai_epi32(acc[t][1], 2)),
                                         _mm512_add_epi32(_mm512_srai_epi32(acc[t][2], 4), _mm512_srai_epi32(acc[t][3], 6)));
      total[t] += hsum_epi32(half(s));
    }
  }
  for (int t = 0; t < T; t++) res[t] = static_cast<int32_t>(total[t]);
}

// The batched path (prompt processing, nseg == 1, whole block pairs): two rows x eight tokens per
// register tile, 16 int32 accumulators. Each activation vector loaded feeds two vpdpbusd (one per
// row) instead of one, and a row's eight sums are reduced together (reduce8) instead of token by
// token, which at d_model 768 (three block pairs per row) cost as much as the row's products. The
// fields are shifted down to c = 0..3 (one accumulator per row and token, no per-field scale): a lane
// gains at most 4 fields x 4 x 3 x 128 = 6144 per block pair, so up to kWideMaxPairs pairs stay
// below 2^31; longer rows take dot_vnni512.
constexpr int kWideTile = 8;
constexpr int64_t kWideMaxPairs = ((int64_t{1} << 31) - 1) / 6144;

// [sum of a0 .. sum of a7] (the 16 int32 lanes of each). By value: an array whose address reached
// here kept GCC from holding the accumulators in registers (it stored them to the stack every pair).
BITNET_VNNI inline __m256i reduce8(__m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512i a4, __m512i a5, __m512i a6,
                                   __m512i a7) {
  // per 128-bit lane: hadd(hadd(y0, y1), hadd(y2, y3)) = [y0, y1, y2, y3] summed over that lane's 4 lanes
  const __m256i h03 = _mm256_hadd_epi32(_mm256_hadd_epi32(half(a0), half(a1)), _mm256_hadd_epi32(half(a2), half(a3)));
  const __m256i h47 = _mm256_hadd_epi32(_mm256_hadd_epi32(half(a4), half(a5)), _mm256_hadd_epi32(half(a6), half(a7)));
  return _mm256_add_epi32(_mm256_permute2x128_si256(h03, h47, 0x20), _mm256_permute2x128_si256(h03, h47, 0x31));
}

// out0[t] = sum over the row at w0 of code * x_t - asum[t], out1 the same for w1, t = 0..7, over
// npairs block pairs of the interleaved activations xi[t].
BITNET_VNNI void rows2_vnni512(const uint8_t* w0, const uint8_t* w1, const int8_t* const* xi, int64_t npairs,
                               const int32_t* asum, int32_t* out0, int32_t* out1) {
  const __m512i m = _mm512_set1_epi8(0x03);
  __m512i a0[kWideTile], a1[kWideTile];
  for (int t = 0; t < kWideTile; t++) a0[t] = a1[t] = _mm512_setzero_si512();
  for (int64_t p = 0; p < npairs; p++) {
    const __m512i q = _mm512_loadu_si512(w0 + p * 64), r = _mm512_loadu_si512(w1 + p * 64);
    const __m512i q0 = _mm512_and_si512(q, m), q1 = _mm512_and_si512(_mm512_srli_epi16(q, 2), m),
                  q2 = _mm512_and_si512(_mm512_srli_epi16(q, 4), m), q3 = _mm512_and_si512(_mm512_srli_epi16(q, 6), m);
    const __m512i r0 = _mm512_and_si512(r, m), r1 = _mm512_and_si512(_mm512_srli_epi16(r, 2), m),
                  r2 = _mm512_and_si512(_mm512_srli_epi16(r, 4), m), r3 = _mm512_and_si512(_mm512_srli_epi16(r, 6), m);
#pragma GCC unroll 8
    for (int t = 0; t < kWideTile; t++) {
      const int8_t* xp = xi[t] + p * 256;
      __m512i x = _mm512_load_si512(xp);
      a0[t] = _mm512_dpbusd_epi32(a0[t], q0, x);
      a1[t] = _mm512_dpbusd_epi32(a1[t], r0, x);
      x = _mm512_load_si512(xp + 64);
      a0[t] = _mm512_dpbusd_epi32(a0[t], q1, x);
      a1[t] = _mm512_dpbusd_epi32(a1[t], r1, x);
      x = _mm512_load_si512(xp + 128);
      a0[t] = _mm512_dpbusd_epi32(a0[t], q2, x);
      a1[t] = _mm512_dpbusd_epi32(a1[t], r2, x);
      x = _mm512_load_si512(xp + 192);
      a0[t] = _mm512_dpbusd_epi32(a0[t], q3, x);
      a1[t] = _mm512_dpbusd_epi32(a1[t], r3, x);
    }
  }
  const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(asum));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out0),
                      _mm256_sub_epi32(reduce8(a0[0], a0[1], a0[2], a0[3], a0[4], a0[5], a0[6], a0[7]), s));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out1),
                      _mm256_sub_epi32(reduce8(a1[0], a1[1], a1[2], a1[3], a1[4], a1[5], a1[6], a1[7]), s));
}

// The rescale of one 2-row x 8-token tile's chunk, y[t * rows + r] = float(acc · scale / s_x), eight
// tokens at a time in double vectors: the same IEEE operations in the same order as the scalar loop
// in ternary_matmul_scaled (so the same floats), without one scalar double division per output,
// which cost ~10 % of a prompt batch's GEMM. acc is [nr][8]; scale per row (sc) or per tensor (s0).
BITNET_VNNI void rescale_tile8(const int32_t* acc, int64_t nr, const float* sc, double s0, const float* sx8, float* y,
                               int64_t rows) {
  const __m512d sx = _mm512_cvtps_pd(_mm256_loadu_ps(sx8));
  alignas(32) float out[kWideTile];
  for (int64_t r = 0; r < nr; r++) {
    const __m512d a = _mm512_cvtepi32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + r * kWideTile)));
    const __m512d v = _mm512_mul_pd(a, _mm512_set1_pd(sc != nullptr ? static_cast<double>(sc[r]) : s0));
    _mm256_store_ps(out, _mm512_cvtpd_ps(_mm512_div_pd(v, sx)));
    for (int t = 0; t < kWideTile; t++) y[t * rows + r] = out[t];
  }
}

// The generation path (one token, one segment per row): dot_vnni512<1> over the rows [r0, r1) in one
// loop, so the masks stay in registers, nothing is called per row, and one row's reduction overlaps
// the next row's loads. res[r - r0] = sum of code * x over the row (before the activation-sum offset).
BITNET_VNNI void gemv_vnni512(const uint8_t* packed, int64_t row_bytes, int64_t r0, int64_t r1, const int8_t* x,
                              const int8_t* xi, int64_t nblocks, int32_t* res) {
  const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0C), m2 = _mm512_set1_epi8(0x30),
                m3 = _mm512_set1_epi8(static_cast<char>(0xC0));
  const int64_t npairs = nblocks / 2;
  if (npairs > kVnniChunk / 2) {  // rows too long for one int32 chunk: the general body
    const int8_t* xs[1] = {x};
    const int8_t* xis[1] = {xi};
    for (int64_t r = r0; r < r1; r++) dot_vnni512<1>(packed + r * row_bytes, xs, xis, 0, nblocks, res + (r - r0));
    return;
  }
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t* w = packed + r * row_bytes;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t p = 0; p < npairs; p++) {
      _mm_prefetch(reinterpret_cast<const char*>(w + p * 64 + kPrefetch), _MM_HINT_T0);
      const __m512i q = _mm512_loadu_si512(w + p * 64);
      const int8_t* xp = xi + p * 256;
      a0 = _mm512_dpbusd_epi32(a0, _mm512_and_si512(q, m0), _mm512_loadu_si512(xp));
      a1 = _mm512_dpbusd_epi32(a1, _mm512_and_si512(q, m1), _mm512_loadu_si512(xp + 64));
      a2 = _mm512_dpbusd_epi32(a2, _mm512_and_si512(q, m2), _mm512_loadu_si512(xp + 128));
      a3 = _mm512_dpbusd_epi32(a3, _mm512_and_si512(q, m3), _mm512_loadu_si512(xp + 192));
    }
    const __m512i s = _mm512_add_epi32(_mm512_add_epi32(a0, _mm512_srai_epi32(a1, 2)),
                                       _mm512_add_epi32(_mm512_srai_epi32(a2, 4), _mm512_srai_epi32(a3, 6)));
    int32_t v = hsum_epi32(half(s));
    if (nblocks & 1) {
      int32_t one;
      const int8_t* xs[1] = {x};
      dot_vnni<1>(w, xs, nullptr, nblocks - 1, nblocks, &one);
      v += one;
    }
    res[r - r0] = v;
  }
}

// xi for one token's padded activations x (nblocks * 128 bytes): the whole block pairs only.
void interleave_pairs(const int8_t* x, int64_t nblocks, int8_t* xi) {
  for (int64_t p = 0; p < nblocks / 2; p++)
    for (int f = 0; f < 4; f++)
      for (int h = 0; h < 2; h++) std::memcpy(xi + p * 256 + 64 * f + 32 * h, x + (2 * p + h) * kBlockCols + 32 * f, 32);
}

using DotFn = void (*)(const uint8_t*, const int8_t* const*, const int8_t* const*, int64_t, int64_t, int32_t*);

template <int T>
DotFn pick_dot_t(Isa level) {
  switch (level) {
    case Isa::Avx512Vnni: return dot_vnni512<T>;
    case Isa::Avx2: return dot_avx2<T>;
    default: return dot_scalar<T>;
  }
}

DotFn pick_dot(int tile, Isa level) {
  switch (tile) {
    case 1: return pick_dot_t<1>(level);
    case 2: return pick_dot_t<2>(level);
    case 3: return pick_dot_t<3>(level);
    default: return pick_dot_t<4>(level);
  }
}

// Sum of n signed bytes. The AVX2 body flips the sign bit (x + 128 as an unsigned byte) so that
// vpsadbw adds 8 bytes at a time into 64-bit lanes, then takes 128 per byte back off.
int32_t sum_i8_scalar(const int8_t* x, int64_t n) {
  int32_t s = 0;
  for (int64_t k = 0; k < n; k++) s += x[k];
  return s;
}

BITNET_AVX2 int32_t sum_i8_avx2(const int8_t* x, int64_t n) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80)), zero = _mm256_setzero_si256();
  __m256i acc = zero;
  int64_t k = 0;
  for (; k + 32 <= n; k += 32)
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + k)), flip), zero));
  const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  int64_t s = _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1) - 128 * k;
  for (; k < n; k++) s += x[k];
  return static_cast<int32_t>(s);
}

// The shared driver: activations padded to whole blocks, per-segment activation sums, rows split over
// the pool, and `emit(i0, tile, r, acc)` called with acc[t * nseg + s] = exact sum over segment s.
struct Plan {
  int64_t rows, cols, n, nblocks, row_bytes, nseg, seg_blocks;
  const int8_t* x;            // [n, nblocks * 128], padded with zeros
  std::vector<int8_t> xpad;   // owns x when cols is not a multiple of 128
  std::vector<int32_t> asum;  // [n, nseg] activation sums per segment
  // x interleaved by block pair (VNNI only), [n, npairs * 256], on cache lines: a 512-bit load that
  // straddles two lines costs two (measured: the GEMV's speed varied 20-32 GB/s from run to run with
  // the 16-byte alignment malloc happened to give)
  struct alignas(64) Line {
    int8_t b[64];
  };
  std::vector<Line> xi_lines;
  int8_t* xi = nullptr;
  int64_t xi_stride = 0;
};

void make_plan(Plan& p, int64_t rows, int64_t cols, const int8_t* xq, int64_t n, int64_t seg_cols) {
  p.rows = rows;
  p.cols = cols;
  p.n = n;
  p.nblocks = (cols + kBlockCols - 1) / kBlockCols;
  p.row_bytes = p.nblocks * kBlockBytes;
  const int64_t padded = p.nblocks * kBlockCols;
  p.seg_blocks = seg_cols > 0 ? seg_cols / kBlockCols : std::max<int64_t>(p.nblocks, 1);
  p.nseg = seg_cols > 0 ? (cols + seg_cols - 1) / seg_cols : 1;
  if (padded == cols) {
    p.x = xq;
  } else {
    p.xpad.assign(static_cast<size_t>(n * padded), 0);
    for (int64_t i = 0; i < n; i++) std::memcpy(&p.xpad[i * padded], xq + i * cols, static_cast<size_t>(cols));
    p.x = p.xpad.data();
  }
  if (isa() == Isa::Avx512Vnni && p.nblocks >= 2) {
    p.xi_stride = p.nblocks / 2 * 256;
    p.xi_lines.resize(static_cast<size_t>(n * p.xi_stride / 64));
    p.xi = p.xi_lines.data()->b;
    for (int64_t i = 0; i < n; i++) interleave_pairs(p.x + i * padded, p.nblocks, p.xi + i * p.xi_stride);
  }
  p.asum.resize(static_cast<size_t>(n * p.nseg));
  const int64_t seg_len = p.seg_blocks * kBlockCols;
  const bool avx2 = simd();
  for (int64_t i = 0; i < n; i++)
    for (int64_t s = 0; s < p.nseg; s++) {
      const int64_t k0 = s * seg_len, k1 = std::min(cols, k0 + seg_len);
      p.asum[i * p.nseg + s] = avx2 ? sum_i8_avx2(xq + i * cols + k0, k1 - k0) : sum_i8_scalar(xq + i * cols + k0, k1 - k0);
    }
}

// A chunk's sums for one token tile are gathered in a buffer and emitted together, so the rescale (a double division per output) runs as one loop of
// independent operations rather than once after every row's reduction (measured: half the time of a
// cached GEMV went to waiting on those divisions).
constexpr int64_t kChunkRows = 64;

template <class Emit>
void run_plan(const uint8_t* packed, const Plan& p, Emit&& emit) {
  const int nthreads = pool_threads();
  // Generation (one token) streams each row once: a thread takes long runs of rows, whose weights
  // are one sequential stream for the prefetchers (64-row chunks read ~36 GB/s with 2 threads, where
  // the head's long runs read 46). A batch reuses a chunk's rows for every token tile, so its
  // chunks stay small enough for L1.
  const int64_t grain = p.n == 1 ? std::max<int64_t>(kChunkRows, (p.rows + nthreads * 2 - 1) / (nthreads * 2))
                                 : std::clamp<int64_t>(p.rows / (nthreads * 4), 1, kChunkRows);
  const Isa level = isa();
  const int64_t padded = p.nblocks * kBlockCols;
  const bool wide = level == Isa::Avx512Vnni && p.xi != nullptr && p.nseg == 1 && p.nblocks % 2 == 0;
  pool_for(p.rows, grain, [&](int64_t r0, int64_t r1) {
    thread_local std::vector<int32_t> buf;
    const int64_t per_row = std::max<int64_t>(kMaxTile * p.nseg, kWideTile);
    if (static_cast<int64_t>(buf.size()) < (r1 - r0) * per_row) buf.resize(static_cast<size_t>((r1 - r0) * per_row));
    int32_t* res = buf.data();
    for (int64_t i0 = 0; i0 < p.n;) {
      if (wide && p.n - i0 >= kWideTile) {
        const int8_t* xis[kWideTile];
        for (int t = 0; t < kWideTile; t++) xis[t] = p.xi + (i0 + t) * p.xi_stride;
        const int32_t* as = p.asum.data() + i0;
        int64_t r = r0;
        for (; r + 1 < r1; r += 2)
          rows2_vnni512(packed + r * p.row_bytes, packed + (r + 1) * p.row_bytes, xis, p.nblocks / 2, as,
                        res + (r - r0) * kWideTile, res + (r + 1 - r0) * kWideTile);
        if (r < r1) {  // an odd last row: paired with itself, the twin's sums dropped
          int32_t twin[kWideTile];
          rows2_vnni512(packed + r * p.row_bytes, packed + r * p.row_bytes, xis, p.nblocks / 2, as, res + (r - r0) * kWideTile, twin);
        }
        emit(i0, kWideTile, r0, r1, static_cast<const int32_t*>(res));
        i0 += kWideTile;
        continue;
      }
      const int tile = static_cast<int>(std::min<int64_t>(kMaxTile, p.n - i0));
      const DotFn dot = pick_dot(tile, level);
      const int8_t* xs[kMaxTile];
      const int8_t* xis[kMaxTile] = {};
      for (int t = 0; t < tile; t++) {
        xs[t] = p.x + (i0 + t) * padded;
        if (p.xi != nullptr) xis[t] = p.xi + (i0 + t) * p.xi_stride;
      }
      if (tile == 1 && p.nseg == 1 && level == Isa::Avx512Vnni && p.xi != nullptr) {
        gemv_vnni512(packed, p.row_bytes, r0, r1, xs[0], xis[0], p.nblocks, res);
        for (int64_t r = r0; r < r1; r++) res[r - r0] -= p.asum[i0];
        emit(i0, tile, r0, r1, static_cast<const int32_t*>(res));
        i0 += tile;
        continue;
      }
      for (int64_t r = r0; r < r1; r++) {
        const uint8_t* w = packed + r * p.row_bytes;
        int32_t* rr = res + (r - r0) * tile * p.nseg;
        int32_t part[kMaxTile];
        for (int64_t s = 0; s < p.nseg; s++) {
          const int64_t b0 = s * p.seg_blocks;
          dot(w, xs, xis, b0, std::min(b0 + p.seg_blocks, p.nblocks), part);
          for (int t = 0; t < tile; t++) rr[t * p.nseg + s] = part[t] - p.asum[(i0 + t) * p.nseg + s];
        }
      }
      emit(i0, tile, r0, r1, static_cast<const int32_t*>(res));
      i0 += tile;
    }
  });
}

// ---- groups that split a block (group size a multiple of 32, not of 128: groups of 32, 64, 96) ----
// Each 32-column field of a block (the columns of one 2-bit position in its 32 bytes) lies in one
// group, so a row's sums are taken field by field into one vector accumulator per group, reduced at
// the row's end; the activation sums are per group. Small ablation models use these, so the body is
// plain AVX2 (and a scalar twin), exact like the rest.
void fields_scalar(const uint8_t* w, const int8_t* x, int64_t nblocks, int64_t cols, int64_t group, int32_t* acc) {
  for (int64_t j = 0; j < nblocks; j++)
    for (int f = 0; f < 4; f++) {
      const int64_t col0 = j * kBlockCols + 32 * f;
      if (col0 >= cols) break;
      int32_t s = 0;
      for (int m = 0; m < 32; m++) s += ((w[j * kBlockBytes + m] >> (2 * f)) & 3) * x[col0 + m];
      acc[col0 / group] += s;
    }
}

// lanes: 8 int32 per group (plain memory: vectors of __m256i outside AVX2-compiled code misbehave)
BITNET_AVX2 void fields_avx2(const uint8_t* w, const int8_t* x, int64_t nblocks, int64_t cols, int64_t group,
                             int32_t* lanes, int64_t ngroups, int32_t* acc) {
  const __m256i mask = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
  std::fill(lanes, lanes + 8 * ngroups, 0);
  for (int64_t j = 0; j < nblocks; j++) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + j * kBlockBytes));
    for (int f = 0; f < 4; f++) {
      const int64_t col0 = j * kBlockCols + 32 * f;
      if (col0 >= cols) break;
      const __m256i c = _mm256_and_si256(_mm256_srli_epi16(q, 2 * f), mask);
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(c, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + col0))), ones);
      __m256i* l = reinterpret_cast<__m256i*>(lanes + 8 * (col0 / group));
      _mm256_storeu_si256(l, _mm256_add_epi32(_mm256_loadu_si256(l), p));
    }
  }
  for (int64_t g = 0; g < ngroups; g++) acc[g] = hsum_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes + 8 * g)));
}

void scaled_fields(const uint8_t* packed, int64_t rows, int64_t cols, const int8_t* xq, const float* sx, int64_t n,
                   const float* scale, int64_t group, float* y) {
  const int64_t nblocks = (cols + kBlockCols - 1) / kBlockCols, padded = nblocks * kBlockCols;
  const int64_t ngroups = (cols + group - 1) / group, row_bytes = nblocks * kBlockBytes;
  std::vector<int8_t> x(static_cast<size_t>(n * padded), 0);
  std::vector<int32_t> asum(static_cast<size_t>(n * ngroups), 0);
  for (int64_t i = 0; i < n; i++) {
    std::memcpy(&x[i * padded], xq + i * cols, static_cast<size_t>(cols));
    for (int64_t k = 0; k < cols; k++) asum[i * ngroups + k / group] += xq[i * cols + k];
  }
  const bool avx2 = simd();
  pool_for(rows, std::max<int64_t>(1, rows / (pool_threads() * 4)), [&](int64_t r0, int64_t r1) {
    std::vector<int32_t> acc(static_cast<size_t>(ngroups));
    std::vector<int32_t> lanes(avx2 ? static_cast<size_t>(8 * ngroups) : 0);
    for (int64_t r = r0; r < r1; r++)
      for (int64_t i = 0; i < n; i++) {
        const uint8_t* w = packed + r * row_bytes;
        if (avx2) {
          fields_avx2(w, &x[i * padded], nblocks, cols, group, lanes.data(), ngroups, acc.data());
        } else {
          std::fill(acc.begin(), acc.end(), 0);
          fields_scalar(w, &x[i * padded], nblocks, cols, group, acc.data());
        }
        double v = 0;  // the reference's order: sum over g of acc_g * scale_g, then / sx
        for (int64_t g = 0; g < ngroups; g++)
          v += static_cast<double>(acc[g] - asum[i * ngroups + g]) * static_cast<double>(scale[r * ngroups + g]);
        y[i * rows + r] = static_cast<float>(v / static_cast<double>(sx[i]));
      }
  });
}

}  // namespace

void ternary_matmul(const uint8_t* packed, int64_t rows, int64_t cols, const int8_t* xq, int64_t n,
                    int32_t* out) {
  if (rows == 0 || n == 0) return;
  Plan p;
  make_plan(p, rows, cols, xq, n, 0);
  run_plan(packed, p, [&](int64_t i0, int tile, int64_t r0, int64_t r1, const int32_t* acc) {
    for (int64_t r = r0; r < r1; r++)
      for (int t = 0; t < tile; t++) out[(i0 + t) * rows + r] = acc[(r - r0) * tile + t];
  });
}

void ternary_matmul_scaled(const uint8_t* packed, int64_t rows, int64_t cols, const int8_t* xq,
                           const float* sx, int64_t n, const float* scale, int scale_mode,
                           int64_t group_size, float* y) {
  if (rows == 0 || n == 0) return;
  if (scale_mode == 2 && group_size % kBlockCols != 0) return scaled_fields(packed, rows, cols, xq, sx, n, scale, group_size, y);
  Plan p;
  make_plan(p, rows, cols, xq, n, scale_mode == 2 ? group_size : 0);
  // The rescale in double, in the same order as the TS reference, so both give the same float.
  const int64_t nseg = p.nseg;
  run_plan(packed, p, [&](int64_t i0, int tile, int64_t r0, int64_t r1, const int32_t* acc) {
    if (tile == kWideTile && scale_mode != 2)  // a 2-row x 8-token tile's chunk: VNNI only, nseg == 1
      return rescale_tile8(acc, r1 - r0, scale_mode == 1 ? scale + r0 : nullptr, static_cast<double>(scale[0]), sx + i0,
                           y + i0 * rows + r0, rows);
    for (int t = 0; t < tile; t++) {
      const int64_t i = i0 + t;
      const double s_x = static_cast<double>(sx[i]);
      float* yi = y + i * rows;
      if (scale_mode == 2) {
        for (int64_t r = r0; r < r1; r++) {
          const int32_t* a = acc + ((r - r0) * tile + t) * nseg;
          const float* sc = scale + r * nseg;
          double v = 0;
          for (int64_t s = 0; s < nseg; s++) v += static_cast<double>(a[s]) * static_cast<double>(sc[s]);
          yi[r] = static_cast<float>(v / s_x);
        }
      } else {
        const float* sc = scale_mode == 1 ? scale : nullptr;
        const double s0 = static_cast<double>(scale[0]);
        for (int64_t r = r0; r < r1; r++) {
          const double v = static_cast<double>(acc[(r - r0) * tile + t]) * (sc ? static_cast<double>(sc[r]) : s0);
          yi[r] = static_cast<float>(v / s_x);
        }
      }
    }
  });
}

}  // namespace bitnet
