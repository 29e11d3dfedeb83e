/**
 * `bitnet bench`: prompt processing (pp: random tokens as one batch) and generation (tg: one token at a
 * time from an empty cache, greedy), after a short warm-up; plus the load time, peak RSS, bits per weight
 * of the block linears, the arithmetic energy per token (src/quant's model: this model against its FP16
 * twin), and, when the addon can measure it, the machine's read bandwidth and tg as a percentage of the
 * roofline (bandwidth / bytes of weights read per token).
 */
import { performance } from 'node:perf_hooks';
import { Rng } from '../data/rng.ts';
import { nativeAddon } from '../native/addon.ts';
import { type Watch, watch } from '../native/watchdog.ts';
import { energyPerToken, type ModelShape } from '../quant/energy.ts';
import type { Engine } from './engine.ts';
import { peakRssMB } from '../rss.ts';
import { argmax } from './sampler.ts';
import type { Linear, Weights } from './weights.ts';

export interface BenchResult {
  pp_tokens_per_s: number;
  tg_tokens_per_s: number;
  load_s: number;
  peak_rss_mb: number;
  bits_per_weight: number;
  threads: number;
  engine: string;
  energy_pj_per_token: number;
  energy_pj_per_token_fp16: number;
  prompt_tokens: number;
  gen_tokens: number;
  linear_type: string;
  /** 'mapped': run in place from the mapped file; 'copied': converted into the engine's memory. */
  weights: 'mapped' | 'copied';
  /** Weight bytes the engine reads per generated token (block linears in its layout, scales, head). */
  mb_read_per_token: number;
  /** Measured read bandwidth with the kernels' threads, or null when the addon cannot measure it. */
  bandwidth_gb_s: number | null;
  tg_roofline_pct: number | null;
}

/** Bytes a matmul reads from this linear per token. */
function linearBytes(l: Linear): number {
  return l.kind === 'ternary' ? l.packed.byteLength + l.scale.byteLength : l.w.byteLength; // blocks: the file's bytes, scales included
}

export function weightBytesPerToken(w: Weights): number {
  let b = w.head.w.byteLength;
  for (const L of w.layers) for (const l of [L.q, L.k, L.v, L.o, L.gate, L.up, L.down]) b += linearBytes(l);
  return b;
}

/**
 * The machine's read bandwidth in GB/s through the addon, or null. The buffer is 4x a 32 MB L3 and
 * written first: untouched pages all map to the one zero page, which reads from the cache.
 */
export function measureBandwidth(): number | null {
  const addon = nativeAddon();
  if (!addon || typeof addon.readBandwidth !== 'function') return null;
  return addon.readBandwidth(new Uint8Array(128 << 20).fill(0x5a), 3);
}

export function bench(e: Engine, promptTokens: number, genTokens: number, seed = 1): BenchResult {
  const watchdog = watch('benchmark');
  try {
    return benchWatched(e, promptTokens, genTokens, seed, watchdog);
  } finally {
    watchdog.stop();
  }
}

function benchWatched(e: Engine, promptTokens: number, genTokens: number, seed: number, watchdog: Watch): BenchResult {
  const { model, weights } = e;
  const hp = weights.hp;
  const rng = new Rng(seed);
  const prompt = Int32Array.from({ length: promptTokens }, () => rng.int(hp.vocab_size));
  const one = new Int32Array(1);
  const tg = (n: number): void => {
    one[0] = prompt[0]!;
    for (let i = 0; i < n; i++) {
      one[0] = argmax(model.forward(one));
      watchdog.beat();
    }
  };
  // warm-up: the code paths JIT-compile and the weights come into the caches
  model.reset();
  model.forward(prompt.subarray(0, Math.min(8, promptTokens)));
  model.reset();
  tg(Math.min(4, genTokens));

  model.reset();
  watchdog.beat(`benchmark, prompt processing (${promptTokens} tokens)`);
  let t = performance.now();
  model.forward(prompt);
  const pp = promptTokens / ((performance.now() - t) / 1000);
  model.reset();
  watchdog.beat(`benchmark, generation (${genTokens} tokens)`);
  t = performance.now();
  tg(genTokens);
  const tgRate = genTokens / ((performance.now() - t) / 1000);
  const peakRss = peakRssMB();

  const shape: ModelShape = { d_model: hp.d_model, n_layers: hp.n_layers, d_ff: hp.d_ff, n_heads: hp.n_heads, n_kv_heads: hp.n_kv_heads, vocab_size: hp.vocab_size };
  // by what the kernels run, not the file's type name: a narrow model's I8 and TQ2_0 linears ('mixed') are all ternary
  const ternary = weights.layers.every((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].every((x) => x.kind === 'ternary' || x.kind === 'blocks'));
  const bytes = weightBytesPerToken(weights);
  const bandwidth = measureBandwidth();
  return {
    pp_tokens_per_s: pp,
    tg_tokens_per_s: tgRate,
    load_s: e.loadSeconds,
    peak_rss_mb: peakRss,
    bits_per_weight: (weights.linearBytes * 8) / weights.linearElements,
    threads: e.threads,
    engine: e.kernels.name,
    energy_pj_per_token: energyPerToken(shape, ternary ? 'ternary' : 'fp16', '7nm').total,
    energy_pj_per_token_fp16: energyPerToken(shape, 'fp16', '7nm').total,
    prompt_tokens: promptTokens,
    gen_tokens: genTokens,
    linear_type: weights.linearType,
    weights: weights.mapped ? 'mapped' : 'copied',
    mb_read_per_token: bytes / 1e6,
    bandwidth_gb_s: bandwidth,
    tg_roofline_pct: bandwidth === null ? null : (100 * tgRate) / ((bandwidth * 1e9) / bytes),
  };
}
