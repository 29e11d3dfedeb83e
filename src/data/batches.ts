import { InputError } from '../errors.ts';
import { mixSeed, Rng } from './rng.ts';

export interface Batch {
  /** [B * T] inputs, row-major: row b is tokens[start_b .. start_b + T). */
  x: Int32Array;
  /** [B * T] targets: x shifted by one token. */
  y: Int32Array;
}

export interface BatchOptions {
  seed: number;
  step: number;
  batchSize: number;
  seqLen: number;
  /** Names the split in errors (e.g. "data/moby-dick/train.arrow"). */
  source?: string;
}

function checkShape(tokens: Int32Array, batchSize: number, seqLen: number, source: string): void {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!(Number.isInteger(seqLen) && seqLen > 0)) throw new RangeError(`seqLen must be a positive integer, got ${seqLen}`);
  if (tokens.length < seqLen + 1) throw new InputError(source, `${tokens.length} tokens, too few for a sequence length of ${seqLen} (needs at least ${seqLen + 1})`);
}

function fill(tokens: Int32Array, starts: readonly number[], seqLen: number): Batch {
  const x = new Int32Array(starts.length * seqLen);
  const y = new Int32Array(starts.length * seqLen);
  starts.forEach((s, b) => {
    x.set(tokens.subarray(s, s + seqLen), b * seqLen);
    y.set(tokens.subarray(s + 1, s + seqLen + 1), b * seqLen);
  });
  return { x, y };
}

/**
 * The training batch of `step`: B windows of T + 1 tokens at uniform random starts drawn from
 * Rng(mixSeed(seed, step)). A pure function of (tokens, seed, step, B, T), so a resumed run sees
 * exactly the batches it would have seen, without replaying earlier ones.
 */
export function batchAt(tokens: Int32Array, o: BatchOptions): Batch {
  checkShape(tokens, o.batchSize, o.seqLen, o.source ?? 'tokens');
  const rng = new Rng(mixSeed(o.seed, o.step));
  const span = tokens.length - o.seqLen; // starts 0 .. span - 1
  const starts = Array.from({ length: o.batchSize }, () => rng.int(span));
  return fill(tokens, starts, o.seqLen);
}

/**
 * The fixed evaluation set: `batches` batches of B windows whose starts are evenly spaced over the
 * split (first at 0, last at the final full window), so every eval sees the same tokens.
 */
export function evalWindows(tokens: Int32Array, o: { batches: number; batchSize: number; seqLen: number; source?: string }): Batch[] {
  checkShape(tokens, o.batchSize, o.seqLen, o.source ?? 'tokens');
  if (!(Number.isInteger(o.batches) && o.batches > 0)) throw new RangeError(`batches must be a positive integer, got ${o.batches}`);
  const n = o.batches * o.batchSize;
  const last = tokens.length - o.seqLen - 1;
  const starts = Array.from({ length: n }, (_, i) => (n === 1 ? 0 : Math.floor((i * last) / (n - 1))));
  return Array.from({ length: o.batches }, (_, k) => fill(tokens, starts.slice(k * o.batchSize, (k + 1) * o.batchSize), o.seqLen));
}
