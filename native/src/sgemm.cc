// Training sgemm: C = op(A) . op(B), float32, row-major, with transpose flags handled by packing
// (so all four flag combinations run the same register-blocked kernel). GotoBLAS/BLIS structure:
// for each KC-slice of k, op(B) is packed into NR-column panels (shared by all threads), then
// MC-row blocks of op(A) are packed into MR-row micro-panels per task, and a 6x16 AVX2 FMA micro-kernel
// (12 ymm accumulators) computes each MR x NR tile of C. Every C element is summed by one thread in
// a fixed k order, so the result does not depend on the thread count.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "fp.h"
#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

constexpr int64_t MR = 6;
constexpr int64_t NR = 16;
constexpr int64_t KC = 256;
constexpr int64_t MC = 72;  // a multiple of MR; MC x KC floats of A (72 KB) stay in L2

struct Gemm {
  int64_t m, n, k;
  const float* a;
  bool ta;
  const float* b;
  bool tb;
  float* c;
};

// op(B)[pc .. pc+kc, panel columns] -> bp[p * NR + j], zero past n.
void pack_b_panel(const Gemm& g, int64_t pc, int64_t kc, int64_t panel, float* bp) {
  const int64_t j0 = panel * NR;
  const int64_t nr = std::min(NR, g.n - j0);
  for (int64_t p = 0; p < kc; p++) {
    float* dst = bp + p * NR;
    if (!g.tb) {
      const float* src = g.b + (pc + p) * g.n + j0;
      std::memcpy(dst, src, static_cast<size_t>(nr) * sizeof(float));
    } else {
      for (int64_t j = 0; j < nr; j++) dst[j] = g.b[(j0 + j) * g.k + pc + p];
    }
    for (int64_t j = nr; j < NR; j++) dst[j] = 0;
  }
}

// op(A)[ic .. ic+mc, pc .. pc+kc] -> ap: micro-panel q holds rows ic+6q.., as ap[q*kc*MR + p*MR + r].
void pack_a_block(const Gemm& g, int64_t ic, int64_t mc, int64_t pc, int64_t kc, float* ap) {
  for (int64_t q = 0; q * MR < mc; q++) {
    float* dst = ap + q * kc * MR;
    const int64_t i0 = ic + q * MR;
    const int64_t mr = std::min(MR, ic + mc - i0);
    if (!g.ta) {
      for (int64_t r = 0; r < mr; r++) {
        const float* src = g.a + (i0 + r) * g.k + pc;
        for (int64_t p = 0; p < kc; p++) dst[p * MR + r] = src[p];
      }
    } else {
      for (int64_t p = 0; p < kc; p++) {
        const float* src = g.a + (pc + p) * g.m + i0;
        for (int64_t r = 0; r < mr; r++) dst[p * MR + r] = src[r];
      }
    }
    for (int64_t r = mr; r < MR; r++)
      for (int64_t p = 0; p < kc; p++) dst[p * MR + r] = 0;
  }
}

// C tile (mr x nr at c, row stride ldc) = or += ap-panel . bp-panel.
BITNET_AVX2 void micro_avx2(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int64_t mr,
                            int64_t nr, bool accumulate) {
  __m256 acc[MR][2];  // 12 accumulators: fully unrolled, they live in registers
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; p++) {
    const __m256 b0 = _mm256_loadu_ps(bp);
    const __m256 b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      const __m256 a = _mm256_broadcast_ss(ap + r);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
    ap += MR;
    bp += NR;
  }
  alignas(32) float t[MR * NR];
#pragma GCC unroll 6
  for (int r = 0; r < MR; r++) {
    _mm256_store_ps(t + r * NR, acc[r][0]);
    _mm256_store_ps(t + r * NR + 8, acc[r][1]);
  }
  if (mr == MR && nr == NR) {
    for (int64_t r = 0; r < MR; r++) {
      float* cr = c + r * ldc;
      __m256 v0 = _mm256_load_ps(t + r * NR), v1 = _mm256_load_ps(t + r * NR + 8);
      if (accumulate) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));
      }
      _mm256_storeu_ps(cr, v0);
      _mm256_storeu_ps(cr + 8, v1);
    }
    return;
  }
  for (int64_t r = 0; r < mr; r++)
    for (int64_t j = 0; j < nr; j++) c[r * ldc + j] = (accumulate ? c[r * ldc + j] : 0.0f) + t[r * NR + j];
}

// Two micro-panels of A at once (12 rows) on 512-bit vectors: 12 zmm accumulators of 16 columns, the
// A values broadcast straight from memory. The same FMA per (element, k) in the same k order as the
// 6x16 AVX2 kernel, so the results are identical to it; twice the flops per instruction (measured:
// BatchMatMul 122 -> 86 ms of a tiny-b158 step).
BITNET_VNNI void micro_avx512_12(int64_t kc, const float* ap0, const float* ap1, const float* bp, float* c, int64_t ldc,
                                 int64_t mr, int64_t nr, bool accumulate) {
  __m512 acc[2 * MR];
#pragma GCC unroll 12
  for (int r = 0; r < 2 * MR; r++) acc[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; p++) {
    const __m512 b = _mm512_loadu_ps(bp);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ap0[r]), b, acc[r]);
      acc[MR + r] = _mm512_fmadd_ps(_mm512_set1_ps(ap1[r]), b, acc[MR + r]);
    }
    ap0 += MR;
    ap1 += MR;
    bp += NR;
  }
  store_tile16(acc, mr, nr, c, ldc, accumulate);
}

void micro_scalar(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int64_t mr, int64_t nr,
                  bool accumulate) {
  float t[MR * NR] = {};
  for (int64_t p = 0; p < kc; p++)
    for (int64_t r = 0; r < MR; r++)
      for (int64_t j = 0; j < NR; j++) t[r * NR + j] += ap[p * MR + r] * bp[p * NR + j];
  for (int64_t r = 0; r < mr; r++)
    for (int64_t j = 0; j < nr; j++) c[r * ldc + j] = (accumulate ? c[r * ldc + j] : 0.0f) + t[r * NR + j];
}

thread_local std::vector<float> tl_bpack;
thread_local std::vector<float> tl_apack;

// One (row block, panel range) of C for the current KC slice.
void compute_block(const Gemm& g, const float* bpack, int64_t pc, int64_t kc, int64_t ic, int64_t p0, int64_t p1,
                   bool avx2, bool avx512) {
  const int64_t mc = std::min(MC, g.m - ic);
  std::vector<float>& abuf = tl_apack;
  const size_t need = static_cast<size_t>((mc + MR - 1) / MR * MR * kc);
  if (abuf.size() < need) abuf.resize(need);
  pack_a_block(g, ic, mc, pc, kc, abuf.data());
  for (int64_t jp = p0; jp < p1; jp++) {
    const int64_t j0 = jp * NR;
    const int64_t nr = std::min(NR, g.n - j0);
    for (int64_t q = 0; q * MR < mc; q++) {
      const int64_t i0 = ic + q * MR;
      const int64_t mr = std::min(MR, ic + mc - i0);
      float* ct = g.c + i0 * g.n + j0;
      const float* ap = abuf.data() + q * kc * MR;
      const float* bp = bpack + jp * kc * NR;
      if (avx512 && (q + 1) * MR < mc) {  // two panels: rows i0 .. i0 + 11 (the second may be partial)
        micro_avx512_12(kc, ap, ap + kc * MR, bp, ct, g.n, std::min(2 * MR, ic + mc - i0), nr, pc > 0);
        q++;
      } else if (avx2) micro_avx2(kc, ap, bp, ct, g.n, mr, nr, pc > 0);
      else micro_scalar(kc, ap, bp, ct, g.n, mr, nr, pc > 0);
    }
  }
}

void gemm_one(const Gemm& g, bool parallel) {
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) {
    std::fill(g.c, g.c + g.m * g.n, 0.0f);
    return;
  }
  const bool avx2 = simd(), avx512 = isa() == Isa::Avx512Vnni;
  const int64_t npanels = (g.n + NR - 1) / NR;
  const int64_t nmb = (g.m + MC - 1) / MC;
  const int nthreads = parallel ? pool_threads() : 1;
  const int64_t target = 4 * static_cast<int64_t>(nthreads);
  const int64_t nchunks = std::clamp<int64_t>((target + nmb - 1) / nmb, 1, npanels);
  const int64_t per_chunk = (npanels + nchunks - 1) / nchunks;
  std::vector<float>& bbuf = tl_bpack;
  const size_t need = static_cast<size_t>(npanels * NR * std::min(KC, g.k));
  if (bbuf.size() < need) bbuf.resize(need);
  float* bpack = bbuf.data();
  for (int64_t pc = 0; pc < g.k; pc += KC) {
    const int64_t kc = std::min(KC, g.k - pc);
    auto pack = [&](int64_t b, int64_t e) {
      for (int64_t jp = b; jp < e; jp++) pack_b_panel(g, pc, kc, jp, bpack + jp * kc * NR);
    };
    auto compute = [&](int64_t b, int64_t e) {
      for (int64_t task = b; task < e; task++) {
        const int64_t mb = task / nchunks, ch = task % nchunks;
        const int64_t p0 = ch * per_chunk, p1 = std::min(npanels, p0 + per_chunk);
        if (p0 < p1) compute_block(g, bpack, pc, kc, mb * MC, p0, p1, avx2, avx512);
      }
    };
    if (parallel) {
      pool_for(npanels, std::max<int64_t>(1, npanels / target), pack);
      pool_for(nmb * nchunks, 1, compute);
    } else {
      pack(0, npanels);
      compute(0, nmb * nchunks);
    }
  }
}

}  // namespace

void sgemm_batched(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, int64_t stride_a,
                   bool trans_a, const float* b, int64_t stride_b, bool trans_b, float* c,
                   int64_t stride_c) {
  auto item = [&](int64_t i) {
    return Gemm{m, n, k, a + i * stride_a, trans_a, b + i * stride_b, trans_b, c + i * stride_c};
  };
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const int nthreads = pool_threads();
  // Small matrices: one thread per batch item (no per-matrix synchronization); large ones: all threads
  // on each matrix in turn.
  if (batch > 1 && (batch >= 4 * nthreads || flops < 4e6)) {
    pool_for(batch, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; i++) gemm_one(item(i), false);
    });
    return;
  }
  const bool parallel = flops >= 2e5 && nthreads > 1;
  for (int64_t i = 0; i < batch; i++) gemm_one(item(i), parallel);
}

}  // namespace bitnet
