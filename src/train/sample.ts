/**
 * Sampling with the tfjs model: the training-side reference that the engine's parity tests and
 * `bitnet generate` are compared against. Linear weights are quantized once, with the scales and
 * embeddings rounded exactly as the exported GGUF stores them, so `bitnet sample RUN --temperature 0`
 * and `bitnet generate RUN.gguf --temperature 0` print the same text.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '../config/model.ts';
import { parseWeightScale } from '../config/model.ts';
import { Rng } from '../data/rng.ts';
import { f16Round, linearAsStored, quantizeLinear, storedSegmentScales } from '../format/export.ts';
import { BitNetModel } from './model.ts';
import { integerSegments, type QuantizedWeight } from './ops.ts';
import { paramSpecs } from './params.ts';

/** A linear as the exported file holds it: code·fp16(d) values, and the scale of each segment of `group` columns (null for fp). */
export interface StoredLinear {
  values: Float32Array;
  group: number;
  scales: Float32Array | null;
}

/** Weights as the exported file holds them: F16 embeddings/head (unless f32), linears code·fp16(d). */
export function storedWeights(c: ModelConfig, latent: Map<string, Float32Array>, embeddingType: 'f16' | 'f32' = 'f16'): {
  values: Map<string, Float32Array>;
  frozen: Map<string, StoredLinear>;
} {
  const values = new Map(latent);
  const frozen = new Map<string, StoredLinear>();
  if (embeddingType === 'f16')
    for (const n of ['token_embd.weight', 'output.weight']) {
      const v = latent.get(n);
      if (v) values.set(n, v.map(f16Round));
    }
  const g = parseWeightScale(c.weight_scale);
  for (const spec of paramSpecs(c)) {
    if (spec.kind !== 'linear') continue;
    const v = latent.get(spec.name)!;
    const [rows, cols] = spec.shape as [number, number];
    if (c.weight_quant === 'fp') {
      frozen.set(spec.name, { values: v.map(f16Round), group: 0, scales: null });
      continue;
    }
    const q = quantizeLinear(v, rows, cols, c.weight_quant, g);
    frozen.set(spec.name, { values: linearAsStored(q), ...storedSegmentScales(q) });
  }
  return { values, frozen };
}

export interface SampleOptions {
  maxTokens: number;
  temperature: number;
  topK: number;
  seed: number;
}

/** Picks the next id: greedy (lowest index among equal maxima) at temperature 0, else top-k softmax sampling. */
export function pickToken(logits: Float32Array, o: { temperature: number; topK: number }, rng: Rng): number {
  if (o.temperature <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const idx = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const k = o.topK > 0 ? Math.min(o.topK, idx.length) : idx.length;
  const top = idx.slice(0, k);
  const m = logits[top[0]!]!;
  const p = top.map((i) => Math.exp((logits[i]! - m) / o.temperature));
  const sum = p.reduce((a, b) => a + b, 0);
  let u = rng.next() * sum;
  for (let j = 0; j < k; j++) {
    u -= p[j]!;
    if (u <= 0) return top[j]!;
  }
  return top[k - 1]!;
}

/**
 * Generates up to maxTokens ids after `prompt` (stops at eos). Each step reruns the model over the
 * last context_length tokens: slow, obviously correct, fine for the tiny models this is for.
 */
export function sampleIds(model: BitNetModel, frozen: Map<string, QuantizedWeight>, prompt: Int32Array, o: SampleOptions, eosId: number, onToken?: (id: number) => void): number[] {
  const rng = new Rng(o.seed);
  const ctx = Array.from(prompt);
  const out: number[] = [];
  for (let i = 0; i < o.maxTokens; i++) {
    const window = Int32Array.from(ctx.slice(-model.config.context_length));
    const T = window.length;
    const last = tf.tidy(() => tf.slice(model.forward(window, 1, T, { frozen }), [T - 1, 0], [1, -1]).dataSync() as Float32Array);
    const id = pickToken(last, o, rng);
    if (id === eosId) break;
    out.push(id);
    ctx.push(id);
    onToken?.(id);
  }
  return out;
}

/** Logits [T, V] of the model on `ids` with the as-stored weights (the parity reference). */
export function logitsAsStored(model: BitNetModel, frozen: Map<string, QuantizedWeight>, ids: Int32Array): Float32Array {
  return tf.tidy(() => model.forward(ids, 1, ids.length, { frozen }).dataSync() as Float32Array);
}

/** A model whose forward uses the weights exactly as the exported file stores them; `dispose` frees it all. */
export interface StoredModel {
  model: BitNetModel;
  frozen: Map<string, QuantizedWeight>;
  dispose(): void;
}

export function storedModel(c: ModelConfig, latent: Map<string, Float32Array>, embeddingType: 'f16' | 'f32' = 'f16'): StoredModel {
  const { values, frozen } = storedWeights(c, latent, embeddingType);
  const model = new BitNetModel(c, values);
  const tensors = new Map<string, QuantizedWeight>();
  for (const s of model.specs) {
    const f = frozen.get(s.name);
    if (!f) continue;
    // segments the integer forward cannot take (not a multiple of 4 columns) keep the float product
    const scale = f.scales && integerSegments(f.group) ? tf.tensor1d(f.scales) : null;
    tensors.set(s.name, { wq: tf.tensor2d(f.values, s.shape as [number, number]), scale, group: scale ? f.group : 0 });
  }
  const all = [...tensors.values()].flatMap((w) => (w.scale ? [w.wq, w.scale] : [w.wq]));
  return { model, frozen: tensors, dispose: () => (tf.dispose(all), model.dispose()) };
}
