/**
 * Studies on a BullMQ queue (Redis): `bitnet ablate STUDY --queue URL` enqueues every run that is not
 * complete, one job per arm × seed whose id is the run id (enqueueing again adds nothing); `bitnet
 * worker` processes take them (queue/worker.ts). A job carries only paths and ids, checked by the worker
 * against the study on disk (JobPayload and validateJob): nothing in it is ever run.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { Queue, type Job } from 'bullmq';
import { z } from 'zod';
import { InputError } from '../../errors.ts';
import { checkAndWriteLock, readLock, runDirOf, type ResolvedStudy } from '../expand.ts';
import { isComplete, writeRunRecord } from '../rundir.ts';
import type { QueueAddress } from './connection.ts';

/** What a job holds: absolute paths (the study file, its runs directory, the directory relative paths start from), the run id and the study's hash. */
export const JobPayload = z.strictObject({
  version: z.literal(1),
  study: z.string().min(1),
  runs: z.string().min(1),
  cwd: z.string().min(1),
  run: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9._=,+-]+\/seed-\d+$/, 'STUDY/ARM/seed-K'),
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256'),
});
export type JobPayload = z.infer<typeof JobPayload>;

/** Progress a worker reports on a job (BullMQ job.progress). */
export interface JobProgress {
  host: string;
  pid: number;
  step: number;
  total: number;
  loss: number;
  tokens_per_s: number;
}

export interface EnqueueResult {
  added: string[];
  retried: string[];
  queued: string[];
  complete: string[];
}

export function openQueue(addr: QueueAddress): Queue {
  return new Queue(addr.name, { connection: addr.connection });
}

/** Fails with one line (and no password) when Redis cannot be reached or refuses the credentials. */
export async function checkConnection(q: { on(event: 'error', f: (e: Error) => void): unknown; getJobCounts(...t: string[]): Promise<unknown> }, addr: QueueAddress, timeoutMs = 10_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let last: Error | null = null;
  const auth = (m: string) => /WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(m);
  try {
    await Promise.race([
      q.getJobCounts('waiting'),
      new Promise<never>((_, reject) => {
        // ioredis keeps reconnecting; an authentication error will not go away, so it ends the wait at once
        q.on('error', (e) => {
          last = e;
          if (auth(e.message)) reject(e);
        });
        timer = setTimeout(() => reject(last ?? new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    const why = auth(msg) ? 'authentication failed (wrong user or password)' : `cannot connect (${msg.split('\n')[0]!.replace(/:\/\/[^@]*@/, '://***@')})`;
    throw new InputError('--queue', `${addr.display}: ${why}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Enqueues every run of `study` (runs in `runsDir`) that is not complete. */
export async function enqueueStudy(q: Queue, study: ResolvedStudy, runsDir: string, attempts: number): Promise<EnqueueResult> {
  const runs = path.resolve(runsDir);
  mkdirSync(runs, { recursive: true });
  checkAndWriteLock(runs, study);
  // Definitions this one grew from: their jobs compute what this one does, and take its hash.
  const grownFrom = new Set((readLock(runs)?.grown_from ?? []).map((g) => g.hash));
  const r: EnqueueResult = { added: [], retried: [], queued: [], complete: [] };
  for (const run of study.runs) {
    const runDir = runDirOf(runs, run);
    if (isComplete(runDir)) {
      r.complete.push(run.id);
      continue;
    }
    mkdirSync(runDir, { recursive: true });
    writeRunRecord(runDir, study, run);
    const data: JobPayload = { version: 1, study: path.resolve(study.file), runs, cwd: process.cwd(), run: run.id, hash: study.hash };
    const existing = await q.getJob(run.id);
    if (existing) {
      const other = JobPayload.safeParse(existing.data);
      const grown = other.success && other.data.study === data.study && grownFrom.has(other.data.hash);
      if (grown) await existing.updateData(data);
      else if (!other.success || other.data.study !== data.study || other.data.hash !== data.hash)
        throw new InputError(study.file, `the queue already holds a job ${run.id} of another study (${other.success ? `${other.data.study}, hash ${other.data.hash.slice(0, 12)}` : 'unreadable'}): rename the study or use another Redis database`);
      const state = await existing.getState();
      if (state === 'failed') {
        await existing.retry('failed');
        r.retried.push(run.id);
      } else if (state === 'completed') {
        // Completed on the queue but not on disk (its files were removed): run it again.
        await existing.remove();
        await q.add('run', data, jobOptions(run.id, attempts));
        r.added.push(run.id);
      } else r.queued.push(run.id);
      continue;
    }
    await q.add('run', data, jobOptions(run.id, attempts));
    r.added.push(run.id);
  }
  return r;
}

function jobOptions(jobId: string, attempts: number) {
  return { jobId, attempts, backoff: { type: 'fixed' as const, delay: 2000 }, removeOnComplete: false, removeOnFail: false };
}

export interface RunStatus {
  id: string;
  state: string;
  detail: string;
}

/** Where every run of the study stands: on disk (complete) and on the queue (waiting, active where, failed why). */
export async function studyStatus(q: Queue, study: ResolvedStudy, runsDir: string): Promise<RunStatus[]> {
  const lock = readLock(path.resolve(runsDir));
  const out: RunStatus[] = [];
  for (const run of study.runs) {
    const complete = isComplete(runDirOf(path.resolve(runsDir), run));
    const job: Job | undefined = await q.getJob(run.id);
    if (!job) {
      out.push({ id: run.id, state: complete ? 'done' : 'not queued', detail: complete ? '' : lock ? 'run `bitnet ablate --queue` to enqueue it' : '' });
      continue;
    }
    const state = await job.getState();
    const p = job.progress as Partial<JobProgress> | number;
    const where = typeof p === 'object' && p && p.host ? `${p.host} pid ${p.pid}, step ${p.step}/${p.total}, loss ${p.loss?.toFixed(4)}, ${Math.round(p.tokens_per_s ?? 0)} tok/s` : '';
    if (complete) out.push({ id: run.id, state: 'done', detail: typeof job.returnvalue === 'object' && job.returnvalue?.host ? `by ${job.returnvalue.host}` : '' });
    else if (state === 'failed') out.push({ id: run.id, state: 'failed', detail: `after ${job.attemptsMade} attempt(s): ${(job.failedReason ?? '').split('\n')[0]}` });
    else if (state === 'active') out.push({ id: run.id, state: 'running', detail: where || 'starting' });
    else out.push({ id: run.id, state: state === 'delayed' ? 'retry pending' : state, detail: job.attemptsMade > 0 ? `attempt ${job.attemptsMade + 1}: ${(job.failedReason ?? '').split('\n')[0]}` : '' });
  }
  return out;
}

export const thisHost = (): string => os.hostname();
