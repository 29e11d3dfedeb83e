/**
 * Training's hot paths on the native addon (several threads) instead of tfjs-wasm's single-threaded
 * kernels: the matmuls and leading-axis sums replace wasm's own kernels (any case they do not cover
 * goes to the original), and RoPE, cross-entropy, activation and weight fake-quant, RMSNorm (forward
 * and backward) are new kernels that src/train/ops.ts runs when nativeTrainKernels(). All read and
 * write the wasm heap in place (no copies). Installed before the backend initializes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeAddon } from '../native/addon.ts';

interface WasmBackend {
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): boolean;
  wasm: { HEAPF32: Float32Array };
}

let installed: boolean | null = null;
type Addon = NonNullable<ReturnType<typeof nativeAddon>>;

type KernelFunc = (args: Parameters<tf.KernelFunc>[0]) => tf.TensorInfo;

/** Replaces wasm's kernel `name` by `fn`, which gets the original to fall back on; false if wasm has none. */
function override(name: string, fn: (args: Parameters<tf.KernelFunc>[0], orig: KernelFunc) => tf.TensorInfo): boolean {
  const orig = tf.getKernel(name, 'wasm');
  if (!orig) return false;
  tf.unregisterKernel(name, 'wasm');
  const origFn = orig.kernelFunc as KernelFunc;
  tf.registerKernel({ kernelName: name, backendName: 'wasm', setupFunc: orig.setupFunc, kernelFunc: (args) => fn(args, origFn) });
  return true;
}

const sizeOf = (t: tf.TensorInfo): number => t.shape.reduce((p, q) => p * q, 1);

/** A Float32Array view of a tensor on the wasm heap (all of it by default); take it after makeOutput, which may grow the heap. */
function heapView(backend: WasmBackend, t: tf.TensorInfo, len = sizeOf(t)): Float32Array {
  return new Float32Array(backend.wasm.HEAPF32.buffer, backend.dataIdMap.get(t.dataId).memoryOffset, len);
}

/** The same for an int32 tensor. */
function heapViewI32(backend: WasmBackend, t: tf.TensorInfo): Int32Array {
  return new Int32Array(backend.wasm.HEAPF32.buffer, backend.dataIdMap.get(t.dataId).memoryOffset, sizeOf(t));
}

type Inputs = Record<string, tf.TensorInfo>;

/** Registers a new wasm kernel `name`: fn gets the inputs, the attributes and the backend. */
function register(name: string, fn: (inputs: Inputs, attrs: Record<string, unknown>, backend: WasmBackend) => tf.TensorInfo | tf.TensorInfo[]): void {
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: (args) => fn(args.inputs as Inputs, args.attrs as unknown as Record<string, unknown>, args.backend as unknown as WasmBackend),
  });
}

/** Installs the native BatchMatMul for wasm once; returns whether it is in use. */
export function installNativeMatmul(): boolean {
  if (installed !== null) return installed;
  const addon = nativeAddon();
  if (!addon || !tf.getKernel('BatchMatMul', 'wasm') || process.env.BITNET_NO_NATIVE_TRAIN === '1') return (installed = false);
  override('BatchMatMul', (args, orig) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const backend = args.backend as unknown as WasmBackend;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const sameBatch = batchA === batchB && a.shape.slice(0, -2).join() === b.shape.slice(0, -2).join();
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !(sameBatch || batchA === 1 || batchB === 1)) return orig(args);
    const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    const batch = Math.max(batchA, batchB);
    const outerShape = (batchA >= batchB ? a : b).shape.slice(0, -2);
    const out = backend.makeOutput([...outerShape, m, n], 'float32');
    addon.sgemmBatched(
      batch, m, n, k,
      heapView(backend, a, batchA * m * k), batchA === 1 ? 0 : m * k, transposeA,
      heapView(backend, b, batchB * k * n), batchB === 1 ? 0 : k * n, transposeB,
      heapView(backend, out, batch * m * n), m * n,
    );
    return out;
  });
  installSharedIdentity();
  installNativeColumnSum(addon);
  installNativeGather(addon);
  installNativeTrainKernels(addon);
  return (installed = true);
}

/**
 * tfjs-wasm's Identity copies its input, and tfjs runs it for every tensor a gradient keeps (each
 * customGrad `save` and each kernel's saved inputs are clones) and for every straight-through
 * gradient: ~240 copies per tiny-b158 step, and every kept activation held twice. Tensors are
 * immutable, so the clone shares the input's memory by reference count, as wasm's own Reshape does.
 * (The one writer in place, the optimizer's AdamW on the variables and moments, runs after backprop
 * has released what the step kept.)
 */
function installSharedIdentity(): void {
  override('Identity', (args, orig) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return orig(args);
    (args.backend as unknown as { incRef(id: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}

let ones = new Float32Array(0);

/**
 * tfjs-wasm's Sum over leading axes (the gradient of every broadcast weight, e.g. a norm's [N, d] →
 * [d]) transposes its input first and ran at ~25 M floats/s: 2-20 ms per call, a tenth of a training
 * step (measured). Those sums are a [1, outer] · [outer, inner] product with a row of ones on the
 * native sgemm, read in place; other reductions keep the original kernel.
 */
function installNativeColumnSum(addon: Addon): void {
  override('Sum', (args, orig) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (x.dtype !== 'float32' || !leading) return orig(args);
    const outer = x.shape.slice(0, axes.length).reduce((p, q) => p * q, 1);
    const rest = x.shape.slice(axes.length);
    const inner = rest.reduce((p, q) => p * q, 1);
    const backend = args.backend as unknown as WasmBackend;
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...rest] : rest, 'float32');
    if (ones.length < outer) ones = new Float32Array(outer).fill(1);
    addon.sgemm(1, inner, outer, ones.subarray(0, outer), false, heapView(backend, x), false, heapView(backend, out));
    return out;
  });
}

/**
 * Whether tf.matMul's transpose flags cost nothing on the backend in use: everywhere but plain
 * tfjs-wasm, whose flagged matmuls run 15-50x slower than flag-free ones (research/node-feasibility.md).
 * The native BatchMatMul reads transposed operands in place.
 */
export function transposeFlagsAreFree(): boolean {
  return tf.getBackend() !== 'wasm' || installed === true;
}

/**
 * Whether src/train/ops.ts may run the kernels below (NATIVE_*): the native kernels are installed and
 * the backend in use is wasm.
 */
export function nativeTrainKernels(): boolean {
  return installed === true && tf.getBackend() === 'wasm';
}

/**
 * A Float32Array over a float32 tensor's memory on the wasm heap when the native kernels are in use
 * (for in-place updates: src/train/optimizer.ts), else null. Valid until the next wasm allocation.
 */
export function wasmView(t: tf.Tensor): Float32Array | null {
  if (!nativeTrainKernels() || t.dtype !== 'float32') return null;
  return heapView(tf.backend() as unknown as WasmBackend, t);
}

/** The embedding lookup (GatherV2 of rows, axis 0): tfjs-wasm took ~7 ms for [1024] rows of 256. */
function installNativeGather(addon: Addon): void {
  override('GatherV2', (args, orig) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    if (x.dtype !== 'float32' || indices.dtype !== 'int32' || x.shape.length !== 2 || indices.shape.length !== 1 || axis !== 0 || (batchDims ?? 0) !== 0)
      return orig(args);
    const [rows, cols] = x.shape as [number, number];
    const backend = args.backend as unknown as WasmBackend;
    const out = backend.makeOutput([indices.shape[0]!, cols], 'float32');
    addon.gatherRows(heapView(backend, x), rows, cols, heapViewI32(backend, indices), heapView(backend, out));
    return out;
  });
}

/** RoPE: inputs x [B, T, heads, hd] (token-major), cos, sin [T, hd/2]; attr inverse (the gradient). */
export const NATIVE_ROPE = 'BitnetRope';
/** Cross-entropy: inputs logits [N, V], targets int32 [N]; outputs loss [N], grad [N, V] (softmax − onehot). */
export const NATIVE_XENT = 'BitnetSoftmaxXent';
/** Activation fake-quant forward: input x [n, cols]; attrs qmax, lo, hi, eps. */
export const NATIVE_ACT_QUANT = 'BitnetActQuant';
/** Weight fake-quant forward: input w [rows, cols]; attrs granule (elements), binary, eps. */
export const NATIVE_WEIGHT_QUANT = 'BitnetWeightQuant';
/** RMSNorm: forward {x [N, d], w [d]} → [y, r [N]], attr eps; backward {x, w, r, dy} → [dx, dw]. */
export const NATIVE_RMSNORM = 'BitnetRmsNorm';
export const NATIVE_RMSNORM_GRAD = 'BitnetRmsNormGrad';
/** The row scales of NATIVE_ACT_QUANT alone: input x [n, cols]; attrs qmax, eps → s [n]. */
export const NATIVE_ACT_SCALES = 'BitnetActScales';
/** The granule scales of NATIVE_WEIGHT_QUANT alone: input w; attr granule → beta [w.size/granule]. */
export const NATIVE_WEIGHT_SCALES = 'BitnetWeightScales';
/** The integer BitLinear forward: inputs x (fake-quant) [N, in], sx [N], w (fake-quant) [out, in], scale; attr group → [N, out]. */
export const NATIVE_BITLINEAR = 'BitnetBitLinear';
/** Causal attention, token-major: inputs q [B, T, H, hd], k, v [B, T, Hkv, hd]; attr scale → [out [B, T, H, hd], lse [B, H, T]]. */
export const NATIVE_ATTENTION = 'BitnetAttention';
/** Its backward: inputs q, k, v, out, lse, dout [B, T, H, hd]; attr scale → [dq, dk, dv]. */
export const NATIVE_ATTENTION_GRAD = 'BitnetAttentionGrad';
/** A 2-D matmul with bf16 inputs and float32 accumulation: inputs a, b; attrs transposeA, transposeB (as BatchMatMul's). */
export const NATIVE_MATMUL_BF16 = 'BitnetMatMulBf16';
/** RMSNorm then activation fake-quant, one pass: inputs x [N, d], w [d]; attrs eps, qmax, lo, hi, qeps → [xq [N, d], sx [N], r [N]]. */
export const NATIVE_NORM_ACT_QUANT = 'BitnetNormActQuant';
/**
 * RMSNorm → activation fake-quant → m BitLinears on the latent weights (integer forward), one kernel
 * each way (m = 1..NORM_BITLINEAR_MAX, a kernel name per arity: tfjs saves inputs by name): inputs
 * x [N, d], nw [d], w0..w{m-1} [out_i, d]; attrs eps, qmax, lo, hi, qeps (NATIVE_NORM_ACT_QUANT's),
 * granules [m], binary, weps (NATIVE_WEIGHT_QUANT's), group (NATIVE_BITLINEAR's), precision (the
 * backward's matmuls: 'fp32' | 'bf16') → [y_i [N, out_i]]. The backward keeps only x, nw and the
 * latent weights and quantizes both operands again (the same kernels: the same bits).
 */
export const normBitLinearKernel = (m: number): string => `BitnetNormBitLinear${m}`;
export const NORM_BITLINEAR_MAX = 3;
/** The gated activation act(gate)·up: inputs gate, up (same shape); attr silu → out. */
export const NATIVE_GLU = 'BitnetGlu';
/** Its gradient: inputs gate, up, dy; attr silu → [dgate, dup]. */
export const NATIVE_GLU_GRAD = 'BitnetGluGrad';

/**
 * The new kernels, each replacing a composite of tfjs-wasm kernels (measured per tiny-b158 step with
 * bench/profile-train.ts): RoPE's slices, multiplies and concat (~60 ms, gradient included); the
 * cross-entropy's logSumExp, gather and backward softmax with a copy of the logits to JS and back
 * (~50 ms); actQuantForward's eight kernels and ternaryForward/binaryForward's ~10 for each of 29
 * linears (the weight granule means are summed in double where tfjs sums in float32, so a scale can
 * differ in its last bits); RMSNorm's ~6 kernels forward and ~12 backward for 17 norms. And the
 * BitLinear forward as the engine computes it (exact integer sums of the codes, one rescale in double:
 * native/src/bitlinear.cc), 2-4x the float sgemm at tiny-b158/small-b158 shapes, with the scales it
 * needs taken by the fake-quant kernels' own code. Two fusions drop tensors that only the next op
 * read: RMSNorm → activation fake-quant (the normalized [N, d] rows live in a per-task row buffer) and
 * the gated activation (one kernel for sigmoid, two multiplies and their ~8 backward kernels, with the
 * engine's arithmetic, so the trained FFN's activations are the engine's).
 */
function installNativeTrainKernels(addon: Addon): void {
  register(NATIVE_ROPE, ({ x, cos, sin }, { inverse }, backend) => {
    const [B, T, n, hd] = x!.shape as [number, number, number, number];
    const out = backend.makeOutput(x!.shape, 'float32');
    addon.ropeApply(heapView(backend, x!), heapView(backend, out), B, T, hd, heapView(backend, cos!), heapView(backend, sin!), inverse as boolean, n);
    return out;
  });
  register(NATIVE_XENT, ({ logits, targets }, _, backend) => {
    const [N, V] = logits!.shape as [number, number];
    const loss = backend.makeOutput([N], 'float32');
    const grad = backend.makeOutput([N, V], 'float32');
    addon.softmaxXent(heapView(backend, logits!), N, V, heapViewI32(backend, targets!), heapView(backend, loss), heapView(backend, grad));
    return [loss, grad];
  });
  register(NATIVE_ACT_QUANT, ({ x }, { qmax, lo, hi, eps }, backend) => {
    const cols = x!.shape[x!.shape.length - 1]!;
    const out = backend.makeOutput(x!.shape, 'float32');
    addon.actFakeQuant(heapView(backend, x!), sizeOf(x!) / cols, cols, Float32Array.of(qmax as number, lo as number, hi as number, eps as number), heapView(backend, out));
    return out;
  });
  register(NATIVE_WEIGHT_QUANT, ({ w }, { granule, binary, eps }, backend) => {
    const out = backend.makeOutput(w!.shape, 'float32');
    addon.weightFakeQuant(heapView(backend, w!), granule as number, binary as boolean, eps as number, heapView(backend, out));
    return out;
  });
  register(NATIVE_ACT_SCALES, ({ x }, { qmax, eps }, backend) => {
    const cols = x!.shape[x!.shape.length - 1]!;
    const n = sizeOf(x!) / cols;
    const s = backend.makeOutput([n], 'float32');
    addon.actScales(heapView(backend, x!), n, cols, qmax as number, eps as number, heapView(backend, s));
    return s;
  });
  register(NATIVE_WEIGHT_SCALES, ({ w }, { granule }, backend) => {
    const beta = backend.makeOutput([sizeOf(w!) / (granule as number)], 'float32');
    addon.weightScales(heapView(backend, w!), granule as number, heapView(backend, beta));
    return beta;
  });
  register(NATIVE_BITLINEAR, ({ x, sx, w, scale }, { group }, backend) => {
    const [n, cols] = x!.shape as [number, number];
    const rows = w!.shape[0]!;
    const y = backend.makeOutput([n, rows], 'float32');
    addon.bitLinearForward(heapView(backend, x!), heapView(backend, sx!), n, cols, heapView(backend, w!), rows, heapView(backend, scale!), group as number, heapView(backend, y));
    return y;
  });
  register(NATIVE_ATTENTION, ({ q, k, v }, { scale }, backend) => {
    const [B, T, H, hd] = q!.shape as [number, number, number, number];
    const out = backend.makeOutput([B, T, H, hd], 'float32');
    const lse = backend.makeOutput([B, H, T], 'float32');
    addon.attentionTrain(heapView(backend, q!), heapView(backend, k!), heapView(backend, v!), B, H, k!.shape[2]!, T, hd, scale as number, heapView(backend, out), heapView(backend, lse));
    return [out, lse];
  });
  register(NATIVE_ATTENTION_GRAD, ({ q, k, v, out, lse, dout }, { scale }, backend) => {
    const [B, T, H, hd] = q!.shape as [number, number, number, number];
    const dq = backend.makeOutput(q!.shape, 'float32');
    const dk = backend.makeOutput(k!.shape, 'float32');
    const dv = backend.makeOutput(v!.shape, 'float32');
    const view = (t: tf.TensorInfo) => heapView(backend, t);
    addon.attentionTrainGrad(view(q!), view(k!), view(v!), view(out!), view(lse!), view(dout!), B, H, k!.shape[2]!, T, hd, scale as number, view(dq), view(dk), view(dv));
    return [dq, dk, dv];
  });
  register(NATIVE_MATMUL_BF16, ({ a, b }, { transposeA, transposeB }, backend) => {
    const [ra, ca] = a!.shape as [number, number];
    const [rb, cb] = b!.shape as [number, number];
    const [m, k] = transposeA ? [ca, ra] : [ra, ca];
    const n = transposeB ? rb : cb;
    if ((transposeB ? cb : rb) !== k) throw new Error(`${NATIVE_MATMUL_BF16}: inner sizes ${k} and ${transposeB ? cb : rb} differ`);
    const c = backend.makeOutput([m, n], 'float32');
    addon.sgemm(m, n, k, heapView(backend, a!), transposeA as boolean, heapView(backend, b!), transposeB as boolean, heapView(backend, c), true);
    return c;
  });
  register(NATIVE_RMSNORM, ({ x, w }, { eps }, backend) => {
    const cols = x!.shape[x!.shape.length - 1]!;
    const n = sizeOf(x!) / cols;
    const y = backend.makeOutput(x!.shape, 'float32');
    const r = backend.makeOutput([n], 'float32');
    addon.rmsNormTrain(heapView(backend, x!), heapView(backend, w!), n, cols, eps as number, heapView(backend, y), heapView(backend, r));
    return [y, r];
  });
  register(NATIVE_NORM_ACT_QUANT, ({ x, w }, { eps, qmax, lo, hi, qeps }, backend) => {
    const cols = x!.shape[x!.shape.length - 1]!;
    const n = sizeOf(x!) / cols;
    const xq = backend.makeOutput(x!.shape, 'float32');
    const sx = backend.makeOutput([n], 'float32');
    const r = backend.makeOutput([n], 'float32');
    const range = Float32Array.of(qmax as number, lo as number, hi as number, qeps as number);
    addon.rmsNormActQuant(heapView(backend, x!), heapView(backend, w!), n, cols, eps as number, range, heapView(backend, xq), heapView(backend, sx), heapView(backend, r));
    return [xq, sx, r];
  });
  // the norm's gradient on the straight-through dxq (dys[0]); sx and r get none
  tf.registerGradient({
    kernelName: NATIVE_NORM_ACT_QUANT,
    inputsToSave: ['x', 'w'],
    outputsToSave: [false, false, true],
    gradFunc: (dys, saved) => {
      const [x, w, r] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const dy = Array.isArray(dys) ? dys[0]! : dys;
      const [dx, dw] = tf.engine().runKernel(NATIVE_RMSNORM_GRAD, { x, w, r, dy }, {}) as unknown as [tf.Tensor, tf.Tensor];
      return { x: () => dx!, w: () => dw! };
    },
  });
  for (let m = 1; m <= NORM_BITLINEAR_MAX; m++) registerNormBitLinear(addon, m);
  register(NATIVE_GLU, ({ gate, up }, { silu }, backend) => {
    const out = backend.makeOutput(gate!.shape, 'float32');
    addon.gluTrain(heapView(backend, gate!), heapView(backend, up!), silu as boolean, heapView(backend, out));
    return out;
  });
  register(NATIVE_GLU_GRAD, ({ gate, up, dy }, { silu }, backend) => {
    const dgate = backend.makeOutput(gate!.shape, 'float32');
    const dup = backend.makeOutput(gate!.shape, 'float32');
    addon.gluTrainGrad(heapView(backend, gate!), heapView(backend, up!), heapView(backend, dy!), silu as boolean, heapView(backend, dgate), heapView(backend, dup));
    return [dgate, dup];
  });
  register(NATIVE_RMSNORM_GRAD, ({ x, w, r, dy }, _, backend) => {
    const cols = x!.shape[x!.shape.length - 1]!;
    const n = sizeOf(x!) / cols;
    const dx = backend.makeOutput(x!.shape, 'float32');
    const dw = backend.makeOutput([cols], 'float32');
    addon.rmsNormTrainGrad(heapView(backend, x!), heapView(backend, w!), heapView(backend, r!), heapView(backend, dy!), n, cols, heapView(backend, dx), heapView(backend, dw));
    return [dx, dw];
  });
}

/** normBitLinearKernel's attributes (its gradient, registered in ops.ts beside linearGrads, reads them too). */
export interface NormBitLinearAttrs {
  eps: number; qmax: number; lo: number; hi: number; qeps: number;
  granules: number[]; binary: boolean; weps: number; group: number; precision: 'fp32' | 'bf16';
}

/**
 * The forward of normBitLinearKernel(m) as the addon calls of NATIVE_NORM_ACT_QUANT, then per weight
 * NATIVE_WEIGHT_QUANT, NATIVE_WEIGHT_SCALES and NATIVE_BITLINEAR, with xq, sx, r and each weight's
 * quantized copy in scratch buffers freed before it returns. Its gradient is ops.ts's
 * (registerNormBitLinearGradients): the composition's own gradient functions.
 */
function registerNormBitLinear(addon: Addon, m: number): void {
  const name = normBitLinearKernel(m);
  const wNames = Array.from({ length: m }, (_, i) => `w${i}`);
  register(name, (inputs, attrs, backend) => {
    const a = attrs as unknown as NormBitLinearAttrs;
    const x = inputs.x!;
    const ws = wNames.map((n) => inputs[n]!);
    const [n, cols] = x.shape as [number, number];
    // every buffer first: an allocation can grow the heap and detach views taken before it
    const xq = backend.makeOutput(x.shape, 'float32');
    const sx = backend.makeOutput([n], 'float32');
    const r = backend.makeOutput([n], 'float32');
    const wqs = ws.map((w) => backend.makeOutput(w.shape, 'float32'));
    const betas = ws.map((w, i) => backend.makeOutput([sizeOf(w) / a.granules[i]!], 'float32'));
    const ys = ws.map((w) => backend.makeOutput([n, w.shape[0]!], 'float32'));
    const view = (t: tf.TensorInfo) => heapView(backend, t);
    addon.rmsNormActQuant(view(x), view(inputs.nw!), n, cols, a.eps, Float32Array.of(a.qmax, a.lo, a.hi, a.qeps), view(xq), view(sx), view(r));
    ws.forEach((w, i) => {
      addon.weightFakeQuant(view(w), a.granules[i]!, a.binary, a.weps, view(wqs[i]!));
      addon.weightScales(view(w), a.granules[i]!, view(betas[i]!));
      addon.bitLinearForward(view(xq), view(sx), n, cols, view(wqs[i]!), w.shape[0]!, view(betas[i]!), a.group, view(ys[i]!));
    });
    for (const t of [xq, sx, r, ...wqs, ...betas]) backend.disposeData(t.dataId);
    return ys;
  });
}
