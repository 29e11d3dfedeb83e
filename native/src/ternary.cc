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

#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

constexpr int kMaxTile = 4;       // tokens per register tile
constexpr int64_t kFlushBlocks = 8;  // blocks between int16 -> int32 widenings (see above)

// res[t] = sum over blocks [b0, b1) of code * x, for T tokens whose padded rows start at x[t].
template <int T>
void dot_scalar(const uint8_t* w, const int8_t* const* x, int64_t b0, int64_t b1, int32_t* res) {
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

BITNET_AVX2 inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

template <int T>
BITNET_AVX2 void dot_avx2(const uint8_t* w, const int8_t* const* x, int64_t b0, int64_t b1, int32_t* res) {
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

template <int T>  // used with T = 1 (see pick_dot_t)
BITNET_VNNI void dot_vnni(const uint8_t* w, const int8_t* const* x, int64_t b0, int64_t b1, int32_t* res) {
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

using DotFn = void (*)(const uint8_t*, const int8_t* const*, int64_t, int64_t, int32_t*);

template <int T>
DotFn pick_dot_t(Isa level) {
  switch (level) {
    case Isa::Avx512Vnni: return T == 1 ? dot_vnni<1> : dot_avx2<T>;  // measured: VNNI wins the GEMV only
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

// The shared driver: activations padded to whole blocks, per-segment activation sums, rows split over
// the pool, and `emit(i0, tile, r, acc)` called with acc[t * nseg + s] = exact sum over segment s.
struct Plan {
  int64_t rows, cols, n, nblocks, row_bytes, nseg, seg_blocks;
  const int8_t* x;            // [n, nblocks * 128], padded with zeros
  std::vector<int8_t> xpad;   // owns x when cols is not a multiple of 128
  std::vector<int32_t> asum;  // [n, nseg] activation sums per segment
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
  p.asum.assign(static_cast<size_t>(n * p.nseg), 0);
  const int64_t seg_len = p.seg_blocks * kBlockCols;
  for (int64_t i = 0; i < n; i++) {
    const int8_t* xi = xq + i * cols;
    for (int64_t k = 0; k < cols; k++) p.asum[i * p.nseg + k / seg_len] += xi[k];
  }
}

template <class Emit>
void run_plan(const uint8_t* packed, const Plan& p, Emit&& emit) {
  const int nthreads = pool_threads();
  const int64_t grain = std::clamp<int64_t>(p.rows / (nthreads * 4), 1, 64);
  const Isa level = isa();
  const int64_t padded = p.nblocks * kBlockCols;
  pool_for(p.rows, grain, [&](int64_t r0, int64_t r1) {
    int32_t acc[kMaxTile * 64];
    std::vector<int32_t> big;
    int32_t* res = acc;
    if (p.nseg * kMaxTile > 64 * kMaxTile) {
      big.resize(static_cast<size_t>(p.nseg * kMaxTile));
      res = big.data();
    }
    for (int64_t i0 = 0; i0 < p.n; i0 += kMaxTile) {
      const int tile = static_cast<int>(std::min<int64_t>(kMaxTile, p.n - i0));
      const DotFn dot = pick_dot(tile, level);
      const int8_t* xs[kMaxTile];
      for (int t = 0; t < tile; t++) xs[t] = p.x + (i0 + t) * padded;
      for (int64_t r = r0; r < r1; r++) {
        const uint8_t* w = packed + r * p.row_bytes;
        int32_t part[kMaxTile];
        for (int64_t s = 0; s < p.nseg; s++) {
          const int64_t b0 = s * p.seg_blocks;
          dot(w, xs, b0, std::min(b0 + p.seg_blocks, p.nblocks), part);
          for (int t = 0; t < tile; t++) res[t * p.nseg + s] = part[t] - p.asum[(i0 + t) * p.nseg + s];
        }
        emit(i0, tile, r, res);
      }
    }
  });
}

}  // namespace

void ternary_matmul(const uint8_t* packed, int64_t rows, int64_t cols, const int8_t* xq, int64_t n,
                    int32_t* out) {
  if (rows == 0 || n == 0) return;
  Plan p;
  make_plan(p, rows, cols, xq, n, 0);
  run_plan(packed, p, [&](int64_t i0, int tile, int64_t r, const int32_t* acc) {
    for (int t = 0; t < tile; t++) out[(i0 + t) * rows + r] = acc[t];
  });
}

void ternary_matmul_scaled(const uint8_t* packed, int64_t rows, int64_t cols, const int8_t* xq,
                           const float* sx, int64_t n, const float* scale, int scale_mode,
                           int64_t group_size, float* y) {
  if (rows == 0 || n == 0) return;
  Plan p;
  make_plan(p, rows, cols, xq, n, scale_mode == 2 ? group_size : 0);
  // The rescale in double, in the same order as the TS reference, so both give the same float.
  run_plan(packed, p, [&](int64_t i0, int tile, int64_t r, const int32_t* acc) {
    for (int t = 0; t < tile; t++) {
      const int64_t i = i0 + t;
      double v;
      if (scale_mode == 2) {
        v = 0;
        const float* sc = scale + r * p.nseg;
        for (int64_t s = 0; s < p.nseg; s++) v += static_cast<double>(acc[t * p.nseg + s]) * static_cast<double>(sc[s]);
      } else {
        v = static_cast<double>(acc[t]) * static_cast<double>(scale[scale_mode == 1 ? r : 0]);
      }
      y[i * rows + r] = static_cast<float>(v / static_cast<double>(sx[i]));
    }
  });
}

}  // namespace bitnet
