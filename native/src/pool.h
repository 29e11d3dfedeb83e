// A persistent thread pool: the workers are created once (and again only by set_threads), so no kernel
// call starts a thread. The calling thread works too: with T threads there are T-1 workers.
//
// run(count, grain, fn) hands out the index range [0, count) in chunks of `grain` (dynamically, an
// atomic counter, so a core busy with something else does not hold the whole call back) and returns
// when every chunk is done. One run at a time: concurrent callers (worker_threads) are serialized.
#pragma once

#include <cstdint>
#include <type_traits>

namespace bitnet {

// Called as fn(ctx, begin, end) for each chunk; any thread may run any chunk.
using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);

int pool_threads();
void pool_set_threads(int n);  // n >= 1; joins the old workers, starts the new ones
void pool_run(int64_t count, int64_t grain, RangeFn fn, void* ctx);
void pool_shutdown();  // joins the workers (env cleanup)

// Test hook (the stress test, test/native/pool-stress.test.ts): the caller busy-waits `ns` nanoseconds
// while it publishes a job, between storing its parameters and opening its chunks to the workers: the
// window in which a worker still holding the previous job's ticket could claim against the new job's
// parameters. 0 (the default) costs one relaxed load per call.
void pool_set_test_delay(int64_t ns);

// Test hook (the watchdog tests): the n-th pool_run from now (n >= 1) never returns, as a hung kernel
// would not; 0 turns it off. The addon sets it from BITNET_TEST_STALL_POOL_RUN at load.
void pool_set_test_stall(int64_t n);

// For the watchdog (watchdog.cc): `progress` changes whenever a job starts or a chunk finishes;
// `waiting` says a caller is inside pool_run, with `done` of `nchunks` chunks finished.
struct PoolState {
  uint64_t progress;
  bool waiting;
  int64_t done, nchunks;
};
PoolState pool_state();

// Typed convenience: pool_for(count, grain, [&](int64_t b, int64_t e) { ... }).
template <class F>
void pool_for(int64_t count, int64_t grain, F&& f) {
  using Fn = std::remove_reference_t<F>;
  pool_run(
      count, grain, [](void* c, int64_t b, int64_t e) { (*static_cast<Fn*>(c))(b, e); },
      const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace bitnet
