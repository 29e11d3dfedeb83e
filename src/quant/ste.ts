/**
 * The quantizers of weights.ts and activations.ts as tfjs ops, for training. The only file of src/quant
 * that loads tfjs (index.ts does not re-export it), so the engine and the exporter never pull it in.
 *
 * The ste* functions return the fake-quant value (β·code, q/s) in the forward pass and pass the
 * gradient through unchanged (straight-through estimator): tfjs's round and sign have zero gradient,
 * so without it nothing would reach the latent fp32 weights. tf.customGrad is used rather than
 * v + stopGradient(quant(v) − v), whose forward value is rounded twice and differs from quant(v) in
 * the last bit.
 *
 * The graphs follow the typed-array definitions op for op: a granule's mean is sum / n (not tf.mean,
 * which on cpu divides every element by n before summing), so on the cpu backend the values are the
 * same bits as weights.ts / activations.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { actRange, type ActBits } from './activations.ts';
import { EPS } from './round.ts';
import type { Granularity } from './weights.ts';

/** Codes and scales as tensors: codes [out, in]; scales laid out as QuantizedWeights.scales (1-D). */
export type WeightCodesTf = {
  codes: tf.Tensor2D;
  scales: tf.Tensor1D;
};

/** w [rows, cols] as [R, G, width], one granule per (R, G): [1, 1, rows·cols], [rows, 1, cols] or [rows, cols/g, g]. */
function granules(w: tf.Tensor2D, g: Granularity): tf.Tensor3D {
  const [rows, cols] = w.shape;
  switch (g.kind) {
    case 'tensor':
      return tf.reshape(w, [1, 1, rows * cols]);
    case 'row':
      return tf.reshape(w, [rows, 1, cols]);
    case 'group':
      if (!Number.isInteger(g.size) || g.size <= 0 || cols % g.size !== 0)
        throw new RangeError(`group size ${g.size} must be a positive integer dividing cols ${cols}`);
      return tf.reshape(w, [rows, cols / g.size, g.size]);
  }
}

/** Mean over the last axis as float32 sum / n: [R, G, width] → [R, G, 1]. */
function granuleMean(v: tf.Tensor): tf.Tensor3D {
  return tf.div(tf.sum(v, 2, true), tf.scalar(v.shape[2]!, 'float32'));
}

function withScales(w: tf.Tensor2D, codes: tf.Tensor, beta: tf.Tensor3D): WeightCodesTf {
  return { codes: tf.reshape(codes, w.shape), scales: tf.reshape(beta, [beta.size]) };
}

/** Ternary absmean codes and β per granule (pure forward, no gradient). */
export function ternaryCodesTf(w: tf.Tensor2D, g: Granularity): WeightCodesTf {
  return tf.tidy(() => {
    const v = granules(w, g);
    const beta = granuleMean(tf.abs(v));
    const codes = tf.clipByValue(tf.round(tf.div(v, tf.maximum(beta, EPS))), -1, 1);
    return withScales(w, codes, beta);
  });
}

/** Binary codes (sign around the granule mean) and β = mean|W| per granule (pure forward). */
export function binaryCodesTf(w: tf.Tensor2D, g: Granularity): WeightCodesTf {
  return tf.tidy(() => {
    const v = granules(w, g);
    const alpha = granuleMean(v);
    const beta = granuleMean(tf.abs(v));
    const codes = tf.where(tf.greater(tf.sub(v, alpha), 0), tf.onesLike(v), tf.fill(v.shape, -1));
    return withScales(w, codes, beta);
  });
}

/** β·code as [rows, cols], from the codes and 1-D scales (granule layout g). */
function weightValues(q: WeightCodesTf, w: tf.Tensor2D, g: Granularity): tf.Tensor2D {
  const v = granules(q.codes, g);
  const [r, n] = [v.shape[0], v.shape[1]];
  return tf.reshape(tf.mul(v, tf.reshape(q.scales, [r, n, 1])), w.shape);
}

/** Ternary fake-quant values β·code (pure forward). */
export function ternaryForward(w: tf.Tensor2D, g: Granularity): tf.Tensor2D {
  return tf.tidy(() => weightValues(ternaryCodesTf(w, g), w, g));
}

/** Binary fake-quant values β·code (pure forward). */
export function binaryForward(w: tf.Tensor2D, g: Granularity): tf.Tensor2D {
  return tf.tidy(() => weightValues(binaryCodesTf(w, g), w, g));
}

/** Per-token absmax fake-quant q/s over the last axis (pure forward). */
export function actQuantForward<T extends tf.Tensor>(x: T, bits: ActBits): T {
  const { qmax, lo, hi } = actRange(bits);
  return tf.tidy(() => {
    const m = tf.max(tf.abs(x), -1, true);
    const s = tf.div(tf.scalar(qmax, 'float32'), tf.maximum(m, EPS));
    const q = tf.clipByValue(tf.round(tf.mul(x, s)), lo, hi);
    return tf.div(q, s) as T;
  });
}

/** Wraps a forward quantizer so that its gradient is the identity. */
function straightThrough<T extends tf.Tensor>(x: T, forward: (x: T) => T): T {
  const op = tf.customGrad((input: tf.Tensor | tf.GradSaveFunc) => ({
    value: forward(input as T),
    gradFunc: (dy: T) => tf.clone(dy),
  }));
  return op(x) as T;
}

/** Ternary weights with a straight-through gradient: forward β·code, backward identity. */
export function steTernary(w: tf.Tensor2D, g: Granularity): tf.Tensor2D {
  return straightThrough(w, (v) => ternaryForward(v, g));
}

/** Binary weights with a straight-through gradient: forward β·code, backward identity. */
export function steBinary(w: tf.Tensor2D, g: Granularity): tf.Tensor2D {
  return straightThrough(w, (v) => binaryForward(v, g));
}

/** Per-token activation quantization over the last axis with a straight-through gradient. */
export function steActQuant<T extends tf.Tensor>(x: T, bits: ActBits): T {
  return straightThrough(x, (v) => actQuantForward(v, bits));
}
