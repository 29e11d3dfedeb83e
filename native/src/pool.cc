#include "pool.h"

#include <algorithm>
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
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

// The current job, and the claim protocol.
//
// `ticket` = (generation << 32) | index of the next unclaimed chunk. A worker claims chunk c by a CAS of
// ticket from tag(g) | c to tag(g) | c + 1; only a successful CAS lets it read the job's parameters and
// run the chunk. A worker may hold a stale ticket value for as long as the OS deschedules it (it woke
// late, or stalled between loading the ticket and its CAS), so the caller publishes a job in three steps:
//   1. close: ticket = tag(g) | kClosed. From here on no CAS against any earlier ticket value can succeed
//      (a CAS compares the whole 64 bits, and no open ticket ever held this value);
//   2. the parameters (fn, ctx, count, grain, nchunks, done = 0), each a release store, so the close
//      (sequenced before them) is visible to any thread that reads one of them;
//   3. open: ticket = tag(g) | 0 (release), then wake the workers.
// A worker that reads a parameter written in step 2 (its loads are acquire) therefore also sees the close,
// and its CAS on the old ticket fails: the stale claim the old protocol allowed (a worker that had loaded an
// exhausted ticket of job g-1, then read job g's larger nchunks, claimed a chunk with a mix of the two
// jobs' parameters and counted it on job g's `done`) is impossible. A worker reads nchunks before its CAS
// only to avoid claiming past the end; the claim itself is what makes the chunk its own.
// Completion counts chunks: every successful claim of job g is one increment of `done` made while the
// caller of g waits, and there are exactly nchunks of them, so `done` cannot overshoot; the caller checks
// that it did not. A worker the OS has descheduled never holds up a call it took no part in.
// The generation is 32 bits: a CAS could only succeed falsely if a worker stalled between two instructions
// for exactly 2^32 jobs (ABA), hours of back-to-back kernels.
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
std::atomic<int64_t> test_stall_in{0};
std::atomic<bool> in_run{false};

void test_delay() {
  const int64_t ns = test_delay_ns.load(std::memory_order_relaxed);
  if (ns <= 0) return;
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  while (std::chrono::steady_clock::now() < until) cpu_relax();
}

constexpr uint64_t kIndexMask = 0xffffffffu;
constexpr uint64_t kClosed = kIndexMask;  // the index of a job being published: never claimable
inline uint64_t tag_of(uint64_t g) { return (g & kIndexMask) << 32; }

// Runs chunks of job generation g until none is left (or the job is no longer g).
void do_chunks(uint64_t g) {
  const uint64_t tag = tag_of(g);
  for (;;) {
    uint64_t t = job.ticket.load(std::memory_order_acquire);
    if ((t & ~kIndexMask) != tag) return;
    const uint64_t c = t & kIndexMask;
    if (c == kClosed || static_cast<int64_t>(c) >= job.nchunks.load(std::memory_order_acquire)) return;
    if (!job.ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) continue;
    // Claimed: job g's parameters cannot change until this chunk is counted in `done`.
    const RangeFn fn = job.fn.load(std::memory_order_relaxed);
    void* const ctx = job.ctx.load(std::memory_order_relaxed);
    const int64_t count = job.count.load(std::memory_order_relaxed);
    const int64_t grain = job.grain.load(std::memory_order_relaxed);
    const int64_t b = static_cast<int64_t>(c) * grain;
    fn(ctx, b, std::min(b + grain, count));
    job.done.fetch_add(1, std::memory_order_acq_rel);
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

void pool_set_test_stall(int64_t n) { test_stall_in.store(n, std::memory_order_relaxed); }

PoolState pool_state() {
  PoolState p;
  p.waiting = in_run.load(std::memory_order_relaxed);
  p.done = job.done.load(std::memory_order_relaxed);
  p.nchunks = job.nchunks.load(std::memory_order_relaxed);
  p.progress = gen.load(std::memory_order_relaxed) + static_cast<uint64_t>(p.done);
  return p;
}

namespace {
// The test stall: this call never returns (the caller looks exactly like one waiting on a lost chunk).
void maybe_stall() {
  if (test_stall_in.load(std::memory_order_relaxed) <= 0) return;
  if (test_stall_in.fetch_sub(1, std::memory_order_relaxed) != 1) return;
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}
}  // namespace

void pool_run(int64_t count, int64_t grain, RangeFn fn, void* ctx) {
  if (count <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t nchunks = (count + grain - 1) / grain;
  std::lock_guard<std::mutex> lk(run_mu);
  ensure_started_locked();
  in_run.store(true, std::memory_order_relaxed);
  maybe_stall();
  if (workers.empty() || nchunks <= 1 || nchunks >= static_cast<int64_t>(kClosed)) {
    fn(ctx, 0, count);
    in_run.store(false, std::memory_order_relaxed);
    return;
  }
  const uint64_t g = gen.load(std::memory_order_relaxed) + 1;
  // 1. close (see the protocol above Job), 2. parameters, 3. open.
  job.ticket.store(tag_of(g) | kClosed, std::memory_order_relaxed);  // ordered before the release stores below
  job.fn.store(fn, std::memory_order_release);
  job.ctx.store(ctx, std::memory_order_release);
  job.count.store(count, std::memory_order_release);
  job.grain.store(grain, std::memory_order_release);
  job.nchunks.store(nchunks, std::memory_order_release);
  job.done.store(0, std::memory_order_release);
  test_delay();
  job.ticket.store(tag_of(g), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk2(mu);
    gen.store(g, std::memory_order_release);
  }
  cv.notify_all();
  do_chunks(g);
  int spins = 0;
  int64_t d;
  while ((d = job.done.load(std::memory_order_acquire)) < nchunks) {
    if (++spins < kSpin) cpu_relax();
    else std::this_thread::yield();
  }
  if (d != nchunks) {
    // Impossible by the protocol above; if it ever happens, stop loudly rather than run on corrupted work.
    std::fprintf(stderr, "bitnet: internal error: thread pool completed %lld of %lld chunks\n", static_cast<long long>(d),
                 static_cast<long long>(nchunks));
    std::abort();
  }
  in_run.store(false, std::memory_order_relaxed);
}

}  // namespace bitnet
