/**
 * `bitnet ablate --reuse DIR`: a run another study already trained to the same computation is copied,
 * not trained again. Studies share their baseline (granularity's per-tensor arm is activations' int8
 * arm, seed for seed), and a run costs up to half an hour on two cores.
 *
 * "The same computation" is strict, because a reused run is paired with this study's own runs:
 * - the resolved config (model, train, seeds, eval cadence) is equal, apart from the data directory's
 *   name, and the data's fingerprint is equal;
 * - the token count and the engine evaluation are equal;
 * - no warm start (train.init_from names a run of the other study, which this key cannot see);
 * - every training segment of the source (its hosts.json) ran on the instruction set this study's
 *   workers will use: another ISA sums floats in another order and ends ~0.01 nats apart, which is
 *   the size of the effects studies look for. A source without hosts.json (trained before runs
 *   recorded their machine) cannot show that, and is reused only when asked (`--reuse-unrecorded`),
 *   which the report then says beside it.
 * The copy says where it came from (reused.json), and `bitnet report` lists it.
 */
import { cpSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { PlannedRun } from '../config/study.ts';
import { readJsonFile } from '../config/parse.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { HOSTS_FILE, readHosts } from '../train/hosts.ts';
import { computationKey } from './computation.ts';
import type { ResolvedStudy } from './expand.ts';
import { FAILED_FILE, isComplete, readRunRecord, RUN_FILE, RUNNING_FILE, writeRunRecord, type RunRecord } from './rundir.ts';

export const REUSED_FILE = 'reused.json';

export interface ReusedRecord {
  /** The source run's directory, as given on the command line (relative to the working directory). */
  from: string;
  /** Its id in its own study (study/arm/seed-N). */
  from_id: string;
  from_study_hash: string;
  /** The source's instruction set, or null: it has no hosts.json (reused with --reuse-unrecorded). */
  isa: string | null;
  at: string;
}

export interface ReuseSource {
  dir: string;
  record: RunRecord;
}

/** Why a complete run cannot stand in for one trained here on `isa`, or null when it can (`unrecorded`: a run without hosts.json can). */
export function unreusable(dir: string, record: RunRecord, isa: string, unrecorded = false): string | null {
  if (record.config.train.init_from !== undefined) return 'it was warm-started (train.init_from)';
  if (!existsSync(path.join(dir, HOSTS_FILE)))
    return unrecorded ? null : `it has no ${HOSTS_FILE} (trained before runs recorded their machine), so its instruction set is unknown (--reuse-unrecorded takes it anyway)`;
  const isas = [...new Set(readHosts(dir).map((h) => h.native_isa))];
  if (isas.length !== 1 || isas[0] !== isa) return `it trained on ${isas.join(' + ') || 'no recorded segment'}, this study's workers on ${isa}`;
  return null;
}

/**
 * The complete runs under the given runs directories, by computation key. A directory that is not a
 * runs directory is an InputError naming the flag; runs that cannot be reused are left out, with why.
 */
export function indexSources(runsDirs: readonly string[], isa: string, unrecorded = false): { byKey: Map<string, ReuseSource>; skipped: string[] } {
  const byKey = new Map<string, ReuseSource>();
  const skipped: string[] = [];
  for (const runsDir of runsDirs) {
    if (!existsSync(runsDir)) throw new InputError('--reuse', `${runsDir} does not exist`);
    for (const arm of readdirSync(runsDir, { withFileTypes: true })) {
      if (!arm.isDirectory()) continue;
      for (const seed of readdirSync(path.join(runsDir, arm.name), { withFileTypes: true })) {
        const dir = path.join(runsDir, arm.name, seed.name);
        if (!seed.isDirectory() || !/^seed-\d+$/.test(seed.name) || !existsSync(path.join(dir, RUN_FILE)) || !isComplete(dir)) continue;
        const record = readRunRecord(dir);
        const why = unreusable(dir, record, isa, unrecorded);
        if (why !== null) {
          skipped.push(`${dir}: ${why}`);
          continue;
        }
        const key = computationKey(record);
        if (!byKey.has(key)) byKey.set(key, { dir, record });
      }
    }
  }
  return { byKey, skipped };
}

/** The source that computed exactly `run`, if any. */
export function sourceFor(byKey: ReadonlyMap<string, ReuseSource>, study: ResolvedStudy, run: PlannedRun): ReuseSource | null {
  if (run.config.train.init_from !== undefined) return null;
  return byKey.get(computationKey({ config: run.config, tokens: run.tokens, engine: study.study.eval.engine, data: study.data })) ?? null;
}

/**
 * Copies the source run into `runDir` (whatever a killed attempt left there is replaced): all of it but
 * its run record and its worker markers, through a temporary directory renamed into place, so a copy
 * cut short leaves no half run that looks complete. Then this study's run.json and reused.json.
 */
export function copyRun(src: ReuseSource, runDir: string, study: ResolvedStudy, run: PlannedRun): void {
  const tmp = `${runDir}.reuse-tmp`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(src.dir, tmp, {
    recursive: true,
    filter: (from) => ![RUN_FILE, RUNNING_FILE, FAILED_FILE, REUSED_FILE].includes(path.relative(src.dir, from)),
  });
  writeRunRecord(tmp, study, run);
  const hosts = readHosts(src.dir);
  const reused: ReusedRecord = { from: src.dir, from_id: src.record.id, from_study_hash: src.record.study_hash, isa: hosts[0]?.native_isa ?? null, at: new Date().toISOString() };
  writeFileAtomic(path.join(tmp, REUSED_FILE), JSON.stringify(reused, null, 2) + '\n');
  rmSync(runDir, { recursive: true, force: true });
  renameSync(tmp, runDir);
}

export function readReused(runDir: string): ReusedRecord | null {
  const file = path.join(runDir, REUSED_FILE);
  if (!existsSync(file)) return null;
  const r = readJsonFile(file) as ReusedRecord;
  if (typeof r?.from_id !== 'string') throw new InputError(file, 'not a reused-run record (from_id expected)');
  return r;
}
