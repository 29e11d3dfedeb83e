/**
 * tfjs ops shaped around the wasm backend's traps (research/node-feasibility.md):
 * - on plain tfjs-wasm, matmuls with transpose flags run 15-50x slower than plain ones, and autograd
 *   emits exactly those, so every matmul here has a custom gradient; it uses the flags where they are
 *   free (the native BatchMatMul, tfjs-node, cpu: transposeFlagsAreFree) and explicit transposes and
 *   flag-free matmuls otherwise (measured with the native matmul: the transposes were a fifth of a
 *   tiny-b158 training step);
 * - the gradient of gather needs UnsortedSegmentSum, which wasm lacks, so the embedding lookup's
 *   gradient is a scatter-add on typed arrays.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.ts';
import { actRange, type ActBits } from '../quant/activations.ts';
import { EPS } from '../quant/round.ts';
import { steActQuant, steBinary, steTernary } from '../quant/ste.ts';
import type { Granularity } from '../quant/weights.ts';
import {
  NATIVE_ACT_QUANT, NATIVE_ACT_SCALES, NATIVE_ATTENTION, NATIVE_ATTENTION_GRAD, NATIVE_BITLINEAR, NATIVE_GLU, NATIVE_GLU_GRAD, NATIVE_MATMUL_BF16, NATIVE_NORM_ACT_QUANT, NATIVE_RMSNORM, NATIVE_RMSNORM_GRAD, NATIVE_ROPE, NATIVE_WEIGHT_QUANT, NATIVE_WEIGHT_SCALES, NATIVE_XENT,
  NORM_BITLINEAR_MAX, nativeTrainKernels, normBitLinearKernel, transposeFlagsAreFree, type NormBitLinearAttrs,
} from './native-kernels.ts';

/** a · b with a, b optionally transposed on their last two axes: flags when free, explicit transposes otherwise. */
function mm<T extends tf.Tensor>(a: T, b: T, ta: boolean, tb: boolean): T {
  if (transposeFlagsAreFree()) return tf.matMul(a, b, ta, tb) as T;
  const swap = (t: T) => tf.transpose(t, [...Array(t.rank - 2).keys(), t.rank - 1, t.rank - 2]) as T;
  return tf.matMul(ta ? swap(a) : a, tb ? swap(b) : b) as T;
}

/** The inputs of training's float matmuls (config train.matmul_precision): float32, or rounded to bf16 with float32 accumulation. */
export type MatmulPrecision = 'fp32' | 'bf16';

/** a · b (2-D) with flags, at `precision`: bf16 runs NATIVE_MATMUL_BF16 (the native kernels only: the trainer checks). */
function mm2(a: tf.Tensor2D, b: tf.Tensor2D, ta: boolean, tb: boolean, precision: MatmulPrecision): tf.Tensor2D {
  if (precision === 'fp32') return mm(a, b, ta, tb);
  return tf.engine().runKernel(NATIVE_MATMUL_BF16, { a, b }, { transposeA: ta, transposeB: tb }) as tf.Tensor2D;
}

/** The gradients of y = x · Wᵀ: dx [N, in] = dy [N, out] · W [out, in], dW [out, in] = dyᵀ [out, N] · x [N, in]. */
function linearGrads(dy: tf.Tensor2D, x: tf.Tensor2D, w: tf.Tensor2D, precision: MatmulPrecision): tf.Tensor2D[] {
  return [mm2(dy, w, false, false, precision), mm2(dy, x, true, false, precision)];
}

function linearAt(precision: MatmulPrecision): (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: mm2(x, w, false, true, precision),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => linearGrads(dy, saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D, precision),
    };
  }) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;
}

/** y = x · Wᵀ for x [N, in] and W [out, in] (PyTorch/GGUF layout) → [N, out]. */
export const linear = linearAt('fp32');
/** The same with bf16 inputs, forward and backward (the head under matmul_precision "bf16"). */
export const linearBf16 = linearAt('bf16');

/** Batched a [B, H, M, K] · b [B, H, K, N] → [B, H, M, N]. */
export const bmm = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor4D, tf.Tensor4D];
      return [
        mm(dy, bs, false, true), // da = dy · bᵀ
        mm(as, dy, true, false), // db = aᵀ · dy
      ];
    },
  };
}) as (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D;

/** Batched a [B, H, M, K] · bᵀ for b [B, H, N, K] → [B, H, M, N] (attention scores q · kᵀ). */
export const bmmT = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: mm(a, b, false, true),
    gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor4D, tf.Tensor4D];
      return [
        tf.matMul(dy, bs), // da = dy · b
        mm(dy, as, true, false), // db = dyᵀ · a
      ];
    },
  };
}) as (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor4D;

/**
 * Causal attention, token-major: q [B, T, H, hd] over k, v [B, T, Hkv, hd] (after RoPE) → [B, T, H, hd]
 * (the projections' outputs reshaped, the o projection's input: no transposes); query head h reads kv
 * head ⌊h/(H/Hkv)⌋ (GQA, as llama.cpp), scores q·k/√hd, `mask` [T, T] additive causal. With the native
 * kernels one kernel each way (NATIVE_ATTENTION: no [B, H, T, T] score or softmax tensor is kept for the
 * backward, only a log-sum-exp per query row); otherwise the tfjs composite.
 */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D): tf.Tensor4D {
  const hd = q.shape[3];
  const scale = 1 / Math.sqrt(hd);
  if (nativeTrainKernels()) {
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [qt, kt, vt, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
      const [out, lse] = tf.engine().runKernel(NATIVE_ATTENTION, { q: qt, k: kt, v: vt }, { scale }) as unknown as [tf.Tensor4D, tf.Tensor3D];
      save([qt, kt, vt, out!, lse!]);
      return {
        value: out!,
        gradFunc: (dout: tf.Tensor4D, saved: tf.Tensor[]) => {
          const [qs, ks, vs, os, ls] = saved;
          return tf.engine().runKernel(NATIVE_ATTENTION_GRAD, { q: qs!, k: ks!, v: vs!, out: os!, lse: ls!, dout }, { scale }) as unknown as tf.Tensor[];
        },
      };
    });
    return f(q, k, v) as tf.Tensor4D;
  }
  return causalAttentionComposite(q, k, v, mask);
}

/**
 * causalAttention as tfjs ops (the path without the native kernels, and the tests' reference): heads to
 * [B, H, T, hd], kv heads tiled to H, bmmT, scale, mask, softmax, bmm, back to token-major.
 */
export function causalAttentionComposite(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D): tf.Tensor4D {
  const [B, T, H, hd] = q.shape;
  const Hkv = k.shape[2];
  const headsFirst = (t: tf.Tensor4D) => tf.transpose(t, [0, 2, 1, 3]) as tf.Tensor4D; // [B, T, n, hd] → [B, n, T, hd]
  let [kk, vv] = [headsFirst(k), headsFirst(v)];
  if (Hkv !== H) {
    // [B, Hkv, T, hd] → [B·Hkv, 1, T·hd] → tile → [B·Hkv, rep, T·hd] → [B, H, T, hd] (tile's gradient stops at rank 4)
    const expand = (t: tf.Tensor4D) => tf.reshape(tf.tile(tf.reshape(t, [B * Hkv, 1, T * hd]), [1, H / Hkv, 1]), [B, H, T, hd]) as tf.Tensor4D;
    kk = expand(kk);
    vv = expand(vv);
  }
  const scores = tf.add(tf.mul(bmmT(headsFirst(q), kk), 1 / Math.sqrt(hd)), mask); // [B, H, T, T]
  return tf.transpose(bmm(tf.softmax(scores) as tf.Tensor4D, vv), [0, 2, 1, 3]) as tf.Tensor4D; // [B, T, H, hd]
}

/** Rows of `table` [V, d] at `ids` → [N, d]; the gradient scatter-adds dy into a [V, d] array. */
export function embed(table: tf.Tensor2D, ids: Int32Array): tf.Tensor2D {
  const [V, d] = table.shape;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.gather(args[0] as tf.Tensor2D, tf.tensor1d(ids, 'int32')),
    gradFunc: (dy: tf.Tensor) => {
      const g = dy.dataSync() as Float32Array; // [N, d]
      const acc = new Float32Array(V * d);
      for (let i = 0; i < ids.length; i++) {
        const src = i * d;
        const dst = ids[i]! * d;
        for (let j = 0; j < d; j++) acc[dst + j]! += g[src + j]!;
      }
      return tf.tensor2d(acc, [V, d]);
    },
  }));
  return f(table) as tf.Tensor2D;
}

/**
 * The norms' eps as the engine uses it: a GGUF file stores it as a float32 (bitnet.attention.
 * layer_norm_rms_epsilon), so the native forward, which is the engine's row arithmetic, takes that value.
 */
function engineEps(eps: number): number {
  return Math.fround(eps);
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · w (with the native kernels, the engine's rows: native/src/norm.cc). */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor1D, eps: number): tf.Tensor {
  if (nativeTrainKernels()) {
    // forward and backward as one native kernel each (native-kernels.ts), the row factors r kept between them
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [xt, wt, save] = args as [tf.Tensor, tf.Tensor1D, tf.GradSaveFunc];
      const [y, r] = tf.engine().runKernel(NATIVE_RMSNORM, { x: xt, w: wt }, { eps: engineEps(eps) }) as unknown as [tf.Tensor, tf.Tensor];
      save([xt, wt, r!]);
      return {
        value: y!,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, ws, rs] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          return tf.engine().runKernel(NATIVE_RMSNORM_GRAD, { x: xs, w: ws, r: rs, dy }, {}) as unknown as tf.Tensor[];
        },
      };
    });
    return f(x, w) as tf.Tensor;
  }
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

/** cos/sin tables [T, hd/2] of rotate-half (NEOX) RoPE: angle(p, i) = p · base^(−2i/hd). */
export function ropeTables(T: number, hd: number, base: number, offset = 0): { cos: Float32Array; sin: Float32Array } {
  const half = hd / 2;
  const cos = new Float32Array(T * half);
  const sin = new Float32Array(T * half);
  for (let p = 0; p < T; p++)
    for (let i = 0; i < half; i++) {
      const a = (p + offset) * base ** ((-2 * i) / hd);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  return { cos, sin };
}

/**
 * Rotate-half RoPE on x [B, T, n, hd] (token-major heads) with tables [T, hd/2]: (x1, x2) → (x1·c − x2·s,
 * x2·c + x1·s) at each token's position. The native kernel has the engine's arithmetic (double
 * operands, one rounding), the composite one rounding per tfjs op.
 */
export function rope(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  if (nativeTrainKernels()) {
    // one native kernel each way (native-kernels.ts); the gradient of a rotation is the inverse rotation
    const run = (t: tf.Tensor, inverse: boolean) => tf.engine().runKernel(NATIVE_ROPE, { x: t, cos, sin }, { inverse }) as tf.Tensor4D;
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: run(args[0] as tf.Tensor, false),
      gradFunc: (dy: tf.Tensor) => run(dy, true),
    }));
    return f(x) as tf.Tensor4D;
  }
  const [, T, , hd] = x.shape;
  const half = hd / 2;
  const [c, s] = [tf.reshape(cos, [T, 1, half]), tf.reshape(sin, [T, 1, half])]; // broadcast over heads
  const x1 = tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, half]);
  const x2 = tf.slice(x, [0, 0, 0, half], [-1, -1, -1, half]);
  return tf.concat([tf.sub(tf.mul(x1, c), tf.mul(x2, s)), tf.add(tf.mul(x2, c), tf.mul(x1, s))], 3) as tf.Tensor4D;
}

/** Additive causal mask [T, T]: 0 on and below the diagonal, −1e9 above (finite, so no inf·0 in gradients). */
export function causalMask(T: number): Float32Array {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  return m;
}

/**
 * Mean next-token cross-entropy of logits [N, V] against integer targets [N], with a hand-written
 * gradient (softmax − onehot)/N. tf.losses.softmaxCrossEntropy needs a float one-hot [N, V] and keeps
 * several [N, V] temporaries alive for the backward pass: at vocab 4096 that dominated the wasm heap.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: Int32Array): tf.Scalar {
  const [N, V] = logits.shape;
  if (nativeTrainKernels()) {
    // one native pass (native-kernels.ts NATIVE_XENT): per-row losses and softmax − onehot, kept for the backward
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
      const [rowLoss, grad] = tf.engine().runKernel(NATIVE_XENT, { logits: x, targets: tf.tensor1d(targets, 'int32') }, {}) as unknown as [tf.Tensor1D, tf.Tensor2D];
      save([grad!]);
      return { value: tf.mean(rowLoss!) as tf.Scalar, gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => tf.mul(saved[0]!, tf.div(dy, N)) };
    });
    return f(logits) as tf.Scalar;
  }
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const flat = Int32Array.from(targets, (t, i) => i * V + t);
    const picked = tf.gather(tf.reshape(x, [N * V]), tf.tensor1d(flat, 'int32')); // [N]
    const value = tf.mean(tf.sub(tf.logSumExp(x, 1), picked)) as tf.Scalar;
    save([x]);
    return {
      value,
      gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => {
        const p = tf.softmax(saved[0] as tf.Tensor2D).dataSync() as Float32Array; // [N, V], a copy
        for (let i = 0; i < N; i++) p[flat[i]!]! -= 1;
        return tf.mul(tf.tensor2d(p, [N, V]), tf.div(dy, N));
      },
    };
  });
  return f(logits) as tf.Scalar;
}

/** A straight-through op: forward by `kernel` (a native kernel), gradient passed through unchanged. */
function straightThroughKernel<T extends tf.Tensor>(x: T, kernel: string, input: string, attrs: tf.NamedAttrMap): T {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.engine().runKernel(kernel, { [input]: args[0] as tf.Tensor }, attrs) as T,
    gradFunc: (dy: tf.Tensor) => tf.clone(dy),
  }));
  return f(x) as T;
}

/** Activation fake-quant with the straight-through gradient: src/quant/ste.ts, or its forward as one native kernel. */
export function fakeQuantAct(x: tf.Tensor2D, bits: ActBits): tf.Tensor2D {
  if (!nativeTrainKernels()) return steActQuant(x, bits);
  const { qmax, lo, hi } = actRange(bits);
  return straightThroughKernel(x, NATIVE_ACT_QUANT, 'x', { qmax, lo, hi, eps: EPS });
}

/** Contiguous elements per weight granule (a tensor: all; a row: cols; a group: its size). */
function granuleOf(g: Granularity, rows: number, cols: number): number {
  if (g.kind === 'group' && (!Number.isInteger(g.size) || g.size <= 0 || cols % g.size !== 0))
    throw new RangeError(`group size ${g.size} must be a positive integer dividing cols ${cols}`);
  return g.kind === 'tensor' ? rows * cols : g.kind === 'row' ? cols : g.size;
}

/** Weight fake-quant (ternary or binary at granularity g) with the straight-through gradient, native when available. */
export function fakeQuantWeight(w: tf.Tensor2D, g: Granularity, kind: 'ternary' | 'binary'): tf.Tensor2D {
  if (!nativeTrainKernels()) return kind === 'ternary' ? steTernary(w, g) : steBinary(w, g);
  const granule = granuleOf(g, w.shape[0], w.shape[1]);
  return straightThroughKernel(w, NATIVE_WEIGHT_QUANT, 'w', { granule, binary: kind === 'binary', eps: EPS });
}

/**
 * Whether BitLinears run the integer forward (bitLinear below): the native kernels are in use and
 * BITNET_FLOAT_BITLINEAR is not 1 (the float product of the fake-quant operands, for A/B comparisons).
 */
function integerForward(): boolean {
  return nativeTrainKernels() && process.env.BITNET_FLOAT_BITLINEAR !== '1';
}

/** A BitLinear's input: the fake-quant activations (STE) and, where the integer forward runs, their row scales [N]. */
export interface QuantizedInput {
  xq: tf.Tensor2D;
  sx: tf.Tensor1D | null;
}

/**
 * A BitLinear's weight: the fake-quant values [out, in] (STE) and, where the integer forward runs, the
 * scale of each segment of `group` input columns (group 0: one per tensor or per row), as
 * bitLinearForward in src/native/train-kernels.ts reads them.
 */
export interface QuantizedWeight {
  wq: tf.Tensor2D;
  scale: tf.Tensor1D | null;
  group: number;
}

/** fakeQuantAct, with the row scales the integer forward needs (taken apart: they carry no gradient). */
export function quantizeInput(x: tf.Tensor2D, bits: ActBits): QuantizedInput {
  const xq = fakeQuantAct(x, bits);
  if (!integerForward()) return { xq, sx: null };
  return { xq, sx: tf.engine().runKernel(NATIVE_ACT_SCALES, { x }, { qmax: actRange(bits).qmax, eps: EPS }) as tf.Tensor1D };
}

/**
 * quantizeInput(rmsNorm(x, w, eps), bits) with the native kernels as one kernel each way
 * (NATIVE_NORM_ACT_QUANT: the normalized rows are never a tensor; the same bits as the two ops), the
 * gradient the norm's on the straight-through dxq. Without them, the two ops.
 */
export function normQuantInput(x: tf.Tensor2D, w: tf.Tensor1D, eps: number, bits: ActBits): QuantizedInput {
  if (!nativeTrainKernels()) return quantizeInput(rmsNorm(x, w, eps) as tf.Tensor2D, bits);
  const { qmax, lo, hi } = actRange(bits);
  // a kernel with a registered gradient (native-kernels.ts): sx and r are outputs no gradient flows through
  const [xq, sx] = tf.engine().runKernel(NATIVE_NORM_ACT_QUANT, { x, w }, { eps: engineEps(eps), qmax, lo, hi, qeps: EPS }) as unknown as [tf.Tensor2D, tf.Tensor1D];
  return { xq: xq!, sx: integerForward() ? sx! : null };
}

/** The FFN's gated activation act(gate)·up [N, ff]: SiLU (swiglu) or ReLU² (relu2) of the gate. */
export type GatedActivation = 'swiglu' | 'relu2';

/**
 * act(gate)·up: with the native kernels one kernel each way (NATIVE_GLU, the engine's arithmetic in
 * double; NATIVE_GLU_GRAD), keeping only gate and up; otherwise the tfjs composite.
 */
export function gatedActivation(gate: tf.Tensor2D, up: tf.Tensor2D, kind: GatedActivation): tf.Tensor2D {
  if (!nativeTrainKernels()) return gatedActivationComposite(gate, up, kind);
  const silu = kind === 'swiglu';
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [g, u, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([g, u]);
    return {
      value: tf.engine().runKernel(NATIVE_GLU, { gate: g, up: u }, { silu }) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) =>
        tf.engine().runKernel(NATIVE_GLU_GRAD, { gate: saved[0]!, up: saved[1]!, dy }, { silu }) as unknown as tf.Tensor[],
    };
  });
  return f(gate, up) as tf.Tensor2D;
}

/** gatedActivation as tfjs ops (the path without the native kernels, and the tests' reference). */
export function gatedActivationComposite(gate: tf.Tensor2D, up: tf.Tensor2D, kind: GatedActivation): tf.Tensor2D {
  const act = kind === 'swiglu' ? tf.mul(gate, tf.sigmoid(gate)) : tf.square(tf.relu(gate));
  return tf.mul(act, up) as tf.Tensor2D;
}

/** Whether the integer forward takes segments of `group` columns (0: one per row): whole 4-column quads (bitLinearForward). */
export function integerSegments(group: number): boolean {
  return group % 4 === 0;
}

/** fakeQuantWeight, with the granule scales the integer forward needs (none when a group is not a multiple of 4 columns). */
export function quantizeWeight(w: tf.Tensor2D, g: Granularity, kind: 'ternary' | 'binary'): QuantizedWeight {
  const wq = fakeQuantWeight(w, g, kind);
  const [rows, cols] = w.shape;
  const granule = granuleOf(g, rows, cols);
  if (!integerForward() || (g.kind === 'group' && !integerSegments(g.size))) return { wq, scale: null, group: 0 };
  const scale = tf.engine().runKernel(NATIVE_WEIGHT_SCALES, { w }, { granule }) as tf.Tensor1D;
  return { wq, scale, group: g.kind === 'group' ? g.size : 0 };
}

/**
 * The BitLinear on quantized operands, y = xq · wqᵀ [N, out]: as the engine computes it (exact integer
 * sums of the codes, one rescale per output in double: NATIVE_BITLINEAR) when both carry their scales,
 * else the float product. The gradient is the float product's either way (straight-through), its
 * matmuls at `precision`.
 */
export function bitLinear(a: QuantizedInput, w: QuantizedWeight, precision: MatmulPrecision = 'fp32'): tf.Tensor2D {
  const { sx } = a;
  const { scale, group } = w;
  if (sx === null || scale === null || !integerForward()) return (precision === 'bf16' ? linearBf16 : linear)(a.xq, w.wq);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, wt, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, wt]);
    return {
      value: tf.engine().runKernel(NATIVE_BITLINEAR, { x, sx, w: wt, scale }, { group }) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => linearGrads(dy, saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D, precision),
    };
  });
  return f(a.xq, w.wq) as tf.Tensor2D;
}

/**
 * bitLinear(a, quantizeWeight(w, g, kind), precision) on the latent weight w [out, in], with the weight
 * fake-quant folded into the op: the backward quantizes w again (the same kernel, the same bits: the
 * optimizer changes w only after the backward) instead of keeping each linear's [out, in] float
 * quantized copy from the forward to the backward. The gradient reaching w is the same (straight
 * through). Without the native kernels, the two ops.
 */
export function bitLinearLatent(a: QuantizedInput, w: tf.Tensor2D, g: Granularity, kind: 'ternary' | 'binary', precision: MatmulPrecision = 'fp32'): tf.Tensor2D {
  if (!nativeTrainKernels()) return bitLinear(a, quantizeWeight(w, g, kind), precision);
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, wt, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, wt]);
    // kernels nested in this op: off the tape, and the quantized weight is freed when this forward returns
    return {
      value: bitLinear({ xq: x, sx: a.sx }, quantizeWeight(wt, g, kind), precision),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) =>
        linearGrads(dy, saved[0] as tf.Tensor2D, fakeQuantWeight(saved[1] as tf.Tensor2D, g, kind), precision),
    };
  });
  return f(a.xq, w) as tf.Tensor2D;
}

/**
 * The BitLinears that read one normalized input, ws[i] [out_i, in] on x [N, in]:
 * bitLinearLatent(normQuantInput(x, nw, eps, bits), ws[i], g, kind, precision) for each i. Where the
 * integer forward runs, as one kernel each way (native-kernels.ts normBitLinearKernel): neither the
 * fake-quant activations [N, in] nor any quantized weight is kept from the forward to the backward,
 * which quantizes both again. The same outputs and gradients as the composition, bit for bit
 * (BITNET_UNFUSED_BITLINEAR=1 runs the composition, for A/B comparisons and the tests).
 */
export function normBitLinears(
  x: tf.Tensor2D, nw: tf.Tensor1D, ws: tf.Tensor2D[], eps: number, bits: ActBits, g: Granularity, kind: 'ternary' | 'binary', precision: MatmulPrecision = 'fp32',
): tf.Tensor2D[] {
  const fused = integerForward() && process.env.BITNET_UNFUSED_BITLINEAR !== '1' && ws.length >= 1 && ws.length <= NORM_BITLINEAR_MAX
    && !(g.kind === 'group' && !integerSegments(g.size));
  if (!fused) {
    const a = normQuantInput(x, nw, eps, bits);
    return ws.map((w) => bitLinearLatent(a, w, g, kind, precision));
  }
  const { qmax, lo, hi } = actRange(bits);
  const inputs: tf.NamedTensorMap = { x, nw };
  ws.forEach((w, i) => (inputs[`w${i}`] = w));
  const attrs = {
    eps: engineEps(eps), qmax, lo, hi, qeps: EPS, granules: ws.map((w) => granuleOf(g, w.shape[0], w.shape[1])),
    binary: kind === 'binary', weps: EPS, group: g.kind === 'group' ? g.size : 0, precision,
  };
  const out = tf.engine().runKernel(normBitLinearKernel(ws.length), inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D | tf.Tensor2D[];
  return Array.isArray(out) ? out : [out];
}

/**
 * The gradient of normBitLinearKernel(m), m = 1..NORM_BITLINEAR_MAX: from the saved x, nw and latent
 * weights, the norm and fake-quant again (the forward's kernels, the same bits), then per weight
 * bitLinearLatent's gradient (linearGrads on the re-quantized weight) in the composition's
 * accumulation order (the last weight's dxq first), then the norm's gradient on the summed dxq: a
 * model gets the same gradient bits fused or not.
 */
function registerNormBitLinearGradients(): void {
  for (let m = 1; m <= NORM_BITLINEAR_MAX; m++) {
    const wNames = Array.from({ length: m }, (_, i) => `w${i}`);
    tf.registerGradient({
      kernelName: normBitLinearKernel(m),
      inputsToSave: ['x', 'nw', ...wNames],
      gradFunc: (dys, saved, attrs) => {
        const a = attrs as unknown as NormBitLinearAttrs;
        const [x, nw, ...ws] = saved as tf.Tensor2D[];
        const dy = (Array.isArray(dys) ? dys : [dys]) as tf.Tensor2D[];
        const grads = tf.tidy(() => {
          const [xq, , r] = tf.engine().runKernel(NATIVE_NORM_ACT_QUANT, { x: x!, w: nw! }, { eps: a.eps, qmax: a.qmax, lo: a.lo, hi: a.hi, qeps: a.qeps }) as unknown as tf.Tensor2D[];
          const dws: tf.Tensor[] = [];
          let dxq: tf.Tensor2D | null = null;
          for (let i = m - 1; i >= 0; i--) {
            const wq = tf.engine().runKernel(NATIVE_WEIGHT_QUANT, { w: ws[i]! }, { granule: a.granules[i]!, binary: a.binary, eps: a.weps }) as tf.Tensor2D;
            const [dxi, dw] = linearGrads(dy[i]!, xq!, wq, a.precision);
            dws[i] = dw!;
            dxq = dxq === null ? dxi! : (tf.add(dxq, dxi!) as tf.Tensor2D);
          }
          const [dx, dnw] = tf.engine().runKernel(NATIVE_RMSNORM_GRAD, { x: x!, w: nw!, r: r!, dy: dxq! }, {}) as unknown as tf.Tensor[];
          return [dx!, dnw!, ...dws];
        });
        return Object.fromEntries([['x', () => grads[0]!], ['nw', () => grads[1]!], ...wNames.map((n, i) => [n, () => grads[2 + i]!])]);
      },
    });
  }
}
registerNormBitLinearGradients();
