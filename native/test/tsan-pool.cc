// Standalone ThreadSanitizer harness for the thread pool and two kernels that use it (not part of the
// addon or of `npm ci`): scripts/tsan-pool.sh builds it with -fsanitize=thread and runs it. It exits 0
// only if every check passes; TSan itself makes the process exit non-zero on any data race it sees.
//
//   1. pool_stress (pool_stress.cc) at 2-4 threads, with and without the widened publish window;
//   2. two threads calling pool_run at once (serialized by the pool's run lock), and set_threads between;
//   3. ternary_matmul and sgemm_batched on every ISA this CPU has, 3 threads vs 1 thread: identical bits.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "../src/kernels.h"
#include "../src/pool.h"
#include "../src/pool_stress.h"

using namespace bitnet;

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) failures++;
}

bool stress_clean(int64_t jobs, int64_t delay_ns) {
  const StressSpec specs[] = {{2, 1}, {4096, 64}, {1000, 1}, {7, 3}, {40 * 1024, 1024}, {5, 8}};
  pool_set_test_delay(delay_ns);
  const StressResult r = pool_stress(jobs, specs, 6);
  pool_set_test_delay(0);
  return r.jobs == jobs && r.missing == 0 && r.repeated == 0 && r.wrong_job == 0 && r.out_of_range == 0;
}

const char* isa_name(Isa i) { return i == Isa::Scalar ? "scalar" : i == Isa::Avx2 ? "avx2" : "avx512vnni"; }

}  // namespace

int main() {
  char what[160];
  for (int threads = 2; threads <= 4; threads++) {
    pool_set_threads(threads);
    for (int64_t delay : {0, 2000}) {
      std::snprintf(what, sizeof what, "pool_stress: %d threads, publish window +%lld ns, 2000 jobs", threads,
                    static_cast<long long>(delay));
      check(stress_clean(2000, delay), what);
    }
  }

  // Two callers at once: each must see its own job complete exactly.
  pool_set_threads(3);
  bool both = true;
  std::thread other([&] { both &= stress_clean(1000, 500); });
  const bool mine = stress_clean(1000, 500);
  other.join();
  check(mine && both, "two threads calling pool_run concurrently, 1000 jobs each");
  pool_set_threads(2);
  check(stress_clean(500, 0), "after set_threads(2)");

  // Kernels: 3 threads against 1 thread, every ISA.
  std::mt19937 rng(7);
  const int64_t rows = 96, cols = 384, n = 5, m = 37, k = 53, nn = 29;
  std::vector<uint8_t> packed(rows * ternary_row_bytes(cols));
  for (auto& b : packed) {
    uint8_t v = 0;  // four 2-bit codes per byte, none of them the unused code 3
    for (int f = 0; f < 4; f++) v |= static_cast<uint8_t>(rng() % 3) << (2 * f);
    b = v;
  }
  std::vector<int8_t> xq(n * cols);
  for (auto& v : xq) v = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
  std::vector<float> a(m * k), b(k * nn);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (auto& v : a) v = normal(rng);
  for (auto& v : b) v = normal(rng);
  for (Isa i = best_isa();; i = static_cast<Isa>(static_cast<int>(i) - 1)) {
    set_isa(i);
    std::vector<int32_t> t1(n * rows), t3(n * rows);
    std::vector<float> c1(m * nn), c3(m * nn);
    pool_set_threads(1);
    ternary_matmul(packed.data(), rows, cols, xq.data(), n, t1.data());
    sgemm_batched(1, m, nn, k, a.data(), 0, false, b.data(), 0, false, c1.data(), 0);
    pool_set_threads(3);
    ternary_matmul(packed.data(), rows, cols, xq.data(), n, t3.data());
    sgemm_batched(1, m, nn, k, a.data(), 0, false, b.data(), 0, false, c3.data(), 0);
    std::snprintf(what, sizeof what, "ternary_matmul %s: 3 threads == 1 thread", isa_name(i));
    check(t1 == t3, what);
    std::snprintf(what, sizeof what, "sgemm %s: 3 threads == 1 thread (bits)", isa_name(i));
    check(std::memcmp(c1.data(), c3.data(), c1.size() * sizeof(float)) == 0, what);
    if (i == Isa::Scalar) break;
  }
  reset_isa();
  pool_shutdown();
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
