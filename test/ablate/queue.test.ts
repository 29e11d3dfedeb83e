/**
 * Studies on a BullMQ queue (src/ablate/queue/), against a real redis-server started here:
 * - two `bitnet worker` processes reach the local runner's results (every deterministic metric column
 *   and the engine's loss identical, run by run; only the timing columns differ);
 * - a worker SIGKILLed while its run has a checkpoint: the other worker takes the run over after the
 *   stall timeout and resumes it from that checkpoint (each step once; the checkpoint untouched);
 * - redis-server restarted mid-study: the workers reconnect and the study completes;
 * - bad jobs (an escaping run id, an unknown study, a changed study) fail with a one-line reason;
 * - a study that grew is enqueued again: its queued jobs take the new hash;
 * - a wrong password: one line, exit 2, the password not printed.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { parseQueueUrl } from '../../src/ablate/queue/connection.ts';
import { readMetrics, type MetricRow } from '../../src/train/metrics.ts';
import { redisAvailable, startRedis, type TestRedis } from '../support/redis.ts';
import { rmDir, tinyData, tmpDir } from '../support/tiny.ts';

const BIN = path.resolve('bin/bitnet.js');
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DETERMINISTIC: (keyof MetricRow)[] = ['step', 'tokens', 'loss', 'val_loss', 'val_bpb', 'lr', 'weight_decay', 'grad_norm', 'zero_frac', 'flip_frac'];

function studyJson(data: string, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    name: 'q', description: 'queue test', data,
    base: {
      model: { d_model: 256, n_layers: 1, n_heads: 4, n_kv_heads: 4, d_ff: 256, context_length: 64 },
      train: { batch_size: 2, seq_len: 32, log_every: 1, eval_every: 4, ckpt_every: 4, keep_last: 5, backend: 'wasm', lr: { kind: 'cosine', peak: 3e-3, warmup: 2 } },
    },
    axes: { mode: 'grid', axes: { 'model.weight_quant': ['fp', 'ternary'] } },
    seeds: [1, 2],
    token_budget: 512, // 8 steps of 2 x 32
    eval: { batches: 1, engine: true },
    ...over,
  });
}

describe('ablate/queue: studies on BullMQ with bitnet worker processes', function () {
  this.timeout(300_000);
  let dir: string;
  let data: string;
  let redis: TestRedis;
  const workers: ChildProcess[] = [];
  const worker = (url: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []) => {
    // its own process group, so that a SIGKILL takes its training child down with it, as a crash would
    const w = spawn(process.execPath, [BIN, 'worker', '--queue', url, '--stall-timeout', '3', '--threads', '1', ...extra], { stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, ...env } });
    let log = '';
    w.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    (w as ChildProcess & { log: () => string }).log = () => log;
    workers.push(w);
    return w as ChildProcess & { log: () => string };
  };
  const killGroup = (w: ChildProcess) => {
    try {
      process.kill(-w.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const study = (name: string, over: Record<string, unknown> = {}) => {
    const file = path.join(dir, name, 'study.json');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, studyJson(data, { name, ...over }));
    return file;
  };
  const runDirs = (file: string) => readdirSync(path.join(path.dirname(file), 'runs'), { withFileTypes: true }).filter((d) => d.isDirectory()).flatMap((a) => readdirSync(path.join(path.dirname(file), 'runs', a.name)).map((s) => path.join(path.dirname(file), 'runs', a.name, s)));
  const allDone = (file: string, n: number) => existsSync(path.join(path.dirname(file), 'runs')) && runDirs(file).filter((d) => existsSync(path.join(d, 'DONE')) && existsSync(path.join(d, 'engine.json'))).length === n;
  async function until(cond: () => boolean, what: string, ms = 120_000) {
    const t = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > t) throw new Error(`timed out waiting for: ${what}`);
      await sleep(100);
    }
  }

  before(async function () {
    expect(redisAvailable(), 'redis-server is not installed (Debian: apt install redis-server; .ci/run installs it)').to.equal(true);
    dir = tmpDir('queue');
    data = await tinyData(dir);
    redis = await startRedis();
  });
  afterEach(() => {
    for (const w of workers.splice(0)) killGroup(w);
  });
  after(async () => {
    await redis?.stop();
    if (dir) rmDir(dir); // the before hook may have failed before making it
  });

  it('two workers reach the local runner\'s results, run by run (metrics and engine loss identical)', async () => {
    const local = study('local');
    const r = cli(['ablate', local, '--workers', '2']);
    expect(r.status, r.stderr + r.stdout).to.equal(0);
    const queued = path.join(dir, 'queued', 'study.json');
    mkdirSync(path.dirname(queued), { recursive: true });
    cpSync(local, queued);
    const t0 = Date.now();
    const e = cli(['ablate', queued, '--queue', redis.url]);
    expect(e.status, e.stderr).to.equal(0);
    expect(e.stdout).to.match(/4 enqueued, 0 failed ones retried, 0 already queued, 0 complete/);
    // enqueueing twice adds nothing
    expect(cli(['ablate', queued, '--queue', redis.url]).stdout).to.match(/0 enqueued, 0 failed ones retried, 4 already queued/);
    worker(redis.url);
    worker(redis.url);
    await until(() => allDone(queued, 4), 'the queued study to finish');
    const seconds = (Date.now() - t0) / 1000;
    for (const d of runDirs(local)) {
      const q = d.replace(`${path.sep}local${path.sep}`, `${path.sep}queued${path.sep}`);
      const a = readMetrics(path.join(d, 'metrics.arrow'));
      const b = readMetrics(path.join(q, 'metrics.arrow'));
      expect(b.length, q).to.equal(a.length);
      a.forEach((row, i) => {
        for (const c of DETERMINISTIC) expect(Object.is(b[i]![c], row[c]) || (Number.isNaN(b[i]![c]) && Number.isNaN(row[c])), `${q} step ${row.step} ${c}`).to.equal(true);
      });
      expect(JSON.parse(readFileSync(path.join(q, 'engine.json'), 'utf8')).loss).to.equal(JSON.parse(readFileSync(path.join(d, 'engine.json'), 'utf8')).loss);
      expect(JSON.parse(readFileSync(path.join(q, 'worker.json'), 'utf8')).host).to.be.a('string');
    }
    const s = cli(['ablate', queued, '--queue', redis.url, '--status']);
    expect(s.stdout.trim().split('\n').filter((l) => /\bdone\b/.test(l))).to.have.length(4);
    // the report works unchanged on the queued study
    expect(cli(['report', path.dirname(queued)]).status).to.equal(0);
    process.stderr.write(`      (4 runs through the queue with 2 workers in ${seconds.toFixed(1)} s)\n`);
  });

  it('a worker SIGKILLed mid-run: the other takes the run over and resumes from its checkpoint, each step once', async () => {
    const file = study('killed', { axes: { mode: 'grid', axes: { 'model.weight_quant': ['ternary'] } }, seeds: [1] });
    expect(cli(['ablate', file, '--queue', redis.url]).status).to.equal(0);
    const runDir = path.join(path.dirname(file), 'runs', 'weight_quant=ternary', 'seed-1');
    // worker A holds still after step 5 (checkpoint 4 written), then dies
    const a = worker(redis.url, { BITNET_TEST_HOLD: 'killed/weight_quant=ternary/seed-1@5' });
    await until(() => existsSync(path.join(runDir, 'HELD')), 'worker A to reach step 5');
    const ckpt = path.join(runDir, 'checkpoints', 'step-4', 'state.json');
    const before = statSync(ckpt).mtimeMs;
    killGroup(a);
    const b = worker(redis.url);
    await until(() => allDone(file, 1), 'worker B to finish the run');
    expect(readMetrics(path.join(runDir, 'metrics.arrow')).map((m) => m.step)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(statSync(ckpt).mtimeMs, 'checkpoint 4 was rewritten: steps before it were redone').to.equal(before);
    await until(() => /killed\/weight_quant=ternary\/seed-1: done/.test(b.log()), 'worker B to say it finished the run');
    expect(JSON.parse(readFileSync(path.join(runDir, 'worker.json'), 'utf8')).pid).to.equal(b.pid);
  });

  it('redis-server restarted during the study: the workers reconnect and it completes', async () => {
    const file = study('restart');
    expect(cli(['ablate', file, '--queue', redis.url]).status).to.equal(0);
    worker(redis.url);
    await until(() => existsSync(path.join(path.dirname(file), 'runs')) && runDirs(file).some((d) => existsSync(path.join(d, 'checkpoints'))), 'a run to start');
    await redis.shutdown();
    await sleep(1500);
    await redis.restart();
    await until(() => allDone(file, 4), 'the study to finish after the restart');
    const s = cli(['ablate', file, '--queue', redis.url, '--status']);
    expect(s.stdout.trim().split('\n').filter((l) => /\bdone\b/.test(l))).to.have.length(4);
  });

  it('refuses bad jobs with a one-line reason: an escaping run id, an unknown study, a changed study', async () => {
    const file = study('bad', { axes: { mode: 'grid', axes: { 'model.weight_quant': ['fp'] } }, seeds: [1] });
    expect(cli(['ablate', file, '--queue', redis.url]).status).to.equal(0);
    const good = JSON.parse(readFileSync(path.join(path.dirname(file), 'runs', 'study.lock.json'), 'utf8')).hash as string;
    const addr = parseQueueUrl(redis.url);
    const q = new Queue(addr.name, { connection: addr.connection });
    const base = { version: 1, study: path.resolve(file), runs: path.resolve(path.dirname(file), 'runs'), cwd: process.cwd(), hash: good };
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['escape', { ...base, run: '../../../etc/seed-1' }, /^bad job: run: STUDY\/ARM\/seed-K$/],
      ['dotdot', { ...base, run: 'bad/../seed-1' }, /^bad\/\.\.\/seed-1 is not a run of the study /],
      ['unknown', { ...base, study: '/nonexistent/study.json', run: 'bad/weight_quant=fp/seed-1' }, /^cannot see the study \/nonexistent\/study\.json .* from .*: the study directory must be on storage every worker sees, at the same path$/],
      ['relative', { ...base, study: 'study.json', run: 'bad/weight_quant=fp/seed-1' }, /^bad job: study "study\.json" is not an absolute path$/],
      ['extra', { ...base, run: 'bad/weight_quant=fp/seed-1', cmd: 'rm -rf /' }, /^bad job: \(payload\): Unrecognized key/],
      // a study that changed since the job was enqueued: its hash is not the job's
      ['changed', { ...base, run: 'bad/weight_quant=fp/seed-1', hash: 'f'.repeat(64) }, /^the study .*bad\/study\.json changed since this job was enqueued \(hash [0-9a-f]{12}, the job's f{12}\): enqueue it again$/],
    ];
    for (const [id, payload] of bad) await q.add('run', payload, { jobId: `bad-${id}`, attempts: 3 });
    worker(redis.url);
    const reason = async (id: string) => {
      for (let i = 0; i < 600; i++) {
        const j = await q.getJob(id);
        // the snapshot j must already hold the failure: a job that fails between getJob and getState reads 'failed' with a stale, empty reason
        if (j && j.failedReason !== undefined && (await j.getState()) === 'failed') return { reason: j.failedReason, attempts: j.attemptsMade };
        await sleep(100);
      }
      throw new Error(`job ${id} did not fail`);
    };
    for (const [id, , pattern] of bad) {
      const r = await reason(`bad-${id}`);
      expect(r.reason, id).to.match(pattern);
      expect(r.reason).to.not.include('\n');
      expect(r.attempts, `${id} was retried`).to.equal(1);
    }
    await q.close();
  });

  it('a study that grew is enqueued again: its waiting jobs take the new hash, the added runs are added', async () => {
    const file = study('grow', { axes: { mode: 'grid', axes: { 'model.weight_quant': ['fp'] } }, seeds: [1] });
    expect(cli(['ablate', file, '--queue', redis.url]).status).to.equal(0);
    writeFileSync(file, studyJson(data, { name: 'grow', axes: { mode: 'grid', axes: { 'model.weight_quant': ['fp'] } }, seeds: [1, 2] }));
    const r = cli(['ablate', file, '--queue', redis.url]);
    expect(r.status, r.stderr).to.equal(0);
    const lock = JSON.parse(readFileSync(path.join(path.dirname(file), 'runs', 'study.lock.json'), 'utf8'));
    expect(lock.grown_from).to.have.length(1);
    const addr = parseQueueUrl(redis.url);
    const q = new Queue(addr.name, { connection: addr.connection });
    for (const id of ['grow/weight_quant=fp/seed-1', 'grow/weight_quant=fp/seed-2']) {
      const job = await q.getJob(id);
      expect(job?.data.hash, id).to.equal(lock.hash);
      await job!.remove(); // no worker takes them
    }
    await q.close();
  });

  it('a wrong password is one line and exit 2, and the password is not printed', async () => {
    const locked = await startRedis({ password: 'right-secret' });
    try {
      const url = `redis://:wrong-secret@127.0.0.1:${locked.port}`;
      const w = cli(['worker', '--queue', url]);
      expect(w.status).to.equal(2);
      expect(w.stderr).to.equal(`bitnet: --queue: redis://:***@127.0.0.1:${locked.port}/0: authentication failed (wrong user or password)\n`);
      const file = study('pw', { seeds: [1] });
      const a = cli(['ablate', file, '--queue', url]);
      expect(a.status).to.equal(2);
      expect(a.stderr).to.not.include('wrong-secret');
      // the right password from the environment
      const ok = cli(['ablate', file, '--queue', `redis://127.0.0.1:${locked.port}`, '--status'], { BITNET_REDIS_PASSWORD: 'right-secret' });
      expect(ok.status, ok.stderr).to.equal(0);
      expect(ok.stdout + ok.stderr).to.not.include('right-secret');
    } finally {
      await locked.stop();
    }
  });
});
