// Training's bf16 matmul (train.matmul_precision "bf16"): C = bf16(op(A)) . bf16(op(B)) with float32
// accumulation, row-major, transpose flags as sgemm's. The inputs are rounded to bf16 (nearest, ties to
// even); a product of two bf16 values is exact in float32, so what the precision costs is that input
// rounding (8 significant bits) alone.
//
// With AVX-512 BF16 (vdpbf16ps: 32 multiply-adds per instruction, twice an fp32 FMA's 16): the operands
// are converted once, then sgemm's GotoBLAS structure on column pairs: op(B) in 16-column panels of
// KC/2 pairs (a pair of rows p, p+1 of a panel interleaved: 32 bf16 = one zmm), op(A) in 6-row
// micro-panels whose (row, pair) is one 32-bit broadcast, and a 12x16 tile (two micro-panels, 12 zmm
// accumulators). vdpbf16ps adds the pair's two products to the accumulator in an order of its own and
// flushes denormals, so its last bits are not sgemm's. Without it: the inputs rounded to bf16, then the
// float32 sgemm. Either way each element is summed by one thread in a fixed order: the result does not
// depend on the thread count.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "fp.h"
#include "kernels.h"
#include "pool.h"

#define BITNET_BF16 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512bf16")))

namespace bitnet {
namespace {

constexpr int64_t MR = 6;
constexpr int64_t NR = 16;
constexpr int64_t KC = 256;  // even: slices hold whole pairs
constexpr int64_t MC = 72;

// Round to nearest, ties to even; a NaN stays a (quiet) NaN.
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

inline float from_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

BITNET_BF16 void convert_bf16(const float* src, int64_t n, uint16_t* dst) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
    _mm512_storeu_si512(dst + i, (__m512i)v);
  }
  for (; i < n; i++) dst[i] = to_bf16(src[i]);
}

// The whole of x [n] in bf16 (AVX-512 BF16), spread over the pool.
void to_bf16_all(const float* x, int64_t n, uint16_t* out) {
  pool_for((n + 4095) / 4096, 1, [&](int64_t b, int64_t e) {
    const int64_t i0 = b * 4096, i1 = std::min(n, e * 4096);
    convert_bf16(x + i0, i1 - i0, out + i0);
  });
}

struct Gemm16 {
  int64_t m, n, k;
  const uint16_t* a;  // bf16, in A's own layout
  bool ta;
  const uint16_t* b;
  bool tb;
  float* c;
};

inline uint16_t opa(const Gemm16& g, int64_t i, int64_t p) { return g.ta ? g.a[p * g.m + i] : g.a[i * g.k + p]; }
inline uint16_t opb(const Gemm16& g, int64_t p, int64_t j) { return g.tb ? g.b[j * g.k + p] : g.b[p * g.n + j]; }

// dst[(p / 2) * 2 * width + 2 * x + (p & 1)] = get(x, p) for x < xs, p < kc (the rest zero): column
// pairs interleaved, read in the source's memory order (along k when it is contiguous in k).
template <class Get>
void pack_pairs(int64_t xs, int64_t kc, int64_t width, bool along_k, uint16_t* dst, Get&& get) {
  std::fill(dst, dst + (kc + 1) / 2 * 2 * width, uint16_t{0});
  if (along_k)
    for (int64_t x = 0; x < xs; x++)
      for (int64_t p = 0; p < kc; p++) dst[(p / 2) * 2 * width + 2 * x + (p & 1)] = get(x, p);
  else
    for (int64_t p = 0; p < kc; p++)
      for (int64_t x = 0; x < xs; x++) dst[(p / 2) * 2 * width + 2 * x + (p & 1)] = get(x, p);
}

// op(B)[pc .., panel columns] -> bp[q * 32 + 2j + h] = op(B)[pc + 2q + h][j0 + j], zero past k and n.
void pack_b(const Gemm16& g, int64_t pc, int64_t kc, int64_t panel, uint16_t* bp) {
  const int64_t j0 = panel * NR;
  pack_pairs(std::min(NR, g.n - j0), kc, NR, g.tb, bp, [&](int64_t j, int64_t p) { return opb(g, pc + p, j0 + j); });
}

// op(A)[ic .. ic+mc, pc ..] -> micro-panel q: ap[q * pairs * 12 + t * 12 + 2r + h] = op(A)[ic + 6q + r][pc + 2t + h].
void pack_a(const Gemm16& g, int64_t ic, int64_t mc, int64_t pc, int64_t kc, uint16_t* ap) {
  const int64_t pairs = (kc + 1) / 2;
  for (int64_t q = 0; q * MR < mc; q++) {
    const int64_t i0 = ic + q * MR;
    pack_pairs(std::min(MR, ic + mc - i0), kc, MR, !g.ta, ap + q * pairs * 2 * MR, [&](int64_t r, int64_t p) { return opa(g, i0 + r, pc + p); });
  }
}

// Rows i0 .. i0 + mr (mr <= 12: micro-panels ap0, ap1) x the panel's nr columns of C, = or += the slice.
BITNET_BF16 void micro_bf16(int64_t pairs, const uint16_t* ap0, const uint16_t* ap1, const uint16_t* bp, float* c,
                            int64_t ldc, int64_t mr, int64_t nr, bool accumulate) {
  __m512 acc[2 * MR];
#pragma GCC unroll 12
  for (int r = 0; r < 2 * MR; r++) acc[r] = _mm512_setzero_ps();
  for (int64_t t = 0; t < pairs; t++) {
    const __m512bh b = (__m512bh)_mm512_loadu_si512(bp + t * 2 * NR);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
      uint32_t x0, x1;
      std::memcpy(&x0, ap0 + t * 2 * MR + 2 * r, 4);
      std::memcpy(&x1, ap1 + t * 2 * MR + 2 * r, 4);
      acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_set1_epi32(static_cast<int>(x0)), b);
      acc[MR + r] = _mm512_dpbf16_ps(acc[MR + r], (__m512bh)_mm512_set1_epi32(static_cast<int>(x1)), b);
    }
  }
  store_tile16(acc, mr, nr, c, ldc, accumulate);
}

thread_local std::vector<uint16_t> tl_bpack16;
thread_local std::vector<uint16_t> tl_apack16;

void gemm_bf16_hw(const Gemm16& g) {
  const int64_t npanels = (g.n + NR - 1) / NR, nmb = (g.m + MC - 1) / MC;
  const int64_t target = 4 * static_cast<int64_t>(pool_threads());
  const int64_t nchunks = std::clamp<int64_t>((target + nmb - 1) / nmb, 1, npanels);
  const int64_t per_chunk = (npanels + nchunks - 1) / nchunks;
  std::vector<uint16_t>& bbuf = tl_bpack16;
  const size_t need = static_cast<size_t>(npanels * 2 * NR * ((std::min(KC, g.k) + 1) / 2));
  if (bbuf.size() < need) bbuf.resize(need);
  uint16_t* bpack = bbuf.data();
  for (int64_t pc = 0; pc < g.k; pc += KC) {
    const int64_t kc = std::min(KC, g.k - pc), pairs = (kc + 1) / 2;
    pool_for(npanels, std::max<int64_t>(1, npanels / target), [&](int64_t b, int64_t e) {
      for (int64_t jp = b; jp < e; jp++) pack_b(g, pc, kc, jp, bpack + jp * pairs * 2 * NR);
    });
    pool_for(nmb * nchunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t task = b; task < e; task++) {
        const int64_t ic = (task / nchunks) * MC, ch = task % nchunks;
        const int64_t p0 = ch * per_chunk, p1 = std::min(npanels, p0 + per_chunk);
        if (p0 >= p1) continue;
        const int64_t mc = std::min(MC, g.m - ic), nq = (mc + MR - 1) / MR;
        std::vector<uint16_t>& abuf = tl_apack16;
        // one spare zeroed micro-panel: an odd last one pairs with it
        const size_t aneed = static_cast<size_t>((nq + 1) * pairs * 2 * MR);
        if (abuf.size() < aneed) abuf.resize(aneed);
        pack_a(g, ic, mc, pc, kc, abuf.data());
        std::fill(abuf.data() + nq * pairs * 2 * MR, abuf.data() + (nq + 1) * pairs * 2 * MR, uint16_t{0});
        for (int64_t jp = p0; jp < p1; jp++) {
          const int64_t j0 = jp * NR, nr = std::min(NR, g.n - j0);
          for (int64_t q = 0; q < nq; q += 2) {
            const int64_t i0 = ic + q * MR;
            const uint16_t* ap = abuf.data() + q * pairs * 2 * MR;
            micro_bf16(pairs, ap, ap + pairs * 2 * MR, bpack + jp * pairs * 2 * NR, g.c + i0 * g.n + j0, g.n,
                       std::min(2 * MR, ic + mc - i0), nr, pc > 0);
          }
        }
      }
    });
  }
}

}  // namespace

bool bf16_hardware() { return cpu_features().avx512bf16 && isa() == Isa::Avx512Vnni; }

void sgemm_bf16(int64_t m, int64_t n, int64_t k, const float* a, bool trans_a, const float* b, bool trans_b, float* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::fill(c, c + m * n, 0.0f);
    return;
  }
  if (bf16_hardware()) {
    std::vector<uint16_t> a16(static_cast<size_t>(m * k)), b16(static_cast<size_t>(k * n));
    to_bf16_all(a, m * k, a16.data());
    to_bf16_all(b, k * n, b16.data());
    return gemm_bf16_hw(Gemm16{m, n, k, a16.data(), trans_a, b16.data(), trans_b, c});
  }
  // no bf16 instructions: the inputs rounded to bf16 (as floats) through the float32 sgemm
  std::vector<float> af(static_cast<size_t>(m * k)), bf(static_cast<size_t>(k * n));
  auto round_all = [](const float* x, int64_t len, float* out) {
    pool_for((len + 4095) / 4096, 1, [&](int64_t b0, int64_t e0) {
      for (int64_t i = b0 * 4096; i < std::min(len, e0 * 4096); i++) out[i] = from_bf16(to_bf16(x[i]));
    });
  };
  round_all(a, m * k, af.data());
  round_all(b, k * n, bf.data());
  sgemm_batched(1, m, n, k, af.data(), 0, trans_a, bf.data(), 0, trans_b, c, 0);
}

}  // namespace bitnet
