#!/usr/bin/env bash
# ThreadSanitizer run of the native thread pool and two of its kernels (native/test/tsan-pool.cc), apart
# from the addon and from `npm ci`: `bash scripts/tsan-pool.sh`. Needs g++ with libtsan (Debian: libtsan2,
# installed with g++). Exits non-zero on a failed check or on any race TSan reports.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
src=native/src
g++ -std=c++17 -O1 -g -fsanitize=thread -pthread -Wall -Wno-unused-parameter \
  native/test/tsan-pool.cc $src/pool.cc $src/pool_stress.cc $src/cpu.cc $src/ternary.cc $src/sgemm.cc \
  -o "$out/tsan-pool"
# halt_on_error: the first race ends the run with TSan's report; second_deadlock_stack for lock reports.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" "$out/tsan-pool"
