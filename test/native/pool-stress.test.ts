/**
 * The thread pool's claim protocol under stress (native/src/pool.cc, pool_stress.cc): many thousands
 * of alternating jobs of very different chunk counts and grains, each chunk recording which job (and
 * which of two functions) ran each index and how often, with 2-4 pool threads while two CPU hogs
 * compete for the cores. Each run is a child process with a deadline, since the failure being tested
 * for is a hang (the caller waiting for a completion count that a stale claim pushed past its target).
 *
 * The race needs a worker to be descheduled between two instructions, a window a few nanoseconds wide
 * (research/pool-race.md: 800,000 jobs without a failure). The pool's test hook widens the caller's
 * publish window by a busy delay; with it, the old protocol hung within its first jobs, every time.
 * The same jobs also run with no delay.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { type ChildOutcome, runChild } from '../support/child.ts';
import { nativeStatus } from '../../src/native/addon.ts';

const JOBS = 6000;
// (count, grain): 2 chunks, 64, 1000, 3 (a short tail), 40 wide ones, 1 chunk (inline, no workers)
const COUNTS = [2, 4096, 1000, 7, 40 * 1024, 5];
const GRAINS = [1, 64, 1, 3, 1024, 8];
const DEADLINE_MS = 10_000;

function runStress(file: string, threads: number, delayNs: number): Promise<ChildOutcome> {
  const script = `
    const a = require(${JSON.stringify(file)});
    a.setThreads(${threads});
    const r = a.poolStress(${JOBS}, Int32Array.from(${JSON.stringify(COUNTS)}), Int32Array.from(${JSON.stringify(GRAINS)}), ${delayNs});
    process.stdout.write(JSON.stringify(r));`;
  return runChild(['-e', script], { deadlineMs: DEADLINE_MS });
}

describe('native pool: claim protocol under stress', function () {
  this.timeout(120_000);
  const status = nativeStatus();
  if (process.env.BITNET_NO_NATIVE === '1') return;
  let hogs: ChildProcess[] = [];
  before(() => {
    hogs = [0, 1].map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  });
  after(() => {
    for (const h of hogs) h.kill('SIGKILL');
  });

  for (const threads of [2, 3, 4])
    for (const delayNs of [0, 2000])
      it(`${threads} threads, publish window ${delayNs === 0 ? 'as is' : `widened by ${delayNs} ns`}: ${JOBS} jobs, every index run once by its own job`, async () => {
        expect(status.loaded, `native addon: ${status.reason}`).to.equal(true);
        const r = await runStress(status.file!, threads, delayNs);
        expect(r.timedOut, `hung: no result within ${DEADLINE_MS / 1000} s (a completion that never arrives)`).to.equal(false);
        expect(r.code, `exit ${r.code} ${r.signal ?? ''}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`).to.equal(0);
        expect(JSON.parse(r.stdout)).to.deep.equal({ jobs: JOBS, missing: 0, repeated: 0, wrongJob: 0, outOfRange: 0 });
      });
});
