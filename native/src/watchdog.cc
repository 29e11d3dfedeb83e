#include "watchdog.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "pool.h"

namespace bitnet {
namespace {

using Clock = std::chrono::steady_clock;

// Heap-allocated and never destroyed, like the pool's state: the thread outlives static destructors.
std::mutex& mu = *new std::mutex();
std::condition_variable& cv = *new std::condition_variable();
std::string& what = *new std::string();
std::atomic<uint64_t> beats{0};
int64_t limit_ms = 0;  // 0: disarmed (guarded by mu)
bool started = false;  // guarded by mu

[[noreturn]] void fire(const std::string& w, int64_t limit) {
  const PoolState p = pool_state();
  char where[160];
  if (p.waiting)
    std::snprintf(where, sizeof where, "inside a native kernel call: %lld of the %lld chunks of its thread-pool job finished",
                  static_cast<long long>(p.done), static_cast<long long>(p.nchunks));
  else
    std::snprintf(where, sizeof where, "no native kernel running");
  char line[768];
  const int n = std::snprintf(line, sizeof line,
                              "bitnet: watchdog: %s made no progress for %g s (%s); stopping (limit set by BITNET_WATCHDOG_S)\n",
                              w.c_str(), static_cast<double>(limit) / 1000.0, where);
  // write(2) and _exit: no allocation, no static destructors, no JS: the main thread may be the one stuck.
  if (n > 0) {
    const ssize_t ignored = write(2, line, static_cast<size_t>(n < static_cast<int>(sizeof line) ? n : sizeof line - 1));
    (void)ignored;
  }
  _exit(124);
}

void watch() {
  uint64_t last = ~uint64_t(0);
  Clock::time_point since = Clock::now();
  std::unique_lock<std::mutex> lk(mu);
  for (;;) {
    const int64_t lim = limit_ms;
    // Poll at a quarter of the limit (at most once a second): the stop comes at most 25 % late.
    const auto step = std::chrono::milliseconds(lim > 0 ? std::min<int64_t>(1000, std::max<int64_t>(10, lim / 4)) : 1000);
    cv.wait_for(lk, step);
    if (limit_ms <= 0) {
      last = ~uint64_t(0);
      continue;
    }
    const uint64_t now_progress = beats.load(std::memory_order_relaxed) + pool_state().progress;
    const auto now = Clock::now();
    if (now_progress != last) {
      last = now_progress;
      since = now;
      continue;
    }
    const int64_t idle = std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count();
    if (idle >= limit_ms) fire(what, limit_ms);
  }
}

}  // namespace

void watchdog_arm(const std::string& w, int64_t lim) {
  std::lock_guard<std::mutex> lk(mu);
  what = w;
  limit_ms = lim;
  beats.fetch_add(1, std::memory_order_relaxed);
  if (!started) {
    started = true;
    std::thread(watch).detach();
  }
  cv.notify_all();
}

void watchdog_beat() { beats.fetch_add(1, std::memory_order_relaxed); }

void watchdog_beat(const std::string& w) {
  std::lock_guard<std::mutex> lk(mu);
  what = w;
  beats.fetch_add(1, std::memory_order_relaxed);
}

void watchdog_disarm() {
  std::lock_guard<std::mutex> lk(mu);
  limit_ms = 0;
  cv.notify_all();
}

}  // namespace bitnet
