/**
 * tfjs backend choice: tensorflow (tfjs-node, optional: its install downloads libtensorflow and
 * fails offline) > wasm (SIMD, one thread in Node) > cpu (pure JS, tests on tiny shapes only).
 * The backend in use is checked after setting it, because wasm silently falls back to cpu when its
 * init fails.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { InputError } from '../errors.ts';
import { installNativeMatmul } from './native-kernels.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendRequest = BackendName | 'auto';

export interface BackendChoice {
  name: BackendName;
  why: string;
  /** Whether the wasm backend's matmuls run on the native addon (see native-kernels.ts). */
  nativeMatmul?: boolean;
}

let tfjsNodeTried: boolean | undefined;

/** Registers the `tensorflow` backend if @tensorflow/tfjs-node is installed; false when it is not. */
async function tryTfjsNode(): Promise<boolean> {
  if (tfjsNodeTried !== undefined) return tfjsNodeTried;
  try {
    const name = '@tensorflow/tfjs-node';
    await import(name); // a variable specifier: the package is optional and absent from the type graph
    tfjsNodeTried = tf.findBackend('tensorflow') !== null;
  } catch {
    tfjsNodeTried = false;
  }
  return tfjsNodeTried;
}

/** Which backend `auto` resolves to here, and why; does not switch backends. */
export async function resolveBackend(req: BackendRequest = 'auto'): Promise<BackendChoice> {
  if (req !== 'auto') return { name: req, why: 'requested' };
  if (await tryTfjsNode()) return { name: 'tensorflow', why: '@tensorflow/tfjs-node is installed' };
  return { name: 'wasm', why: '@tensorflow/tfjs-node is not installed (optional; its install needs internet), wasm SIMD is the next best' };
}

/** Sets the tfjs backend and verifies it took effect. */
export async function useBackend(req: BackendRequest = 'auto'): Promise<BackendChoice> {
  const choice = await resolveBackend(req);
  if (choice.name === 'tensorflow' && !(await tryTfjsNode()))
    throw new InputError('--backend', 'tensorflow requested but @tensorflow/tfjs-node is not installed');
  const nativeMatmul = choice.name === 'wasm' ? installNativeMatmul() : false;
  const ok = await tf.setBackend(choice.name);
  await tf.ready();
  const actual = tf.getBackend();
  if (!ok || actual !== choice.name) {
    if (req === 'auto' && choice.name === 'wasm') {
      await tf.setBackend('cpu');
      return { name: 'cpu', why: `wasm failed to initialize (tfjs fell back to ${actual}); pure-JS cpu is ~40x slower` };
    }
    throw new Error(`tfjs backend ${choice.name} did not initialize (in use: ${actual})`);
  }
  return { ...choice, nativeMatmul };
}
