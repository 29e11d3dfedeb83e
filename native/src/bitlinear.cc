// Training's BitLinear forward as an integer GEMM (contract: src/native/train-kernels.ts bitLinearForward).
//
// The training forward holds its quantized operands as fake-quant floats: activations xq = q / sx
// (q an int8 or int4 code per element, sx one scale per row) and weights wq = t * beta (t in {-1, 0, 1},
// beta one per granule). Both give their codes back exactly: |xq * sx - q| <= |q| * 2^-23 < 0.5, and
// t = sign(wq). So y = x . W^T is computed as the engine computes it: exact int32 sums of code products,
// then one rescale per output in double, sum over segments s of (acc_s * scale_s), divided by sx. The same
// integers and the same double operations as ternary_matmul_scaled, so a BitLinear's output in training
// and in the engine are the same float for the same inputs.
//
// Kernel: the weight codes as unsigned c = t + 1 in {0, 1, 2}, in panels of 16 output rows by 4
// columns (64 bytes: row o's 4 codes at bytes 4o..4o+3), so that one vpdpbusd multiplies a panel's
// 16 x 4 codes by one token's 4 activation codes broadcast: sum c * x, from which sum x is taken back
// off (sum c*x - sum x = sum t*x). A register tile is 8 tokens x 2 panels (16 zmm accumulators) on
// AVX-512 VNNI, 6 tokens x 1 panel on AVX2 (maddubs summed in int16 over chunks of quads, then madd
// into int32 sums kept in memory: see tile_avx2), 4 x 1 in scalar code.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

constexpr int64_t kPanel = 16;      // output rows per panel
constexpr int64_t kPanelQuad = 64;  // bytes per panel per 4 columns
constexpr int64_t kTokenBlock = 64; // tokens per work item (a panel pair's weights stay in L1 across them)

inline int32_t load4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// acc[t * 32 + o] = sum over nq column quads of panel codes (row o) times token t's codes, t < MR,
// o < 16 * NP; w points at panel 0 of the tile at the first quad, panels pstride bytes apart; x at
// token 0's first code, tokens xstride bytes apart.
template <int MR, int NP>
BITNET_VNNI void tile_vnni(const uint8_t* w, int64_t pstride, const int8_t* x, int64_t xstride, int64_t nq, int32_t* acc) {
  __m512i a[MR][NP];
  for (int t = 0; t < MR; t++)
    for (int p = 0; p < NP; p++) a[t][p] = _mm512_setzero_si512();
  for (int64_t q = 0; q < nq; q++) {
    __m512i wv[NP];
    for (int p = 0; p < NP; p++) wv[p] = _mm512_loadu_si512(w + p * pstride + q * kPanelQuad);
    for (int t = 0; t < MR; t++) {
      const __m512i b = _mm512_set1_epi32(load4(x + t * xstride + 4 * q));
      for (int p = 0; p < NP; p++) a[t][p] = _mm512_dpbusd_epi32(a[t][p], wv[p], b);
    }
  }
  for (int t = 0; t < MR; t++)
    for (int p = 0; p < NP; p++) _mm512_storeu_si512(acc + t * 32 + p * 16, a[t][p]);
}

// AVX2 has no vpdpbusd: maddubs gives int16 sums of code pairs, c0*x0 + c1*x1 in [-512, 508] (c <= 2,
// |x| <= 128), which are summed in int16 over chunks of kChunk16 quads (|sum| <= 64 * 512 = 32768 at
// worst: exact at 32 and 64) and widened (madd by ones) into the int32 sums once per chunk, not once
// per quad: half the multiply-port work of widening every step. Still exact integer sums.
constexpr int64_t kChunk16 = 32;

template <int MR>
BITNET_AVX2 void tile_avx2(const uint8_t* w, int64_t, const int8_t* x, int64_t xstride, int64_t nq, int32_t* acc) {
  // The int32 sums live in acc (memory), touched once per chunk: the registers hold only the int16
  // chunk sums (2 per token), the panel's two halves and the broadcast, 2 * MR + 3 of the 16 ymm.
  const __m256i ones = _mm256_set1_epi16(1);
  for (int t = 0; t < MR; t++) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + t * 32), _mm256_setzero_si256());
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + t * 32 + 8), _mm256_setzero_si256());
  }
  for (int64_t q0 = 0; q0 < nq; q0 += kChunk16) {
    const int64_t q1 = std::min(nq, q0 + kChunk16);
    __m256i h[MR][2];
    for (int t = 0; t < MR; t++) h[t][0] = h[t][1] = _mm256_setzero_si256();
    for (int64_t q = q0; q < q1; q++) {
      const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + q * kPanelQuad));
      const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + q * kPanelQuad + 32));
      for (int t = 0; t < MR; t++) {
        const __m256i b = _mm256_set1_epi32(load4(x + t * xstride + 4 * q));
        h[t][0] = _mm256_add_epi16(h[t][0], _mm256_maddubs_epi16(w0, b));
        h[t][1] = _mm256_add_epi16(h[t][1], _mm256_maddubs_epi16(w1, b));
      }
    }
    for (int t = 0; t < MR; t++) {
      __m256i* a0 = reinterpret_cast<__m256i*>(acc + t * 32);
      __m256i* a1 = reinterpret_cast<__m256i*>(acc + t * 32 + 8);
      _mm256_storeu_si256(a0, _mm256_add_epi32(_mm256_loadu_si256(a0), _mm256_madd_epi16(h[t][0], ones)));
      _mm256_storeu_si256(a1, _mm256_add_epi32(_mm256_loadu_si256(a1), _mm256_madd_epi16(h[t][1], ones)));
    }
  }
}

template <int MR>
void tile_scalar(const uint8_t* w, int64_t, const int8_t* x, int64_t xstride, int64_t nq, int32_t* acc) {
  for (int t = 0; t < MR; t++)
    for (int o = 0; o < kPanel; o++) {
      int32_t s = 0;
      for (int64_t q = 0; q < nq; q++)
        for (int j = 0; j < 4; j++) s += static_cast<int32_t>(w[q * kPanelQuad + 4 * o + j]) * x[t * xstride + 4 * q + j];
      acc[t * 32 + o] = s;
    }
}

// Row i's codes round(xq * s) into c; false if one is NaN or outside [-128, 127] (not a code).
bool codes_row_scalar(const float* x, int64_t cols, float s, int8_t* c) {
  bool ok = true;
  for (int64_t k = 0; k < cols; k++) {
    const float v = std::nearbyint(x[k] * s);
    const bool in = v >= -128.0f && v <= 127.0f;
    ok = ok && in;
    c[k] = in ? static_cast<int8_t>(v) : 0;
  }
  return ok;
}

BITNET_AVX2 __m256i codes8(const float* x, __m256 s, __m256 lo, __m256 hi, __m256& ok) {
  const __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x), s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  ok = _mm256_and_ps(ok, _mm256_and_ps(_mm256_cmp_ps(v, lo, _CMP_GE_OQ), _mm256_cmp_ps(v, hi, _CMP_LE_OQ)));
  return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));  // NaN: lo (the row is bad anyway)
}

BITNET_AVX2 bool codes_row_avx2(const float* x, int64_t cols, float s, int8_t* c) {
  const __m256 sv = _mm256_set1_ps(s), lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256 ok = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  int64_t k = 0;
  for (; k + 32 <= cols; k += 32) {
    const __m256i a = codes8(x + k, sv, lo, hi, ok), b = codes8(x + k + 8, sv, lo, hi, ok);
    const __m256i d = codes8(x + k + 16, sv, lo, hi, ok), e = codes8(x + k + 24, sv, lo, hi, ok);
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(d, e));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + k), _mm256_permutevar8x32_epi32(p, perm));
  }
  return codes_row_scalar(x + k, cols - k, s, c + k) && _mm256_movemask_ps(ok) == 0xff;
}

// y[r] = float(double(a[r] - sub) * scale / s_x) with scale = sc[r], or sc0 when sc is null: one
// body, compiled for each ISA so that the double arithmetic runs as wide as the CPU allows.
__attribute__((always_inline)) inline void rescale_body(const int32_t* a, int64_t len, double sub, const float* sc, double sc0, double s_x, float* y) {
  if (sc == nullptr)
    for (int64_t r = 0; r < len; r++) y[r] = static_cast<float>((a[r] - sub) * sc0 / s_x);
  else
    for (int64_t r = 0; r < len; r++) y[r] = static_cast<float>((a[r] - sub) * static_cast<double>(sc[r]) / s_x);
}
void rescale_scalar(const int32_t* a, int64_t len, double sub, const float* sc, double sc0, double s_x, float* y) { rescale_body(a, len, sub, sc, sc0, s_x, y); }
BITNET_AVX2 void rescale_avx2(const int32_t* a, int64_t len, double sub, const float* sc, double sc0, double s_x, float* y) { rescale_body(a, len, sub, sc, sc0, s_x, y); }
BITNET_VNNI void rescale_vnni(const int32_t* a, int64_t len, double sub, const float* sc, double sc0, double s_x, float* y) { rescale_body(a, len, sub, sc, sc0, s_x, y); }

using TileFn = void (*)(const uint8_t*, int64_t, const int8_t*, int64_t, int64_t, int32_t*);

struct Shape {
  int mr, np;  // the largest tile: tokens, panels
};

Shape tile_shape(Isa level) { return level == Isa::Avx512Vnni ? Shape{8, 2} : level == Isa::Avx2 ? Shape{6, 1} : Shape{4, 1}; }

template <int NP, int... M>
TileFn pick_vnni(int mr, std::integer_sequence<int, M...>) {
  TileFn fns[] = {tile_vnni<M + 1, NP>...};
  return fns[mr - 1];
}

TileFn pick_tile(Isa level, int mr, int np) {
  if (level == Isa::Avx512Vnni)
    return np == 2 ? pick_vnni<2>(mr, std::make_integer_sequence<int, 8>{}) : pick_vnni<1>(mr, std::make_integer_sequence<int, 8>{});
  static const TileFn avx2[] = {tile_avx2<1>, tile_avx2<2>, tile_avx2<3>, tile_avx2<4>, tile_avx2<5>, tile_avx2<6>};
  static const TileFn scalar[] = {tile_scalar<1>, tile_scalar<2>, tile_scalar<3>, tile_scalar<4>};
  return (level == Isa::Avx2 ? avx2 : scalar)[mr - 1];
}

}  // namespace

void bitlinear_forward(const float* xq, const float* sx, int64_t n, int64_t cols, const float* wq, int64_t rows,
                       const float* scale, int64_t nscale, int64_t group, float* y) {
  if (n == 0 || rows == 0) return;
  const int64_t k4 = (cols + 3) / 4 * 4, nq = k4 / 4;
  const int64_t nseg = group > 0 ? cols / group : 1, seg_q = group > 0 ? group / 4 : nq;
  const int64_t npanels = (rows + kPanel - 1) / kPanel;

  // The activation codes, zero-padded to whole quads; per-segment sums; rows whose codes are not finite.
  std::vector<int8_t> xc(static_cast<size_t>(n * k4), 0);
  std::vector<int32_t> asum(static_cast<size_t>(n * nseg), 0);
  std::vector<uint8_t> bad(static_cast<size_t>(n), 0);
  const bool avx2 = simd();
  pool_for(n, std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(cols, 1)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const float s = sx[i];
      int8_t* c = xc.data() + i * k4;
      bool ok = s > 0 && !std::isinf(s);
      ok = (avx2 ? codes_row_avx2 : codes_row_scalar)(xq + i * cols, cols, s, c) && ok;
      bad[i] = !ok;
      int32_t* as = asum.data() + i * nseg;
      const int64_t seg = group > 0 ? group : cols;
      for (int64_t g = 0; g < nseg; g++) {
        int32_t sum = 0;
        for (int64_t k = g * seg; k < (g + 1) * seg; k++) sum += c[k];
        as[g] = sum;
      }
    }
  });

  // The weight codes in panels, c = sign(wq) + 1; rows past `rows` and columns past `cols` get c = 1 (t = 0).
  const int64_t pstride = nq * kPanelQuad;
  std::vector<uint8_t> wp(static_cast<size_t>(npanels * pstride), 1);
  pool_for(npanels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      const int64_t live = std::min(kPanel, rows - p * kPanel);
      uint8_t* dst = wp.data() + p * pstride;
      for (int64_t q = 0; q < nq; q++, dst += kPanelQuad)  // written in order, read from `live` rows at once
        for (int64_t o = 0; o < live; o++) {
          const float* wr = wq + (p * kPanel + o) * cols + 4 * q;
          for (int64_t j = 0; j < 4 && 4 * q + j < cols; j++)
            dst[4 * o + j] = static_cast<uint8_t>(1 + (wr[j] > 0) - (wr[j] < 0));
        }
    }
  });

  const Isa level = isa();
  const Shape shape = tile_shape(level);
  const auto rescale = level == Isa::Avx512Vnni ? rescale_vnni : level == Isa::Avx2 ? rescale_avx2 : rescale_scalar;
  const int64_t ngroups = (npanels + shape.np - 1) / shape.np, nblocks = (n + kTokenBlock - 1) / kTokenBlock;
  pool_for(nblocks * ngroups, 1, [&](int64_t w0, int64_t w1) {
    int32_t acc[8 * 32];
    double v[8 * 32];
    for (int64_t item = w0; item < w1; item++) {
      const int64_t pg = item % ngroups, tb = item / ngroups;
      const int64_t p0 = pg * shape.np, np = std::min<int64_t>(shape.np, npanels - p0);
      const int64_t r0 = p0 * kPanel, r1 = std::min(rows, (p0 + np) * kPanel);
      for (int64_t i0 = tb * kTokenBlock; i0 < std::min(n, (tb + 1) * kTokenBlock); i0 += shape.mr) {
        const int mr = static_cast<int>(std::min<int64_t>(shape.mr, n - i0));
        const TileFn tile = pick_tile(level, mr, static_cast<int>(np));
        if (nseg == 1) {  // one sum per output: y = float(double(acc - asum) * scale / sx), as the engine
          tile(wp.data() + p0 * pstride, pstride, xc.data() + i0 * k4, k4, nq, acc);
          for (int t = 0; t < mr; t++) {
            const int64_t i = i0 + t;
            const double s_x = static_cast<double>(sx[i]), sub = asum[i];
            const int32_t* a = acc + t * 32 - r0;
            float* yi = y + i * rows;
            rescale(a + r0, r1 - r0, sub, nscale == 1 ? nullptr : scale + r0, scale[0], s_x, yi + r0);
          }
        } else {
          std::fill(v, v + 8 * 32, 0.0);
          for (int64_t s = 0; s < nseg; s++) {
            const int64_t q0 = s * seg_q;
            tile(wp.data() + p0 * pstride + q0 * kPanelQuad, pstride, xc.data() + i0 * k4 + 4 * q0, k4, seg_q, acc);
            // the engine's order: v = sum over segments of (acc_s - asum_s) * scale, in double
            for (int t = 0; t < mr; t++)
              for (int64_t r = r0; r < r1; r++) {
                const double sc = nscale == 1 ? scale[0] : scale[r * nseg + s];
                v[t * 32 + (r - r0)] += static_cast<double>(acc[t * 32 + (r - r0)] - asum[(i0 + t) * nseg + s]) * sc;
              }
          }
          for (int t = 0; t < mr; t++) {
            const double s_x = static_cast<double>(sx[i0 + t]);
            float* yi = y + (i0 + t) * rows;
            for (int64_t r = r0; r < r1; r++) yi[r] = static_cast<float>(v[t * 32 + (r - r0)] / s_x);
          }
        }
        for (int t = 0; t < mr; t++)  // rows with a non-finite code: NaN, as the float path
          if (bad[i0 + t]) std::fill(y + (i0 + t) * rows + r0, y + (i0 + t) * rows + r1, std::nanf(""));
      }
    }
  });
}

}  // namespace bitnet
