#include "pool_stress.h"

#include <atomic>
#include <memory>
#include <vector>

#include "pool.h"

namespace bitnet {
namespace {

struct Ctx {
  int64_t job;    // this job's number: what every index it runs must record
  int64_t count;  // its range
  std::atomic<int32_t>* hits;
  std::atomic<int64_t>* owner;  // job * 2 + (function B ? 1 : 0), last writer
  std::atomic<int64_t>* out_of_range;
};

template <int Which>
void chunk(void* p, int64_t b, int64_t e) {
  Ctx* c = static_cast<Ctx*>(p);
  if (b < 0 || e > c->count || b >= e) {
    c->out_of_range->fetch_add(1, std::memory_order_relaxed);
    return;
  }
  for (int64_t i = b; i < e; i++) {
    c->hits[i].fetch_add(1, std::memory_order_relaxed);
    c->owner[i].store(c->job * 2 + Which, std::memory_order_relaxed);
  }
}

}  // namespace

StressResult pool_stress(int64_t jobs, const StressSpec* specs, int nspecs) {
  StressResult r{0, 0, 0, 0, 0};
  int64_t maxc = 1;
  for (int s = 0; s < nspecs; s++) maxc = specs[s].count > maxc ? specs[s].count : maxc;
  // Two record sets, used by alternate jobs: a stale chunk of job j landing during job j+1 shows up in
  // j+1's check as a wrong owner, or in j+2's as a repeat.
  std::unique_ptr<std::atomic<int32_t>[]> hits[2] = {std::make_unique<std::atomic<int32_t>[]>(maxc),
                                                     std::make_unique<std::atomic<int32_t>[]>(maxc)};
  std::unique_ptr<std::atomic<int64_t>[]> owner[2] = {std::make_unique<std::atomic<int64_t>[]>(maxc),
                                                      std::make_unique<std::atomic<int64_t>[]>(maxc)};
  for (int h = 0; h < 2; h++)
    for (int64_t i = 0; i < maxc; i++) hits[h][i].store(0), owner[h][i].store(-1);
  std::atomic<int64_t> oor{0};
  std::vector<Ctx> ctx(2);
  for (int64_t j = 0; j < jobs; j++) {
    const StressSpec& s = specs[j % nspecs];
    const int h = static_cast<int>(j & 1);
    ctx[h] = Ctx{j, s.count, hits[h].get(), owner[h].get(), &oor};
    if (j & 1) pool_run(s.count, s.grain, chunk<1>, &ctx[h]);
    else pool_run(s.count, s.grain, chunk<0>, &ctx[h]);
    r.jobs++;
    for (int64_t i = 0; i < s.count; i++) {
      const int32_t n = hits[h][i].exchange(0, std::memory_order_relaxed);
      const int64_t o = owner[h][i].exchange(-1, std::memory_order_relaxed);
      if (n == 0) r.missing++;
      else if (n > 1) r.repeated++;
      if (n > 0 && o != j * 2 + (j & 1)) r.wrong_job++;
    }
  }
  r.out_of_range += oor.load();
  return r;
}

}  // namespace bitnet
