/**
 * Opening a model file for the commands: the GGUF read tensor by tensor into engine weights, its
 * tokenizer, a kernel set (native when the addon is loaded, unless told otherwise) and a Model with its
 * cache. `close()` is the matching free.
 */
import { performance } from 'node:perf_hooks';
import { InputError } from '../errors.ts';
import { openGGUF } from '../format/gguf/index.ts';
import { nativeAddon, nativeStatus } from '../native/addon.ts';
import { selectKernels, type Kernels } from './kernels/index.ts';
import { Model } from './model.ts';
import { GGUFTokenizer } from './tokenizer.ts';
import { readWeights, type Weights } from './weights.ts';
import { weightStore } from './store.ts';
import { mapGGUF, wantsMap, type WeightsMode } from './mapped.ts';
import { holdYoungGeneration } from './heap.ts';

export type EngineChoice = 'auto' | 'native' | 'ts';

export interface EngineOptions {
  engine?: EngineChoice;
  /** Threads of the native kernels (the addon's pool); the TS kernels run on one. */
  threads?: number;
  /** KV cache positions (default: the model's context length). */
  maxSeq?: number;
  maxBatch?: number;
  /** Read the weights in place from the mapped file, or copy them (./mapped.ts; default 'auto'). */
  weights?: WeightsMode;
}

export interface Engine {
  file: string;
  weights: Weights;
  tokenizer: GGUFTokenizer;
  model: Model;
  kernels: Kernels;
  threads: number;
  /** Seconds to open, validate and convert the file. */
  loadSeconds: number;
  /** Why 'auto' fell back to the TS kernels, or null. */
  fallback: string | null;
  close(): void;
}

/** Sets the kernel threads and returns how many the chosen kernels use. */
export function useThreads(kernels: Kernels, threads: number | undefined): number {
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new InputError('--threads', `must be a positive integer, got ${threads}`);
  const addon = nativeAddon();
  if (kernels.name !== 'native' || addon === null) return 1;
  if (threads !== undefined) addon.setThreads(threads);
  return addon.threads();
}

export function loadEngine(file: string, opts: EngineOptions = {}): Engine {
  const t0 = performance.now();
  holdYoungGeneration(); // before the vocabulary's strings are made (./heap.ts)
  const kernels = selectKernels(opts.engine ?? 'auto');
  const fallback = (opts.engine ?? 'auto') === 'auto' && kernels.name === 'ts' ? nativeStatus().reason : null;
  const threads = useThreads(kernels, opts.threads);
  const f = openGGUF(file);
  const store = weightStore();
  // The KV cache and scratch in their own slabs, without huge pages: the cache is sized for the whole
  // context, and one 2 MB page per touched head would make all of it resident from the first token.
  const cacheStore = weightStore({ hugePages: false });
  let weights: Weights;
  let tokenizer: GGUFTokenizer;
  try {
    weights = readWeights(f, store, { map: wantsMap(f, opts.weights ?? 'auto') ? mapGGUF(f) : null });
    tokenizer = GGUFTokenizer.fromGGUF(f);
  } finally {
    f.close();
  }
  if (tokenizer.vocabSize !== weights.hp.vocab_size)
    throw new InputError(file, `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${weights.hp.vocab_size}`);
  const model = new Model(weights, { kernels, maxSeq: opts.maxSeq, maxBatch: opts.maxBatch, store: cacheStore });
  return {
    file, weights, tokenizer, model, kernels, threads, fallback,
    loadSeconds: (performance.now() - t0) / 1000,
    close: () => model.dispose(),
  };
}
