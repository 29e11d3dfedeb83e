// The watchdog: a thread that ends the process with a one-line error when the work it watches makes no
// progress for `limit` milliseconds (a hung kernel, a stuck loop), instead of letting a run, an
// evaluation or a study wait forever. Progress is a JS heartbeat (watchdog_beat, e.g. once per training
// step, per evaluated batch, per generated token) or any activity of the thread pool (a job started, a
// chunk finished), so a long step whose kernels keep finishing is not stuck.
#pragma once

#include <cstdint>
#include <string>

namespace bitnet {

// Watch `what` (a short phrase: "training step 12 of 300"), with the limit in ms (> 0); re-arming
// replaces the phrase and counts as progress.
void watchdog_arm(const std::string& what, int64_t limit_ms);
void watchdog_beat();
void watchdog_beat(const std::string& what);  // progress, and now watching `what`
void watchdog_disarm();

}  // namespace bitnet
