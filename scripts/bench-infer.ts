// `npm run bench:infer`: our engine (`bitnet bench --json`) beside llama.cpp's own llama-bench (built on
// demand from the llama.cpp source node-llama-cpp ships: scripts/llama-cpp-peer.ts) and llama.cpp through
// node-llama-cpp (bench/peers/run-llama.mjs, a second column), on the same random-weight GGUF files,
// alternating in one run.
//
//   1. models: `bitnet synth --shape S --type tq2_0` into bench/models/ (git-ignored; reused when valid);
//   2. the peers: node-llama-cpp installed on demand into bench/peers/ (its own package.json; not ours),
//      llama-bench built from its bundled source into bench/peers/llama.cpp (cmake; the build time is printed);
//   3. rounds of [ours, llama-bench, node-llama-cpp] per shape and thread count, each a fresh child process,
//      128-token pp (one batch) and 128-token tg (one token at a time, greedy, from an empty cache);
//      the best of the rounds is reported (both sides alike), every sample is kept in the JSON;
//   4. the table: pp/tg, ratios, tg % of the roofline (read bandwidth measured now / weight bytes per
//      token: the ternary linears plus the tied head), RSS against file + KV cache + 64 MB, and the
//      TypeScript engine's tg at 125m; printed and written to bench/results-<date>.md (+ .json).
//
// Flags: --shapes 125m,700m,2b4t  --threads 1,2  --rounds 3  --pp 128  --tg 128  --no-peer  --no-ts
//        --heads f16,q8_0,q6_k --heads-at 2b4t (a row per head type at those shapes)  --no-llama-bench
//        --peer '{"batchSize":128}' (peer options, see run-llama.mjs)  --tune-peer (search the peer's
//        settings at the first shape and print them, no table)  --out FILE.md
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureLlamaCpp, ensureNodeLlamaCpp, llamaBench, type LlamaCpp } from './llama-cpp-peer.ts';
import { commit, machine } from './bench-env.ts';
import { peakRssMB } from '../src/rss.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const MODELS = path.join(ROOT, 'bench/models');
const PEERS = path.join(ROOT, 'bench/peers');
const RUNNER = path.join(PEERS, 'run-llama.mjs');
const CLI = path.join(ROOT, 'bin/bitnet.js');

/**
 * node-llama-cpp at its best on this 2-core machine (found with --tune-peer; see bench/README.md):
 * CPU only, context threads = the thread count under test, maxThreads 0 (no thread splitting by the
 * package), one batch holds the whole prompt, flash attention on (at 125m, 1 thread: tg ~320 vs ~250
 * t/s without it, pp ~950 vs ~870). Batch size, context size, mmap and mlock made no difference
 * beyond the noise.
 */
export const PEER_DEFAULTS = { maxThreads: 0, batchSize: 512, contextSize: 512, flashAttention: true, useMmap: true, tgMode: 'evaluate' };

// ---------------------------------------------------------------------------------------------------
// child mode: `tsx scripts/bench-infer.ts --child synth|ours|bandwidth <json>` (fallbacks for when the
// `bitnet synth` / `bitnet bench` commands are not there, and the bandwidth probe)
if (process.argv[2] === '--child') {
  const what = process.argv[3];
  const a = JSON.parse(process.argv[4] ?? '{}');
  if (what === 'synth') {
    const { synthModel, parseShape } = await import('../src/infer/synth.ts');
    await synthModel(a.out, parseShape(a.shape), a.type);
  } else if (what === 'bandwidth') {
    const { nativeAddon } = await import('../src/native/addon.ts');
    const addon = nativeAddon();
    const out: Record<number, number | null> = {};
    const buf = addon ? new Uint8Array(256 << 20).fill(1) : null;
    for (const t of a.threads as number[]) {
      if (!addon || !buf) out[t] = null;
      else {
        addon.setThreads(t);
        out[t] = addon.readBandwidth(buf, 8);
      }
    }
    console.log(JSON.stringify({ bandwidth: out, isa: addon?.isa() ?? null, cpu: addon?.cpuFeatures() ?? null }));
  } else if (what === 'ours') {
    // the measurement of `bitnet bench` (src/infer/bench.ts) for when that command is not available
    const { loadEngine } = await import('../src/infer/engine.ts');
    const { Rng } = await import('../src/data/rng.ts');
    const e = loadEngine(a.model, { engine: a.engine, threads: a.threads, maxSeq: Math.max(a.pp, a.tg), maxBatch: a.pp });
    const rng = new Rng(1);
    const prompt = Int32Array.from({ length: a.pp }, () => rng.int(e.weights.hp.vocab_size));
    const one = new Int32Array(1);
    const argmax = (x: Float32Array) => {
      let b = 0;
      for (let i = 1; i < x.length; i++) if (x[i]! > x[b]!) b = i;
      return b;
    };
    const tg = (n: number) => {
      one[0] = prompt[0]!;
      for (let i = 0; i < n; i++) one[0] = argmax(e.model.forward(one));
    };
    e.model.reset();
    e.model.forward(prompt.subarray(0, Math.min(8, a.pp)));
    e.model.reset();
    tg(Math.min(4, a.tg));
    e.model.reset();
    let t = performance.now();
    e.model.forward(prompt);
    const pp = a.pp / ((performance.now() - t) / 1000);
    e.model.reset();
    t = performance.now();
    tg(a.tg);
    const tgRate = a.tg / ((performance.now() - t) / 1000);
    console.log(JSON.stringify({ pp_tokens_per_s: pp, tg_tokens_per_s: tgRate, load_s: e.loadSeconds, peak_rss_mb: peakRssMB(), threads: e.threads, engine: e.kernels.name }));
  } else throw new Error(`bench-infer: unknown child mode ${what}`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------------
const { values: flags } = parseArgs({
  options: {
    shapes: { type: 'string', default: '125m,700m,2b4t' },
    heads: { type: 'string', default: 'f16,q8_0,q6_k' },
    'heads-at': { type: 'string', default: '2b4t' },
    threads: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '3' },
    pp: { type: 'string', default: '128' },
    tg: { type: 'string', default: '128' },
    'no-peer': { type: 'boolean', default: false },
    'no-llama-bench': { type: 'boolean', default: false },
    'no-ts': { type: 'boolean', default: false },
    peer: { type: 'string', default: '{}' },
    'tune-peer': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
type HeadType = 'f16' | 'q8_0' | 'q6_k';
const HEAD_TYPES: readonly HeadType[] = ['f16', 'q8_0', 'q6_k'];
const SHAPES = flags.shapes.split(',').map((s) => s.trim());
const THREADS = flags.threads.split(',').map(Number);
const HEADS = flags.heads.split(',').map((s) => s.trim()) as HeadType[];
for (const h of HEADS) if (!HEAD_TYPES.includes(h)) throw new Error(`--heads: ${h} is not one of ${HEAD_TYPES.join(', ')}`);
/** The shapes that get a row per head type (the others: F16 only). */
const HEADS_AT = flags['heads-at'].split(',').map((s) => s.trim());
const ROUNDS = Number(flags.rounds);
const PP = Number(flags.pp);
const TG = Number(flags.tg);
const TYPE = 'tq2_0';
const peerOverrides = JSON.parse(flags.peer) as Record<string, unknown>;
for (const [name, v] of [['--rounds', ROUNDS], ['--pp', PP], ['--tg', TG], ...THREADS.map((t) => ['--threads', t] as const)] as const)
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`${name} must be positive integers, got ${v}`);

const log = (s: string) => process.stderr.write(`${s}\n`);
const loadavg = () => os.loadavg()[0]!;

interface ChildResult {
  json: Record<string, unknown>;
  wallS: number;
  load: number;
}

/** Runs a child process that prints one JSON line last; its stderr goes to ours only on failure. */
function runJson(cmd: string, args: string[], timeoutS: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const load0 = loadavg();
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (err += b));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutS * 1000);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{'))
        return reject(new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} failed (${signal ?? `exit ${code}`}):\n${err.trim().split('\n').slice(-8).join('\n')}`));
      resolve({ json: JSON.parse(line), wallS: (performance.now() - t0) / 1000, load: Math.max(load0, loadavg()) });
    });
  });
}

const tsxChild = (what: string, a: unknown) => [process.execPath, ['--import', 'tsx', SELF, '--child', what, JSON.stringify(a)]] as const;

/** Whether `bitnet <command>` exists (the CLI commands arrive separately from this script). */
function hasCommand(name: string): boolean {
  return spawnSync(process.execPath, [CLI, name, '--help'], { cwd: ROOT, stdio: 'ignore' }).status === 0;
}

// ---------------------------------------------------------------------------------------------------
// 1. models

interface ModelInfo {
  shape: string;
  /** The tied embedding/head's type. */
  head: HeadType;
  /** shape, plus the head type when it is not F16: the row's name. */
  label: string;
  file: string;
  fileMB: number;
  /** Bytes of weights read per generated token: every ternary linear plus the tied head. */
  bytesPerToken: number;
  /** KV cache bytes for `positions` positions: ours f32, llama.cpp's f16. */
  kvBytes: (positions: number, bytesPerValue: number) => number;
  synth: { s: number; rssMB: number | null } | null;
}

/** The file's header parses, is arch bitnet, has the shape's dimensions and TQ2_0 linears; else why not. */
async function checkModel(file: string, shape: string, headType: HeadType): Promise<{ ok: true; bytesPerToken: number } | { ok: false; why: string }> {
  const { archKeys, openGGUF } = await import('../src/format/index.ts');
  const { SYNTH_SHAPES } = await import('../src/infer/synth.ts');
  const dims = SYNTH_SHAPES[shape]!;
  const K = archKeys('bitnet');
  let f;
  try {
    f = openGGUF(file);
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
  try {
    const num = (k: string) => Number(f.kv.get(k)?.value);
    const arch = f.kv.get('general.architecture')?.value;
    if (arch !== 'bitnet') return { ok: false, why: `architecture ${String(arch)}` };
    const want: [string, number][] = [[K.embeddingLength, dims.d_model], [K.blockCount, dims.n_layers], [K.feedForwardLength, dims.d_ff], [K.headCountKv, dims.n_kv_heads]];
    for (const [k, v] of want) if (num(k) !== v) return { ok: false, why: `${k} is ${num(k)}, expected ${v}` };
    // the head: output.weight, or the tied embedding when there is none
    const head = f.tensors.find((t) => t.name === 'output.weight') ?? f.tensors.find((t) => t.name === 'token_embd.weight');
    if (head?.typeName !== headType.toUpperCase()) return { ok: false, why: `head ${head?.typeName ?? 'absent'}, expected ${headType.toUpperCase()}` };
    let bytes = head.byteLength;
    let lastEnd = 0;
    for (const t of f.tensors) {
      lastEnd = Math.max(lastEnd, t.offset + t.byteLength);
      if (t.typeName === 'TQ2_0' || t.typeName === 'TQ1_0') bytes += t.byteLength;
    }
    if (!f.tensors.some((t) => t.typeName === 'TQ2_0')) return { ok: false, why: 'no TQ2_0 tensors' };
    if (lastEnd > f.fileSize) return { ok: false, why: 'truncated' };
    return { ok: true, bytesPerToken: bytes };
  } finally {
    f.close();
  }
}

async function ensureModel(shape: string, head: HeadType, synthCli: boolean): Promise<ModelInfo> {
  const file = path.join(MODELS, `synth-${shape}-${TYPE}${head === 'f16' ? '' : `-${head}`}.gguf`);
  let synth: ModelInfo['synth'] = null;
  let check = existsSync(file) ? await checkModel(file, shape, head) : ({ ok: false, why: 'absent' } as const);
  if (!check.ok) {
    log(`model ${path.relative(ROOT, file)}: ${check.why}; making it with bitnet synth --shape ${shape} --type ${TYPE} --embedding-type ${head} ...`);
    mkdirSync(MODELS, { recursive: true });
    const base = synthCli
      ? [process.execPath, [CLI, 'synth', '--shape', shape, '--type', TYPE, '--embedding-type', head, '--out', file]]
      : tsxChild('synth', { shape, type: TYPE, out: file });
    const [cmd, args] = base as [string, string[]];
    // /usr/bin/time -f reports the child's peak RSS (Node cannot read a child's rusage)
    const timed = existsSync('/usr/bin/time');
    const t0 = performance.now();
    const r = spawnSync(timed ? '/usr/bin/time' : cmd, timed ? ['-f', 'maxrss_kb=%M', cmd, ...args] : args, { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`synth ${shape} failed:\n${r.stderr}`);
    const rss = /maxrss_kb=(\d+)/.exec(r.stderr ?? '');
    synth = { s: (performance.now() - t0) / 1000, rssMB: rss ? (Number(rss[1]) * 1024) / 1e6 : null };
    log(`  ${shape}: ${synth.s.toFixed(0)} s, peak RSS ${synth.rssMB?.toFixed(0) ?? '?'} MB`);
    check = await checkModel(file, shape, head);
    if (!check.ok) throw new Error(`synth wrote ${file} but it does not check out: ${check.why}`);
  }
  const { SYNTH_SHAPES } = await import('../src/infer/synth.ts');
  const { kvDimOf } = await import('../src/format/index.ts');
  const dims = SYNTH_SHAPES[shape]!;
  const kvDim = kvDimOf(dims);
  return {
    shape, head, label: head === 'f16' ? shape : `${shape} ${head.toUpperCase()} head`, file, synth,
    fileMB: statSync(file).size / 1e6,
    bytesPerToken: check.bytesPerToken,
    kvBytes: (positions, bpv) => 2 * dims.n_layers * positions * kvDim * bpv,
  };
}

// ---------------------------------------------------------------------------------------------------
// 3. runs

interface Sample {
  pp: number;
  tg: number;
  rssMB: number;
  load: number;
  extra: Record<string, unknown>;
}

async function runOurs(m: ModelInfo, threads: number, engine: 'native' | 'ts', benchCli: boolean, pp = PP, tg = TG): Promise<Sample> {
  const [cmd, args] = benchCli
    ? [process.execPath, [CLI, 'bench', m.file, '--json', '--engine', engine, '--threads', String(threads), '--prompt-tokens', String(pp), '--gen-tokens', String(tg)]]
    : tsxChild('ours', { model: m.file, engine, threads, pp, tg });
  const r = await runJson(cmd as string, args as string[], 1800);
  const j = r.json as { pp_tokens_per_s: number; tg_tokens_per_s: number; peak_rss_mb: number; threads: number; engine: string };
  if (j.engine !== engine || (engine === 'native' && j.threads !== threads)) throw new Error(`ours ran ${j.engine} with ${j.threads} threads, asked ${engine} with ${threads}`);
  return { pp: j.pp_tokens_per_s, tg: j.tg_tokens_per_s, rssMB: j.peak_rss_mb, load: r.load, extra: j };
}

async function runPeer(m: ModelInfo, threads: number, opts: Record<string, unknown> = {}): Promise<Sample> {
  const cfg = { ...PEER_DEFAULTS, ...peerOverrides, ...opts, model: m.file, threads, pp: PP, tg: TG, reps: 1 };
  const r = await runJson(process.execPath, [RUNNER, JSON.stringify(cfg)], 1800);
  const j = r.json as { pp_tokens_per_s: number; tg_tokens_per_s: number; peak_rss_mb: number };
  return { pp: j.pp_tokens_per_s, tg: j.tg_tokens_per_s, rssMB: j.peak_rss_mb, load: r.load, extra: j };
}

async function bandwidth(): Promise<Record<number, number | null>> {
  const [cmd, args] = tsxChild('bandwidth', { threads: [...new Set([1, 2, ...THREADS])] });
  return ((await runJson(cmd, [...args], 300)).json as { bandwidth: Record<number, number | null> }).bandwidth;
}


const f1 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const f2 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(2));
const best = (xs: Sample[], k: 'pp' | 'tg') => Math.max(...xs.map((s) => s[k]));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---------------------------------------------------------------------------------------------------
// --tune-peer: the peer's settings, one at a time, at the first shape

async function tunePeer(m: ModelInfo): Promise<void> {
  const grid: Record<string, unknown>[] = [
    { maxThreads: undefined },
    { maxThreads: 0 },
    { maxThreads: 2 },
    { maxThreads: 0, batchSize: 128 },
    { maxThreads: 0, batchSize: 2048, contextSize: 2048 },
    { maxThreads: 0, flashAttention: false },
    { maxThreads: 0, useMmap: false },
    { maxThreads: 0, useMlock: true },
    // not comparable: without a next token llama.cpp skips the head (the largest tensor at 125m)
    { maxThreads: 0, tgMode: 'feed' },
  ];
  log(`tuning node-llama-cpp at ${m.shape}, ${ROUNDS} rounds, best of each (load average now ${loadavg().toFixed(1)})`);
  for (const threads of THREADS)
    for (const g of grid) {
      const s: Sample[] = [];
      for (let r = 0; r < ROUNDS; r++) s.push(await runPeer(m, threads, g));
      console.log(`${m.shape} thr ${threads} ${JSON.stringify(g).padEnd(52)} pp ${f1(best(s, 'pp')).padStart(5)} tg ${f1(best(s, 'tg')).padStart(5)}  (all tg ${s.map((x) => f1(x.tg)).join(' ')}; load ${s.map((x) => x.load.toFixed(1)).join(' ')})`);
    }
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = new Date();
  const synthCli = hasCommand('synth');
  const benchCli = hasCommand('bench');
  log(`bench:infer: shapes ${SHAPES.join(', ')}, threads ${THREADS.join(', ')}, ${ROUNDS} rounds; ours through ${benchCli ? '`bitnet bench --json`' : 'this script\'s own child (no `bitnet bench` command)'}`);
  const models: ModelInfo[] = [];
  for (const s of SHAPES) {
    if (!(await import('../src/infer/synth.ts')).SYNTH_SHAPES[s]) throw new Error(`--shapes: unknown shape ${s}`);
    for (const h of HEADS_AT.includes(s) ? HEADS : (['f16'] as HeadType[])) models.push(await ensureModel(s, h, synthCli));
  }
  const peerVersion = flags['no-peer'] ? null : ensureNodeLlamaCpp();
  if (flags['tune-peer']) return tunePeer(models[0]!);
  const lcpp: LlamaCpp | null = flags['no-peer'] || flags['no-llama-bench'] ? null : ensureLlamaCpp();
  if (lcpp) log(`llama-bench: ${lcpp.bin('llama-bench')} (llama.cpp ${lcpp.commit}; build ${lcpp.buildSeconds === null ? 'time not recorded' : `took ${lcpp.buildSeconds.toFixed(0)} s`})`);

  const bw0 = await bandwidth();
  log(`read bandwidth: ${Object.entries(bw0).map(([t, g]) => `${f1(g)} GB/s with ${t} thread(s)`).join(', ')}`);
  const ours = new Map<string, Sample[]>();
  const peer = new Map<string, Sample[]>();
  const lb = new Map<string, Sample[]>();
  let lbBuild = '';
  const key = (shape: string, t: number) => `${shape}/${t}`;
  for (let r = 0; r < ROUNDS; r++)
    for (const m of models)
      for (const t of THREADS) {
        const k = key(m.label, t);
        const o = await runOurs(m, t, 'native', benchCli);
        (ours.get(k) ?? ours.set(k, []).get(k)!).push(o);
        let line = `round ${r + 1}/${ROUNDS} ${m.label} thr ${t}: ours pp ${f1(o.pp)} tg ${f1(o.tg)} (load ${o.load.toFixed(1)})`;
        if (lcpp) {
          const load = loadavg();
          const b = llamaBench(lcpp, m.file, t, PP, TG);
          lbBuild = b.build;
          (lb.get(k) ?? lb.set(k, []).get(k)!).push({ pp: b.pp_tokens_per_s, tg: b.tg_tokens_per_s, rssMB: NaN, load: Math.max(load, loadavg()), extra: { ...b } });
          line += `; llama-bench pp ${f1(b.pp_tokens_per_s)} tg ${f1(b.tg_tokens_per_s)}`;
        }
        if (peerVersion) {
          const p = await runPeer(m, t);
          (peer.get(k) ?? peer.set(k, []).get(k)!).push(p);
          line += `; peer pp ${f1(p.pp)} tg ${f1(p.tg)} (load ${p.load.toFixed(1)})`;
        }
        log(line);
      }
  // the TypeScript engine at the smallest shape: fewer tokens (it is slow), one thread
  let tsRow: { shape: string; pp: number; tg: number; nativeTg: number } | null = null;
  const m0 = models.find((m) => m.label === '125m') ?? models[0]!;
  if (!flags['no-ts']) {
    const n = 32;
    const s = await runOurs(m0, 1, 'ts', benchCli, n, n);
    const nat = ours.get(key(m0.label, 1));
    tsRow = { shape: m0.shape, pp: s.pp, tg: s.tg, nativeTg: nat ? best(nat, 'tg') : NaN };
    log(`TS engine ${m0.shape}: pp ${f1(s.pp)} tg ${f1(s.tg)} (${n} tokens each)`);
  }
  const bw1 = await bandwidth();
  const bw: Record<number, number | null> = {};
  for (const t of Object.keys(bw0).map(Number)) bw[t] = Math.max(bw0[t] ?? 0, bw1[t] ?? 0) || null;

  // 4. the table
  const lines: string[] = [];
  const cmdline = `npm run bench:infer${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  lines.push(`## Inference speed: bitnet-ts vs llama.cpp (llama-bench ${lcpp ? lcpp.commit.split(' ')[0] : 'not run'}, node-llama-cpp ${peerVersion ?? 'not run'})`, '');
  lines.push(`Machine: ${machine()}. Read bandwidth (measured in this run, best of two probes): ${THREADS.map((t) => `${f1(bw[t])} GB/s at ${t} thread${t > 1 ? 's' : ''}`).join(', ')}.`);
  lines.push(`Commit: ${commit()}. Date: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC. Command: \`${cmdline}\`.`);
  lines.push(`Random-weight models from \`bitnet synth --type ${TYPE}\` (tied embedding/head: F16, and at ${HEADS_AT.join(', ')} also ${HEADS.filter((h) => h !== 'f16').map((h) => h.toUpperCase()).join(', ')} via --embedding-type); pp = ${PP} random tokens as one batch, tg = ${TG} tokens one at a time, greedy, from an empty cache; tokens/s, best of ${ROUNDS} rounds (each a fresh process measuring once after a short warm-up; ours and the peer alternate). Load average during the runs: ${f1(Math.min(...[...ours.values(), ...peer.values()].flat().map((s) => s.load)))}-${f1(Math.max(...[...ours.values(), ...peer.values()].flat().map((s) => s.load)))} (2 cores; other work was running at times).`, '');
  lines.push('| shape | type | threads | ours pp | ours tg | llama-bench pp | llama-bench tg | pp ratio | tg ratio | node-llama-cpp pp / tg | MB read/token | roofline tg | ours tg % roof | llama-bench tg % roof | ours RSS MB | file + KV + 64 MB | node-llama-cpp RSS MB |');
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  const rows: unknown[] = [];
  for (const m of models)
    for (const t of THREADS) {
      const o = ours.get(key(m.label, t))!;
      const p = peer.get(key(m.label, t));
      const b = lb.get(key(m.label, t));
      const oPP = best(o, 'pp');
      const oTG = best(o, 'tg');
      const pPP = p ? best(p, 'pp') : NaN;
      const pTG = p ? best(p, 'tg') : NaN;
      const bPP = b ? best(b, 'pp') : NaN;
      const bTG = b ? best(b, 'tg') : NaN;
      const roof = bw[t] ? (bw[t]! * 1e9) / m.bytesPerToken : NaN;
      const kvMB = m.kvBytes(Math.max(PP, TG), 4) / 1e6; // ours: f32 cache of max(pp, tg) positions (bitnet bench's maxSeq)
      const budget = m.fileMB + kvMB + 64;
      const rss = Math.max(...o.map((s) => s.rssMB));
      lines.push(
        `| ${m.shape} | ${TYPE.toUpperCase()}, ${m.head.toUpperCase()} head | ${t} | ${f1(oPP)} | ${f1(oTG)} | ${f1(bPP)} | ${f1(bTG)} | ${f2(oPP / bPP)} | ${f2(oTG / bTG)} | ${f1(pPP)} / ${f1(pTG)} | ${f1(m.bytesPerToken / 1e6)} | ${f1(roof)} | ${f1((100 * oTG) / roof)} | ${f1((100 * bTG) / roof)} | ${f1(rss)}${rss > budget ? ' (over)' : ''} | ${f1(budget)} | ${p ? f1(Math.max(...p.map((s) => s.rssMB))) : '-'} |`,
      );
      rows.push({ shape: m.shape, head: m.head, threads: t, ours: o, peer: p ?? null, llamaBench: b ?? null, fileMB: m.fileMB, kvMB, bytesPerToken: m.bytesPerToken, bandwidth: bw[t] });
    }
  lines.push('');
  lines.push('Ratios are ours / llama-bench (goal: tg >= 1.5, pp >= 2). Roofline tg = read bandwidth / weight bytes per token (every ternary linear plus the tied head in its type). Our RSS is the `bitnet bench` process\'s peak (Node itself included); the budget is the file plus our f32 KV cache for the positions used plus 64 MB.');
  const spread = (xs: Sample[] | undefined, k: 'pp' | 'tg') => (xs ? `${f1(Math.min(...xs.map((s) => s[k])))}-${f1(Math.max(...xs.map((s) => s[k])))} (median ${f1(median(xs.map((s) => s[k])))})` : '-');
  lines.push('', 'Spread over the rounds (tg, tokens/s): ' + models.flatMap((m) => THREADS.map((t) => `${m.label}/${t}t ours ${spread(ours.get(key(m.label, t)), 'tg')}, llama-bench ${spread(lb.get(key(m.label, t)), 'tg')}, node-llama-cpp ${spread(peer.get(key(m.label, t)), 'tg')}`)).join('; ') + '.');
  if (tsRow) lines.push('', `TypeScript-only engine (no addon, 1 thread) at ${tsRow.shape}, 32-token pp and tg: pp ${f1(tsRow.pp)}, tg ${f1(tsRow.tg)} tokens/s; tg ${(tsRow.tg / tsRow.nativeTg).toPrecision(2)}x the native engine's ${f1(tsRow.nativeTg)} at 1 thread.`);
  const peerCfg = { ...PEER_DEFAULTS, ...peerOverrides };
  if (lcpp) lines.push('', `llama-bench: \`llama-bench -m FILE -t <threads> -p ${PP} -n ${TG} -r 1 -ngl 0 -o json\` (its mean over the one repetition; build ${lbBuild}, llama.cpp ${lcpp.commit}, built from node-llama-cpp's bundled source by scripts/llama-cpp-peer.ts${lcpp.buildSeconds === null ? '' : ` in ${lcpp.buildSeconds.toFixed(0)} s`}).`);
  if (peerVersion) lines.push('', `node-llama-cpp configuration: getLlama({gpu: false, maxThreads: ${String(peerCfg.maxThreads)}}), loadModel({gpuLayers: 0, useMmap: ${String(peerCfg.useMmap)}}), createContext({threads: <threads>, batchSize: ${String(peerCfg.batchSize)}, contextSize: ${String(peerCfg.contextSize)}, flashAttention: ${String(peerCfg.flashAttention)}}); pp through sequence.evaluateWithoutGeneratingNewTokens, tg through sequence.evaluate(…, {temperature: 0}) (bench/peers/run-llama.mjs).`);
  const synthNotes = models.filter((m) => m.synth).map((m) => `${m.label} ${m.synth!.s.toFixed(0)} s, peak RSS ${f1(m.synth!.rssMB)} MB`);
  if (synthNotes.length) lines.push('', `Models made in this run by bitnet synth: ${synthNotes.join('; ')}.`);
  const md = lines.join('\n') + '\n';
  console.log(md);
  const out = flags.out ?? path.join(ROOT, `bench/results-${started.toISOString().slice(0, 10)}.md`);
  writeFileSync(out, md);
  writeFileSync(out.replace(/\.md$/, '') + '.json', JSON.stringify({ machine: machine(), commit: commit(), command: cmdline, bandwidth: bw, peerConfig: peerCfg, rows, ts: tsRow }, null, 1));
  log(`written ${path.relative(ROOT, out)} (+ .json)`);
}

await main();
