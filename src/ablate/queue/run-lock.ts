/**
 * The run directory's lock for queue workers (RUN_DIR/LOCK): who trains the run now. Taken with a hard
 * link of a written temp file (atomic, also on NFS), kept alive by touching its mtime (the heartbeat),
 * and taken over only when that heartbeat is older than `staleMs`: a worker that died (SIGKILL, a lost
 * machine) frees its runs after that long, one that lives keeps them. A worker that finds the lock no
 * longer its own (taken over while it stalled) stops: two workers never train, nor finish, one run.
 */
import { linkSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'LOCK';

export interface RunLockHolder {
  token: string;
  host: string;
  pid: number;
  job: string;
}

function read(file: string): RunLockHolder | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunLockHolder;
  } catch {
    return null;
  }
}

/** Takes the lock of `runDir` for `me`, or says who holds a live one. */
export function acquireRunLock(runDir: string, me: RunLockHolder, staleMs: number): { ok: true } | { ok: false; holder: RunLockHolder | null; ageMs: number } {
  const file = path.join(runDir, LOCK_FILE);
  const tmp = `${file}.${me.token}`;
  writeFileSync(tmp, JSON.stringify(me));
  try {
    linkSync(tmp, file);
    return { ok: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    let ageMs = 0;
    try {
      ageMs = Date.now() - statSync(file).mtimeMs;
    } catch {
      ageMs = Infinity; // removed meanwhile: free
    }
    if (ageMs < staleMs) return { ok: false, holder: read(file), ageMs };
    // Stale: take it over. If two take over at once the last rename wins; the other sees a foreign token at its next heartbeat.
    renameSync(tmp, file);
    return read(file)?.token === me.token ? { ok: true } : { ok: false, holder: read(file), ageMs: 0 };
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Keeps our lock alive; false when it is no longer ours (taken over, or removed). */
export function heartbeatRunLock(runDir: string, token: string): boolean {
  const file = path.join(runDir, LOCK_FILE);
  if (read(file)?.token !== token) return false;
  const now = new Date();
  utimesSync(file, now, now);
  return true;
}

export function releaseRunLock(runDir: string, token: string): void {
  const file = path.join(runDir, LOCK_FILE);
  if (read(file)?.token === token) rmSync(file, { force: true });
}
