// The benchmark's peer: llama.cpp through node-llama-cpp, one model per process (so peak RSS is its own).
// `node bench/peers/run-llama.mjs '<json options>'` prints one line of JSON. Started by
// scripts/bench-infer.ts; runs alone too. Measures what llama-bench measures:
//   pp: N random tokens as one batch from an empty cache (one decode of batchSize >= N);
//   tg: M tokens one at a time from an empty cache, each with its logits and a greedy pick (the real
//       generation path: sequence.evaluate with temperature 0).
// Every repetition starts from an empty cache; a short warm-up (8-token pp, 4-token tg) runs first.
import { performance } from 'node:perf_hooks';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const opts = {
  model: '',
  threads: 2, // context threads (llama.cpp n_threads and n_threads_batch)
  maxThreads: undefined, // getLlama's limit; undefined = the package default (max(cores, 4) on CPU)
  batchSize: 512,
  contextSize: 512,
  pp: 128,
  tg: 128,
  reps: 3,
  flashAttention: false,
  useMmap: true,
  useMlock: false,
  tgMode: 'evaluate', // 'evaluate' (generate, greedy) | 'feed' (evaluateWithoutGeneratingNewTokens, one token per call)
  seed: 1,
  ...JSON.parse(process.argv[2] ?? '{}'),
};
if (!opts.model) throw new Error('run-llama: give {"model": "file.gguf", ...}');

// a small deterministic generator for the random prompt (mulberry32)
let s = opts.seed >>> 0;
const rand = () => {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const t0 = performance.now();
const llama = await getLlama({
  gpu: false,
  build: 'never',
  usePrebuiltBinaries: true,
  skipDownload: true,
  logLevel: LlamaLogLevel.error,
  ...(opts.maxThreads === undefined ? {} : { maxThreads: opts.maxThreads }),
});
const model = await llama.loadModel({ modelPath: opts.model, gpuLayers: 0, useMmap: opts.useMmap, useMlock: opts.useMlock });
const context = await model.createContext({
  contextSize: opts.contextSize,
  batchSize: opts.batchSize,
  threads: opts.threads,
  flashAttention: opts.flashAttention,
  sequences: 1,
});
const seq = context.getSequence();
const loadS = (performance.now() - t0) / 1000;
const V = Number(model.fileInfo.metadata.bitnet?.vocab_size ?? model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 32000);
const prompt = Array.from({ length: opts.pp }, () => Math.floor(rand() * (V - 1)));

async function runPP(tokens) {
  await seq.clearHistory();
  const t = performance.now();
  await seq.evaluateWithoutGeneratingNewTokens(tokens);
  return tokens.length / ((performance.now() - t) / 1000);
}

async function runTG(count) {
  await seq.clearHistory();
  let n = 0;
  const t = performance.now();
  if (opts.tgMode === 'feed') {
    for (let i = 0; i < count; i++) await seq.evaluateWithoutGeneratingNewTokens([prompt[i % prompt.length]]);
    n = count;
  } else {
    for await (const tok of seq.evaluate([prompt[0]], { temperature: 0 })) {
      void tok;
      if (++n >= count) break;
    }
  }
  return n / ((performance.now() - t) / 1000);
}

await runPP(prompt.slice(0, 8));
await runTG(4);
const pp = [];
const tg = [];
for (let r = 0; r < opts.reps; r++) {
  pp.push(await runPP(prompt));
  tg.push(await runTG(opts.tg));
}
const best = (xs) => Math.max(...xs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = {
  engine: 'llama.cpp (node-llama-cpp)',
  llama_cpp: llama.llamaCppRelease?.release ?? null,
  build: llama.buildType,
  gpu: llama.gpu,
  cpu_math_cores: llama.cpuMathCores,
  max_threads: llama.maxThreads,
  context_threads: context.idealThreads,
  config: opts,
  vocab: V,
  load_s: loadS,
  pp_tokens_per_s: best(pp),
  tg_tokens_per_s: best(tg),
  pp_median: median(pp),
  tg_median: median(tg),
  pp_all: pp,
  tg_all: tg,
  peak_rss_mb: (process.resourceUsage().maxRSS * 1024) / 1e6, // MB of 10^6 bytes, as src/rss.ts
};
await context.dispose();
await model.dispose();
await llama.dispose();
console.log(JSON.stringify(out));
