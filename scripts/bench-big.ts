// `npm run bench:big`: the seed's headline, measured: bitnet.cpp's big benchmark shapes (7b, 13b, 30b,
// 70b, 100b: src/infer/synth.ts SYNTH_SHAPES) as random-weight TQ1_0 files (1.6875 bits per weight;
// a 100b file is 21.6 GB), run in place from the mapped file (`bitnet bench --weights map`: no copy of
// the weights, so a model up to the machine's memory runs), one shape at a time:
//
//   1. `bitnet synth --shape S --type tq1_0` into bench/models/ (git-ignored; reused when present), timed;
//   2. `bitnet bench FILE --weights map --threads T --prompt-tokens PP --gen-tokens TG --json` in a child
//      process (a few tokens: these are slow runs, each measured once);
//   3. the file is deleted unless --keep (the five take 47 GB);
//   4. the table: tokens/s, the roofline this machine's measured read bandwidth allows (bandwidth /
//      bytes read per token), % of it, load time, peak RSS against the file's size; printed and written
//      to bench/results-big-<date>.md (+ .json), with the machine, the commit and the command.
//
// Flags: --shapes 7b,13b,30b,70b,100b  --threads 2  --pp 8  --tg 4  --keep  --out FILE.md
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tensorTable } from '../src/format/index.ts';
import { SYNTH_SHAPES } from '../src/infer/synth.ts';
import { commit, machine } from './bench-env.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin/bitnet.js');
const MODELS = path.join(ROOT, 'bench/models');

const { values: flags } = parseArgs({
  options: {
    shapes: { type: 'string', default: '7b,13b,30b,70b,100b' },
    threads: { type: 'string', default: '2' },
    pp: { type: 'string', default: '8' },
    tg: { type: 'string', default: '4' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

function fail(msg: string): never {
  process.stderr.write(`bench:big: ${msg}\n`);
  process.exit(2);
}

const shapes = flags.shapes.split(',').map((s) => s.trim());
for (const s of shapes) if (!SYNTH_SHAPES[s]) fail(`--shapes: "${s}" is not a named shape (${Object.keys(SYNTH_SHAPES).join(', ')})`);
const int = (name: string, v: string, max: number): number => {
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 1 && n <= max)) fail(`--${name} must be an integer in [1, ${max}], got "${v}"`);
  return n;
};
const threads = int('threads', flags.threads, 256);
const pp = int('pp', flags.pp, 512);
const tg = int('tg', flags.tg, 512);

/** Weights of a shape (tied embedding counted once). */
function params(shape: string): number {
  return tensorTable(SYNTH_SHAPES[shape]!, { subln: true, tied: true }).reduce((a, t) => a + t.shape.reduce((p, q) => p * q, 1), 0);
}

interface BenchJson {
  pp_tokens_per_s: number;
  tg_tokens_per_s: number;
  load_s: number;
  peak_rss_mb: number;
  mb_read_per_token: number;
  bandwidth_gb_s: number | null;
  tg_roofline_pct: number | null;
  weights: string;
  linear_type: string;
}

interface Row {
  shape: string;
  params: number;
  fileBytes: number;
  synthSeconds: number | null;
  bench: BenchJson;
  wallSeconds: number;
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const started = new Date();
const cmdline = `npm run bench:big -- ${process.argv.slice(2).join(' ')}`.trim();
log(`bench:big on ${machine()}, commit ${commit()}`);
const rows: Row[] = [];
for (const shape of shapes) {
  const file = path.join(MODELS, `synth-${shape}-tq1_0.gguf`);
  let synthSeconds: number | null = null;
  if (!existsSync(file)) {
    const need = (params(shape) * 1.6875) / 8;
    const fs = statfsSync(MODELS);
    const free = fs.bavail * fs.bsize;
    if (free < need * 1.05) fail(`${shape}: the file takes ~${(need / 1e9).toFixed(1)} GB, ${MODELS} has ${(free / 1e9).toFixed(1)} GB free`);
    log(`${shape}: bitnet synth --shape ${shape} --type tq1_0 (~${(need / 1e9).toFixed(1)} GB)`);
    const t = performance.now();
    const r = spawnSync(process.execPath, [CLI, 'synth', '--shape', shape, '--type', 'tq1_0', '--out', file], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) fail(`${shape}: bitnet synth exited ${r.status}`);
    synthSeconds = (performance.now() - t) / 1000;
  }
  const fileBytes = statSync(file).size;
  log(`${shape}: bitnet bench --weights map --threads ${threads} --prompt-tokens ${pp} --gen-tokens ${tg}`);
  const t = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'bench', file, '--weights', 'map', '--threads', String(threads), '--prompt-tokens', String(pp), '--gen-tokens', String(tg), '--json'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const wallSeconds = (performance.now() - t) / 1000;
  if (r.status !== 0) fail(`${shape}: bitnet bench exited ${r.status}: ${r.stderr.trim()}`);
  const bench = JSON.parse(r.stdout.trim().split('\n').pop()!) as BenchJson;
  rows.push({ shape, params: params(shape), fileBytes, synthSeconds, bench, wallSeconds });
  log(`${shape}: tg ${bench.tg_tokens_per_s.toFixed(3)} tokens/s, pp ${bench.pp_tokens_per_s.toFixed(3)}, peak RSS ${(bench.peak_rss_mb / 1e3).toFixed(2)} GB, load ${bench.load_s.toFixed(2)} s`);
  if (!flags.keep) rmSync(file);
}

const gb = (b: number) => (b / 1e9).toFixed(2);
const lines: string[] = [];
lines.push(`## Big shapes in place: TQ1_0 files, \`bitnet bench --weights map\``, '');
lines.push(`Machine: ${machine()}. Commit: ${commit()}. Date: ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC. Command: \`${cmdline}\`.`, '');
lines.push(`Each row: \`bitnet synth --shape S --type tq1_0\` (random ternary weights, F16 tied embedding/head, LLaMA vocabulary size 32000), then \`bitnet bench FILE --weights map --threads ${threads} --prompt-tokens ${pp} --gen-tokens ${tg}\`, measured once. Roofline: the read bandwidth measured in that run / the weight bytes read per generated token.`, '');
lines.push('| shape | parameters | file | synth | load | pp tokens/s | tg tokens/s | roofline tokens/s | tg % of roofline | peak RSS | RSS − file |');
lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const r of rows) {
  const b = r.bench;
  const roof = b.bandwidth_gb_s === null ? null : (b.bandwidth_gb_s * 1e3) / b.mb_read_per_token;
  lines.push(`| ${r.shape} | ${(r.params / 1e9).toFixed(2)} B | ${gb(r.fileBytes)} GB | ${r.synthSeconds === null ? 'reused' : `${r.synthSeconds.toFixed(0)} s`} | ${b.load_s.toFixed(2)} s | ${b.pp_tokens_per_s.toFixed(3)} | ${b.tg_tokens_per_s.toFixed(3)} | ${roof === null ? '-' : roof.toFixed(2)} | ${b.tg_roofline_pct === null ? '-' : `${b.tg_roofline_pct.toFixed(1)} %`} | ${gb(b.peak_rss_mb * 1e6)} GB | ${((b.peak_rss_mb * 1e6 - r.fileBytes) / 1e6).toFixed(0)} MB |`);
}
const md = lines.join('\n') + '\n';
process.stdout.write(md);
const out = flags.out ?? path.join(ROOT, `bench/results-big-${started.toISOString().slice(0, 10)}.md`);
writeFileSync(out, md);
writeFileSync(out.replace(/\.md$/, '') + '.json', JSON.stringify({ machine: machine(), commit: commit(), command: cmdline, threads, pp, tg, rows }, null, 1));
log(`wrote ${out}`);
