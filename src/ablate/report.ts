/**
 * `bitnet report`: every run of a study → results.arrow (one row per run), results.md and loss.svg /
 * loss.png. results.md holds one row per arm (mean ± std over seeds) and the study's comparisons: arms
 * that share a seed share their initial weights and data order, so each comparison is paired by seed
 * (mean difference, 95 % CI, paired p), with Welch's p beside it for an unpaired reading, an
 * equivalence verdict (TOST) where the study states a margin, and the minimum detectable effect at its
 * n and observed spread; contrasts (a difference of two paired differences, e.g. a gap's change between
 * two sizes) are paired by seed the same way. The comparisons come from the study file's `analysis` block
 * (default: every arm against the baseline). It reads only what the runs left on disk (run.json, metrics.arrow, engine.json,
 * DONE, FAILED), and refuses runs of different data or token budgets: those are not comparable.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { readMetrics, type MetricRow } from '../train/metrics.ts';
import { isDone } from '../train/trainer.ts';
import { describeHost, readHosts, type HostSegment } from '../train/hosts.ts';
import { findRunsDir, readLock, type StudyLock } from './expand.ts';
import { readEngineResult, type EngineResult } from './finish.ts';
import { lossCurves, renderLossPlot } from './plot.ts';
import { readReused, type ReusedRecord } from './reuse.ts';
import { failureOf, readRunRecord, RUN_FILE, type RunRecord } from './rundir.ts';
import { configValue, parseStudy, type Study } from '../config/study.ts';
import { readJsonFile } from '../config/parse.ts';
import { equivalenceTest, mean, minimumDetectableEffect, pairedTTest, std, welchTTest, type EquivalenceResult, type PairedResult } from './stats.ts';

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
  /** The training segments' machines and kernels (RUN_DIR/hosts.json; [] for runs trained before it existed). */
  hosts: HostSegment[];
  /** Where the run was copied from (`bitnet ablate --reuse`), or null: trained for this study. */
  reused: ReusedRecord | null;
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
    hosts: readHosts(dir),
    reused: readReused(dir),
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
  /** Tokens trained (mean over runs), and those of the run it warm-started from (0 if none). */
  tokens: number;
  initTokens: number;
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
    const initTokens = rs.map((r) => {
      const from = r.record.config.train.init_from?.run;
      const src = from?.startsWith('study:') ? runs.find((x) => x.record.arm === from.slice(6) && x.record.seed === r.record.seed) : undefined;
      return src?.tokensTrained ?? 0;
    });
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
      tokens: mean(rs.map((r) => r.tokensTrained)),
      initTokens: initTokens.length > 0 ? mean(initTokens) : 0,
    };
  });
}

export type Analysis = NonNullable<Study['analysis']>;

export interface Comparison {
  arm: string;
  vs: string;
  margin: number | null;
  /** Runs of each arm (done), and the seeds both have. */
  n: [number, number];
  paired: PairedResult;
  /** Welch's unpaired p over all runs of the two arms. */
  welchP: number | null;
  equivalence: EquivalenceResult | null;
  /** Paired, α 0.05, power 0.8, at this n and the differences' observed spread. */
  mde: number;
  /** The paired difference at every evaluation step that all paired runs logged. */
  track: { step: number; tokens: number; paired: PairedResult }[];
}

const doneRuns = (runs: readonly RunSummary[], arm: string) => runs.filter((r) => r.record.arm === arm && r.status === 'done' && Number.isFinite(r.valLoss));

/** Compares arm `a` with arm `b` on the final validation loss, paired by seed. */
export function compareArms(runs: readonly RunSummary[], a: string, b: string, margin: number | null, track: boolean): Comparison {
  const ra = doneRuns(runs, a);
  const rb = doneRuns(runs, b);
  const bySeed = new Map(rb.map((r) => [r.record.seed, r]));
  const pairs = ra.filter((r) => bySeed.has(r.record.seed)).map((r) => [r, bySeed.get(r.record.seed)!] as const);
  const paired = pairedTTest(pairs.map(([x]) => x.valLoss), pairs.map(([, y]) => y.valLoss));
  const steps: Comparison['track'] = [];
  if (track && pairs.length > 0) {
    const evals = (r: RunSummary) => new Map(r.metrics.filter((m) => Number.isFinite(m.val_loss)).map((m) => [m.step, m]));
    const maps = pairs.map(([x, y]) => [evals(x), evals(y)] as const);
    for (const [step, m] of maps[0]![0])
      if (maps.every(([x, y]) => x.has(step) && y.has(step)))
        steps.push({ step, tokens: m.tokens, paired: pairedTTest(maps.map(([x]) => x.get(step)!.val_loss), maps.map(([, y]) => y.get(step)!.val_loss)) });
  }
  return {
    arm: a,
    vs: b,
    margin,
    n: [ra.length, rb.length],
    paired,
    welchP: welchTTest(ra.map((r) => r.valLoss), rb.map((r) => r.valLoss))?.p ?? null,
    equivalence: margin === null ? null : equivalenceTest(pairs.map(([x]) => x.valLoss), pairs.map(([, y]) => y.valLoss), margin),
    mde: minimumDetectableEffect(paired.sd, paired.n),
    track: steps,
  };
}

/** The study's comparisons (its analysis block, else every arm against the baseline). */
export function studyComparisons(runs: readonly RunSummary[], arms: readonly string[], baseline: string, analysis: Analysis | undefined): Comparison[] {
  const list = analysis?.comparisons ?? arms.filter((a) => a !== baseline).map((arm) => ({ arm, vs: baseline, margin: undefined }));
  return list.map((c) => compareArms(runs, c.arm, c.vs, c.margin ?? analysis?.equivalence_margin ?? null, analysis?.track ?? false));
}

export interface Contrast {
  of: { arm: string; vs: string };
  minus: { arm: string; vs: string };
  /** Over the seeds all four arms finished: (of.arm − of.vs) − (minus.arm − minus.vs) per seed, paired. */
  paired: PairedResult;
  mde: number;
}

/** A difference of two paired differences, itself paired by seed (a seed shares its initial weights and data order across arms). */
export function contrastArms(runs: readonly RunSummary[], of: Contrast['of'], minus: Contrast['minus']): Contrast {
  const bySeed = (arm: string) => new Map(doneRuns(runs, arm).map((r) => [r.record.seed, r.valLoss]));
  const [a, b, c, d] = [of.arm, of.vs, minus.arm, minus.vs].map(bySeed) as [Map<number, number>, Map<number, number>, Map<number, number>, Map<number, number>];
  const seeds = [...a.keys()].filter((s) => b.has(s) && c.has(s) && d.has(s)).sort((x, y) => x - y);
  const paired = pairedTTest(seeds.map((s) => a.get(s)! - b.get(s)!), seeds.map((s) => c.get(s)! - d.get(s)!));
  return { of, minus, paired, mde: minimumDetectableEffect(paired.sd, paired.n) };
}

function contrastMarkdown(cs: readonly Contrast[]): string[] {
  const L = ['| contrast | seeds | Δ | 95 % CI | p | MDE (80 %) |', '|---|---|---|---|---|---|'];
  for (const c of cs)
    L.push(`| (${c.of.arm} − ${c.of.vs}) − (${c.minus.arm} − ${c.minus.vs}) | ${c.paired.n} | ${Number.isFinite(c.paired.diff) ? signed(c.paired.diff) : '—'} | ${fmtCi(c.paired.ci95)} | ${fmtP(c.paired.p)} | ${Number.isFinite(c.mde) ? c.mde.toFixed(4) : '—'} |`);
  return L;
}

export interface BestOfGroup {
  group: string;
  best: string;
  valLoss: Stat;
  /** The other arms of the group, best first, with their mean loss (NaN: no finished run). */
  others: { arm: string; valLoss: number }[];
  failed: number;
}

/** The best arm (lowest mean final validation loss) of each value of the config key `by`. */
export function bestByGroup(runs: readonly RunSummary[], arms: readonly ArmSummary[], by: string): BestOfGroup[] {
  const groupOf = new Map<string, string>();
  for (const r of runs) groupOf.set(r.record.arm, JSON.stringify(configValue(r.record.config, by)));
  const groups = [...new Set(arms.map((a) => groupOf.get(a.arm)).filter((g): g is string => g !== undefined))];
  return groups.map((g) => {
    const members = arms.filter((a) => groupOf.get(a.arm) === g).sort((x, y) => (Number.isFinite(x.valLoss.mean) ? x.valLoss.mean : Infinity) - (Number.isFinite(y.valLoss.mean) ? y.valLoss.mean : Infinity));
    return {
      group: g,
      best: members[0]!.arm,
      valLoss: members[0]!.valLoss,
      others: members.slice(1).map((m) => ({ arm: m.arm, valLoss: m.valLoss.mean })),
      failed: members.reduce((n, m) => n + m.failed, 0),
    };
  });
}

const signed = (x: number, digits = 4) => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;

function fmtCi(ci: [number, number] | null): string {
  return ci ? `[${signed(ci[0])}, ${signed(ci[1])}]` : '—';
}

function comparisonMarkdown(cs: readonly Comparison[]): string[] {
  const L: string[] = [];
  L.push('| comparison | pairs (runs) | paired Δ | 95 % CI | paired p | Welch p | equivalence (TOST, 90 % CI) | MDE (80 %) |');
  L.push('|---|---|---|---|---|---|---|---|');
  for (const c of cs) {
    const eq = c.margin === null ? '—' : c.equivalence === null ? `±${c.margin}: —` : `±${c.margin}: ${c.equivalence.equivalent ? 'equivalent' : 'not shown'} (p ${fmtP(c.equivalence.p)}, ${fmtCi(c.equivalence.ci)})`;
    const delta = Number.isFinite(c.paired.diff) ? signed(c.paired.diff) : '—';
    L.push(`| ${c.arm} − ${c.vs} | ${c.paired.n} (${c.n[0]}, ${c.n[1]}) | ${delta} | ${fmtCi(c.paired.ci95)} | ${fmtP(c.paired.p)} | ${fmtP(c.welchP)} | ${eq} | ${Number.isFinite(c.mde) ? c.mde.toFixed(4) : '—'} |`);
  }
  return L;
}

function fmt(s: Stat, digits: number): string {
  if (!Number.isFinite(s.mean)) return '—';
  return Number.isFinite(s.std) ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}

function fmtP(p: number | null): string {
  if (p === null) return '—';
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

export interface ReportAnalysis {
  comparisons: Comparison[];
  contrasts?: Contrast[];
  best: { by: string; groups: BestOfGroup[] } | null;
}

export function resultsMarkdown(lock: StudyLock, arms: readonly ArmSummary[], runs: readonly RunSummary[], analysis: ReportAnalysis = { comparisons: [], best: null }): string {
  const L: string[] = [];
  const planned = lock.runs.length;
  const done = runs.filter((r) => r.status === 'done').length;
  const c0 = runs[0]?.record.config.train;
  const evalTokens = c0 ? c0.eval_batches * c0.batch_size * c0.seq_len : NaN;
  L.push(`# ${lock.name}: results`, '');
  L.push(`Data \`${lock.data.dir}\` (${lock.data.fingerprint}); ${lock.token_budget.toLocaleString('en-US')} training tokens per run; ${done} of ${planned} runs complete; baseline arm \`${lock.baseline}\`.`);
  for (const g of lock.grown_from ?? []) L.push(`The study grew at ${g.at.slice(0, 16).replace('T', ' ')} UTC: its runs directory was started with ${g.runs} run(s) under definition ${g.hash.slice(0, 12)}; the definition that grew from it computes every run that had started exactly as before.`, '');
  L.push(
    `The metric is the final validation loss (nats/token) over the same ${evalTokens.toLocaleString('en-US')} validation tokens for every run; the engine's loss over the whole validation split is its check. ` +
      'Each arm cell is mean ± sample std over seeds.',
    '',
  );
  L.push('| arm | n | tokens | val loss | Δ vs baseline | bits/byte | perplexity | bits/weight | train tok/s | engine loss | engine tok/s |');
  L.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const a of arms) {
    const delta = a.vsBaseline ? signed(a.vsBaseline.diff) : a.arm === lock.baseline ? '(baseline)' : '—';
    const bpw = Number.isFinite(a.bitsPerWeight) ? `${a.bitsPerWeight.toFixed(a.bpwSource === 'gguf' ? 4 : 2)}${a.bpwSource === 'nominal' ? '*' : ''}` : '—';
    const n = a.failed > 0 ? `${a.n} (+${a.failed} failed)` : String(a.n);
    const tokens = !Number.isFinite(a.tokens) ? '—' : a.initTokens > 0 ? `${a.initTokens.toLocaleString('en-US')} + ${a.tokens.toLocaleString('en-US')}` : a.tokens.toLocaleString('en-US');
    L.push(`| ${a.arm} | ${n} | ${tokens} | ${fmt(a.valLoss, 4)} | ${delta} | ${fmt(a.valBpb, 4)} | ${fmt(a.perplexity, 2)} | ${bpw} | ${fmt(a.trainTokensPerS, 0)} | ${fmt(a.engineLoss, 4)} | ${fmt(a.engineTokensPerS, 1)} |`);
  }
  L.push('');
  if (analysis.comparisons.length > 0) {
    L.push('## Comparisons', '');
    L.push(
      'Paired by seed (arms that share a seed share their initial weights and data order): Δ = mean over seeds of (arm − other) in the final validation loss, its 95 % confidence interval (Student t) and the paired t-test; ' +
        "Welch's unequal-variance p reads the same runs unpaired. Equivalence: two one-sided tests against the stated margin (equivalent when the 90 % CI lies inside ±margin). " +
        'MDE: the smallest true difference the paired test would detect with 80 % power at α = 0.05, at this n and the observed spread of the differences (noncentral t).',
      '',
    );
    L.push(...comparisonMarkdown(analysis.comparisons), '');
    for (const c of analysis.comparisons.filter((x) => x.track.length > 0)) {
      L.push(`Paired Δ of ${c.arm} − ${c.vs} at every evaluation:`, '', '| step | tokens | pairs | Δ | 95 % CI |', '|---|---|---|---|---|');
      for (const t of c.track) L.push(`| ${t.step} | ${t.tokens.toLocaleString('en-US')} | ${t.paired.n} | ${Number.isFinite(t.paired.diff) ? signed(t.paired.diff) : '—'} | ${fmtCi(t.paired.ci95)} |`);
      L.push('');
    }
  }
  if ((analysis.contrasts ?? []).length > 0) {
    L.push('## Contrasts', '');
    L.push('A difference of two paired differences (e.g. a gap at one size minus the same gap at another), computed per seed over the seeds all four arms finished, with its 95 % t interval, t-test and MDE as above.', '');
    L.push(...contrastMarkdown(analysis.contrasts!), '');
  }
  if (analysis.best) {
    L.push(`## Best arm per \`${analysis.best.by}\``, '', '| group | best arm | val loss | the others (mean val loss) | failed runs |', '|---|---|---|---|---|');
    for (const g of analysis.best.groups)
      L.push(`| ${g.group} | ${g.best} | ${fmt(g.valLoss, 4)} | ${g.others.map((o) => `${o.arm} ${Number.isFinite(o.valLoss) ? o.valLoss.toFixed(4) : '—'}`).join('; ')} | ${g.failed} |`);
    L.push('');
  }
  L.push('Bits/weight: of the quantized linear layers; `*` = nominal from the quantization kind (fp = 16 as F16, binary = 1, ternary = log2 3 ≈ 1.58), otherwise measured in the exported GGUF.');
  L.push('Train tok/s: median of the logged training throughputs (depends on how many workers shared the machine). Engine columns: the run exported to GGUF (TQ2_0; linears narrower than its 256-weight blocks as I8 codes) and evaluated by our engine over the whole validation split (the tfjs columns use the eval windows of the training config), and its generation speed; — when not measured.');
  const engineNotes = new Set(runs.map((r) => r.engine).filter((e): e is EngineResult => e !== null && e.status !== 'ok').map((e) => `${e.status}: ${e.reason ?? ''}`));
  for (const n of engineNotes) L.push(`Engine eval ${n}.`);
  const notes = new Set(lock.runs.flatMap((r) => (r.note ? [`${r.arm}: ${r.note}`] : [])));
  if (notes.size > 0) L.push('', 'Token budget rounding:', ...[...notes].map((n) => `- ${n}`));
  const failed = runs.filter((r) => r.status === 'failed');
  if (failed.length > 0) L.push('', 'Failed runs:', ...failed.map((r) => `- ${r.record.id}: ${(r.error ?? '').trim().split('\n')[0]}`));
  const reused = runs.filter((r) => r.reused !== null);
  if (reused.length > 0)
    L.push('', `Reused runs (\`bitnet ablate --reuse\`: the same config, data, tokens and instruction set, trained once for another study and copied here):`, ...reused.map((r) => `- ${r.record.arm}/seed-${r.record.seed} = ${r.reused!.from_id}${r.reused!.isa === null ? ' (its instruction set was not recorded: reused with --reuse-unrecorded)' : ''}`));
  L.push('', ...hostsMarkdown(runs));
  const missing = lock.runs.filter((p) => !runs.some((r) => r.record.id === p.id && r.status === 'done') && !failed.some((r) => r.record.id === p.id));
  if (missing.length > 0) L.push('', `Not complete (${missing.length}): ${missing.map((m) => m.id).join(', ')}`);
  L.push('', '![validation loss](loss.png)', '');
  return L.join('\n');
}

/** Which machine, kernels and commit trained each run (every segment of a resumed run), grouped. */
export function hostsMarkdown(runs: readonly RunSummary[]): string[] {
  const by = new Map<string, Set<string>>();
  const add = (key: string, id: string) => (by.get(key) ?? by.set(key, new Set()).get(key)!).add(id);
  for (const r of runs) {
    const id = `${r.record.arm}/seed-${r.record.seed}`;
    if (r.hosts.length === 0) add('not recorded (trained before runs kept hosts.json)', id);
    for (const h of r.hosts) add(describeHost(h), id);
  }
  return ['Machines that trained the runs (each run\'s hosts.json: one line per machine, kernels and commit; a resumed run lists each segment):', ...[...by].map(([k, ids]) => `- ${k}: ${[...ids].join(', ')}`)];
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
  comparisons: Comparison[];
  contrasts: Contrast[];
  markdown: string;
}

/** The analysis block of the study file the lock names (read now: it may change after the runs). */
function readAnalysis(lock: StudyLock): Analysis | undefined {
  if (!existsSync(lock.study_file)) return undefined;
  return parseStudy(readJsonFile(lock.study_file), lock.study_file).analysis;
}

/** Writes results.arrow, results.md, loss.svg and loss.png into `outDir`, each atomically. */
export async function writeReport(dir: string, outDir: string = dir): Promise<ReportResult> {
  const runsDir = findRunsDir(dir);
  const lock = readLock(runsDir)!;
  const runs = collectRuns(runsDir);
  if (runs.length === 0) throw new InputError(runsDir, 'no runs yet (no ARM/seed-K/run.json)');
  checkComparable(runsDir, runs);
  const arms = summarizeArms(runs, lock.arms, lock.baseline);
  const study = readAnalysis(lock);
  const analysis: ReportAnalysis = {
    comparisons: studyComparisons(runs, arms.map((a) => a.arm), lock.baseline, study),
    contrasts: (study?.contrasts ?? []).map((c) => contrastArms(runs, c.of, c.minus)),
    best: study?.best_by ? { by: study.best_by, groups: bestByGroup(runs, arms, study.best_by) } : null,
  };
  const markdown = resultsMarkdown(lock, arms, runs, analysis);
  const curves = lossCurves(runs.filter((r) => r.status === 'done').map((r) => ({ arm: r.record.arm, points: r.metrics })));
  const { svg, png } = await renderLossPlot(curves, `${lock.name}: validation loss (seed mean, min–max band)`, arms.map((a) => a.arm));
  const files: [string, string | Uint8Array][] = [
    ['results.arrow', resultsTable(runs)],
    ['results.md', markdown],
    ['loss.svg', svg],
    ['loss.png', png],
  ];
  for (const [name, data] of files) writeFileAtomic(path.join(outDir, name), data);
  return { runsDir, files: files.map(([n]) => path.join(outDir, n)), arms, comparisons: analysis.comparisons, contrasts: analysis.contrasts ?? [], markdown };
}
