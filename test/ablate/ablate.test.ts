/**
 * Acceptance: a tiny study (2 arms × 2 seeds, 6 steps each) through the CLI with 2 workers, killed
 * with SIGKILL once one run is DONE and another has a checkpoint, then run again: every run ends DONE,
 * finished runs are not redone, the partial run resumes from its checkpoint, and the report's files
 * exist and parse. Also: a changed study definition, a failing run, and a report that refuses to mix.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { readMetrics } from '../../src/train/metrics.ts';
import { rmDir, tinyData, tmpDir } from '../support/tiny.ts';

const BIN = path.resolve('bin/bitnet.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function studyJson(data: string, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    name: 'tiny',
    description: 'fp vs ternary on the tiny corpus, 6 steps',
    data,
    base: {
      model: { d_model: 256, n_layers: 2, n_heads: 4, n_kv_heads: 2, d_ff: 512, context_length: 64 },
      train: { batch_size: 2, seq_len: 32, log_every: 1, eval_every: 2, ckpt_every: 2, keep_last: 5, backend: 'wasm', lr: { kind: 'cosine', peak: 3e-3, warmup: 2 } },
    },
    axes: { mode: 'grid', axes: { 'model.weight_quant': ['fp', 'ternary'] } },
    seeds: [1, 2],
    token_budget: 384, // 6 steps of 2 × 32 tokens
    eval: { batches: 1, engine: true },
    baseline: 'weight_quant=fp',
    ...over,
  });
}

describe('ablate: a tiny study end to end through the CLI', function () {
  this.timeout(180_000);
  let dir: string;
  let data: string;
  let file: string;
  let runs: string;
  const runDirs = () => ['weight_quant=fp', 'weight_quant=ternary'].flatMap((a) => [1, 2].map((s) => path.join(runs, a, `seed-${s}`)));
  const done = (d: string) => existsSync(path.join(d, 'DONE'));
  const hasCheckpoint = (d: string) => existsSync(path.join(d, 'checkpoints')) && readdirSync(path.join(d, 'checkpoints')).some((c) => /^step-\d+$/.test(c));

  before(async () => {
    dir = tmpDir('ablate');
    data = await tinyData(dir);
    file = path.join(dir, 'tiny', 'study.json');
    runs = path.join(dir, 'tiny', 'runs');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, studyJson(data));
  });
  after(() => rmDir(dir));

  it('survives a SIGKILL: the rerun finishes what is left without redoing finished runs, then reports', async () => {
    // One run stops still after step 5 (checkpoints 2 and 4 written; a test hook of the worker) while the
    // other lane finishes the other three: then the whole process group is killed, as a crash or Ctrl-C
    // would, in that one state every time.
    const held = path.join(runs, 'weight_quant=ternary', 'seed-2');
    const child = spawn(process.execPath, [BIN, 'ablate', file, '--workers', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, BITNET_TEST_HOLD: 'tiny/weight_quant=ternary/seed-2@5' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    let ended = false;
    void exited.then(() => (ended = true));
    const complete = (d: string) => done(d) && existsSync(path.join(d, 'engine.json'));
    const deadline = Date.now() + 120_000;
    while (!ended && Date.now() < deadline) {
      if (existsSync(path.join(held, 'HELD')) && runDirs().filter(complete).length === 3) break;
      await sleep(50);
    }
    expect(ended, `the study ended before the kill point:\n${out}`).to.equal(false);
    process.kill(-child.pid!, 'SIGKILL');
    await exited;

    const ds = runDirs();
    const finished = ds.filter(done);
    expect(finished.length).to.equal(3);
    expect(finished).to.not.include(held);
    expect(readdirSync(path.join(held, 'checkpoints')).filter((c) => /^step-\d+$/.test(c)).sort()).to.deep.equal(['step-2', 'step-4']);
    const metricsBefore = new Map(finished.map((d) => [d, sha(path.join(d, 'metrics.arrow'))]));
    const firstCkpt = new Map(
      ds.filter((d) => hasCheckpoint(d) && !done(d)).map((d) => {
        const c = readdirSync(path.join(d, 'checkpoints')).filter((x) => /^step-\d+$/.test(x)).sort()[0]!;
        const st = path.join(d, 'checkpoints', c, 'state.json');
        return [st, { sha: sha(st), mtime: statSync(st).mtimeMs }];
      }),
    );
    expect(firstCkpt.size).to.equal(1);

    const again = cli('ablate', file, '--workers', '2');
    expect(again.status, again.stderr + again.stdout).to.equal(0);
    expect(again.stdout).to.match(/0 failed/);
    for (const d of runDirs()) {
      expect(done(d), d).to.equal(true);
      expect(readMetrics(path.join(d, 'metrics.arrow')).map((r) => r.step), d).to.deep.equal([1, 2, 3, 4, 5, 6]);
      expect(existsSync(path.join(d, 'FAILED')), d).to.equal(false);
      expect(existsSync(path.join(d, 'RUNNING')), d).to.equal(false);
    }
    for (const [d, h] of metricsBefore) expect(sha(path.join(d, 'metrics.arrow')), `${d} was redone`).to.equal(h);
    // A resumed run keeps its earlier checkpoints as they were; a restart would have rewritten them.
    for (const [st, before] of firstCkpt) {
      expect(sha(st), st).to.equal(before.sha);
      expect(statSync(st).mtimeMs, st).to.equal(before.mtime);
    }

    // A third run has nothing to do.
    const third = cli('ablate', file, '--workers', '2');
    expect(third.status).to.equal(0);
    expect(third.stdout).to.match(/0 trained, 0 reused, 4 already complete, 0 failed/);

    const rep = cli('report', path.dirname(file));
    expect(rep.status, rep.stderr).to.equal(0);
    const study = path.dirname(file);
    const table = tableFromIPC(readFileSync(path.join(study, 'results.arrow')));
    expect(table.numRows).to.equal(4);
    expect(table.getChild('id')!.toArray().map(String).sort()).to.deep.equal(['tiny/weight_quant=fp/seed-1', 'tiny/weight_quant=fp/seed-2', 'tiny/weight_quant=ternary/seed-1', 'tiny/weight_quant=ternary/seed-2']);
    const vals = Array.from(table.getChild('val_loss')!.toArray() as Float64Array);
    expect(vals.every((v) => Number.isFinite(v) && v > 0 && v < 10)).to.equal(true);
    // Each run was exported to GGUF and evaluated by the engine: a loss near the tfjs one, TQ2_0's 2.0625 bits per weight for ternary, F16 for fp.
    expect(table.getChild('engine_status')!.toArray().map(String)).to.deep.equal(['ok', 'ok', 'ok', 'ok']);
    const engine = Array.from(table.getChild('engine_loss')!.toArray() as Float64Array);
    engine.forEach((v, i) => expect(Math.abs(v - vals[i]!), `engine ${v} vs tfjs ${vals[i]}`).to.be.below(1));
    const bpw = Array.from(table.getChild('bits_per_weight')!.toArray() as Float64Array);
    const quant = table.getChild('weight_quant')!.toArray().map(String);
    quant.forEach((q: string, i: number) => expect(bpw[i]).to.equal(q === 'ternary' ? 2.0625 : 16));
    expect(Array.from(table.getChild('engine_tokens_per_s')!.toArray() as Float64Array).every((v) => v > 0)).to.equal(true);
    for (const d of runDirs()) expect(existsSync(path.join(d, 'model.gguf')), d).to.equal(true);
    const md = readFileSync(path.join(study, 'results.md'), 'utf8');
    expect(md).to.match(/\| weight_quant=fp \| 2 \| 384 \| \d\.\d{4} ± \d\.\d{4} \| \(baseline\) \|/);
    expect(md).to.match(/\| weight_quant=ternary \| 2 \| 384 \| \d\.\d{4} ± \d\.\d{4} \| [+-]\d\.\d{4} \| /);
    // the comparison, paired by seed: Δ, its 95 % CI, paired and Welch p, no margin, an MDE
    expect(md).to.match(/\| weight_quant=ternary − weight_quant=fp \| 2 \(2, 2\) \| [+-]\d\.\d{4} \| \[[+-]\d+\.\d{4}, [+-]\d+\.\d{4}\] \| (0|1)\.\d{3}|\d\.\de-\d \| (0|1)\.\d{3} \| — \| \d+\.\d{4} \|/);
    expect(readFileSync(path.join(study, 'loss.svg'), 'utf8')).to.match(/^<svg[\s\S]*weight_quant=ternary[\s\S]*<\/svg>$/);
    expect(readFileSync(path.join(study, 'loss.png')).subarray(0, 8)).to.deep.equal(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(readdirSync(study).filter((f) => f.includes('.tmp'))).to.deep.equal([]);
  });

  it('refuses to run a changed study definition over existing runs, before any run starts', () => {
    const changed = path.join(path.dirname(file), 'changed.json');
    writeFileSync(changed, studyJson(data, { token_budget: 448 }));
    const before = readdirSync(runs).sort();
    const r = cli('ablate', changed, '--out', runs);
    expect(r.status).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/changed\.json: .*holds runs of a different study definition/);
    expect(readdirSync(runs).sort()).to.deep.equal(before);
  });

  it('an unknown axis key is a one-line error naming the file and the key', () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, studyJson(data, { axes: { mode: 'grid', axes: { 'model.weight_qant': ['fp'] } } }));
    const r = cli('ablate', bad);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.equal(`bitnet: ${bad}: arm "weight_qant=fp": model: unknown key "weight_qant"\n`);
    expect(existsSync(path.join(dir, 'runs'))).to.equal(false);
  });

  it('report refuses to mix runs of different token budgets or data', () => {
    const copy = path.join(dir, 'mixed');
    cpSync(path.dirname(file), copy, { recursive: true });
    const rj = path.join(copy, 'runs', 'weight_quant=fp', 'seed-2', 'run.json');
    const rec = JSON.parse(readFileSync(rj, 'utf8'));
    writeFileSync(rj, JSON.stringify({ ...rec, token_budget: 999 }));
    const r = cli('report', copy);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/different token budgets cannot be compared/);
    writeFileSync(rj, JSON.stringify({ ...rec, data: { dir: 'elsewhere', fingerprint: '0000' } }));
    expect(cli('report', copy).stderr).to.match(/runs of different data cannot be compared/);
  });

  it('a warm start within the study (train.init_from "study:ARM") runs after its source, from its last checkpoint', () => {
    const f3 = path.join(dir, 'warm', 'study.json');
    mkdirSync(path.dirname(f3), { recursive: true });
    writeFileSync(f3, studyJson(data, {
      name: 'warm', seeds: [1], axes: undefined, baseline: 'scratch', token_budget: 384,
      arms: [
        // listed first so that, with 2 workers, it would start at once if it did not wait
        { name: 'cont', set: { 'model.weight_quant': 'ternary', 'train.init_from': { run: 'study:half', moments: 'reset' } }, token_budget: 192 },
        { name: 'half', set: { 'model.weight_quant': 'fp', 'model.act_quant': 'none' }, token_budget: 192 },
        { name: 'scratch', set: { 'model.weight_quant': 'ternary' } },
      ],
    }));
    const r = cli('ablate', f3, '--workers', '2');
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    const runsOf = (arm: string) => path.join(path.dirname(f3), 'runs', arm, 'seed-1');
    const log = readFileSync(path.join(runsOf('cont'), 'train.log'), 'utf8');
    expect(log.split('\n')[0]).to.match(/^warm start from .*half\/seed-1\/checkpoints\/step-3 \(step 3, 192 tokens; AdamW moments reset\)$/);
    expect(readMetrics(path.join(runsOf('cont'), 'metrics.arrow')).map((m) => m.step)).to.deep.equal([1, 2, 3]);
    expect(readMetrics(path.join(runsOf('scratch'), 'metrics.arrow'))).to.have.length(6);
    const bad = path.join(dir, 'warm', 'bad.json');
    writeFileSync(bad, studyJson(data, { name: 'bad', seeds: [1], axes: undefined, arms: [{ name: 'x', set: { 'train.init_from': { run: 'study:nope' } } }] }));
    const b = cli('ablate', bad);
    expect(b.status).to.equal(2);
    expect(b.stderr).to.equal(`bitnet: ${bad}: arm "x": train.init_from "study:nope" names no arm of this study\n`);
  });

  it('checks a narrow ternary arm on the engine too (linears TQ2_0 cannot hold go to the GGUF as I8 codes)', () => {
    const f = path.join(dir, 'narrow', 'study.json');
    mkdirSync(path.dirname(f), { recursive: true });
    const narrow = JSON.parse(studyJson(data, { name: 'narrow' })) as { base: { model: Record<string, unknown> } };
    Object.assign(narrow.base.model, { d_model: 128, d_ff: 384, n_heads: 2, n_kv_heads: 2 });
    writeFileSync(f, JSON.stringify(narrow));
    const r = cli('ablate', f, '--only', 'weight_quant=ternary', '--seeds', '1', '--workers', '1');
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/1 trained, 0 reused, 0 already complete, 0 failed/);
    const run = path.join(path.dirname(f), 'runs', 'weight_quant=ternary', 'seed-1');
    const engine = JSON.parse(readFileSync(path.join(run, 'engine.json'), 'utf8')) as { status: string; loss: number; bits_per_weight: number };
    expect(engine.status, JSON.stringify(engine)).to.equal('ok');
    // every linear is 128 or 384 wide: all I8, 8 bits per code plus one F32 scale per row (group_scales)
    // per layer: q k v o 128 x 128, gate up 384 x 128, down 128 x 384
    const [weights, rows] = [4 * 128 * 128 + 3 * 384 * 128, 4 * 128 + 2 * 384 + 128];
    expect(engine.bits_per_weight).to.be.closeTo(8 + (32 * rows) / weights, 1e-12);
    const trained = readMetrics(path.join(run, 'metrics.arrow')).filter((m) => Number.isFinite(m.val_loss)).at(-1)!.val_loss;
    // the engine evaluates the whole validation split, training its eval batches: close, not equal
    // (test/parity/parity.test.ts checks such a model's logits exactly; 2.6 % apart when written)
    expect(Math.abs(engine.loss - trained) / trained, `engine ${engine.loss} vs training ${trained}`).to.be.below(0.1);
  });

  it('--only and --seeds run that subset; a seed or arm the study lacks, a bad seed, or either with --queue: one line, exit 2', () => {
    const f4 = path.join(dir, 'subset', 'study.json');
    mkdirSync(path.dirname(f4), { recursive: true });
    writeFileSync(f4, studyJson(data, { name: 'subset' }));
    const runsOf = (arm: string, seed: number) => path.join(path.dirname(f4), 'runs', arm, `seed-${seed}`);
    const r = cli('ablate', f4, '--only', 'weight_quant=ternary', '--seeds', '2', '--workers', '1');
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/1 trained, 0 reused, 0 already complete, 0 failed/);
    expect(done(runsOf('weight_quant=ternary', 2))).to.equal(true);
    for (const [a, s] of [['weight_quant=ternary', 1], ['weight_quant=fp', 1], ['weight_quant=fp', 2]] as const) expect(existsSync(runsOf(a, s)), `${a} seed ${s}`).to.equal(false);
    for (const [args, msg] of [
      [['--seeds', '7'], `bitnet: --seeds: no seed 7 in ${f4} (seeds: 1, 2)\n`],
      [['--seeds', '1.5'], 'bitnet: --seeds: must be an integer, got "1.5"\n'],
      [['--seeds', '1', '1'], 'bitnet: --seeds: a value is repeated in 1 1\n'],
      [['--only', 'nope'], `bitnet: --only: no arm "nope" in ${f4} (arms: weight_quant=fp, weight_quant=ternary)\n`],
      [['--seeds', '1', '--queue', 'redis://127.0.0.1:1'], 'bitnet: --seeds: not with --queue (the queue takes every incomplete run of the study)\n'],
    ] as const) {
      const b = cli('ablate', f4, ...args);
      expect(b.status, args.join(' ')).to.equal(2);
      expect(b.stderr).to.equal(msg);
    }
    // A bad subset or flag is refused before the study's corpus is prepared (a minute for pd-mix).
    const f6 = path.join(dir, 'unprepared', 'study.json');
    const out = path.join(dir, 'unprepared', 'data');
    mkdirSync(path.dirname(f6), { recursive: true });
    writeFileSync(f6, studyJson(data, { name: 'unprepared', data: { corpus: 'moby-dick', tokenizer: 'byte', out } }));
    for (const [args, msg] of [
      [['--seeds', '7'], `bitnet: --seeds: no seed 7 in ${f6} (seeds: 1, 2)\n`],
      [['--only', 'nope'], `bitnet: --only: no arm "nope" in ${f6} (arms: weight_quant=fp, weight_quant=ternary)\n`],
      [['--reuse-unrecorded'], 'bitnet: --reuse-unrecorded: needs --reuse\n'],
      [['--status'], 'bitnet: --status: needs --queue (a local study prints its progress as it runs)\n'],
    ] as const) {
      const b = cli('ablate', f6, ...args);
      expect(b.status, args.join(' ')).to.equal(2);
      expect(b.stderr).to.equal(msg);
      expect(existsSync(out), `${args.join(' ')}: data prepared`).to.equal(false);
    }
    // The study grows by a seed: the run it trained is the same computation, kept and not retrained.
    writeFileSync(f4, studyJson(data, { name: 'subset', seeds: [1, 2, 3] }));
    const g = cli('ablate', f4, '--only', 'weight_quant=ternary', '--seeds', '2', '--workers', '1');
    expect(g.status, g.stdout + g.stderr).to.equal(0);
    expect(g.stdout).to.match(/0 trained, 0 reused, 1 already complete, 0 failed/);
    expect(g.stderr).to.include('the study grew: 2 run(s) added to the 4 its runs directory was started with');
    const rep = cli('report', path.dirname(f4));
    expect(rep.status, rep.stderr).to.equal(0);
    expect(readFileSync(path.join(path.dirname(f4), 'results.md'), 'utf8')).to.match(/The study grew at .* UTC: its runs directory was started with 4 run\(s\) under definition [0-9a-f]{12}/);
  });

  it('--reuse copies a complete run of another study that computed exactly this run, trains the rest, and the report says so', () => {
    // Run after the first test: tiny's runs are complete, each with its hosts.json.
    const f5 = path.join(dir, 'reuse', 'study.json');
    mkdirSync(path.dirname(f5), { recursive: true });
    writeFileSync(f5, studyJson(data, {
      name: 'reuse', seeds: [1], axes: undefined, baseline: 'ternary',
      arms: [
        { name: 'ternary', set: { 'model.weight_quant': 'ternary' } }, // = tiny's weight_quant=ternary, seed 1
        { name: 'row', set: { 'model.weight_quant': 'ternary', 'model.weight_scale': 'row' } }, // in no other study
      ],
    }));
    const runsOf = (arm: string) => path.join(path.dirname(f5), 'runs', arm, 'seed-1');
    const src = path.join(runs, 'weight_quant=ternary', 'seed-1');
    const r = cli('ablate', f5, '--workers', '1', '--reuse', path.dirname(file));
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/1 trained, 1 reused, 0 already complete, 0 failed/);
    expect(r.stderr).to.include(`reused reuse/ternary/seed-1 from ${src}`);
    // The copy is the source's files, under this study's run record, with where it came from.
    for (const f of ['metrics.arrow', 'engine.json', 'hosts.json', 'train.log', 'DONE']) expect(sha(path.join(runsOf('ternary'), f)), f).to.equal(sha(path.join(src, f)));
    const rec = JSON.parse(readFileSync(path.join(runsOf('ternary'), 'run.json'), 'utf8'));
    expect(rec.id).to.equal('reuse/ternary/seed-1');
    const reused = JSON.parse(readFileSync(path.join(runsOf('ternary'), 'reused.json'), 'utf8'));
    expect(reused.from_id).to.equal('tiny/weight_quant=ternary/seed-1');
    expect(reused.isa).to.equal(JSON.parse(readFileSync(path.join(src, 'hosts.json'), 'utf8'))[0].native_isa);
    expect(existsSync(path.join(runsOf('row'), 'reused.json'))).to.equal(false);
    expect(readMetrics(path.join(runsOf('row'), 'metrics.arrow'))).to.have.length(6);
    const rep = cli('report', path.dirname(f5));
    expect(rep.status, rep.stderr).to.equal(0);
    expect(readFileSync(path.join(path.dirname(f5), 'results.md'), 'utf8')).to.match(/Reused runs .*\n- ternary\/seed-1 = tiny\/weight_quant=ternary\/seed-1\n/);
    // A runs directory that is not one, or the study's own: one line, exit 2, nothing run.
    const none = path.join(dir, 'nowhere');
    const u = cli('ablate', f5, '--reuse-unrecorded');
    expect(u.status).to.equal(2);
    expect(u.stderr).to.equal('bitnet: --reuse-unrecorded: needs --reuse\n');
    for (const [arg, msg] of [
      [none, `bitnet: --reuse: ${none}: no study.lock.json here or in ${path.join(none, 'runs')}: run \`bitnet ablate\` first\n`],
      [path.dirname(f5), `bitnet: --reuse: ${path.join(path.dirname(f5), 'runs')} is this study's own runs directory\n`],
    ] as const) {
      const b = cli('ablate', f5, '--reuse', arg);
      expect(b.status, arg).to.equal(2);
      expect(b.stderr).to.equal(msg);
    }
  });

  it('records a failing run and goes on with the others; the report lists it', () => {
    const f2 = path.join(dir, 'fails', 'study.json');
    cpSync(path.dirname(file), path.dirname(f2), { recursive: true, filter: (src) => !src.includes(`${path.sep}runs`) && !src.endsWith('results.md') });
    // tfjs-node is not installed here (its install needs the network): that arm fails at its start.
    writeFileSync(f2, studyJson(data, { name: 'fails', seeds: [1], axes: { mode: 'grid', axes: { 'train.backend': ['tensorflow', 'wasm'] } }, baseline: undefined }));
    const r = cli('ablate', f2, '--workers', '2');
    expect(r.status).to.equal(1);
    expect(r.stdout).to.match(/1 trained, 0 reused, 0 already complete, 1 failed/);
    const failed = path.join(path.dirname(f2), 'runs', 'backend=tensorflow', 'seed-1');
    expect(readFileSync(path.join(failed, 'FAILED'), 'utf8')).to.match(/tensorflow requested but @tensorflow\/tfjs-node is not installed/);
    expect(existsSync(path.join(path.dirname(f2), 'runs', 'backend=wasm', 'seed-1', 'DONE'))).to.equal(true);
    const rep = cli('report', path.dirname(f2));
    expect(rep.status, rep.stderr).to.equal(0);
    const md = readFileSync(path.join(path.dirname(f2), 'results.md'), 'utf8');
    expect(md).to.match(/\| backend=tensorflow \| 0 \(\+1 failed\) \|/);
    expect(md).to.match(/Failed runs:\n- fails\/backend=tensorflow\/seed-1: --backend: tensorflow requested/);
  });
});
