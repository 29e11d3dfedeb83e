/**
 * An ablation study: a question in one JSON file (experiments/STUDY/study.json). A base run config,
 * the arms to compare (a grid over axes, one axis at a time from the base, and/or explicit named
 * override sets), the seeds, a token budget per run and the evaluation settings. `expandStudy` turns it
 * into the list of runs `STUDY/ARM/seed-K`, each with its resolved RunConfig; the expansion is a pure,
 * deterministic function of the file, the data directory and the vocabulary size.
 *
 * Every arm is validated against the RunConfig schema before anything runs: an unknown key, a wrong
 * type or a model the schema refuses is an InputError naming the study file and the key.
 */
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { applyOverrides, firstIssue, parseWith } from './parse.ts';
import { RunConfig } from './train.ts';

/** Dotted config key → value, e.g. {"model.weight_quant": "binary", "train.lr.peak": 6e-3}. */
const Overrides = z.record(z.string().min(1), z.unknown());
export type Overrides = z.infer<typeof Overrides>;

const AxisMap = z.record(z.string().min(1), z.array(z.unknown()));

export const StudyData = z.union([
  z.string().min(1),
  z.strictObject({
    corpus: z.string().min(1),
    tokenizer: z.enum(['byte', 'bpe']).default('bpe'),
    vocab_size: z.number().int().min(2).optional(),
    /** Where the prepared data goes; default data/<corpus>-<tokenizer>-<vocab>. */
    out: z.string().min(1).optional(),
  }),
]);
export type StudyData = z.infer<typeof StudyData>;

export const Study = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only (it names directories)'),
  description: z.string().optional(),
  /** A prepared data directory (relative to the working directory), or what to prepare. */
  data: StudyData,
  /** RunConfig-shaped: {model: {...}, train: {...}}; defaults fill the rest. */
  base: z.record(z.string(), z.unknown()).default({}),
  axes: z
    .strictObject({
      /** grid: every combination; one_at_a_time: the base, then each value of each axis alone. */
      mode: z.enum(['grid', 'one_at_a_time']),
      axes: AxisMap,
    })
    .optional(),
  /** Named arms that change several keys at once (an LR scale, a schedule), added after the axes' arms. */
  arms: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        set: Overrides,
        /** This arm's training tokens, when it differs from the study's (the first stage of a warm start). */
        token_budget: z.number().int().positive().optional(),
      }),
    )
    .default([]),
  /** Seed K sets model.seed (initialization) and train.data_seed (batch order) of run seed-K. */
  seeds: z.array(z.number().int().positive()).min(1),
  /** Training tokens per run; steps = token_budget / (batch_size · seq_len · grad_accum). */
  token_budget: z.number().int().positive(),
  eval: z
    .strictObject({
      /** Validation batches per evaluation (train.eval_batches). */
      batches: z.number().int().positive().default(8),
      /** Evaluate every this many steps (train.eval_every); default: the base config's. */
      every: z.number().int().positive().optional(),
      /** Export each finished run to GGUF and evaluate it with the engine. */
      engine: z.boolean().default(true),
    })
    .default({ batches: 8, engine: true }),
  /** The arm every other arm is compared with; default "base" (one_at_a_time) or the first arm. */
  baseline: z.string().optional(),
  /** How `bitnet report` analyses the runs; it decides nothing about what a run computes. */
  analysis: z
    .strictObject({
      /** The paired comparisons to report, each arm against another; default: every arm against the baseline. */
      comparisons: z
        .array(
          z.strictObject({
            arm: z.string().min(1),
            vs: z.string().min(1),
            /** Equivalence margin in nats for this comparison (TOST): a "no difference" claim. */
            margin: z.number().positive().optional(),
          }),
        )
        .optional(),
      /**
       * Differences of paired differences, paired by seed: (of.arm − of.vs) − (minus.arm − minus.vs)
       * over the seeds all four arms finished, e.g. how a ternary − fp gap changes between two sizes.
       */
      contrasts: z
        .array(
          z.strictObject({
            of: z.strictObject({ arm: z.string().min(1), vs: z.string().min(1) }),
            minus: z.strictObject({ arm: z.string().min(1), vs: z.string().min(1) }),
          }),
        )
        .optional(),
      /** Equivalence margin for comparisons without their own; none: no equivalence test. */
      equivalence_margin: z.number().positive().optional(),
      /** Report each comparison's paired difference at every evaluation, not only the last. */
      track: z.boolean().default(false),
      /** Group the arms by this config key (e.g. "model.weight_quant") and report the best arm of each group. */
      best_by: z.string().min(1).optional(),
    })
    .optional(),
});
export type Study = z.infer<typeof Study>;

export interface Arm {
  name: string;
  /** The overrides applied to the base, in order. */
  set: Overrides;
  /** Its own token budget (explicit arms only); default the study's. */
  tokenBudget?: number;
}

export interface PlannedRun {
  /** STUDY/ARM/seed-K */
  id: string;
  arm: string;
  seed: number;
  config: RunConfig;
  /** Tokens this run trains on: steps · batch_size · seq_len · grad_accum. */
  tokens: number;
  /** Set when the token budget is not a whole number of steps for this arm: what was rounded. */
  note?: string;
  /** The run whose weights this one starts from (train.init_from "study:ARM"): it must finish first. */
  after?: string;
}

export interface StudyPlan {
  name: string;
  baseline: string;
  arms: Arm[];
  runs: PlannedRun[];
}

/** Reads and validates a study definition; `source` names the file in errors. */
export function parseStudy(value: unknown, source: string): Study {
  const study = parseWith(Study, value, source);
  const seen = new Set<number>();
  for (const s of study.seeds) {
    if (seen.has(s)) throw new InputError(source, `seeds: seed ${s} appears twice (seeds must be distinct)`);
    seen.add(s);
  }
  return study;
}

/** How an axis value reads in an arm name. */
function showValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Arm names become directory names: keep them readable but filesystem-safe. */
export function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._=,+-]/g, '_');
}

/** Short axis labels: the last key segment ("weight_quant"), or the full key when two axes share it. */
function axisLabels(keys: string[]): Map<string, string> {
  const last = (k: string) => k.split('.').at(-1)!;
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(last(k), (counts.get(last(k)) ?? 0) + 1);
  return new Map(keys.map((k) => [k, counts.get(last(k))! > 1 ? k : last(k)]));
}

/** The value at a dotted config key ("model.weight_quant", "train.lr.peak"), or undefined. */
export function configValue(obj: unknown, key: string): unknown {
  let o = obj;
  for (const k of key.split('.')) o = o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined;
  return o;
}

/**
 * The arms of a study, in a deterministic order (axes' arms first, in the file's order; then explicit
 * arms), and the baseline's name (checked by expandStudy once every arm is valid).
 */
export function studyArms(study: Study, base: RunConfig, source: string): { arms: Arm[]; baseline: string } {
  const arms: Arm[] = [];
  let defaultBaseline: string | undefined;
  if (study.axes) {
    const keys = Object.keys(study.axes.axes);
    if (keys.length === 0 && study.arms.length === 0) throw new InputError(source, 'axes.axes: no axis (an empty grid has no arms)');
    for (const k of keys)
      if (study.axes.axes[k]!.length === 0) throw new InputError(source, `axes.axes.${k}: no values (an empty axis makes an empty grid)`);
    const label = axisLabels(keys);
    const name = (pairs: [string, unknown][]) => slug(pairs.map(([k, v]) => `${label.get(k)}=${showValue(v)}`).join(','));
    if (study.axes.mode === 'grid' && keys.length > 0) {
      let combos: [string, unknown][][] = [[]];
      for (const k of keys) combos = combos.flatMap((c) => study.axes!.axes[k]!.map((v) => [...c, [k, v] as [string, unknown]]));
      for (const c of combos) arms.push({ name: name(c), set: Object.fromEntries(c) });
    } else if (study.axes.mode === 'one_at_a_time') {
      arms.push({ name: 'base', set: {} });
      defaultBaseline = 'base';
      for (const k of keys)
        for (const v of study.axes.axes[k]!) {
          // A value equal to the base's is the base arm itself, not a new arm.
          if (JSON.stringify(configValue(base, k)) === JSON.stringify(v)) continue;
          arms.push({ name: name([[k, v]]), set: { [k]: v } });
        }
    }
  } else if (study.arms.length === 0) {
    throw new InputError(source, 'no arms: give "axes" (a grid or one_at_a_time) or "arms"');
  }
  for (const a of study.arms) arms.push({ name: slug(a.name), set: a.set, ...(a.token_budget ? { tokenBudget: a.token_budget } : {}) });
  const names = new Set<string>();
  for (const a of arms) {
    if (names.has(a.name)) throw new InputError(source, `arm "${a.name}" is defined twice`);
    names.add(a.name);
  }
  return { arms, baseline: study.baseline ?? defaultBaseline ?? arms[0]!.name };
}

function applyArm(base: unknown, set: Overrides, source: string, what: string): unknown {
  try {
    return applyOverrides(base, Object.entries(set).map(([k, v]) => `${k}=${JSON.stringify(v)}`));
  } catch (e) {
    if (e instanceof InputError) throw new InputError(source, `${what}: ${e.problem}`);
    throw e;
  }
}

function parseArm(raw: unknown, source: string, what: string): RunConfig {
  const r = RunConfig.safeParse(raw);
  if (!r.success) throw new InputError(source, `${what}: ${firstIssue(r.error)}`);
  return r.data;
}

/**
 * Expands a study into its runs: arm × seed, arms in `studyArms` order, seeds in the file's order.
 * `dataDir` and `vocabSize` come from the prepared data (the caller resolves them).
 */
export function expandStudy(study: Study, source: string, opts: { dataDir: string; vocabSize: number }): StudyPlan {
  const baseRaw = applyArm(study.base, { 'model.vocab_size': opts.vocabSize, data: opts.dataDir }, source, 'base');
  const base = parseArm(baseRaw, source, 'base');
  const { arms, baseline } = studyArms(study, base, source);
  const runs: PlannedRun[] = [];
  for (const arm of arms) {
    for (const k of Object.keys(arm.set)) {
      if (k === 'train.steps') throw new InputError(source, `arm "${arm.name}": train.steps is set by token_budget, not per arm`);
      if (k === 'data' || k === 'model.vocab_size') throw new InputError(source, `arm "${arm.name}": ${k} is the study's (from "data"), not per arm`);
    }
    const armed = parseArm(applyArm(base, arm.set, source, `arm "${arm.name}"`), source, `arm "${arm.name}"`);
    const perStep = armed.train.batch_size * armed.train.seq_len * armed.train.grad_accum;
    const exact = (arm.tokenBudget ?? study.token_budget) / perStep;
    const steps = Math.max(1, Math.round(exact));
    const note =
      steps === exact
        ? undefined
        : `token_budget ${study.token_budget} is ${exact.toFixed(2)} steps of ${perStep} tokens: rounded to ${steps} steps (${steps * perStep} tokens)`;
    for (const seed of study.seeds) {
      const sets: Overrides = { 'train.steps': steps, 'model.seed': seed, 'train.data_seed': seed, 'train.eval_batches': study.eval.batches };
      if (study.eval.every !== undefined) sets['train.eval_every'] = study.eval.every;
      const config = parseArm(applyArm(armed, sets, source, `arm "${arm.name}"`), source, `arm "${arm.name}" seed ${seed}`);
      const init = config.train.init_from?.run;
      const after = init?.startsWith('study:') ? `${study.name}/${init.slice('study:'.length)}/seed-${seed}` : undefined;
      runs.push({ id: `${study.name}/${arm.name}/seed-${seed}`, arm: arm.name, seed, config, tokens: steps * perStep, ...(note ? { note } : {}), ...(after ? { after } : {}) });
    }
  }
  // Warm starts within the study: the named arm exists, and following them never comes back to a run.
  const ids = new Set(runs.map((r) => r.id));
  const afterOf = new Map(runs.map((r) => [r.id, r.after]));
  for (const r of runs) {
    if (r.after === undefined) continue;
    if (!ids.has(r.after)) throw new InputError(source, `arm "${r.arm}": train.init_from "${r.config.train.init_from!.run}" names no arm of this study`);
    const seen = new Set([r.id]);
    for (let a: string | undefined = r.after; a !== undefined; a = afterOf.get(a)) {
      if (seen.has(a)) throw new InputError(source, `arm "${r.arm}": its warm starts go round in a circle (${[...seen, a].join(' -> ')})`);
      seen.add(a);
    }
  }
  if (!arms.some((a) => a.name === baseline))
    throw new InputError(source, `baseline: no arm named "${baseline}" (arms: ${arms.map((a) => a.name).join(', ')})`);
  for (const [i, c] of (study.analysis?.comparisons ?? []).entries())
    for (const name of [c.arm, c.vs])
      if (!arms.some((a) => a.name === name)) throw new InputError(source, `analysis.comparisons[${i}]: no arm named "${name}" (arms: ${arms.map((a) => a.name).join(', ')})`);
  for (const [i, c] of (study.analysis?.contrasts ?? []).entries())
    for (const [side, name] of [['of.arm', c.of.arm], ['of.vs', c.of.vs], ['minus.arm', c.minus.arm], ['minus.vs', c.minus.vs]] as const)
      if (!arms.some((a) => a.name === name)) throw new InputError(source, `analysis.contrasts[${i}].${side}: no arm named "${name}" (arms: ${arms.map((a) => a.name).join(', ')})`);
  const by = study.analysis?.best_by;
  if (by !== undefined && configValue(runs[0]!.config, by) === undefined) throw new InputError(source, `analysis.best_by: "${by}" is not a config key (e.g. model.weight_quant)`);
  return { name: study.name, baseline, arms, runs };
}
