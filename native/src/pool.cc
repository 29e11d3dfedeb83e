#include "pool.h"

#include <algorithm>
#include <chrono>
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

// The current job. A worker may wake late, after the job it was woken for has finished and another
// has started: chunks are claimed by a CAS on `ticket` = (job generation << 32) | next chunk, so a
// stale worker's claim fails and it touches nothing; the parameters it read are used only after a
// successful claim, and they cannot change until every claimed chunk is done. Completion counts
// chunks, not workers, so a worker the OS has descheduled (2 cores shared with other processes) never
// holds up a call it took no part in.
struct Job {
  std::atomic<RangeFn> fn{nullptr};
  std::atomic<void*> ctx{nullptr};
  std::atomic<int64_t> count{0};
  std::atomic<int64_t> grain{1};
  std::atomic<int64_t> nchunks{0};
  std::atomic<uint64_t> ticket{0};
  std::atomic<int64_t> done{0};
};

// Heap-allocated and never destroyed: process.exit() runs C++ static destructors while the workers
// still wait on these, and destroying a joinable std::thread calls std::terminate (SIGABRT).
std::mutex& run_mu = *new std::mutex();  // one run (or resize) at a time
std::mutex& mu = *new std::mutex();      // guards sleeping workers' wake-up
std::condition_variable& cv = *new std::condition_variable();
std::vector<std::thread>& workers = *new std::vector<std::thread>();
std::atomic<uint64_t> gen{0};
std::atomic<bool> stopping{false};
Job job;
int nthreads = 0;  // 0: not started yet
std::atomic<int64_t> test_delay_ns{0};

void test_delay() {
  const int64_t ns = test_delay_ns.load(std::memory_order_relaxed);
  if (ns <= 0) return;
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < until) cpu_relax();
}

// Runs chunks of job generation g until none is left (or the job is no longer g).
void do_chunks(uint64_t g) {
  const uint64_t tag = (g & 0xffffffffu) << 32;
  for (;;) {
    uint64_t t = job.ticket.load(std::memory_order_acquire);
    if ((t & ~uint64_t(0xffffffffu)) != tag) return;
    const int64_t c = static_cast<int64_t>(t & 0xffffffffu);
    const RangeFn fn = job.fn.load(std::memory_order_relaxed);
    void* const ctx = job.ctx.load(std::memory_order_relaxed);
    const int64_t count = job.count.load(std::memory_order_relaxed);
    const int64_t grain = job.grain.load(std::memory_order_relaxed);
    if (c >= job.nchunks.load(std::memory_order_relaxed)) return;
    if (!job.ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel)) continue;
    fn(ctx, c * grain, std::min(c * grain + grain, count));
    job.done.fetch_add(1, std::memory_order_release);
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
    do_chunks(g);
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

void pool_set_test_delay(int64_t ns) { test_delay_ns.store(ns, std::memory_order_relaxed); }

void pool_run(int64_t count, int64_t grain, RangeFn fn, void* ctx) {
  if (count <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t nchunks = (count + grain - 1) / grain;
  std::lock_guard<std::mutex> lk(run_mu);
  ensure_started_locked();
  if (workers.empty() || nchunks <= 1 || nchunks >= (int64_t(1) << 32)) {
    fn(ctx, 0, count);
    return;
  }
  const uint64_t g = gen.load(std::memory_order_relaxed) + 1;
  job.fn.store(fn, std::memory_order_relaxed);
  job.ctx.store(ctx, std::memory_order_relaxed);
  job.count.store(count, std::memory_order_relaxed);
  job.grain.store(grain, std::memory_order_relaxed);
  job.nchunks.store(nchunks, std::memory_order_relaxed);
  job.done.store(0, std::memory_order_relaxed);
  test_delay();
  job.ticket.store((g & 0xffffffffu) << 32, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk2(mu);
    gen.store(g, std::memory_order_release);
  }
  cv.notify_all();
  do_chunks(g);
  int spins = 0;
  while (job.done.load(std::memory_order_acquire) != nchunks) {
    if (++spins < kSpin) cpu_relax();
    else std::this_thread::yield();
  }
}

}  // namespace bitnet
