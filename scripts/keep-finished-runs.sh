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
# A finished run that another run of the study warm-starts from (train.init_from "study:ARM") is held
# back while that run is unfinished: its checkpoint is what the other run starts from, and a clone
# that had the source's records but not its checkpoint would skip the source and fail the other run.
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
# Lines "SOURCE_ARM DEPENDENT_ARM": the arms whose "set" warm-starts from another arm of the study.
sources=$(node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const a of s.arms ?? []) {
    const set = a.set ?? {};
    const v = set["train.init_from.run"] ?? set["train.init_from"];
    const run = typeof v === "string" ? v : v?.run;
    if (typeof run === "string" && run.startsWith("study:")) console.log(run.slice(6) + " " + a.name);
  }' "$study/study.json")
kept=0
held=0
for run in "$src"/runs/*/seed-*; do
  [ -f "$run/DONE" ] && [ -f "$run/engine.json" ] || continue
  rel=${run#"$src"/}
  arm=$(basename "$(dirname "$run")")
  seed=$(basename "$run")
  waiting=$(echo "$sources" | while read -r from_arm dep_arm; do
    [ "$from_arm" = "$arm" ] || continue
    dep="$src/runs/$dep_arm/$seed"
    [ -f "$dep/DONE" ] && [ -f "$dep/engine.json" ] || echo "$dep_arm"
  done)
  if [ -n "$waiting" ]; then
    echo "keep-finished-runs: $rel held back: arm $(echo $waiting) warm-starts from it and has not finished" >&2
    held=$((held + 1))
    continue
  fi
  mkdir -p "$study/$rel"
  for f in run.json config.json hosts.json reused.json metrics.arrow engine.json DONE train.log; do
    [ -f "$run/$f" ] || continue
    [ -n "$from" ] && cp "$run/$f" "$study/$rel/$f"
    git add -f "$study/$rel/$f"
  done
  kept=$((kept + 1))
done
git add -f "$study/runs/study.lock.json"
echo "keep-finished-runs: $kept finished run(s) of $study staged$([ "$held" -gt 0 ] && echo ", $held held back")"
