/**
 * `npx tsx scripts/bench-queue.ts [--runs 6]`: what the BullMQ queue costs per run on this machine. The
 * same tiny study (RUNS runs of a 1-layer model, a few steps each, engine evaluation on) once with the
 * local runner (1 worker) and once through a redis-server started here with one `bitnet worker`
 * (1 run at a time): the difference of the wall times per run, and from the jobs' own timestamps the
 * dispatch latency (a free worker to its next job's start) and completion to report (the run's
 * engine.json written to the job marked completed). Prints the machine, commit and command.
 */
import { execSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { parseQueueUrl } from '../src/ablate/queue/connection.ts';
import { prepare } from '../src/data/prepare.ts';

const arg = (n: string, d: string) => (process.argv.includes(`--${n}`) ? process.argv[process.argv.indexOf(`--${n}`) + 1]! : d);
const RUNS = Number(arg('runs', '6'));
const BIN = path.resolve('bin/bitnet.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-queue-'));
const commit = (() => {
  try {
    return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();

const port = await new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as net.AddressInfo).port;
    s.close(() => resolve(p));
  });
});
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
try {
  const corpus = path.join(dir, 'c.txt');
  writeFileSync(corpus, Array.from({ length: 200 }, (_, i) => `Line ${i}: call me Ishmael; some years ago, never mind how long precisely.`).join('\n'));
  const data = path.join(dir, 'data');
  await prepare({ corpus, vocabSize: 300, out: data });
  const study = (name: string) => {
    const f = path.join(dir, name, 'study.json');
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, JSON.stringify({
      name: 'bq', data,
      base: { model: { d_model: 256, n_layers: 1, n_heads: 4, n_kv_heads: 4, d_ff: 256, context_length: 64 }, train: { batch_size: 2, seq_len: 32, eval_every: 4, ckpt_every: 4, backend: 'wasm' } },
      arms: [{ name: 'a', set: {} }], seeds: Array.from({ length: RUNS }, (_, i) => i + 1), token_budget: 256, eval: { batches: 1, engine: true },
    }));
    return f;
  };
  let t = performance.now();
  const local = spawnSync(process.execPath, [BIN, 'ablate', study('local'), '--workers', '1'], { encoding: 'utf8', env: { ...process.env, BITNET_THREADS: '1' } });
  if (local.status !== 0) throw new Error(local.stderr);
  const localS = (performance.now() - t) / 1000;

  const url = `redis://127.0.0.1:${port}`;
  const w = spawn(process.execPath, [BIN, 'worker', '--queue', url, '--threads', '1'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 3000)); // the worker is up and waiting
  t = performance.now();
  const qfile = study('queued');
  const e = spawnSync(process.execPath, [BIN, 'ablate', qfile, '--queue', url, '--wait'], { encoding: 'utf8' });
  const queueS = (performance.now() - t) / 1000;
  w.kill('SIGTERM');
  if (e.status !== 0) throw new Error(e.stderr + e.stdout);
  const addr = parseQueueUrl(url);
  const q = new Queue(addr.name, { connection: addr.connection });
  const jobs = (await Promise.all(Array.from({ length: RUNS }, (_, i) => q.getJob(`bq/a/seed-${i + 1}`)))).map((j) => j!).sort((a, b) => a.processedOn! - b.processedOn!);
  const dispatch: number[] = [];
  const report: number[] = [];
  jobs.forEach((j, i) => {
    dispatch.push(j.processedOn! - (i === 0 ? j.timestamp : Math.max(j.timestamp, jobs[i - 1]!.finishedOn!)));
    report.push(j.finishedOn! - statSync(path.join(dir, 'queued', 'runs', 'a', `seed-${j.id!.split('-').pop()}`, 'engine.json')).mtimeMs);
  });
  await q.close();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`bench-queue — ${os.cpus()[0]?.model} x ${os.availableParallelism()}, node ${process.version}, redis ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1]}, commit ${commit}`);
  console.log(`command: npx tsx scripts/bench-queue.ts --runs ${RUNS}; ${RUNS} runs of 8 steps (1 layer, d256), engine evaluation on, 1 worker / 1 run at a time, 1 kernel thread`);
  console.log(`local runner:       ${localS.toFixed(1)} s (${(localS / RUNS).toFixed(2)} s per run)`);
  console.log(`through the queue:  ${queueS.toFixed(1)} s (${(queueS / RUNS).toFixed(2)} s per run, enqueue and --wait's polling included)`);
  console.log(`queue overhead per run: ${((queueS - localS) / RUNS).toFixed(2)} s; dispatch (free worker to next start) ${mean(dispatch).toFixed(0)} ms mean, ${Math.max(...dispatch).toFixed(0)} ms max; completion to report (engine.json to job completed) ${mean(report).toFixed(0)} ms mean`);
} finally {
  redis.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
