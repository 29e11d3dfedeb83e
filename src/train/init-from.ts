/**
 * A warm start (train.init_from): a fresh run begins from another run's checkpoint. The source must have
 * the same parameters (names and shapes: the same width, depth, heads, FFN, vocabulary, tying and SubLN);
 * its quantization may differ, which is the point (fp weights continued as ternary). Its data must be this
 * run's data. With moments "keep" the AdamW moments and their step count continue; "reset" starts them at
 * zero. "study:ARM" names the run of arm ARM with this run's seed in the same study (runs/ARM/seed-K).
 */
import path from 'node:path';
import type { RunConfig } from '../config/train.ts';
import { InputError } from '../errors.ts';
import { loadCheckpoint, resolveCheckpoint } from './checkpoint.ts';
import { paramSpecs } from './params.ts';

export interface WarmStart {
  /** The checkpoint directory the weights came from. */
  checkpoint: string;
  step: number;
  tokensSeen: number;
  moments: 'keep' | 'reset';
  weights: Map<string, Float32Array>;
  /** With moments "keep": the source's moments and AdamW step. */
  adam: { t: number; moments: Map<string, { m: Float32Array; v: Float32Array }> } | null;
}

/** The run or checkpoint directory `spec` names, for a run in `runDir`. */
export function initFromPath(spec: string, runDir: string): string {
  if (!spec.startsWith('study:')) return spec;
  const arm = spec.slice('study:'.length);
  // runs/ARM/seed-K: the same seed of another arm.
  return path.join(path.dirname(path.dirname(path.resolve(runDir))), arm, path.basename(runDir));
}

export function loadWarmStart(config: RunConfig, runDir: string, fingerprint: string): WarmStart | null {
  const init = config.train.init_from;
  if (!init) return null;
  const where = 'train.init_from';
  const dir = resolveCheckpoint(initFromPath(init.run, runDir));
  const src = loadCheckpoint(dir, { moments: init.moments === 'keep' });
  if (src.state.data.fingerprint !== fingerprint) throw new InputError(where, `${dir} was trained on other data (fingerprint ${src.state.data.fingerprint}, this run's ${fingerprint})`);
  const want = paramSpecs(config.model);
  const have = paramSpecs(src.state.config.model);
  const shape = (s: { name: string; shape: number[] }) => `${s.name}[${s.shape.join(',')}]`;
  if (want.map(shape).join(' ') !== have.map(shape).join(' ')) {
    const diff = want.find((s, i) => shape(s) !== (have[i] ? shape(have[i]!) : ''));
    throw new InputError(where, `${dir} has other parameters than this model (${diff ? `${shape(diff)} vs ${have.find((h) => h.name === diff.name) ? shape(have.find((h) => h.name === diff.name)!) : 'absent'}` : `${have.length} vs ${want.length} tensors`}): only the quantization may differ`);
  }
  return {
    checkpoint: dir,
    step: src.state.step,
    tokensSeen: src.state.tokens_seen,
    moments: init.moments,
    weights: src.weights,
    adam: init.moments === 'keep' ? { t: src.state.adam_t, moments: src.moments } : null,
  };
}
