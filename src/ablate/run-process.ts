/**
 * One study run in its own process: worker.ts trains (or resumes) the run described by RUN_DIR/run.json,
 * exports and evaluates it, and reports each step over IPC. Shared by the local runner (runner.ts) and
 * the queue worker (queue/worker.ts): both decide what to run; this starts it and reads how it ended.
 * The child exits when its parent goes away (IPC disconnect), so a killed runner leaves no orphan
 * training behind.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { failureOf, RUNNING_FILE } from './rundir.ts';
import type { WorkerMessage } from './worker.ts';

// Run from the bundle (dist/*.mjs, scripts/build-bundle.mjs) the worker is dist/worker.mjs, plain
// JavaScript; run from src/ through tsx it is worker.ts under tsx's loader.
const BUNDLED = import.meta.url.endsWith('.mjs');
const WORKER = fileURLToPath(new URL(BUNDLED ? './worker.mjs' : './worker.ts', import.meta.url));
const EXEC_ARGV = BUNDLED ? [] : ['--import', import.meta.resolve('tsx')];

export interface RunOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last 8 KB the child wrote to stderr. */
  stderr: string;
  /** The final validation loss it reported, when it finished. */
  valLoss: number | null;
}

export interface RunProcess {
  child: ChildProcess;
  done: Promise<RunOutcome>;
}

/** Starts the run in `runDir` with `threads` kernel threads (BITNET_THREADS), from working directory `cwd`. */
export function startRunProcess(runDir: string, o: { threads: number; cwd?: string; onStep?: (m: Extract<WorkerMessage, { type: 'step' }>) => void }): RunProcess {
  const child = fork(WORKER, [runDir], {
    execArgv: EXEC_ARGV,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    cwd: o.cwd,
    env: { ...process.env, BITNET_THREADS: process.env.BITNET_THREADS ?? String(o.threads) },
  });
  const runningFile = path.resolve(o.cwd ?? '.', runDir, RUNNING_FILE);
  writeFileSync(runningFile, `${child.pid}\n`);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  let valLoss: number | null = null;
  child.on('message', (m: WorkerMessage) => {
    if (m.type === 'step') o.onStep?.(m);
    else if (m.type === 'finished') valLoss = m.valLoss;
  });
  const done = new Promise<RunOutcome>((resolve) =>
    child.on('close', (code, signal) => {
      rmSync(runningFile, { force: true });
      resolve({ code, signal, stderr, valLoss });
    }),
  );
  return { child, done };
}

/** Why a run process failed: the FAILED file it wrote, else its exit status and the end of its stderr. */
export function failureText(runDir: string, r: RunOutcome): string {
  const written = failureOf(runDir);
  if (written !== null) return written.trim();
  const tail = r.stderr.trim().split('\n').slice(-20).join('\n');
  return `worker exited with ${r.signal ? `signal ${r.signal}` : `code ${r.code}`}${tail ? `:\n${tail}` : ''}`;
}
