#!/bin/sh
# Stages for commit the records of a study's finished runs, so that a fresh clone's `bitnet ablate`
# skips them and trains only the rest (runs/ stays git-ignored: this adds them by force).
#
#   sh scripts/keep-finished-runs.sh experiments/STUDY [FROM_DIR]
#
# A run is finished when its directory holds DONE and engine.json (src/ablate/rundir.ts isComplete).
# Kept: run.json, config.json, hosts.json, reused.json (a run copied by --reuse), metrics.arrow, engine.json, DONE, train.log, and the study's
# runs/study.lock.json; never the checkpoints or model.gguf (megabytes each, and remade by nothing
# that reads a finished run: `bitnet report` reads the records). FROM_DIR: the study directory of
# another checkout (a worktree where the study ran) to copy the finished runs from first.
set -eu
study=${1:?usage: sh scripts/keep-finished-runs.sh experiments/STUDY [FROM_DIR]}
from=${2:-}
[ -f "$study/study.json" ] || { echo "keep-finished-runs: $study/study.json: no such study" >&2; exit 2; }
if [ -n "$from" ]; then
  [ -f "$from/runs/study.lock.json" ] || { echo "keep-finished-runs: $from/runs/study.lock.json: no runs to copy" >&2; exit 2; }
  mkdir -p "$study/runs"
  cp "$from/runs/study.lock.json" "$study/runs/"
fi
src=${from:-$study}
[ -f "$src/runs/study.lock.json" ] || { echo "keep-finished-runs: $src/runs/study.lock.json: the study has not run" >&2; exit 2; }
kept=0
for run in "$src"/runs/*/seed-*; do
  [ -f "$run/DONE" ] && [ -f "$run/engine.json" ] || continue
  rel=${run#"$src"/}
  mkdir -p "$study/$rel"
  for f in run.json config.json hosts.json reused.json metrics.arrow engine.json DONE train.log; do
    [ -f "$run/$f" ] || continue
    [ -n "$from" ] && cp "$run/$f" "$study/$rel/$f"
    git add -f "$study/$rel/$f"
  done
  kept=$((kept + 1))
done
git add -f "$study/runs/study.lock.json"
echo "keep-finished-runs: $kept finished run(s) of $study staged"
