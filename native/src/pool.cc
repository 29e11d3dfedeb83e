#include "pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() {}
#endif

namespace bitnet {
namespace {

// After a run a worker spins this many pauses (~50-100 us) before it sleeps, so the next kernel of a
// forward pass finds it awake: a futex wake-up costs more than a small GEMV.
constexpr int kSpin = 4000;

struct Job {
  RangeFn fn = nullptr;
  void* ctx = nullptr;
  int64_t count = 0;
  int64_t grain = 1;
  std::atomic<int64_t> next{0};
};

std::mutex run_mu;  // one run (or resize) at a time
std::mutex mu;      // guards sleeping workers' wake-up
std::condition_variable cv;
std::vector<std::thread> workers;
std::atomic<uint64_t> gen{0};
std::atomic<int> pending{0};
std::atomic<bool> stopping{false};
Job job;
int nthreads = 0;  // 0: not started yet

void do_chunks(Job& j) {
  for (;;) {
    int64_t b = j.next.fetch_add(j.grain, std::memory_order_relaxed);
    if (b >= j.count) return;
    j.fn(j.ctx, b, std::min(b + j.grain, j.count));
  }
}

void worker_main(uint64_t seen) {
  for (;;) {
    uint64_t g;
    int spins = 0;
    while ((g = gen.load(std::memory_order_acquire)) == seen && !stopping.load(std::memory_order_acquire)) {
      if (++spins < kSpin) {
        cpu_relax();
      } else {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return gen.load(std::memory_order_acquire) != seen || stopping.load(); });
      }
    }
    if (stopping.load(std::memory_order_acquire)) return;
    seen = g;
    do_chunks(job);
    pending.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void stop_workers_locked() {
  {
    std::lock_guard<std::mutex> lk(mu);
    stopping.store(true, std::memory_order_release);
  }
  cv.notify_all();
  for (auto& t : workers) t.join();
  workers.clear();
  stopping.store(false, std::memory_order_release);
}

void start_workers_locked(int n) {
  nthreads = n;
  uint64_t g = gen.load(std::memory_order_acquire);
  for (int i = 1; i < n; i++) workers.emplace_back(worker_main, g);
}

void ensure_started_locked() {
  if (nthreads == 0) {
    unsigned hw = std::thread::hardware_concurrency();
    start_workers_locked(hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u)));
  }
}

}  // namespace

int pool_threads() {
  std::lock_guard<std::mutex> lk(run_mu);
  ensure_started_locked();
  return nthreads;
}

void pool_set_threads(int n) {
  std::lock_guard<std::mutex> lk(run_mu);
  stop_workers_locked();
  start_workers_locked(std::max(1, n));
}

void pool_shutdown() {
  std::lock_guard<std::mutex> lk(run_mu);
  stop_workers_locked();
  nthreads = 0;
}

void pool_run(int64_t count, int64_t grain, RangeFn fn, void* ctx) {
  if (count <= 0) return;
  grain = std::max<int64_t>(1, grain);
  std::lock_guard<std::mutex> lk(run_mu);
  ensure_started_locked();
  if (workers.empty() || count <= grain) {
    fn(ctx, 0, count);
    return;
  }
  job.fn = fn;
  job.ctx = ctx;
  job.count = count;
  job.grain = grain;
  job.next.store(0, std::memory_order_relaxed);
  pending.store(static_cast<int>(workers.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lk2(mu);
    gen.fetch_add(1, std::memory_order_release);
  }
  cv.notify_all();
  do_chunks(job);
  int spins = 0;
  while (pending.load(std::memory_order_acquire) != 0) {
    if (++spins < kSpin) cpu_relax();
    else std::this_thread::yield();
  }
}

}  // namespace bitnet
