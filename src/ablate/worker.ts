/**
 * One study run in its own process (forked by the runner, so each run has its own tfjs backend):
 * `worker.ts RUN_DIR` trains the run described by RUN_DIR/run.json (resuming from its latest
 * checkpoint, skipping training when DONE), then exports and evaluates it (finish.ts). Progress goes to
 * the parent over IPC; training lines go to RUN_DIR/train.log; an error goes to RUN_DIR/FAILED and the
 * exit code 1. When the parent dies (SIGKILL) the worker stops at its next step instead of racing the
 * next `bitnet ablate` on the same run directory.
 */
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isDone, train } from '../train/trainer.ts';
import { finishRun } from './finish.ts';
import { FAILED_FILE, INPUT_ERROR_EXIT, readRunRecord } from './rundir.ts';

export type WorkerMessage = { type: 'step'; step: number; total: number; loss: number; tokens_per_s: number } | { type: 'finished'; valLoss: number | null };

const runDir = process.argv[2];
if (!runDir) throw new Error('usage: worker.ts RUN_DIR');
const parent = process.ppid;
const send = (m: WorkerMessage) => {
  if (process.connected) process.send?.(m);
};
const orphaned = () => process.ppid !== parent || !process.connected;
let finished = false;
process.on('disconnect', () => {
  if (!finished) process.exit(130);
});

// Test only: BITNET_TEST_HOLD=RUN_ID@STEP makes that run's worker stop still after reporting STEP (its
// checkpoints up to the previous ckpt_every step written), with a HELD file, until it is killed: the kill
// tests then see one exact state instead of racing the clock.
const hold = /^(.+)@(\d+)$/.exec(process.env.BITNET_TEST_HOLD ?? '');

try {
  const run = readRunRecord(runDir);
  rmSync(path.join(runDir, FAILED_FILE), { force: true });
  rmSync(path.join(runDir, 'HELD'), { force: true });
  let valLoss: number | null = null;
  if (!isDone(runDir)) {
    const log = path.join(runDir, 'train.log');
    const tokensPerStep = run.config.train.batch_size * run.config.train.seq_len * run.config.train.grad_accum;
    let lastAt = performance.now();
    const r = await train({
      config: run.config,
      dataDir: run.data.dir,
      runDir,
      resume: true,
      log: (line) => appendFileSync(log, line + '\n'),
      onStep: (step, total, loss) => {
        if (orphaned()) process.exit(130);
        const now = performance.now();
        send({ type: 'step', step, total, loss, tokens_per_s: tokensPerStep / Math.max(1e-9, (now - lastAt) / 1000) });
        lastAt = now;
        if (hold && hold[1] === run.id && Number(hold[2]) === step) {
          writeFileSync(path.join(runDir, 'HELD'), `${step}\n`);
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
        }
      },
    });
    valLoss = r.valLoss;
  }
  await finishRun(runDir, { engine: run.engine, dataDir: run.data.dir });
  // Disconnect once the last message is out (process.send is asynchronous), then end naturally, so
  // stderr is flushed before the parent reads the exit status.
  finished = true;
  if (process.connected) process.send!({ type: 'finished', valLoss } satisfies WorkerMessage, () => process.disconnect());
} catch (e) {
  const input = e instanceof Error && e.name === 'InputError';
  const text = e instanceof Error ? (input ? e.message : (e.stack ?? e.message)) : String(e);
  writeFileSync(path.join(runDir, FAILED_FILE), text + '\n');
  process.exitCode = input ? INPUT_ERROR_EXIT : 1;
  finished = true;
  if (process.connected) process.disconnect();
}
