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

/** Installs the native BatchMatMul for wasm once; returns whether it is in use. */
export function installNativeMatmul(): boolean {
  if (installed !== null) return installed;
  const addon = nativeAddon();
  const orig = tf.getKernel('BatchMatMul', 'wasm');
  if (!addon || !orig || process.env.BITNET_NO_NATIVE_TRAIN === '1') return (installed = false);
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    setupFunc: orig.setupFunc,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const backend = args.backend as unknown as WasmBackend;
      const ra = a.shape.length;
      const rb = b.shape.length;
      const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
      const sameBatch = batchA === batchB && a.shape.slice(0, -2).join() === b.shape.slice(0, -2).join();
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || !(sameBatch || batchA === 1 || batchB === 1)) return orig.kernelFunc(args) as tf.TensorInfo;
      const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
      const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
      const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
      const batch = Math.max(batchA, batchB);
      const outerShape = (batchA >= batchB ? a : b).shape.slice(0, -2);
      const out = backend.makeOutput([...outerShape, m, n], 'float32');
      // The heap may have grown in makeOutput: take views only now.
      const heap = backend.wasm.HEAPF32.buffer;
      const view = (t: tf.TensorInfo, len: number) => new Float32Array(heap, backend.dataIdMap.get(t.dataId).memoryOffset, len);
      addon.sgemmBatched(
        batch, m, n, k,
        view(a, batchA * m * k), batchA === 1 ? 0 : m * k, transposeA,
        view(b, batchB * k * n), batchB === 1 ? 0 : k * n, transposeB,
        view(out, batch * m * n), m * n,
      );
      return out;
    },
  });
  return (installed = true);
}

/**
 * Whether tf.matMul's transpose flags cost nothing on the backend in use: everywhere but plain
 * tfjs-wasm, whose flagged matmuls run 15-50x slower than flag-free ones (research/node-feasibility.md).
 * The native BatchMatMul reads transposed operands in place.
 */
export function transposeFlagsAreFree(): boolean {
  return tf.getBackend() !== 'wasm' || installed === true;
}
