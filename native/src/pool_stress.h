// A stress test of the thread pool's claim protocol (pool.cc), shared by the addon's poolStress (run by
// test/native/pool-stress.test.ts under a CPU hog) and the standalone ThreadSanitizer harness
// (native/test/tsan-pool.cc). It is not a kernel: nothing in training or the engine calls it.
#pragma once

#include <cstdint>

namespace bitnet {

// One shape of job: `count` indices handed out in chunks of `grain`.
struct StressSpec {
  int64_t count, grain;
};

// What went wrong over all the jobs; every field is 0 for a correct pool.
struct StressResult {
  int64_t jobs;        // jobs completed (pool_run returned)
  int64_t missing;     // indices of a job that no chunk ran
  int64_t repeated;    // indices run more than once
  int64_t wrong_job;   // indices whose chunk carried another job's context or function
  int64_t out_of_range;  // chunks whose range fell outside their job's [0, count)
};

// Runs `jobs` pool_run calls cycling through `specs`, alternating two chunk functions; each chunk records
// which job (and function) ran each index and how often, checked after every call.
StressResult pool_stress(int64_t jobs, const StressSpec* specs, int nspecs);

}  // namespace bitnet
