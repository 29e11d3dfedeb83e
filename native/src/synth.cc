// `bitnet synth`'s ternary tensors at disk speed: the codes of a random ternary matrix, packed
// straight into TQ1_0, TQ2_0 or I2_S blocks, rows in parallel. The TypeScript twin, which defines the
// codes and is what this is tested against byte for byte, is src/infer/synth-codes.ts: code of element
// i (row-major, 64-bit index) from a counter hash, so any row can be made without the ones before it.
#include <cstring>

#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

inline uint32_t fmix32(uint32_t h) {  // MurmurHash3's finalizer
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// synth-codes.ts ZERO_BELOW: P(t = 0) = 0.31006, the share of zeros absmean quantization gives normals
constexpr uint32_t kZeroBelow = 1331715453u;

// The codes c = t + 1 of the 256 (TQ) or 128 (I2_S) elements from e0: one block never crosses a
// multiple of 2^32, so the high word's hash is taken once per block.
void block_codes(uint32_t seed, uint64_t e0, int count, uint8_t* c) {
  const uint32_t base = fmix32(seed ^ fmix32(static_cast<uint32_t>(e0 >> 32) + 0x9E3779B9u));
  const uint32_t lo = static_cast<uint32_t>(e0);
  for (int k = 0; k < count; k++) {
    const uint32_t h = fmix32(((lo + static_cast<uint32_t>(k)) * 0x9E3779B1u) ^ base);
    c[k] = h < kZeroBelow ? 1 : static_cast<uint8_t>((h & 1) << 1);
  }
}

void tq1_block(const uint8_t* c, uint16_t d16, uint8_t* o) {
  for (int m = 0; m < 32; m++) {
    const int q = (((c[m] * 3 + c[m + 32]) * 3 + c[m + 64]) * 3 + c[m + 96]) * 3 + c[m + 128];
    o[m] = static_cast<uint8_t>((q * 256 + 242) / 243);
  }
  for (int m = 0; m < 16; m++) {
    const uint8_t* e = c + 160 + m;
    const int q = (((e[0] * 3 + e[16]) * 3 + e[32]) * 3 + e[48]) * 3 + e[64];
    o[32 + m] = static_cast<uint8_t>((q * 256 + 242) / 243);
  }
  for (int j = 0; j < 4; j++) {
    const uint8_t* e = c + 240 + j;
    const int q = (((e[0] * 3 + e[4]) * 3 + e[8]) * 3 + e[12]) * 3;
    o[48 + j] = static_cast<uint8_t>((q * 256 + 242) / 243);
  }
  std::memcpy(o + 52, &d16, 2);
}

void tq2_block(const uint8_t* c, uint16_t d16, uint8_t* o) {
  for (int h = 0; h < 2; h++)
    for (int m = 0; m < 32; m++) {
      const uint8_t* e = c + 128 * h + m;
      o[32 * h + m] = static_cast<uint8_t>(e[0] | (e[32] << 2) | (e[64] << 4) | (e[96] << 6));
    }
  std::memcpy(o + 64, &d16, 2);
}

void i2s_block(const uint8_t* c, uint8_t* o) {
  for (int m = 0; m < 32; m++) o[m] = static_cast<uint8_t>((c[m] << 6) | (c[m + 32] << 4) | (c[m + 64] << 2) | c[m + 96]);
}

// fp32 -> fp16 bits, round to nearest even (src/quant/fp16.ts f32ToF16Bits, the same steps).
uint16_t round_shift(uint32_t v, int sh) {
  const uint32_t q = v >> sh, rem = v & ((1u << sh) - 1), half = 1u << (sh - 1);
  return static_cast<uint16_t>(rem > half || (rem == half && (q & 1)) ? q + 1 : q);
}
uint16_t f32_to_f16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const int exp = static_cast<int>((u >> 23) & 0xff);
  const uint32_t mant = u & 0x7fffff;
  if (exp == 0xff) return sign | (mant != 0 ? 0x7e00 : 0x7c00);
  const int e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    return sign | round_shift(mant | 0x800000, 14 - e);
  }
  return sign | round_shift((static_cast<uint32_t>(e) << 23) | mant, 13);
}

// Approximate normal k of the stream: four 16-bit uniforms of two hashes, summed and centred (an
// Irwin-Hall sum: integer arithmetic, so the TS twin gives the same value), times scale in double.
inline double normal_at(uint32_t seed, uint64_t i, double scale) {
  const uint32_t base = fmix32(seed ^ fmix32(static_cast<uint32_t>(i >> 32) + 0x9E3779B9u));
  const uint32_t h1 = fmix32((static_cast<uint32_t>(i) * 0x9E3779B1u) ^ base);
  const uint32_t h2 = fmix32(h1 ^ 0x27d4eb2fu);
  const int64_t sum = static_cast<int64_t>(h1 & 0xffff) + (h1 >> 16) + (h2 & 0xffff) + (h2 >> 16) - 131070;
  return static_cast<double>(sum) * scale;
}

}  // namespace

void synth_normals(uint32_t seed, uint64_t start, int64_t count, double scale, float* f32, uint16_t* f16) {
  pool_for(count, 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; k++) {
      const float v = static_cast<float>(normal_at(seed, start + static_cast<uint64_t>(k), scale));
      if (f32) f32[k] = v;
      else f16[k] = f32_to_f16_bits(v);
    }
  });
}

int64_t synth_ternary_bytes(SynthLayout l, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  switch (l) {
    case SynthLayout::TQ1_0: return n / 256 * 54;
    case SynthLayout::TQ2_0: return n / 256 * 66;
    default: return n / 4 + 32;
  }
}

void synth_ternary(SynthLayout l, int64_t rows, int64_t cols, uint32_t seed, uint16_t d16, float d32, uint8_t* out) {
  const int64_t per = l == SynthLayout::I2_S ? 128 : 256;
  const int64_t bb = l == SynthLayout::TQ1_0 ? 54 : l == SynthLayout::TQ2_0 ? 66 : 32;
  const int64_t nb = cols / per;
  pool_for(rows, 8, [&](int64_t r0, int64_t r1) {
    uint8_t c[256];
    for (int64_t r = r0; r < r1; r++)
      for (int64_t b = 0; b < nb; b++) {
        block_codes(seed, static_cast<uint64_t>(r * cols + b * per), static_cast<int>(per), c);
        uint8_t* o = out + (r * nb + b) * bb;
        if (l == SynthLayout::TQ1_0) tq1_block(c, d16, o);
        else if (l == SynthLayout::TQ2_0) tq2_block(c, d16, o);
        else i2s_block(c, o);
      }
  });
  if (l == SynthLayout::I2_S) {  // the tensor's one scale, then 28 zero bytes
    uint8_t* tail = out + rows * cols / 4;
    std::memset(tail, 0, 32);
    std::memcpy(tail, &d32, 4);
  }
}

}  // namespace bitnet
