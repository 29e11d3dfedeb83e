// Memory read bandwidth, for the benchmarks' roofline (issue 6: `bitnet bench` measures the machine's
// read bandwidth itself): every pool thread streams its share of a buffer with 32-byte loads.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "kernels.h"
#include "pool.h"

namespace bitnet {
namespace {

std::atomic<uint64_t> sink{0};

uint64_t sum_scalar(const uint8_t* p, int64_t len) {
  uint64_t s = 0;
  for (int64_t i = 0; i + 8 <= len; i += 8) {
    uint64_t v;
    __builtin_memcpy(&v, p + i, 8);
    s += v;
  }
  return s;
}

BITNET_AVX2 uint64_t sum_avx2(const uint8_t* p, int64_t len) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  int64_t i = 0;
  for (; i + 128 <= len; i += 128) {
    a = _mm256_add_epi64(a, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_add_epi64(b, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    c = _mm256_add_epi64(c, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    d = _mm256_add_epi64(d, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
  return static_cast<uint64_t>(_mm256_extract_epi64(a, 0) + _mm256_extract_epi64(a, 3));
}

}  // namespace

double read_bandwidth(const uint8_t* buf, int64_t len, int reps) {
  const bool avx2 = simd();
  const int64_t chunk = 1 << 20;
  double best = 0;
  for (int r = 0; r < std::max(1, reps); r++) {
    const auto t0 = std::chrono::steady_clock::now();
    pool_for((len + chunk - 1) / chunk, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; c++) {
        const int64_t n = std::min(chunk, len - c * chunk);
        sink.fetch_add(avx2 ? sum_avx2(buf + c * chunk, n) : sum_scalar(buf + c * chunk, n), std::memory_order_relaxed);
      }
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0) best = std::max(best, static_cast<double>(len) / s / 1e9);
  }
  return best;
}

}  // namespace bitnet
