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

struct Codes {
  uint32_t seed;
  // code c = t + 1 of element i
  inline int operator()(uint64_t i) const {
    const uint32_t base = fmix32(seed ^ fmix32(static_cast<uint32_t>(i >> 32) + 0x9E3779B9u));
    const uint32_t h = fmix32((static_cast<uint32_t>(i) * 0x9E3779B1u) ^ base);
    return h < kZeroBelow ? 1 : (h & 1) ? 2 : 0;
  }
};

void tq1_block(const Codes& code, uint64_t e0, uint16_t d16, uint8_t* o) {
  struct Run {
    int byte, count, first, stride, trits;
  };
  static const Run runs[3] = {{0, 32, 0, 32, 5}, {32, 16, 160, 16, 5}, {48, 4, 240, 4, 4}};
  for (const Run& run : runs)
    for (int i = 0; i < run.count; i++) {
      int q = 0;
      for (int n = 0; n < run.trits; n++) q = q * 3 + code(e0 + run.first + i + run.stride * n);
      if (run.trits == 4) q *= 3;
      o[run.byte + i] = static_cast<uint8_t>((q * 256 + 242) / 243);
    }
  std::memcpy(o + 52, &d16, 2);
}

void tq2_block(const Codes& code, uint64_t e0, uint16_t d16, uint8_t* o) {
  for (int h = 0; h < 2; h++)
    for (int m = 0; m < 32; m++) {
      int byte = 0;
      for (int q = 0; q < 4; q++) byte |= code(e0 + 128 * h + 32 * q + m) << (2 * q);
      o[32 * h + m] = static_cast<uint8_t>(byte);
    }
  std::memcpy(o + 64, &d16, 2);
}

void i2s_block(const Codes& code, uint64_t e0, uint8_t* o) {
  for (int m = 0; m < 32; m++) {
    int byte = 0;
    for (int k = 0; k < 4; k++) byte |= code(e0 + m + 32 * k) << (6 - 2 * k);
    o[m] = static_cast<uint8_t>(byte);
  }
}

}  // namespace

int64_t synth_ternary_bytes(SynthLayout l, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  switch (l) {
    case SynthLayout::TQ1_0: return n / 256 * 54;
    case SynthLayout::TQ2_0: return n / 256 * 66;
    default: return n / 4 + 32;
  }
}

void synth_ternary(SynthLayout l, int64_t rows, int64_t cols, uint32_t seed, uint16_t d16, float d32, uint8_t* out) {
  const Codes code{seed};
  const int64_t per = l == SynthLayout::I2_S ? 128 : 256;
  const int64_t bb = l == SynthLayout::TQ1_0 ? 54 : l == SynthLayout::TQ2_0 ? 66 : 32;
  const int64_t nb = cols / per;
  pool_for(rows, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++)
      for (int64_t b = 0; b < nb; b++) {
        const uint64_t e0 = static_cast<uint64_t>(r * cols + b * per);
        uint8_t* o = out + (r * nb + b) * bb;
        if (l == SynthLayout::TQ1_0) tq1_block(code, e0, d16, o);
        else if (l == SynthLayout::TQ2_0) tq2_block(code, e0, d16, o);
        else i2s_block(code, e0, o);
      }
  });
  if (l == SynthLayout::I2_S) {  // the tensor's one scale, then 28 zero bytes
    uint8_t* tail = out + rows * cols / 4;
    std::memset(tail, 0, 32);
    std::memcpy(tail, &d32, 4);
  }
}

}  // namespace bitnet
