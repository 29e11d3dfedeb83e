/**
 * Checkpoints: runs/NAME/checkpoints/step-N/{weights.safetensors, state.json}.
 * weights.safetensors holds the latent fp32 weights under their GGUF names and the AdamW moments as
 * `<name>.adam_m` / `<name>.adam_v`; state.json holds the resolved config, the step, tokens seen, the
 * data cursor, the validation loss and library versions. A checkpoint directory is built under a
 * temporary name and renamed into place, so a kill mid-save never leaves a half checkpoint.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { RunConfig } from '../config/train.ts';
import { parseWith, readJsonFile } from '../config/parse.ts';
import { InputError } from '../errors.ts';
import { withTempDir, writeFileAtomic } from '../format/atomic.ts';
import { readSafetensors, writeSafetensors, type SafetensorsTensorIn } from '../format/safetensors.ts';

export const CHECKPOINT_FORMAT = 'bitnet-ts.checkpoint';
export const CHECKPOINT_VERSION = 1;

export const CheckpointState = z.object({
  format: z.literal(CHECKPOINT_FORMAT),
  version: z.literal(CHECKPOINT_VERSION),
  config: RunConfig,
  step: z.number().int().min(0),
  tokens_seen: z.number().int().min(0),
  adam_t: z.number().int().min(0),
  /** Batches are a pure function of (data_seed, step): the cursor is the next step. */
  data_cursor: z.object({ data_seed: z.number().int(), next_step: z.number().int() }),
  data: z.object({ dir: z.string(), fingerprint: z.string() }),
  val_loss: z.number().nullable(),
  best_val_loss: z.number().nullable(),
  versions: z.record(z.string(), z.string()),
});
export type CheckpointState = z.infer<typeof CheckpointState>;

export interface CheckpointData {
  state: CheckpointState;
  weights: Map<string, Float32Array>;
  moments: Map<string, { m: Float32Array; v: Float32Array }>;
}

export function checkpointDir(runDir: string, step: number): string {
  return path.join(runDir, 'checkpoints', `step-${step}`);
}

export async function saveCheckpoint(runDir: string, ck: CheckpointData, shapes: Map<string, number[]>): Promise<string> {
  const dir = checkpointDir(runDir, ck.state.step);
  await withTempDir(dir, (tmp) => {
    const tensors: SafetensorsTensorIn[] = [];
    for (const [name, data] of ck.weights) tensors.push({ name, dtype: 'F32', shape: shapes.get(name)!, data });
    for (const [name, { m, v }] of ck.moments) {
      tensors.push({ name: `${name}.adam_m`, dtype: 'F32', shape: shapes.get(name)!, data: m });
      tensors.push({ name: `${name}.adam_v`, dtype: 'F32', shape: shapes.get(name)!, data: v });
    }
    writeSafetensors(path.join(tmp, 'weights.safetensors'), tensors, { format: CHECKPOINT_FORMAT, step: String(ck.state.step) });
    writeFileAtomic(path.join(tmp, 'state.json'), JSON.stringify(ck.state, null, 2) + '\n');
  });
  return dir;
}

/** Steps of the complete checkpoints of a run, ascending (temporary directories are ignored). */
export function listCheckpoints(runDir: string): number[] {
  const root = path.join(runDir, 'checkpoints');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((d) => /^step-(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(path.join(root, m[0], 'state.json')))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Resolves RUN_OR_CHECKPOINT: a checkpoint directory, or a run directory (its latest checkpoint). */
export function resolveCheckpoint(p: string): string {
  if (existsSync(path.join(p, 'state.json'))) return p;
  const steps = listCheckpoints(p);
  if (steps.length === 0) throw new InputError(p, existsSync(p) ? 'no checkpoint in this run (checkpoints/step-N/state.json)' : 'no such run or checkpoint');
  return checkpointDir(p, steps[steps.length - 1]!);
}

export function readCheckpointState(dir: string): CheckpointState {
  const file = path.join(dir, 'state.json');
  return parseWith(CheckpointState, readJsonFile(file), file);
}

export function loadCheckpoint(dir: string, opts: { moments: boolean } = { moments: true }): CheckpointData {
  const state = readCheckpointState(dir);
  const file = path.join(dir, 'weights.safetensors');
  const all = readSafetensors(file).tensors;
  const weights = new Map<string, Float32Array>();
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  for (const [name, t] of all) {
    if (name.endsWith('.adam_m') || name.endsWith('.adam_v')) continue;
    if (!(t.data instanceof Float32Array)) throw new InputError(file, `tensor ${name} is ${t.dtype}, expected F32`);
    weights.set(name, t.data);
    if (opts.moments) {
      const m = all.get(`${name}.adam_m`)?.data;
      const v = all.get(`${name}.adam_v`)?.data;
      if (!(m instanceof Float32Array) || !(v instanceof Float32Array)) throw new InputError(file, `no optimizer moments for ${name}`);
      moments.set(name, { m, v });
    }
  }
  return { state, weights, moments };
}

/** Removes all but the last `keep` checkpoints and the one with the best validation loss. */
export function pruneCheckpoints(runDir: string, keep: number): void {
  const steps = listCheckpoints(runDir);
  let best: { step: number; loss: number } | null = null;
  for (const s of steps) {
    const st = readCheckpointState(checkpointDir(runDir, s));
    if (st.val_loss !== null && (best === null || st.val_loss < best.loss)) best = { step: s, loss: st.val_loss };
  }
  for (const s of steps.slice(0, Math.max(0, steps.length - keep))) if (s !== best?.step) rmSync(checkpointDir(runDir, s), { recursive: true, force: true });
}

/** A stable fingerprint of prepared data (its stats.json), so a resume refuses different data. */
export function dataFingerprint(dataDir: string): string {
  return createHash('sha256').update(readFileSync(path.join(dataDir, 'stats.json'))).digest('hex').slice(0, 16);
}
