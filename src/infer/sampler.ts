/**
 * Choosing the next token from logits: greedy (temperature 0), or repetition penalty → temperature →
 * top-k → top-p (nucleus) → a draw from our seeded Rng (src/data/rng.ts), so a seed gives the same text.
 *
 *   repetition penalty (CTRL / llama.cpp): each distinct token among the last `repeatLastN` has its
 *     logit divided by the penalty when positive, multiplied by it when negative (1 = off);
 *   temperature T: p ∝ exp(logit / T);
 *   top-k: only the k most likely tokens (0 = all);
 *   top-p: the smallest most-likely-first prefix whose probability reaches p (1 = all).
 * Ties keep the lower id first, so the order (and the draw) never depends on sort stability.
 *
 * The functions are pure apart from the scratch they are given; a Sampler holds that scratch (vocab-
 * sized, allocated once) so a generation step allocates nothing.
 */
import { Rng } from '../data/rng.ts';

export interface SamplerParams {
  temperature: number;
  /** 0 = no top-k. */
  topK: number;
  /** 1 = no top-p. */
  topP: number;
  /** 1 = no penalty. */
  repeatPenalty: number;
  /** How many recent tokens the penalty looks at. */
  repeatLastN: number;
}

export const DEFAULT_SAMPLER: SamplerParams = { temperature: 0.8, topK: 40, topP: 0.95, repeatPenalty: 1, repeatLastN: 64 };

/** The index of the largest logit (the lowest such index on ties). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/** Penalizes, in place, each distinct token of the last `lastN` of `history` once. */
export function applyRepetitionPenalty(logits: Float32Array, history: ArrayLike<number>, penalty: number, lastN: number, seen?: Uint8Array): void {
  if (penalty === 1 || lastN <= 0) return;
  const mark = seen ?? new Uint8Array(logits.length);
  const from = Math.max(0, history.length - lastN);
  for (let i = from; i < history.length; i++) {
    const t = history[i]!;
    if (mark[t]) continue;
    mark[t] = 1;
    logits[t] = logits[t]! > 0 ? logits[t]! / penalty : logits[t]! * penalty;
  }
  for (let i = from; i < history.length; i++) mark[history[i]!] = 0;
}

export interface SamplerScratch {
  /** Candidate ids, most likely first. */
  ids: Int32Array;
  /** Their probabilities (summing to 1 over the candidates). */
  probs: Float64Array;
}

export function samplerScratch(vocab: number): SamplerScratch {
  return { ids: new Int32Array(vocab), probs: new Float64Array(vocab) };
}

/** a before b: higher logit first, then lower id. */
function before(logits: ArrayLike<number>, a: number, b: number): boolean {
  return logits[a]! > logits[b]! || (logits[a] === logits[b] && a < b);
}

/** In a heap of ids ordered worst first: whether ids[i] is worse than ids[j]. */
function worse(logits: ArrayLike<number>, ids: Int32Array, i: number, j: number): boolean {
  return before(logits, ids[j]!, ids[i]!);
}

function siftDown(logits: ArrayLike<number>, ids: Int32Array, i: number, n: number): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) return;
    const c = l + 1 < n && worse(logits, ids, l + 1, l) ? l + 1 : l;
    if (!worse(logits, ids, c, i)) return;
    const t = ids[i]!;
    ids[i] = ids[c]!;
    ids[c] = t;
    i = c;
  }
}

/** Puts the k best ids into ids[0..k), best first: a bounded heap (worst at the root), then heapsort. */
function topIds(logits: ArrayLike<number>, k: number, ids: Int32Array): void {
  for (let i = 0; i < k; i++) ids[i] = i;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(logits, ids, i, k);
  for (let t = k; t < logits.length; t++)
    if (before(logits, t, ids[0]!)) {
      ids[0] = t;
      siftDown(logits, ids, 0, k);
    }
  // heapsort: repeatedly move the worst to the end, leaving the best first
  for (let n = k - 1; n > 0; n--) {
    const t = ids[0]!;
    ids[0] = ids[n]!;
    ids[n] = t;
    siftDown(logits, ids, 0, n);
  }
}

/**
 * The candidates after temperature (> 0), top-k and top-p: their count n, with ids[0..n) most likely
 * first and probs[0..n) their renormalized probabilities.
 */
export function candidates(logits: ArrayLike<number>, p: Pick<SamplerParams, 'temperature' | 'topK' | 'topP'>, s: SamplerScratch): number {
  const V = logits.length;
  const k = p.topK > 0 ? Math.min(p.topK, V) : V;
  topIds(logits, k, s.ids);
  const top = logits[s.ids[0]!]!;
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const e = Math.exp((logits[s.ids[i]!]! - top) / p.temperature);
    s.probs[i] = e;
    sum += e;
  }
  let n = k;
  if (p.topP < 1) {
    let cum = 0;
    for (let i = 0; i < k; i++) {
      cum += s.probs[i]! / sum;
      if (cum >= p.topP) {
        n = i + 1;
        break;
      }
    }
  }
  let kept = 0;
  for (let i = 0; i < n; i++) kept += s.probs[i]!;
  for (let i = 0; i < n; i++) s.probs[i] = s.probs[i]! / kept;
  return n;
}

/** One draw from candidates (n, probs) with a uniform u in [0, 1). */
export function draw(s: SamplerScratch, n: number, u: number): number {
  let cum = 0;
  for (let i = 0; i < n; i++) {
    cum += s.probs[i]!;
    if (u < cum) return s.ids[i]!;
  }
  return s.ids[n - 1]!;
}

export class Sampler {
  private readonly rng: Rng;
  private readonly scratch: SamplerScratch;
  private readonly seen: Uint8Array;

  constructor(
    vocab: number,
    readonly params: SamplerParams,
    seed: number,
  ) {
    for (const [key, v, ok] of [
      ['temperature', params.temperature, params.temperature >= 0],
      ['top-k', params.topK, Number.isInteger(params.topK) && params.topK >= 0],
      ['top-p', params.topP, params.topP > 0 && params.topP <= 1],
      ['repeat-penalty', params.repeatPenalty, params.repeatPenalty > 0],
    ] as const)
      if (!ok || !Number.isFinite(v)) throw new RangeError(`Sampler: ${key} ${v} is out of range`);
    this.rng = new Rng(seed);
    this.scratch = samplerScratch(vocab);
    this.seen = new Uint8Array(vocab);
  }

  /** The next token; `logits` is modified in place by the repetition penalty over `history`. */
  sample(logits: Float32Array, history: ArrayLike<number> = []): number {
    const p = this.params;
    applyRepetitionPenalty(logits, history, p.repeatPenalty, p.repeatLastN, this.seen);
    if (p.temperature === 0) return argmax(logits);
    const n = candidates(logits, p, this.scratch);
    return draw(this.scratch, n, this.rng.next());
  }
}
