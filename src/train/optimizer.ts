/**
 * AdamW (Loshchilov & Hutter) with decoupled weight decay, global-norm clipping, and state that
 * serializes to plain arrays for exact resume. Written by hand: tfjs has no AdamW, and its Adam keeps
 * state we could not restore bit for bit.
 *
 * Update per parameter p with gradient g (t = 1-based step):
 *   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
 *   p = p − lr·wd·p − lr·(m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps)
 * Weight decay applies only to `decay: true` parameters (the linears), never to norms or embeddings.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeAddon } from '../native/addon.ts';
import { nativeTrainKernels, wasmView } from './native-kernels.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
}

export interface ParamSlot {
  variable: tf.Variable;
  decay: boolean;
  m: tf.Variable;
  v: tf.Variable;
}

export interface AdamWState {
  /** Completed updates. */
  t: number;
  slots: Map<string, ParamSlot>;
}

export function adamwInit(params: Map<string, { variable: tf.Variable; decay: boolean }>): AdamWState {
  const slots = new Map<string, ParamSlot>();
  for (const [name, p] of params) {
    slots.set(name, {
      variable: p.variable,
      decay: p.decay,
      m: tf.variable(tf.zerosLike(p.variable), false, `${p.variable.name}.adam_m`),
      v: tf.variable(tf.zerosLike(p.variable), false, `${p.variable.name}.adam_v`),
    });
  }
  return { t: 0, slots };
}

/** The global L2 norm of all gradients (before clipping). */
export function globalNorm(grads: Map<string, tf.Tensor>): number {
  return tf.tidy(() => {
    const sq = [...grads.values()].map((g) => tf.sum(tf.square(g)));
    return Math.sqrt(tf.addN(sq).dataSync()[0]!);
  });
}

/**
 * One AdamW step. Gradients are scaled by min(1, clip/norm) first when clip > 0.
 * Returns the gradient norm before clipping; a non-finite norm changes nothing (no step is taken).
 */
export function adamwUpdate(
  state: AdamWState,
  grads: Map<string, tf.Tensor>,
  opts: AdamWConfig & { lr: number; weightDecay: number; clip: number },
): number {
  const addon = nativeAddon();
  const native = addon !== null && nativeTrainKernels(); // parameters, moments and gradients are float32 on the wasm heap
  const norm = native ? Math.sqrt([...grads.values()].reduce((a, g) => a + addon.sumSquares(wasmView(g)!), 0)) : globalNorm(grads);
  if (!Number.isFinite(norm)) return norm; // never applied: the caller stops the run (trainer.ts)
  const scale = opts.clip > 0 && norm > opts.clip ? opts.clip / norm : 1;
  state.t += 1;
  const bc1 = 1 - opts.beta1 ** state.t;
  const bc2 = 1 - opts.beta2 ** state.t;
  if (native) {
    // In place on the wasm heap, the same float32 arithmetic as the tfjs ops below (native/src/adamw.cc):
    // 38 parameters x ~10 tfjs ops each were a tenth of a tiny-b158 step. Variables keep their memory.
    for (const [name, slot] of state.slots) {
      const g = grads.get(name);
      if (!g) throw new Error(`adamwUpdate: no gradient for ${name}`);
      const decay = slot.decay && opts.weightDecay > 0 ? 1 - opts.lr * opts.weightDecay : 1;
      const hyper = Float32Array.of(scale, opts.lr, opts.beta1, opts.beta2, opts.eps, bc1, bc2, decay);
      addon.adamwStep(wasmView(slot.variable)!, wasmView(slot.m)!, wasmView(slot.v)!, wasmView(g)!, hyper);
    }
    return norm;
  }
  tf.tidy(() => {
    for (const [name, slot] of state.slots) {
      const g0 = grads.get(name);
      if (!g0) throw new Error(`adamwUpdate: no gradient for ${name}`);
      const g = scale === 1 ? g0 : tf.mul(g0, scale);
      const m = tf.add(tf.mul(slot.m, opts.beta1), tf.mul(g, 1 - opts.beta1));
      const v = tf.add(tf.mul(slot.v, opts.beta2), tf.mul(tf.square(g), 1 - opts.beta2));
      slot.m.assign(m);
      slot.v.assign(v);
      const step = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), opts.eps));
      let p: tf.Tensor = slot.variable;
      if (slot.decay && opts.weightDecay > 0) p = tf.mul(p, 1 - opts.lr * opts.weightDecay);
      slot.variable.assign(tf.sub(p, tf.mul(step, opts.lr)));
    }
  });
  return norm;
}

/** Moments as plain arrays, for the checkpoint. */
export function adamwExport(state: AdamWState): { t: number; moments: Map<string, { m: Float32Array; v: Float32Array }> } {
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  for (const [name, s] of state.slots)
    moments.set(name, { m: s.m.dataSync() as Float32Array, v: s.v.dataSync() as Float32Array });
  return { t: state.t, moments };
}

export function adamwImport(state: AdamWState, t: number, moments: Map<string, { m: Float32Array; v: Float32Array }>): void {
  state.t = t;
  for (const [name, s] of state.slots) {
    const mv = moments.get(name);
    if (!mv) throw new Error(`adamwImport: checkpoint has no moments for ${name}`);
    s.m.assign(tf.tensor(mv.m, s.m.shape));
    s.v.assign(tf.tensor(mv.v, s.v.shape));
  }
}

export function adamwDispose(state: AdamWState): void {
  for (const s of state.slots.values()) {
    s.m.dispose();
    s.v.dispose();
  }
}
