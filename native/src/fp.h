// Helpers shared by the kernels (fmatmul.cc, quants.cc, ternary.cc, tq_blocks.cc, sgemm*.cc): IEEE binary16 ->
// binary32 in portable C++, a little-endian 16-bit read, horizontal sums of 8 lanes (float in one
// fixed order, int32 exact), and the masked store of a 16-column float tile.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels.h"

namespace bitnet {

// Exact; a NaN keeps its payload and becomes quiet, as F16C's vcvtph2ps does, so scalar and SIMD bodies agree.
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalize
    int e = 113;
    while (!(mant & 0x400)) {
      mant <<= 1;
      e--;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)), each add rounded to float: the order quants.cc's contract names.
BITNET_AVX2 inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline uint16_t rd16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);  // little-endian host (x86)
  return v;
}

BITNET_AVX2 inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// Rows 0 .. mr of a tile of 16 float columns (acc[r], nr of its columns live) into C (row stride ldc), = or +=.
BITNET_VNNI inline void store_tile16(const __m512* acc, int64_t mr, int64_t nr, float* c, int64_t ldc, bool accumulate) {
  const __mmask16 cols = nr >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << nr) - 1);
  for (int64_t r = 0; r < mr; r++) {
    float* cr = c + r * ldc;
    __m512 v = acc[r];
    if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(cols, cr));
    _mm512_mask_storeu_ps(cr, cols, v);
  }
}

}  // namespace bitnet
