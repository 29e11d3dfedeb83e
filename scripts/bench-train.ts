/**
 * `npm run bench:train`: training throughput of tiny-b158 and small-b158 on this machine, with the
 * wasm backend's matmuls on the native addon and, as peers measured in the same run, on plain
 * tfjs-wasm (one thread) and the same model in PyTorch (bench/peers/torch_bitnet.py, all cores), when
 * a Python with torch is found (BITNET_TORCH_PYTHON, else /usr/bin/python3 or python3; Debian:
 * `apt install python3-torch`), in fp32 and under bf16 autocast, each at its best thread count. Each measurement is a fresh
 * child process training STEPS steps; the first log window (warm-up, kernel compilation) is excluded.
 * Prints what it measured, where and at which commit.
 *
 *   npm run bench:train [-- --steps 30 --configs tiny-b158,small-b158]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nativeAddon } from '../src/native/addon.ts';
import { readMetrics } from '../src/train/metrics.ts';
import { commit, machine } from './bench-env.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const logEvery = 5;
/** A bad flag: one line, exit 2 (as the CLI does). */
function usage(flag: string, problem: string): never {
  process.stderr.write(`bench:train: ${flag}: ${problem}\n`);
  process.exit(2);
}
const steps = Number(arg('steps', '30'));
if (!Number.isInteger(steps) || steps < 2 * logEvery || steps > 100_000) usage('--steps', `must be an integer in [${2 * logEvery}, 100000], got "${arg('steps', '30')}"`);
const configs = arg('configs', 'tiny-b158,small-b158').split(',');
for (const c of configs) if (!existsSync(`experiments/configs/${c}.json`)) usage('--configs', `no experiments/configs/${c}.json`);
// The configs train on data/moby-dick: prepare it on a fresh clone instead of failing.
if (!existsSync('data/moby-dick/stats.json')) {
  console.log('data/moby-dick is not prepared: running `bitnet prepare` first');
  const r = spawnSync(process.execPath, ['bin/bitnet.js', 'prepare'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function measure(config: string, native: boolean, precision: 'fp32' | 'bf16' = 'fp32'): { tps: number; rssMb: number } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-train-'));
  try {
    const r = spawnSync(
      process.execPath,
      ['bin/bitnet.js', 'train', '--config', `experiments/configs/${config}.json`, '--out', dir, '--steps', String(steps),
        '--set', `train.log_every=${logEvery}`, `train.eval_every=${steps * 10}`, `train.ckpt_every=${steps * 10}`, `train.matmul_precision=${precision}`],
      { encoding: 'utf8', env: { ...process.env, BITNET_NO_NATIVE_TRAIN: native ? '0' : '1' } },
    );
    if (r.status !== 0) throw new Error(`train failed: ${r.stderr}`);
    const rows = readMetrics(path.join(dir, 'metrics.arrow')).slice(1); // drop the warm-up window
    const tokens = rows.reduce((a, x) => a + x.tokens_per_s * logEvery, 0) / rows.reduce((a, x) => a + logEvery, 0);
    const rss = Number(/peak RSS (\d+)/.exec(r.stdout)?.[1] ?? NaN);
    return { tps: tokens, rssMb: rss };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Python that imports torch, or null. */
function torchPython(): string | null {
  for (const py of [process.env.BITNET_TORCH_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

/** The peer at its best: every thread count from 1 to the cores (on this VM 2 OpenMP threads ran slower than 1). */
function measureTorch(py: string, config: string, precision: 'fp32' | 'bf16'): { tps: number; version: string; threads: number; all: string } {
  let best = { tps: 0, version: '', threads: 0, all: '' };
  const all: string[] = [];
  for (let threads = 1; threads <= os.availableParallelism(); threads++) {
    const r = spawnSync(py, ['bench/peers/torch_bitnet.py', `experiments/configs/${config}.json`, String(steps), String(threads), precision], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`torch peer failed: ${r.stderr}`);
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { tokens_per_s: number; torch: string };
    all.push(`${threads} thread(s) ${j.tokens_per_s.toFixed(0)}`);
    if (j.tokens_per_s > best.tps) best = { tps: j.tokens_per_s, version: j.torch, threads, all: '' };
  }
  return { ...best, all: all.join(', ') };
}

/**
 * Debian's python3-torch calls the system BLAS (BLAS_INFO=generic), which is the netlib reference
 * BLAS unless an optimized one is installed: fp32 training then runs ~40x slower (measured here: 169
 * vs ~6000 tokens/s on tiny-b158), a peer far from its best. Says which one the alternative points at.
 */
function systemBlas(): string {
  try {
    return realpathSync('/usr/lib/x86_64-linux-gnu/libblas.so.3');
  } catch {
    return 'unknown';
  }
}

const py = torchPython();
const blas = systemBlas();
if (py && !/openblas|blis|mkl/i.test(blas))
  console.log(`WARNING: the system BLAS is ${blas}, not an optimized one: PyTorch's fp32 column is far from its best (apt install libopenblas0-pthread)`);
console.log(`bench:train — ${machine()}, commit ${commit()}`);
const addon = nativeAddon();
const bf16Hw = addon !== null && addon.isa() === 'avx512vnni' && addon.cpuFeatures().avx512bf16;
console.log(`native kernels: ${addon ? `${addon.isa()}; BitLinear forward on integer codes; bf16 matmuls ${bf16Hw ? 'on AVX-512 BF16' : 'as bf16-rounded inputs to the fp32 sgemm (no AVX-512 BF16)'}` : 'not built (TS/wasm only)'}`);
console.log(`command: npm run bench:train -- --steps ${steps} --configs ${configs.join(',')}; data/moby-dick; tokens/s over steps ${logEvery + 1}-${steps}\n`);
console.log(py ? `PyTorch peer: ${py} (bench/peers/torch_bitnet.py, random token ids), best of 1-${os.availableParallelism()} threads; system BLAS ${blas}` : 'PyTorch peer: no Python with torch found (apt install python3-torch, or set BITNET_TORCH_PYTHON): column empty');
console.log('');
console.log('| config | ours fp32 (tok/s) | ours bf16 (tok/s) | plain wasm (tok/s) | PyTorch fp32 (tok/s) | PyTorch bf16 (tok/s) | ours fp32 / PyTorch fp32 | ours bf16 / PyTorch bf16 | ours fp32 / plain | peak RSS fp32 / bf16 (MB) |');
console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
let torchVersion = '';
const torchDetail: string[] = [];
for (const c of configs) {
  const nat = measure(c, true);
  // bf16 needs the native kernels on wasm: with tfjs-node installed (backend auto → tensorflow) the trainer refuses it
  let nat16: { tps: number; rssMb: number } | null = null;
  try {
    nat16 = addon ? measure(c, true, 'bf16') : null;
  } catch (e) {
    console.log(`(${c} bf16 not measured: ${String(e).split('\n').find((l) => l.includes('matmul_precision')) ?? String(e).slice(0, 200)})`);
  }
  const plain = measure(c, false);
  const torch = (['fp32', 'bf16'] as const).map((precision) => {
    const t = py ? measureTorch(py, c, precision) : null;
    if (t) {
      torchVersion = t.version;
      torchDetail.push(`${c} ${precision}: ${t.all}`);
    }
    return t;
  });
  const num = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(0));
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? '—' : (a / b).toFixed(2));
  console.log(
    `| ${c} | ${num(nat.tps)} | ${num(nat16?.tps)} | ${num(plain.tps)} | ${num(torch[0]?.tps)} | ${num(torch[1]?.tps)} | ` +
      `${ratio(nat.tps, torch[0]?.tps)} | ${ratio(nat16?.tps, torch[1]?.tps)} | ${ratio(nat.tps, plain.tps)} | ${num(nat.rssMb)} / ${num(nat16?.rssMb)} |`,
  );
}
if (torchVersion) console.log(`\nPyTorch ${torchVersion}, tokens/s by thread count: ${torchDetail.join('; ')}.`);
