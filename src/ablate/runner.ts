/**
 * Runs a study: every arm × seed not yet complete, in N worker processes at once (worker.ts, each
 * with its own tfjs backend). Complete runs (DONE + engine.json) are skipped, runs with a checkpoint
 * resume, a failing run is tried again (from its last checkpoint) up to `attempts` times unless its
 * error is in its input (exit 2: it would fail the same way), then leaves FAILED in its directory and
 * the others go on. A worker that hangs is ended by its watchdog (src/native/watchdog.ts, exit 124) and
 * counts as a failed attempt. Killing the study and running it again finishes what is left: that is the
 * whole restart story (llm.c's DONE markers).
 */
import os from 'node:os';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.ts';
import { checkAndWriteLock, runDirOf, type ResolvedStudy } from './expand.ts';
import { nativeAddon } from '../native/addon.ts';
import { Progress } from './progress.ts';
import { copyRun, indexSources, sourceFor } from './reuse.ts';
import { failureText, startRunProcess } from './run-process.ts';
import { FAILED_FILE, INPUT_ERROR_EXIT, isComplete, RUNNING_FILE, writeRunRecord } from './rundir.ts';

export interface RunnerOptions {
  runsDir: string;
  workers: number;
  /** Only the runs of these arms. */
  only?: string[];
  /** Only the runs of these seeds. */
  seeds?: number[];
  out?: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): unknown };
  /** How long to wait for a worker of a killed earlier session to notice and stop (ms). */
  staleWaitMs?: number;
  /** Tries per run in this invocation (default 2): a failure other than bad input is retried. */
  attempts?: number;
  /** Runs directories of other studies whose complete runs stand in for identical runs here (src/ablate/reuse.ts). */
  reuse?: string[];
  /** With `reuse`: also runs without hosts.json, whose instruction set is unknown. */
  reuseUnrecorded?: boolean;
}


export interface RunnerResult {
  skipped: string[];
  done: string[];
  failed: { id: string; error: string }[];
  /** Runs copied from another study (--reuse), with the source directory. */
  reused: { id: string; from: string }[];
}


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A worker of a killed session may still be finishing its step on this run: wait for it to stop. */
async function waitForStaleWorker(runDir: string, waitMs: number): Promise<void> {
  const file = path.join(runDir, RUNNING_FILE);
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').trim());
  const until = performance.now() + waitMs;
  while (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) && performance.now() < until) await new Promise((r) => setTimeout(r, 100));
  rmSync(file, { force: true });
}

/** InputError naming the flag when `only` names an arm, or `seeds` a seed, that the study lacks. */
export function checkSubset(file: string, arms: readonly string[], studySeeds: readonly number[], only?: readonly string[], seeds?: readonly number[]): void {
  for (const a of only ?? []) if (!arms.includes(a)) throw new InputError('--only', `no arm "${a}" in ${file} (arms: ${arms.join(', ')})`);
  for (const s of seeds ?? []) if (!studySeeds.includes(s)) throw new InputError('--seeds', `no seed ${s} in ${file} (seeds: ${studySeeds.join(', ')})`);
}

/** The study's runs of the arms `only` and the seeds `seeds` (each: all when left out), in the study's order; an arm or seed the study lacks is an InputError naming the flag. */
export function selectRuns(study: ResolvedStudy, only?: readonly string[], seeds?: readonly number[]): ResolvedStudy['runs'] {
  checkSubset(study.file, study.arms.map((a) => a.name), study.study.seeds, only, seeds);
  return study.runs.filter((r) => (!only || only.includes(r.arm)) && (!seeds || seeds.includes(r.seed)));
}

export async function runStudy(study: ResolvedStudy, opts: RunnerOptions): Promise<RunnerResult> {
  const selected = selectRuns(study, opts.only, opts.seeds);
  mkdirSync(opts.runsDir, { recursive: true });
  const grew = checkAndWriteLock(opts.runsDir, study);

  const result: RunnerResult = { skipped: [], done: [], failed: [], reused: [] };
  const incomplete = selected.filter((r) => {
    const runDir = runDirOf(opts.runsDir, r);
    if (!isComplete(runDir)) return true;
    rmSync(path.join(runDir, RUNNING_FILE), { force: true }); // left by a killed session after the run completed
    result.skipped.push(r.id);
    return false;
  });
  // Runs another study computed exactly are copied before any worker starts (the workers use the ISA
  // this process's addon picks: the same BITNET_ISA, the same CPU).
  const sources = opts.reuse && opts.reuse.length > 0 ? indexSources(opts.reuse, nativeAddon()?.isa() ?? 'none', opts.reuseUnrecorded) : null;
  const pending = incomplete.filter((r) => {
    const src = sources ? sourceFor(sources.byKey, study, r) : null;
    if (src === null) return true;
    copyRun(src, runDirOf(opts.runsDir, r), study, r);
    result.reused.push({ id: r.id, from: src.dir });
    return false;
  });
  const counts = { total: selected.length, done: result.skipped.length + result.reused.length, running: 0, failed: 0 };
  const progress = new Progress(counts, pending.reduce((a, r) => a + r.tokens, 0), opts.out);
  if (grew > 0) progress.event(`the study grew: ${grew} run(s) added to the ${study.runs.length - grew} its runs directory was started with`);
  if (result.skipped.length > 0) progress.event(`${result.skipped.length} run(s) already complete, skipped`);
  for (const r of result.reused) progress.event(`reused ${r.id} from ${r.from}`);
  if (sources && result.reused.length === 0) progress.event(`--reuse: no identical complete run found${sources.skipped.length > 0 ? ` (${sources.skipped.length} not reusable, e.g. ${sources.skipped[0]})` : ''}`);

  const attempts = opts.attempts ?? 2;
  const launch = async (run: (typeof pending)[number]): Promise<void> => {
    const runDir = runDirOf(opts.runsDir, run);
    mkdirSync(runDir, { recursive: true });
    await waitForStaleWorker(runDir, opts.staleWaitMs ?? 120_000);
    for (let attempt = 1; ; attempt++) {
      const r = await attemptRun(run, runDir, attempt);
      if (r === 'done' || r === 'input' || attempt >= attempts) return;
      progress.event(`retry ${run.id} (attempt ${attempt + 1} of ${attempts})`);
    }
  };

  /** One worker process on the run: 'done', or why it failed ('input': bad input, not worth a retry). */
  const attemptRun = async (run: (typeof pending)[number], runDir: string, attempt: number): Promise<'done' | 'failed' | 'input'> => {
    writeRunRecord(runDir, study, run);
    counts.running++;
    if (attempt === 1) progress.event(`start ${run.id}`);
    // The cores are shared out between the workers: each native pool gets its slice, not all of them.
    const threads = Math.max(1, Math.floor(os.availableParallelism() / Math.max(1, Math.min(opts.workers, pending.length))));
    let lastStep: number | null = null;
    const proc = startRunProcess(runDir, {
      threads,
      onStep: (m) => {
        // Only steps trained in this session count towards the rate (a resumed run starts mid-way).
        if (lastStep === null) progress.drop(((m.step - 1) / m.total) * run.tokens);
        progress.advance(((m.step - (lastStep ?? m.step - 1)) / m.total) * run.tokens);
        lastStep = m.step;
      },
    });
    const outcome = await proc.done;
    const { code, valLoss } = outcome;
    counts.running--;
    if (code === 0 && isComplete(runDir)) {
      counts.done++;
      result.done.push(run.id);
      progress.event(`done ${run.id}${valLoss !== null ? ` (val loss ${(valLoss as number).toFixed(4)})` : ''}`);
      return 'done';
    }
    const text = failureText(runDir, outcome);
    const input = code === INPUT_ERROR_EXIT;
    // Bad input fails every attempt the same way: it is not retried, and says so by having no count.
    const error = input ? text : `attempt ${attempt} of ${attempts}: ${text}`;
    writeFileSync(path.join(runDir, FAILED_FILE), error + '\n');
    const trained = run.tokens * ((lastStep ?? 0) / run.config.train.steps);
    if (!input && attempt < attempts) {
      // The retry starts from the checkpoint and reports its own steps from there.
      progress.restore(trained);
      return 'failed';
    }
    progress.drop(run.tokens - trained);
    counts.failed++;
    result.failed.push({ id: run.id, error });
    progress.event(`FAILED ${run.id}: ${error.split('\n')[0]}`);
    return input ? 'input' : 'failed';
  };

  // A pool of N: each lane takes the next pending run whose warm start (if any) is complete, until none
  // is left; a run whose warm start failed, or cannot run in this invocation, fails without starting.
  const waiting = [...pending];
  const inFlight = new Set<string>();
  let wake = () => {};
  let changed = new Promise<void>((r) => (wake = r));
  const notify = () => {
    const w = wake;
    changed = new Promise<void>((r) => (wake = r));
    w();
  };
  const byId = new Map(study.runs.map((r) => [r.id, r]));
  const complete = (id: string) => isComplete(runDirOf(opts.runsDir, byId.get(id)!));
  const refuse = (run: (typeof pending)[number], why: string) => {
    const error = `not started: ${why}`;
    writeFileSync(path.join(runDirOf(opts.runsDir, run), FAILED_FILE), error + '\n');
    counts.failed++;
    progress.drop(run.tokens);
    result.failed.push({ id: run.id, error });
    progress.event(`FAILED ${run.id}: ${error}`);
  };
  const take = (): (typeof pending)[number] | 'wait' | null => {
    for (let i = 0; i < waiting.length; i++) {
      const r = waiting[i]!;
      if (r.after === undefined || complete(r.after)) return waiting.splice(i, 1)[0]!;
      const pendingDep = inFlight.has(r.after) || waiting.some((w) => w.id === r.after);
      if (!pendingDep) {
        waiting.splice(i--, 1);
        mkdirSync(runDirOf(opts.runsDir, r), { recursive: true });
        refuse(r, result.failed.some((f) => f.id === r.after) ? `its warm start ${r.after} failed` : `its warm start ${r.after} is not complete and is not part of this invocation (drop --only, or run that arm first)`);
        notify();
      }
    }
    return waiting.length > 0 ? 'wait' : null;
  };
  const lane = async () => {
    for (;;) {
      const run = take();
      if (run === null) return;
      if (run === 'wait') {
        await changed;
        continue;
      }
      inFlight.add(run.id);
      await launch(run);
      inFlight.delete(run.id);
      notify();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.workers, pending.length)) }, lane));
  progress.end();
  return result;
}
