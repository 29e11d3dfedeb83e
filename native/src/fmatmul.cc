// Float matmuls for the embedding / output head: y[n, rows] = x[n, cols] . W[rows, cols]^T, with W in
// float32 or in raw IEEE fp16 bits, and the fp16 -> fp32 conversion itself.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "fp.h"
#include "kernels.h"
#include "pool.h"

namespace bitnet {

namespace {

struct LoadF32 {
  static float scalar(const float* w, int64_t k) { return w[k]; }
  BITNET_AVX2 static __m256 vec(const float* w, int64_t k) { return _mm256_loadu_ps(w + k); }
  BITNET_VNNI static __m512 vec16(const float* w, int64_t k) { return _mm512_loadu_ps(w + k); }
};
struct LoadF16 {
  static float scalar(const uint16_t* w, int64_t k) { return half_to_float(w[k]); }
  BITNET_AVX2 static __m256 vec(const uint16_t* w, int64_t k) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k)));
  }
  BITNET_VNNI static __m512 vec16(const uint16_t* w, int64_t k) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + k)));
  }
};

constexpr int kTok = 4;   // tokens per register tile
constexpr int kRows = 2;  // weight rows per register tile

// y[t][r] for a tile of up to kRows rows x kTok tokens; R, T are the tile's actual sizes.
template <class L, class W, int R, int T>
BITNET_AVX2 void tile_avx2(const float* const* x, const W* const* w, int64_t cols, float* out /*[T][R]*/) {
  __m256 acc[R][T];
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) acc[r][t] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= cols; k += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; r++) wv[r] = L::vec(w[r], k);
    for (int t = 0; t < T; t++) {
      const __m256 xv = _mm256_loadu_ps(x[t] + k);
      for (int r = 0; r < R; r++) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) {
      float s = hsum_ps(acc[r][t]);
      for (int64_t kk = k; kk < cols; kk++) s += L::scalar(w[r], kk) * x[t][kk];
      out[t * kRows + r] = s;
    }
}

template <class L, class W, int R, int T>
void tile_scalar(const float* const* x, const W* const* w, int64_t cols, float* out) {
  for (int r = 0; r < R; r++)
    for (int t = 0; t < T; t++) {
      float s = 0;
      for (int64_t k = 0; k < cols; k++) s += L::scalar(w[r], k) * x[t][k];
      out[t * kRows + r] = s;
    }
}

template <class L, class W>
using TileFn = void (*)(const float* const*, const W* const*, int64_t, float*);

template <class L, class W, int R>
TileFn<L, W> pick_tile_t(int t, bool avx2) {
  switch (t) {
    case 1: return avx2 ? tile_avx2<L, W, R, 1> : tile_scalar<L, W, R, 1>;
    case 2: return avx2 ? tile_avx2<L, W, R, 2> : tile_scalar<L, W, R, 2>;
    case 3: return avx2 ? tile_avx2<L, W, R, 3> : tile_scalar<L, W, R, 3>;
    default: return avx2 ? tile_avx2<L, W, R, 4> : tile_scalar<L, W, R, 4>;
  }
}

// ---- n == 1 (GEMV: the output head in generation) ----
// Memory-bound: each weight is used once, so the kernel must keep enough loads in flight to read at
// DRAM speed. The tile above has only 2 FMA chains for n == 1 (latency-bound at ~15 GB/s). This one reads
// one row at a time as a single sequential stream (measured faster than interleaving 4 rows, whose
// streams the prefetcher tracks worse) with 8 independent accumulators, 64 columns per step; a thread
// takes a long contiguous run of rows.
template <class L, class W>
BITNET_AVX2 void gemv_avx2(const float* x, int64_t cols, const W* w, int64_t r0, int64_t r1, float* y) {
  for (int64_t r = r0; r < r1; r++) {
    const W* wr = w + r * cols;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    int64_t k = 0;
    for (; k + 64 <= cols; k += 64) {
      a0 = _mm256_fmadd_ps(L::vec(wr, k), _mm256_loadu_ps(x + k), a0);
      a1 = _mm256_fmadd_ps(L::vec(wr, k + 8), _mm256_loadu_ps(x + k + 8), a1);
      a2 = _mm256_fmadd_ps(L::vec(wr, k + 16), _mm256_loadu_ps(x + k + 16), a2);
      a3 = _mm256_fmadd_ps(L::vec(wr, k + 24), _mm256_loadu_ps(x + k + 24), a3);
      a4 = _mm256_fmadd_ps(L::vec(wr, k + 32), _mm256_loadu_ps(x + k + 32), a4);
      a5 = _mm256_fmadd_ps(L::vec(wr, k + 40), _mm256_loadu_ps(x + k + 40), a5);
      a6 = _mm256_fmadd_ps(L::vec(wr, k + 48), _mm256_loadu_ps(x + k + 48), a6);
      a7 = _mm256_fmadd_ps(L::vec(wr, k + 56), _mm256_loadu_ps(x + k + 56), a7);
    }
    for (; k + 8 <= cols; k += 8) a0 = _mm256_fmadd_ps(L::vec(wr, k), _mm256_loadu_ps(x + k), a0);
    const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                   _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    float sum = hsum_ps(s);
    for (; k < cols; k++) sum += L::scalar(wr, k) * x[k];
    y[r] = sum;
  }
}

// The same on 512-bit vectors (4 chains of 16 lanes, 64 columns per step) with the weights prefetched
// 8 KB ahead: on the aligned, huge-page weight store (src/infer/store.ts) this reads the head at
// 38.7 GB/s where the 256-bit body reads 36.8 (measured, 2b4t shape, 1 thread).
template <class L, class W>
BITNET_VNNI void gemv_avx512(const float* x, int64_t cols, const W* w, int64_t r0, int64_t r1, float* y) {
  constexpr int64_t kAhead = 8192 / sizeof(W);
  for (int64_t r = r0; r < r1; r++) {
    const W* wr = w + r * cols;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t k = 0;
    for (; k + 64 <= cols; k += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(wr + k + kAhead), _MM_HINT_T0);
      if (sizeof(W) == 4) _mm_prefetch(reinterpret_cast<const char*>(wr + k + kAhead + 16), _MM_HINT_T0);
      a0 = _mm512_fmadd_ps(L::vec16(wr, k), _mm512_loadu_ps(x + k), a0);
      a1 = _mm512_fmadd_ps(L::vec16(wr, k + 16), _mm512_loadu_ps(x + k + 16), a1);
      a2 = _mm512_fmadd_ps(L::vec16(wr, k + 32), _mm512_loadu_ps(x + k + 32), a2);
      a3 = _mm512_fmadd_ps(L::vec16(wr, k + 48), _mm512_loadu_ps(x + k + 48), a3);
    }
    for (; k + 16 <= cols; k += 16) a0 = _mm512_fmadd_ps(L::vec16(wr, k), _mm512_loadu_ps(x + k), a0);
    const __m512 s = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    float sum = hsum_ps(_mm256_add_ps(_mm512_castps512_ps256(s), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1))));
    for (; k < cols; k++) sum += L::scalar(wr, k) * x[k];
    y[r] = sum;
  }
}

template <class L, class W>
void gemv(const float* x, int64_t cols, const W* w, int64_t rows, float* y) {
  const int nthreads = pool_threads();
  // About 4 chunks per thread (the pool hands them out dynamically, so a core taken by another
  // process does not hold the call back), each a contiguous run of at least 64 KB of W.
  const int64_t min_rows = (int64_t(1) << 16) / (cols * int64_t(sizeof(W))) + 1;
  const int64_t grain = std::max<int64_t>(min_rows, (rows + nthreads * 4 - 1) / (nthreads * 4));
  if (isa() == Isa::Avx512Vnni) {
    pool_for(rows, grain, [&](int64_t r0, int64_t r1) { gemv_avx512<L, W>(x, cols, w, r0, r1, y); });
  } else if (simd()) {
    pool_for(rows, grain, [&](int64_t r0, int64_t r1) { gemv_avx2<L, W>(x, cols, w, r0, r1, y); });
  } else {
    pool_for(rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; r++) {
        const W* wr = w + r * cols;
        float s = 0;
        for (int64_t k = 0; k < cols; k++) s += L::scalar(wr, k) * x[k];
        y[r] = s;
      }
    });
  }
}

template <class L, class W>
void matmul_rows(const float* x, int64_t n, int64_t cols, const W* w, int64_t rows, float* y) {
  if (rows == 0 || n == 0) return;
  if (n == 1) return gemv<L, W>(x, cols, w, rows, y);
  const bool avx2 = simd();
  const int nthreads = pool_threads();
  const int64_t grain = std::clamp<int64_t>(rows / (nthreads * 8), 2, 32) & ~int64_t(1);
  pool_for(rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t i0 = 0; i0 < n; i0 += kTok) {
      const int tt = static_cast<int>(std::min<int64_t>(kTok, n - i0));
      const float* xs[kTok];
      for (int t = 0; t < tt; t++) xs[t] = x + (i0 + t) * cols;
      for (int64_t r = r0; r < r1; r += kRows) {
        const int rr = static_cast<int>(std::min<int64_t>(kRows, r1 - r));
        const W* ws[kRows];
        for (int j = 0; j < rr; j++) ws[j] = w + (r + j) * cols;
        float out[kTok * kRows];
        const TileFn<L, W> fn = rr == 2 ? pick_tile_t<L, W, 2>(tt, avx2) : pick_tile_t<L, W, 1>(tt, avx2);
        fn(xs, ws, cols, out);
        for (int t = 0; t < tt; t++)
          for (int j = 0; j < rr; j++) y[(i0 + t) * rows + r + j] = out[t * kRows + j];
      }
    }
  });
}

BITNET_AVX2 void f16_to_f32_avx2(const uint16_t* src, float* dst, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < count; i++) dst[i] = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(src[i])));
}

}  // namespace

void matmul_f32(const float* x, int64_t n, int64_t cols, const float* w, int64_t rows, float* y) {
  matmul_rows<LoadF32, float>(x, n, cols, w, rows, y);
}

void matmul_f16(const float* x, int64_t n, int64_t cols, const uint16_t* w, int64_t rows, float* y) {
  matmul_rows<LoadF16, uint16_t>(x, n, cols, w, rows, y);
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t count) {
  if (simd()) {
    f16_to_f32_avx2(src, dst, count);
  } else {
    for (int64_t i = 0; i < count; i++) dst[i] = half_to_float(src[i]);
  }
}

}  // namespace bitnet
