/**
 * The files of one study run directory, beside what the trainer writes (config.json, metrics.arrow,
 * checkpoints/, DONE): run.json (what the run is: study, arm, seed, budget, data, config), RUNNING
 * (the pid of the worker training it), FAILED (the error text of the last attempt) and engine.json
 * (src/ablate/finish.ts). One place for the names and the "is it complete" rule.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RunConfig } from '../config/train.ts';
import { readJsonFile } from '../config/parse.ts';
import { InputError } from '../errors.ts';
import { isDone } from '../train/trainer.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import type { PlannedRun } from '../config/study.ts';
import type { ResolvedStudy } from './expand.ts';
import { ENGINE_FILE } from './finish.ts';

export const RUN_FILE = 'run.json';
export const FAILED_FILE = 'FAILED';
export const RUNNING_FILE = 'RUNNING';

/** A worker's exit code for an error in its input (an InputError): retrying cannot help. */
export const INPUT_ERROR_EXIT = 2;

export interface RunRecord {
  id: string;
  study: string;
  study_hash: string;
  arm: string;
  seed: number;
  token_budget: number;
  tokens: number;
  engine: boolean;
  data: { dir: string; fingerprint: string };
  config: RunConfig;
}

/** Writes RUN_DIR/run.json: what the worker of this run trains (atomically). */
export function writeRunRecord(runDir: string, study: ResolvedStudy, run: PlannedRun): void {
  const record: RunRecord = {
    id: run.id,
    study: study.name,
    study_hash: study.hash,
    arm: run.arm,
    seed: run.seed,
    token_budget: study.study.token_budget,
    tokens: run.tokens,
    engine: study.study.eval.engine,
    data: study.data,
    config: run.config,
  };
  writeFileAtomic(path.join(runDir, RUN_FILE), JSON.stringify(record, null, 2) + '\n');
}

export function readRunRecord(runDir: string): RunRecord {
  const file = path.join(runDir, RUN_FILE);
  const r = readJsonFile(file) as RunRecord;
  if (typeof r?.id !== 'string' || typeof r.token_budget !== 'number' || typeof r.data?.fingerprint !== 'string')
    throw new InputError(file, 'not a study run record (id, token_budget, data.fingerprint expected)');
  return r;
}

/** Trained (DONE) and finished (engine.json): nothing left to do. */
export function isComplete(runDir: string): boolean {
  return isDone(runDir) && existsSync(path.join(runDir, ENGINE_FILE));
}

export function failureOf(runDir: string): string | null {
  const file = path.join(runDir, FAILED_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}
