/**
 * `bitnet worker --queue URL`: takes study runs from the BullMQ queue and trains them, on any machine
 * that sees the study directory (shared storage, NFS-style: the same absolute paths). Per job:
 *  1. the payload is validated (JobPayload) against the study on disk: the study file must be visible
 *     here, its hash (and its runs directory's lock) must be the one enqueued, the run id must be one of
 *     its runs and resolve inside its runs directory; anything else fails the job for good with a
 *     one-line reason. Nothing in the payload is run: it names a run, the worker runs our trainer on it;
 *  2. a run already complete on disk is a late duplicate: discarded, reported as such;
 *  3. the run directory's lock (run-lock.ts) is taken, kept by a heartbeat, and checked: losing it (a
 *     stalled worker taken over) stops the training at once;
 *  4. the run trains or resumes from its last checkpoint in a child process (run-process.ts), reporting
 *     step, loss and tokens/s through the job; exports, evaluates, writes DONE and engine.json, and
 *     worker.json (which host and job finished it).
 * A worker that dies leaves its job active until BullMQ's stalled-job check gives it to another worker
 * (after --stall-timeout), which resumes it from the last checkpoint. A failure is retried up to the
 * job's attempts (bad input is not), then the job is failed with the error, also written to FAILED.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { isInputError } from '../../errors.ts';
import { writeFileAtomic } from '../../format/atomic.ts';
import { readLock, resolveStudy, runDirOf } from '../expand.ts';
import { failureText, startRunProcess } from '../run-process.ts';
import { FAILED_FILE, INPUT_ERROR_EXIT, isComplete } from '../rundir.ts';
import type { QueueAddress } from './connection.ts';
import { JobPayload, type JobProgress } from './jobs.ts';
import { acquireRunLock, heartbeatRunLock, releaseRunLock } from './run-lock.ts';

export interface QueueWorkerOptions {
  /** Kernel threads per run (default: the cores shared out among the concurrent jobs). */
  threads?: number;
  /** Runs at once. */
  concurrency: number;
  /** Seconds without a heartbeat after which a job (and a run lock) counts as abandoned. */
  stallTimeoutS: number;
  log?: (line: string) => void;
}

export const WORKER_FILE = 'worker.json';

/** The checks of step 1: the run's directory and working directory, or an UnrecoverableError saying why not. */
export function validateJob(data: unknown): { payload: JobPayload; runDir: string; afterDir: string | null } {
  const parsed = JobPayload.safeParse(data);
  if (!parsed.success) throw new UnrecoverableError(`bad job: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ')}`);
  const p = parsed.data;
  for (const [k, v] of [['study', p.study], ['runs', p.runs], ['cwd', p.cwd]] as const)
    if (!path.isAbsolute(v)) throw new UnrecoverableError(`bad job: ${k} "${v}" is not an absolute path`);
  if (!existsSync(p.study) || !existsSync(p.runs) || !existsSync(p.cwd))
    throw new UnrecoverableError(`cannot see the study ${p.study} (or its runs ${p.runs}) from ${os.hostname()}: the study directory must be on storage every worker sees, at the same path`);
  let study;
  try {
    study = resolveStudy(p.study, p.cwd);
  } catch (e) {
    throw new UnrecoverableError(isInputError(e) ? e.message : `the study cannot be read: ${(e as Error).message}`);
  }
  if (study.hash !== p.hash) throw new UnrecoverableError(`the study ${p.study} changed since this job was enqueued (hash ${study.hash.slice(0, 12)}, the job's ${p.hash.slice(0, 12)}): enqueue it again`);
  const lock = readLock(p.runs);
  if (lock?.hash !== p.hash) throw new UnrecoverableError(`${p.runs} holds runs of another study definition (lock hash ${lock?.hash.slice(0, 12) ?? 'missing'})`);
  const run = study.runs.find((r) => r.id === p.run);
  if (!run) throw new UnrecoverableError(`${p.run} is not a run of the study ${p.study}`);
  const runDir = runDirOf(p.runs, run);
  const rel = path.relative(p.runs, runDir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new UnrecoverableError(`${p.run} escapes the runs directory ${p.runs}`);
  const source = run.after ? study.runs.find((r) => r.id === run.after) : undefined;
  return { payload: p, runDir, afterDir: source ? runDirOf(p.runs, source) : null };
}

export function startQueueWorker(addr: QueueAddress, o: QueueWorkerOptions): Worker {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const host = os.hostname();
  const staleMs = o.stallTimeoutS * 1000;
  const threads = o.threads ?? Math.max(1, Math.floor(os.availableParallelism() / o.concurrency));
  const processor = async (job: Job, jobToken?: string) => {
    const { payload, runDir, afterDir } = validateJob(job.data);
    if (afterDir !== null && !isComplete(afterDir)) {
      // Its warm start is not trained yet: back to the queue for a while, without spending an attempt.
      await job.moveToDelayed(Date.now() + 2000, jobToken);
      throw new DelayedError();
    }
    if (isComplete(runDir)) {
      log(`${job.id}: already complete on disk: a late duplicate, discarded`);
      return { status: 'duplicate', host };
    }
    const token = randomUUID();
    const got = acquireRunLock(runDir, { token, host, pid: process.pid, job: String(job.id) }, staleMs);
    if (!got.ok) throw new Error(`the run is being trained by ${got.holder ? `${got.holder.host} pid ${got.holder.pid} (job ${got.holder.job})` : 'another worker'}, heartbeat ${(got.ageMs / 1000).toFixed(0)} s ago`);
    log(`${job.id}: start (attempt ${job.attemptsMade + 1} of ${job.opts.attempts ?? 1}) in ${runDir}`);
    let lost = false;
    let lastReport = 0;
    let beat: NodeJS.Timeout | undefined;
    try {
      const proc = startRunProcess(runDir, {
        threads,
        cwd: payload.cwd,
        onStep: (m) => {
          const now = Date.now();
          if (now - lastReport < 1000 && m.step !== m.total) return;
          lastReport = now;
          const progress: JobProgress = { host, pid: process.pid, step: m.step, total: m.total, loss: m.loss, tokens_per_s: m.tokens_per_s };
          void job.updateProgress(progress as unknown as object).catch(() => {});
        },
      });
      beat = setInterval(() => {
        if (!heartbeatRunLock(runDir, token)) {
          lost = true;
          proc.child.kill('SIGKILL');
        }
      }, Math.max(200, Math.min(5000, staleMs / 4)));
      const outcome = await proc.done;
      if (lost) throw new Error(`lost the run's lock (another worker took the run over): stopped`);
      if (outcome.code === 0 && isComplete(runDir)) {
        writeFileAtomic(path.join(runDir, WORKER_FILE), JSON.stringify({ host, pid: process.pid, job: job.id, attempt: job.attemptsMade + 1, finished: new Date().toISOString() }, null, 2) + '\n');
        log(`${job.id}: done${outcome.valLoss !== null ? ` (val loss ${outcome.valLoss.toFixed(4)})` : ''}`);
        return { status: 'done', host, valLoss: outcome.valLoss };
      }
      const text = failureText(runDir, outcome);
      writeFileSync(path.join(runDir, FAILED_FILE), `attempt ${job.attemptsMade + 1} of ${job.opts.attempts ?? 1} on ${host}: ${text}\n`);
      log(`${job.id}: failed: ${text.split('\n')[0]}`);
      if (outcome.code === INPUT_ERROR_EXIT) throw new UnrecoverableError(text);
      throw new Error(text);
    } finally {
      clearInterval(beat);
      releaseRunLock(runDir, token);
    }
  };
  const worker = new Worker(addr.name, processor, {
    connection: addr.connection,
    concurrency: o.concurrency,
    lockDuration: staleMs,
    stalledInterval: Math.max(1000, staleMs / 2),
    maxStalledCount: 10,
  });
  worker.on('error', (e) => log(`queue ${addr.display}: ${e.message.split('\n')[0]}`));
  return worker;
}
