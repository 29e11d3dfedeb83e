/**
 * Runs the wasm backend's matmuls on the native addon (AVX2 + FMA, several threads) instead of
 * tfjs-wasm's single-threaded kernel: training's hot path. The addon's sgemm reads and writes the
 * wasm heap in place (no copies). Registered before the backend initializes; any case the native
 * kernel does not cover (non-float32, general batch broadcasting) goes to the original kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeAddon } from '../native.ts';

interface WasmBackend {
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  wasm: { HEAPF32: Float32Array };
}

let installed: boolean | null = null;

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

/** A Float32Array view of a tensor on the wasm heap; take it after makeOutput, which may grow the heap. */
function heapView(backend: WasmBackend, t: tf.TensorInfo, len: number): Float32Array {
  return new Float32Array(backend.wasm.HEAPF32.buffer, backend.dataIdMap.get(t.dataId).memoryOffset, len);
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
  installNativeColumnSum(addon);
  installNativeRope(addon);
  installNativeXent(addon);
  installNativeGather(addon);
  installNativeActQuant(addon);
  installNativeWeightQuant(addon);
  installNativeRmsNorm(addon);
  return (installed = true);
}

let ones = new Float32Array(0);

/**
 * tfjs-wasm's Sum over leading axes (the gradient of every broadcast weight, e.g. a norm's [N, d] →
 * [d]) transposes its input first and ran at ~25 M floats/s: 2-20 ms per call, a tenth of a training
 * step (measured). Those sums are a [1, outer] · [outer, inner] product with a row of ones on the
 * native sgemm, read in place; other reductions keep the original kernel.
 */
function installNativeColumnSum(addon: NonNullable<ReturnType<typeof nativeAddon>>): void {
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
    addon.sgemm(1, inner, outer, ones.subarray(0, outer), false, heapView(backend, x, outer * inner), false, heapView(backend, out, inner));
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

/** The kernel name of the native RoPE (ops.rope uses it when nativeRopeInstalled()). */
export const NATIVE_ROPE = 'BitnetRope';
let ropeInstalled = false;

/** Whether ops.rope and ops.crossEntropy can run on NATIVE_ROPE and NATIVE_XENT (wasm backend with the addon). */
export function nativeRopeInstalled(): boolean {
  return ropeInstalled && tf.getBackend() === 'wasm';
}

/**
 * RoPE as one kernel: the composite (two slices, four multiplies, a concat; pads and slices in the
 * gradient) cost ~60 ms of a tiny-b158 step on wasm (SplitV, PadV2, Concat, Slice: measured with
 * bench/profile-train.ts). Inputs x [B, H, T, hd], cos, sin [T, hd/2]; attr inverse.
 */
function installNativeRope(addon: NonNullable<ReturnType<typeof nativeAddon>>): void {
  tf.registerKernel({
    kernelName: NATIVE_ROPE,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { x, cos, sin } = args.inputs as { x: tf.TensorInfo; cos: tf.TensorInfo; sin: tf.TensorInfo };
      const { inverse } = args.attrs as unknown as { inverse: boolean };
      const backend = args.backend as unknown as WasmBackend;
      const [B, H, T, hd] = x.shape as [number, number, number, number];
      const out = backend.makeOutput(x.shape, 'float32');
      const n = B * H * T * hd;
      addon.ropeApply(heapView(backend, x, n), heapView(backend, out, n), B * H, T, hd, heapView(backend, cos, (T * hd) / 2), heapView(backend, sin, (T * hd) / 2), inverse);
      return out;
    },
  });
  ropeInstalled = true;
}

/** The kernel name of the native cross-entropy: inputs logits [N, V], targets int32 [N]; outputs loss [N], grad [N, V]. */
export const NATIVE_XENT = 'BitnetSoftmaxXent';

/**
 * Cross-entropy in one pass over the logits, its gradient (softmax − onehot) computed on the way and
 * kept for the backward pass: on wasm logSumExp, the gather and the backward softmax (with a copy of
 * the [N, V] logits to JS and back) took ~50 ms of a tiny-b158 step at vocab 4096.
 */
function installNativeXent(addon: NonNullable<ReturnType<typeof nativeAddon>>): void {
  tf.registerKernel({
    kernelName: NATIVE_XENT,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { logits, targets } = args.inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
      const backend = args.backend as unknown as WasmBackend;
      const [N, V] = logits.shape as [number, number];
      const loss = backend.makeOutput([N], 'float32');
      const grad = backend.makeOutput([N, V], 'float32');
      const t = backend.dataIdMap.get(targets.dataId).memoryOffset;
      addon.softmaxXent(heapView(backend, logits, N * V), N, V, new Int32Array(backend.wasm.HEAPF32.buffer, t, N), heapView(backend, loss, N), heapView(backend, grad, N * V));
      return [loss, grad];
    },
  });
}

/**
 * A Float32Array over a float32 tensor's memory on the wasm heap when the native kernels are in use
 * (for in-place updates: src/train/optimizer.ts), else null. Valid until the next wasm allocation.
 */
export function wasmView(t: tf.Tensor): Float32Array | null {
  if (!installed || tf.getBackend() !== 'wasm' || t.dtype !== 'float32') return null;
  return heapView(tf.backend() as unknown as WasmBackend, t, t.size);
}

/** The embedding lookup (GatherV2 of rows, axis 0): tfjs-wasm took ~7 ms for [1024] rows of 256. */
function installNativeGather(addon: NonNullable<ReturnType<typeof nativeAddon>>): void {
  override('GatherV2', (args, orig) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    if (x.dtype !== 'float32' || indices.dtype !== 'int32' || x.shape.length !== 2 || indices.shape.length !== 1 || axis !== 0 || (batchDims ?? 0) !== 0)
      return orig(args);
    const [rows, cols] = x.shape as [number, number];
    const n = indices.shape[0]!;
    const backend = args.backend as unknown as WasmBackend;
    const out = backend.makeOutput([n, cols], 'float32');
    const ids = new Int32Array(backend.wasm.HEAPF32.buffer, backend.dataIdMap.get(indices.dataId).memoryOffset, n);
    addon.gatherRows(heapView(backend, x, rows * cols), rows, cols, ids, heapView(backend, out, n * cols));
    return out;
  });
}

/** The kernel name of the fused activation fake-quant forward: input x [n, cols]; attrs qmax, lo, hi, eps. */
export const NATIVE_ACT_QUANT = 'BitnetActQuant';

/**
 * src/quant/ste.ts's actQuantForward (max|x|, a divide, a multiply, round, clip, a divide: eight tfjs
 * kernels) in one pass, the same float32 arithmetic with round-half-even as tf.round.
 */
function installNativeActQuant(addon: NonNullable<ReturnType<typeof nativeAddon>>): void {
  tf.registerKernel({
    kernelName: NATIVE_ACT_QUANT,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { qmax, lo, hi, eps } = args.attrs as unknown as { qmax: number; lo: number; hi: number; eps: number };
      const backend = args.backend as unknown as WasmBackend;
      const cols = x.shape[x.shape.length - 1]!;
      const size = x.shape.reduce((p, q) => p * q, 1);
      const out = backend.makeOutput(x.shape, 'float32');
      addon.actFakeQuant(heapView(backend, x, size), size / cols, cols, Float32Array.of(qmax, lo, hi, eps), heapView(backend, out, size));
      return out;
    },
  });
}

/** The kernel name of the fused weight fake-quant forward: input w [rows, cols]; attrs granule (elements), binary, eps. */
export const NATIVE_WEIGHT_QUANT = 'BitnetWeightQuant';

/**
 * ternaryForward / binaryForward of src/quant/ste.ts (abs, mean, maximum, divide, round, clip, multiply,
 * reshapes: ~10 tfjs kernels for each of a step's 29 linears) in one pass per granule. The granule
 * means are summed in double where tfjs sums in float32, so a scale can differ in its last bits.
 */
function installNativeWeightQuant(addon: NonNullable<ReturnType<typeof nativeAddon>>): void {
  tf.registerKernel({
    kernelName: NATIVE_WEIGHT_QUANT,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { w } = args.inputs as { w: tf.TensorInfo };
      const { granule, binary, eps } = args.attrs as unknown as { granule: number; binary: boolean; eps: number };
      const backend = args.backend as unknown as WasmBackend;
      const size = w.shape.reduce((p, q) => p * q, 1);
      const out = backend.makeOutput(w.shape, 'float32');
      addon.weightFakeQuant(heapView(backend, w, size), granule, binary, eps, heapView(backend, out, size));
      return out;
    },
  });
}

/** Kernel names of training's RMSNorm: forward {x [N, d], w [d]} → [y, r [N]], attr eps; backward {x, w, r, dy} → [dx, dw]. */
export const NATIVE_RMSNORM = 'BitnetRmsNorm';
export const NATIVE_RMSNORM_GRAD = 'BitnetRmsNormGrad';

/** RMSNorm forward and backward as two kernels (tfjs: ~6 kernels forward, ~12 backward, 17 norms a step). */
function installNativeRmsNorm(addon: NonNullable<ReturnType<typeof nativeAddon>>): void {
  tf.registerKernel({
    kernelName: NATIVE_RMSNORM,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { x, w } = args.inputs as { x: tf.TensorInfo; w: tf.TensorInfo };
      const { eps } = args.attrs as unknown as { eps: number };
      const backend = args.backend as unknown as WasmBackend;
      const cols = x.shape[x.shape.length - 1]!;
      const n = x.shape.reduce((p, q) => p * q, 1) / cols;
      const y = backend.makeOutput(x.shape, 'float32');
      const r = backend.makeOutput([n], 'float32');
      addon.rmsNormTrain(heapView(backend, x, n * cols), heapView(backend, w, cols), n, cols, eps, heapView(backend, y, n * cols), heapView(backend, r, n));
      return [y, r];
    },
  });
  tf.registerKernel({
    kernelName: NATIVE_RMSNORM_GRAD,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { x, w, r, dy } = args.inputs as { x: tf.TensorInfo; w: tf.TensorInfo; r: tf.TensorInfo; dy: tf.TensorInfo };
      const backend = args.backend as unknown as WasmBackend;
      const cols = x.shape[x.shape.length - 1]!;
      const n = x.shape.reduce((p, q) => p * q, 1) / cols;
      const dx = backend.makeOutput(x.shape, 'float32');
      const dw = backend.makeOutput([cols], 'float32');
      addon.rmsNormTrainGrad(heapView(backend, x, n * cols), heapView(backend, w, cols), heapView(backend, r, n), heapView(backend, dy, n * cols), n, cols, heapView(backend, dx, n * cols), heapView(backend, dw, cols));
      return [dx, dw];
    },
  });
}
