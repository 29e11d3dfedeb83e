/**
 * From a study file to the runs on disk: reads and validates study.json, resolves (and if asked,
 * prepares) its data, expands the arms × seeds (src/config/study.ts), and guards the runs directory
 * with study.lock.json, a hash of the resolved study, so runs of two different definitions never mix.
 * A study may grow (seeds or arms added, to narrow an interval or to ask one more question) as long as
 * every run it has started is, in the new definition, the same computation.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../config/parse.ts';
import { expandStudy, parseStudy, type PlannedRun, type Study, type StudyPlan } from '../config/study.ts';
import type { RunConfig } from '../config/train.ts';
import { PreparedStats, prepare } from '../data/index.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { dataFingerprint } from '../train/checkpoint.ts';
import { computationKey } from './computation.ts';
import { readRunRecord, RUN_FILE } from './rundir.ts';

export const LOCK_FILE = 'study.lock.json';
export const LOCK_FORMAT = 'bitnet-ts.study-lock';

export interface ResolvedStudy extends StudyPlan {
  file: string;
  study: Study;
  data: { dir: string; fingerprint: string };
  /** sha256 of everything that decides what a run computes (not the description or the baseline). */
  hash: string;
}

/** The lock file: the resolved study as it was when its runs started. */
export interface StudyLock {
  format: typeof LOCK_FORMAT;
  version: 1;
  hash: string;
  name: string;
  study_file: string;
  baseline: string;
  token_budget: number;
  engine: boolean;
  data: { dir: string; fingerprint: string };
  arms: string[];
  runs: { id: string; arm: string; seed: number; tokens: number; note?: string }[];
  /** The definitions this one grew from, oldest first: their hash, how many runs they had, when it grew. */
  grown_from?: { hash: string; runs: number; at: string }[];
}

/** Where prepared data for a study lives: the directory given, or where the prepare spec puts it. */
export function studyDataDir(study: Study): string {
  const d = study.data;
  if (typeof d === 'string') return d;
  const corpus = path.basename(d.corpus).replace(/\.[^.]*$/, '');
  return d.out ?? path.join('data', `${corpus}-${d.tokenizer}-${d.tokenizer === 'byte' ? 257 : (d.vocab_size ?? 4096)}`);
}

/** Prepares the study's data if it is a prepare spec and not prepared yet; checks a prepared one matches. */
export async function ensureStudyData(study: Study, log: (line: string) => void = () => {}): Promise<string> {
  const dir = studyDataDir(study);
  const d = study.data;
  if (typeof d === 'string') return dir;
  const statsFile = path.join(dir, 'stats.json');
  if (existsSync(statsFile)) {
    const s = PreparedStats.safeParse(JSON.parse(readFileSync(statsFile, 'utf8')));
    const want = { tokenizer: d.tokenizer, vocab: d.vocab_size };
    if (!s.success || s.data.tokenizer !== want.tokenizer || (want.vocab !== undefined && d.tokenizer === 'bpe' && s.data.vocab_size_requested !== want.vocab))
      throw new InputError(dir, `holds prepared data that is not ${JSON.stringify(d)}: remove it or set data.out`);
    return dir;
  }
  log(`preparing ${d.corpus} (${d.tokenizer}${d.vocab_size ? `, vocab ${d.vocab_size}` : ''}) into ${dir}`);
  await prepare({ corpus: d.corpus, tokenizer: d.tokenizer, vocabSize: d.vocab_size, out: dir });
  return dir;
}

function vocabOf(dataDir: string): number {
  const file = path.join(dataDir, 'stats.json');
  if (!existsSync(file)) throw new InputError(dataDir, 'no prepared data here (stats.json missing): run `bitnet prepare` or give a prepare spec');
  const s = PreparedStats.safeParse(readJsonFile(file));
  if (!s.success) throw new InputError(file, 'not a prepared-data stats file');
  return s.data.vocab_size;
}

/**
 * Settings added to RunConfig after studies were locked, with the value that behaves as runs did before
 * them: left out of the hash at that value, so a study started before the setting existed still
 * resumes (its lock's hash is unchanged), while any other value makes a different study.
 */
const ADDED_LATER = { train: { matmul_precision: 'fp32' } } as const;

function hashedConfig(config: RunConfig): unknown {
  const train: Record<string, unknown> = { ...config.train };
  for (const [k, v] of Object.entries(ADDED_LATER.train)) if (train[k] === v) delete train[k];
  return { ...config, train };
}

/**
 * Reads, validates and expands a study file. The data must be prepared (see ensureStudyData). Relative
 * data paths are relative to `cwd` (the directory `bitnet ablate` ran in; a queue worker passes the
 * enqueuer's), and stay relative in the plan, so the hash does not depend on where it is checked.
 */
export function resolveStudy(file: string, cwd: string = process.cwd()): ResolvedStudy {
  const study = parseStudy(readJsonFile(file), file);
  const dir = studyDataDir(study);
  const plan = expandStudy(study, file, { dataDir: dir, vocabSize: vocabOf(path.resolve(cwd, dir)) });
  const data = { dir, fingerprint: dataFingerprint(path.resolve(cwd, dir)) };
  const decisive = { name: plan.name, data, token_budget: study.token_budget, engine: study.eval.engine, runs: plan.runs.map((r) => ({ id: r.id, config: hashedConfig(r.config) })) };
  const hash = createHash('sha256').update(JSON.stringify(decisive)).digest('hex');
  return { ...plan, file, study, data, hash };
}

/**
 * The study's arm names before its data is prepared: the arms expanded against the vocabulary the
 * study asks for (names and configs do not depend on the prepared one's size), so every arm's config
 * error and a bad --only surface before a corpus is prepared.
 */
export function armNamesBeforeData(study: Study, file: string): string[] {
  const d = study.data;
  const dir = studyDataDir(study);
  const vocabSize = typeof d === 'string' ? vocabOf(dir) : d.tokenizer === 'byte' ? 257 : (d.vocab_size ?? 4096);
  return expandStudy(study, file, { dataDir: dir, vocabSize }).arms.map((a) => a.name);
}

/** Only the study file's parse and validation (no data needed): for a quick check of every error. */
export function readStudyFile(file: string): Study {
  return parseStudy(readJsonFile(file), file);
}

/** A study directory holds runs/ (the default of `bitnet ablate`), or the argument is the runs directory itself. */
export function findRunsDir(dir: string): string {
  if (existsSync(path.join(dir, LOCK_FILE))) return dir;
  if (existsSync(path.join(dir, 'runs', LOCK_FILE))) return path.join(dir, 'runs');
  throw new InputError(dir, `no ${LOCK_FILE} here or in ${path.join(dir, 'runs')}: run \`bitnet ablate\` first`);
}

export function runDirOf(runsDir: string, run: Pick<PlannedRun, 'arm' | 'seed'>): string {
  return path.join(runsDir, run.arm, `seed-${run.seed}`);
}

export function lockOf(r: ResolvedStudy): StudyLock {
  return {
    format: LOCK_FORMAT,
    version: 1,
    hash: r.hash,
    name: r.name,
    study_file: r.file,
    baseline: r.baseline,
    token_budget: r.study.token_budget,
    engine: r.study.eval.engine,
    data: r.data,
    arms: r.arms.map((a) => a.name),
    runs: r.runs.map((x) => ({ id: x.id, arm: x.arm, seed: x.seed, tokens: x.tokens, ...(x.note ? { note: x.note } : {}) })),
  };
}

export function readLock(runsDir: string): StudyLock | null {
  const file = path.join(runsDir, LOCK_FILE);
  if (!existsSync(file)) return null;
  const lock = readJsonFile(file) as StudyLock;
  if (lock?.format !== LOCK_FORMAT || typeof lock.hash !== 'string') throw new InputError(file, 'not a study lock file');
  return lock;
}

/**
 * Why the definition `r` cannot take over `runsDir`, whose lock is `old` (another hash), or null when
 * it may: it grew. It may when it has the same name, data and engine evaluation, and every run of the
 * old lock that has started (has a run record) is in `r` and computes the same there. Runs the old
 * definition listed but never started constrain nothing.
 */
export function growthProblem(runsDir: string, old: StudyLock, r: ResolvedStudy): string | null {
  if (old.name !== r.name) return `it was study "${old.name}", this file is "${r.name}"`;
  if (old.data.fingerprint !== r.data.fingerprint) return `its runs trained on other data (fingerprint ${old.data.fingerprint}, now ${r.data.fingerprint})`;
  if (old.engine !== r.study.eval.engine) return `its runs were ${old.engine ? '' : 'not '}evaluated by the engine, this file says eval.engine ${r.study.eval.engine}`;
  const planned = new Map(r.runs.map((p) => [p.id, p]));
  for (const o of old.runs) {
    const dir = runDirOf(runsDir, o);
    if (!existsSync(path.join(dir, RUN_FILE))) continue;
    const p = planned.get(o.id);
    if (!p) return `its run ${o.id} has started and is not in this definition (a study may grow, not shrink)`;
    const record = readRunRecord(dir);
    if (computationKey(record) !== computationKey({ config: p.config, tokens: p.tokens, engine: r.study.eval.engine, data: r.data }))
      return `its run ${o.id} has started with another config or token count than this definition gives it`;
  }
  return null;
}

/**
 * Refuses a runs directory that holds runs of another study definition, unless this one grew from it
 * (growthProblem); otherwise (re)writes the lock (the baseline and description may change without
 * touching a run). Returns how many runs were added when it grew, else 0.
 */
export function checkAndWriteLock(runsDir: string, r: ResolvedStudy): number {
  const old = readLock(runsDir);
  let added = 0;
  const lock = lockOf(r);
  if (old && old.hash !== r.hash) {
    const why = growthProblem(runsDir, old, r);
    if (why !== null)
      throw new InputError(
        r.file,
        `${runsDir} holds runs of a different study definition (${LOCK_FILE} hash ${old.hash.slice(0, 12)}, this file ${r.hash.slice(0, 12)}: ${why}): ` +
          'give another --out, or remove that directory to start over',
      );
    const before = new Set(old.runs.map((o) => o.id));
    added = r.runs.filter((p) => !before.has(p.id)).length;
    lock.grown_from = [...(old.grown_from ?? []), { hash: old.hash, runs: old.runs.length, at: new Date().toISOString() }];
  } else if (old?.grown_from) lock.grown_from = old.grown_from;
  writeFileAtomic(path.join(runsDir, LOCK_FILE), JSON.stringify(lock, null, 2) + '\n');
  return added;
}
