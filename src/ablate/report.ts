/**
 * `bitnet report`: every run of a study → results.arrow (one row per run), results.md (one row per
 * arm: mean ± std over seeds, the difference to the baseline with Welch's t-test, n) and loss.svg /
 * loss.png. It reads only what the runs left on disk (run.json, metrics.arrow, engine.json, DONE,
 * FAILED), and refuses runs of different data or token budgets: those are not comparable.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { readMetrics, type MetricRow } from '../train/metrics.ts';
import { isDone } from '../train/trainer.ts';
import { LOCK_FILE, readLock, type StudyLock } from './expand.ts';
import { readEngineResult, type EngineResult } from './finish.ts';
import { lossCurves, renderLossPlot } from './plot.ts';
import { failureOf, readRunRecord, RUN_FILE, type RunRecord } from './rundir.ts';
import { mean, std, welchTTest } from './stats.ts';

export interface RunSummary {
  record: RunRecord;
  dir: string;
  status: 'done' | 'failed' | 'incomplete';
  error: string | null;
  metrics: MetricRow[];
  /** The last validation evaluation. */
  valLoss: number;
  valBpb: number;
  steps: number;
  tokensTrained: number;
  /** Median of the logged training throughputs (robust to the windows that include an evaluation). */
  trainTokensPerS: number;
  bitsPerWeight: number;
  bpwSource: 'gguf' | 'nominal';
  engine: EngineResult | null;
}

/** Bits per weight of the quantized linears when no GGUF was measured: fp as F16, binary 1, ternary log2 3. */
export function nominalBitsPerWeight(weightQuant: string): number {
  return weightQuant === 'fp' ? 16 : weightQuant === 'binary' ? 1 : Math.log2(3);
}

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A study directory holds runs/ (the default of `bitnet ablate`), or the argument is the runs directory itself. */
export function findRunsDir(dir: string): string {
  if (existsSync(path.join(dir, LOCK_FILE))) return dir;
  if (existsSync(path.join(dir, 'runs', LOCK_FILE))) return path.join(dir, 'runs');
  throw new InputError(dir, `no ${LOCK_FILE} here or in ${path.join(dir, 'runs')}: run \`bitnet ablate\` first`);
}

export function readRun(dir: string): RunSummary {
  const record = readRunRecord(dir);
  const metrics = readMetrics(path.join(dir, 'metrics.arrow'));
  const evals = metrics.filter((m) => Number.isFinite(m.val_loss));
  const last = evals.at(-1);
  const engine = readEngineResult(dir);
  const error = failureOf(dir);
  const gguf = engine?.status === 'ok' && Number.isFinite(engine.bits_per_weight);
  return {
    record,
    dir,
    status: isDone(dir) ? 'done' : error !== null ? 'failed' : 'incomplete',
    error,
    metrics,
    valLoss: last?.val_loss ?? NaN,
    valBpb: last?.val_bpb ?? NaN,
    steps: metrics.at(-1)?.step ?? 0,
    tokensTrained: metrics.at(-1)?.tokens ?? 0,
    trainTokensPerS: median(metrics.map((m) => m.tokens_per_s)),
    bitsPerWeight: gguf ? engine.bits_per_weight! : nominalBitsPerWeight(record.config.model.weight_quant),
    bpwSource: gguf ? 'gguf' : 'nominal',
    engine,
  };
}

/** Every run directory (ARM/seed-K with a run.json) under the runs directory. */
export function collectRuns(runsDir: string): RunSummary[] {
  const runs: RunSummary[] = [];
  for (const arm of readdirSync(runsDir, { withFileTypes: true })) {
    if (!arm.isDirectory()) continue;
    for (const seed of readdirSync(path.join(runsDir, arm.name), { withFileTypes: true })) {
      const dir = path.join(runsDir, arm.name, seed.name);
      if (seed.isDirectory() && /^seed-\d+$/.test(seed.name) && existsSync(path.join(dir, RUN_FILE))) runs.push(readRun(dir));
    }
  }
  return runs.sort((a, b) => (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0));
}

/** Runs trained on different data, or for different token budgets, do not belong in one table. */
export function checkComparable(runsDir: string, runs: readonly RunSummary[]): void {
  const first = runs[0];
  if (!first) return;
  for (const r of runs) {
    if (r.record.data.fingerprint !== first.record.data.fingerprint)
      throw new InputError(runsDir, `runs of different data cannot be compared: ${first.record.id} used ${first.record.data.dir} (${first.record.data.fingerprint}), ${r.record.id} used ${r.record.data.dir} (${r.record.data.fingerprint})`);
    if (r.record.token_budget !== first.record.token_budget)
      throw new InputError(runsDir, `runs of different token budgets cannot be compared: ${first.record.id} has ${first.record.token_budget}, ${r.record.id} has ${r.record.token_budget}`);
  }
}

export interface Stat {
  mean: number;
  std: number;
}

export interface ArmSummary {
  arm: string;
  n: number;
  failed: number;
  valLoss: Stat;
  valBpb: Stat;
  perplexity: Stat;
  bitsPerWeight: number;
  bpwSource: 'gguf' | 'nominal' | 'none';
  trainTokensPerS: Stat;
  engineLoss: Stat;
  engineTokensPerS: Stat;
  /** Versus the baseline arm's final validation loss; null for the baseline or when undefined. */
  vsBaseline: { diff: number; p: number | null } | null;
}

const stat = (xs: number[]): Stat => ({ mean: mean(xs), std: std(xs) });

export function summarizeArms(runs: readonly RunSummary[], armOrder: readonly string[], baseline: string): ArmSummary[] {
  const arms = [...armOrder, ...new Set(runs.map((r) => r.record.arm).filter((a) => !armOrder.includes(a)))];
  const done = (arm: string) => runs.filter((r) => r.record.arm === arm && r.status === 'done' && Number.isFinite(r.valLoss));
  const base = done(baseline).map((r) => r.valLoss);
  return arms.map((arm) => {
    const rs = done(arm);
    const losses = rs.map((r) => r.valLoss);
    const engineOk = rs.filter((r) => r.engine?.status === 'ok');
    let vsBaseline: ArmSummary['vsBaseline'] = null;
    if (arm !== baseline && losses.length > 0 && base.length > 0) vsBaseline = { diff: mean(losses) - mean(base), p: welchTTest(losses, base)?.p ?? null };
    return {
      arm,
      n: rs.length,
      failed: runs.filter((r) => r.record.arm === arm && r.status === 'failed').length,
      valLoss: stat(losses),
      valBpb: stat(rs.map((r) => r.valBpb)),
      perplexity: stat(losses.map(Math.exp)),
      bitsPerWeight: rs[0]?.bitsPerWeight ?? NaN,
      bpwSource: rs[0]?.bpwSource ?? 'none',
      trainTokensPerS: stat(rs.map((r) => r.trainTokensPerS)),
      engineLoss: stat(engineOk.map((r) => r.engine!.loss!)),
      engineTokensPerS: stat(engineOk.map((r) => r.engine!.tokens_per_s!)),
      vsBaseline,
    };
  });
}

function fmt(s: Stat, digits: number): string {
  if (!Number.isFinite(s.mean)) return '—';
  return Number.isFinite(s.std) ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}

function fmtP(p: number | null): string {
  if (p === null) return '—';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

export function resultsMarkdown(lock: StudyLock, arms: readonly ArmSummary[], runs: readonly RunSummary[]): string {
  const L: string[] = [];
  const planned = lock.runs.length;
  const done = runs.filter((r) => r.status === 'done').length;
  L.push(`# ${lock.name}: results`, '');
  L.push(`Data \`${lock.data.dir}\` (${lock.data.fingerprint}); ${lock.token_budget.toLocaleString('en-US')} training tokens per run; ${done} of ${planned} runs complete; baseline arm \`${lock.baseline}\`.`);
  L.push('Each cell is mean ± sample std over seeds, at the end of training; Δ and p compare the final validation loss with the baseline arm (Welch\'s t-test, two-sided).', '');
  L.push('| arm | n | val loss | Δ vs baseline | p | bits/byte | perplexity | bits/weight | train tok/s | engine loss | engine tok/s |');
  L.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const a of arms) {
    const delta = a.vsBaseline ? `${a.vsBaseline.diff >= 0 ? '+' : ''}${a.vsBaseline.diff.toFixed(4)}` : a.arm === lock.baseline ? '(baseline)' : '—';
    const bpw = Number.isFinite(a.bitsPerWeight) ? `${a.bitsPerWeight.toFixed(a.bpwSource === 'gguf' ? 4 : 2)}${a.bpwSource === 'nominal' ? '*' : ''}` : '—';
    const n = a.failed > 0 ? `${a.n} (+${a.failed} failed)` : String(a.n);
    L.push(
      `| ${a.arm} | ${n} | ${fmt(a.valLoss, 4)} | ${delta} | ${fmtP(a.vsBaseline?.p ?? null)} | ${fmt(a.valBpb, 4)} | ${fmt(a.perplexity, 2)} | ${bpw} | ${fmt(a.trainTokensPerS, 0)} | ${fmt(a.engineLoss, 4)} | ${fmt(a.engineTokensPerS, 1)} |`,
    );
  }
  L.push('');
  L.push('Bits/weight: of the quantized linear layers; `*` = nominal from the quantization kind (fp = 16 as F16, binary = 1, ternary = log2 3 ≈ 1.58), otherwise measured in the exported GGUF.');
  L.push('Train tok/s: median of the logged training throughputs (depends on how many workers shared the machine). Engine columns: the run exported to GGUF (TQ2_0) and evaluated by our engine over the whole validation split (the tfjs columns use the eval windows of the training config), and its generation speed; — when not measured.');
  const engineNotes = new Set(runs.map((r) => r.engine).filter((e): e is EngineResult => e !== null && e.status !== 'ok').map((e) => `${e.status}: ${e.reason ?? ''}`));
  for (const n of engineNotes) L.push(`Engine eval ${n}.`);
  const notes = new Set(lock.runs.flatMap((r) => (r.note ? [`${r.arm}: ${r.note}`] : [])));
  if (notes.size > 0) L.push('', 'Token budget rounding:', ...[...notes].map((n) => `- ${n}`));
  const failed = runs.filter((r) => r.status === 'failed');
  if (failed.length > 0) L.push('', 'Failed runs:', ...failed.map((r) => `- ${r.record.id}: ${(r.error ?? '').trim().split('\n')[0]}`));
  const missing = lock.runs.filter((p) => !runs.some((r) => r.record.id === p.id && r.status === 'done') && !failed.some((r) => r.record.id === p.id));
  if (missing.length > 0) L.push('', `Not complete (${missing.length}): ${missing.map((m) => m.id).join(', ')}`);
  L.push('', '![validation loss](loss.png)', '');
  return L.join('\n');
}

export function resultsTable(runs: readonly RunSummary[]): Uint8Array {
  const col = <T>(f: (r: RunSummary) => T) => runs.map(f);
  const num = (f: (r: RunSummary) => number | undefined) => Float64Array.from(runs, (r) => f(r) ?? NaN);
  const table = tableFromArrays({
    id: col((r) => r.record.id),
    arm: col((r) => r.record.arm),
    seed: Int32Array.from(runs, (r) => r.record.seed),
    status: col((r) => r.status),
    steps: Int32Array.from(runs, (r) => r.steps),
    tokens: num((r) => r.tokensTrained),
    token_budget: num((r) => r.record.token_budget),
    val_loss: num((r) => r.valLoss),
    val_bpb: num((r) => r.valBpb),
    val_perplexity: num((r) => Math.exp(r.valLoss)),
    final_train_loss: num((r) => r.metrics.at(-1)?.loss),
    train_tokens_per_s: num((r) => r.trainTokensPerS),
    wall_s: num((r) => r.metrics.at(-1)?.wall_s),
    bits_per_weight: num((r) => r.bitsPerWeight),
    bpw_source: col((r) => r.bpwSource),
    weight_quant: col((r) => r.record.config.model.weight_quant),
    weight_scale: col((r) => r.record.config.model.weight_scale),
    act_quant: col((r) => r.record.config.model.act_quant),
    subln: col((r) => r.record.config.model.subln),
    d_model: Int32Array.from(runs, (r) => r.record.config.model.d_model),
    n_layers: Int32Array.from(runs, (r) => r.record.config.model.n_layers),
    lr_schedule: col((r) => r.record.config.train.lr.kind),
    lr_peak: num((r) => r.record.config.train.lr.peak),
    engine_status: col((r) => r.engine?.status ?? 'none'),
    engine_loss: num((r) => r.engine?.loss),
    engine_perplexity: num((r) => r.engine?.perplexity),
    engine_bpb: num((r) => r.engine?.bits_per_byte),
    engine_tokens_per_s: num((r) => r.engine?.tokens_per_s),
    data_fingerprint: col((r) => r.record.data.fingerprint),
    error: col((r) => (r.error ?? '').trim().split('\n')[0] ?? ''),
  });
  return tableToIPC(table, 'file');
}

export interface ReportResult {
  runsDir: string;
  files: string[];
  arms: ArmSummary[];
  markdown: string;
}

/** Writes results.arrow, results.md, loss.svg and loss.png into `outDir`, each atomically. */
export async function writeReport(dir: string, outDir: string = dir): Promise<ReportResult> {
  const runsDir = findRunsDir(dir);
  const lock = readLock(runsDir)!;
  const runs = collectRuns(runsDir);
  if (runs.length === 0) throw new InputError(runsDir, 'no runs yet (no ARM/seed-K/run.json)');
  checkComparable(runsDir, runs);
  const arms = summarizeArms(runs, lock.arms, lock.baseline);
  const markdown = resultsMarkdown(lock, arms, runs);
  const curves = lossCurves(runs.filter((r) => r.status === 'done').map((r) => ({ arm: r.record.arm, points: r.metrics })));
  const { svg, png } = await renderLossPlot(curves, `${lock.name}: validation loss (seed mean, min–max band)`, arms.map((a) => a.arm));
  const files: [string, string | Uint8Array][] = [
    ['results.arrow', resultsTable(runs)],
    ['results.md', markdown],
    ['loss.svg', svg],
    ['loss.png', png],
  ];
  for (const [name, data] of files) writeFileAtomic(path.join(outDir, name), data);
  return { runsDir, files: files.map(([n]) => path.join(outDir, n)), arms, markdown };
}
