/**
 * The readers under fuzz: each target is a valid seed file of one of our input formats, a mutator, and a
 * check that reads the mutated file the way the product does (and uses what it read: a GGUF that opens
 * is loaded by the engine and runs a forward pass). A check either succeeds or throws an InputError whose
 * message is one line naming the file (or its directory); anything else is a finding. Used by
 * test/fuzz/readers.test.ts (a fast seeded subset) and scripts/fuzz.ts (`npm run fuzz`, the soak).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RunConfig } from '../../src/config/train.ts';
import { parseWith, readJsonFile } from '../../src/config/parse.ts';
import { parseStudy, expandStudy } from '../../src/config/study.ts';
import { loadPrepared } from '../../src/data/load.ts';
import { Rng } from '../../src/data/rng.ts';
import { loadTokenizer } from '../../src/data/tokenizer/index.ts';
import { isInputError } from '../../src/errors.ts';
import { openGGUF, readShard } from '../../src/format/index.ts';
import { loadEngine } from '../../src/infer/engine.ts';
import { synthModel } from '../../src/infer/synth.ts';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.ts';
import { initParams, paramSpecs } from '../../src/train/params.ts';
import { writeSmallGGUF } from '../format/helpers.ts';
import { tinyConfig, tinyData } from '../support/tiny.ts';
import { mutateBytes, mutateJson } from './mutate.ts';

export interface Target {
  name: string;
  /** The file each iteration overwrites with a mutation of `original`. */
  file: string;
  original: Uint8Array;
  mutate(src: Uint8Array, rng: Rng): Uint8Array;
  /** Reads (and uses) `file`; throws on a rejected input. */
  check(): void;
}

export interface FuzzResult {
  target: string;
  iterations: number;
  loaded: number;
  rejected: number;
  seconds: number;
  /** The first input that failed otherwise than with a one-line InputError, and how. */
  finding: { iteration: number; error: string; input: Uint8Array } | null;
}

const SAMPLE = 'Call me Ishmael. Some years ago — never mind how long — 1851, £3 & "quotes"\n\ttabs\u00e9\u2603';

const json = (file: string) => ({ original: readFileSync(file), mutate: (src: Uint8Array, rng: Rng) => mutateJson(new TextDecoder().decode(src), rng) });

/** Writes the seed files under `dir` and returns every target. */
export async function fuzzTargets(dir: string): Promise<Target[]> {
  const dataDir = await tinyData(dir, 'bpe', 300);
  const vocab = loadPrepared(dataDir).tokenizer.vocabSize;

  const small = path.join(dir, 'small.gguf');
  await writeSmallGGUF(small);
  const smallHead = (() => {
    const g = openGGUF(small);
    const end = g.dataOffset;
    g.close();
    return end;
  })();

  const model = path.join(dir, 'model.gguf');
  await synthModel(model, { d_model: 256, n_layers: 1, d_ff: 256, n_heads: 4, n_kv_heads: 4, vocab_size: vocab }, 'tq2_0', 3);
  const modelHead = (() => {
    const g = openGGUF(model);
    const end = g.dataOffset;
    g.close();
    return end;
  })();

  // The same shape as TQ1_0, for the engine run in place from the mapped file (ternaryMatmulBlocks on
  // the file's blocks: a mutated block must never make the kernels read outside the mapping)
  const mapped = path.join(dir, 'model-tq1_0.gguf');
  await synthModel(mapped, { d_model: 256, n_layers: 1, d_ff: 256, n_heads: 4, n_kv_heads: 4, vocab_size: vocab }, 'tq1_0', 3);

  // A small model: each iteration reads the whole checkpoint.
  const config = tinyConfig(vocab, { model: { n_layers: 1, d_model: 64, n_heads: 4, n_kv_heads: 2, d_ff: 128 } });
  const run = path.join(dir, 'run');
  const weights = initParams(config.model);
  const shapes = new Map(paramSpecs(config.model).map((s) => [s.name, s.shape]));
  const moments = new Map([...weights].map(([k, v]) => [k, { m: new Float32Array(v.length), v: new Float32Array(v.length) }]));
  const ckpt = await saveCheckpoint(run, {
    state: {
      format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, config: { ...config, data: dataDir }, step: 3, tokens_seen: 192, adam_t: 3,
      data_cursor: { data_seed: 1, next_step: 3 }, data: { dir: dataDir, fingerprint: '0123456789abcdef' }, val_loss: 5, best_val_loss: 5, versions: { node: process.version },
    },
    weights, moments,
  }, shapes);
  const weightsFile = path.join(ckpt, 'weights.safetensors');
  const stateFile = path.join(ckpt, 'state.json');
  const weightsHead = new DataView(readFileSync(weightsFile).buffer).getUint32(0, true) + 8;

  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const studyFile = path.join(dir, 'study.json');
  writeFileSync(studyFile, JSON.stringify({
    name: 'fz', description: 'fuzz seed', data: dataDir,
    base: { model: { d_model: 256, n_layers: 1, n_heads: 4, n_kv_heads: 4, d_ff: 256, context_length: 32 }, train: { batch_size: 2, seq_len: 16, backend: 'wasm', lr: { kind: 'cosine', peak: 3e-3, warmup: 2 } } },
    axes: { mode: 'grid', axes: { 'model.weight_quant': ['fp', 'ternary'], 'train.lr.peak': [1e-3, 2e-3] } },
    seeds: [1, 2], token_budget: 640, eval: { batches: 1, engine: true }, baseline: 'weight_quant=fp,peak=0.001',
  }, null, 2));

  const shardFile = path.join(dataDir, 'val.arrow');
  const shardOriginal = readFileSync(shardFile);
  const tokFile = path.join(dataDir, 'tokenizer.json');
  const statsFile = path.join(dataDir, 'stats.json');

  return [
    {
      name: 'gguf (reader)', file: small, original: readFileSync(small), mutate: (s, r) => mutateBytes(s, smallHead, r),
      check: () => {
        const f = openGGUF(small);
        try {
          for (const t of f.tensors) if (f.readTensor(t.name).length !== t.byteLength) throw new Error(`tensor ${t.name}: short read`);
        } finally {
          f.close();
        }
      },
    },
    {
      name: 'gguf (engine: load + forward)', file: model, original: readFileSync(model), mutate: (s, r) => mutateBytes(s, modelHead, r),
      check: () => {
        const e = loadEngine(model, { engine: 'auto', maxSeq: 16 });
        try {
          e.model.forward(Int32Array.from([1, 2, 3]));
          e.model.forward(Int32Array.from([Math.min(4, e.weights.hp.vocab_size - 1)]));
          e.tokenizer.decode(e.tokenizer.encode(SAMPLE));
        } finally {
          e.close();
        }
      },
    },
    {
      name: 'gguf (engine, mapped TQ1_0: load + forward)', file: mapped, original: readFileSync(mapped), mutate: (s, r) => mutateBytes(s, modelHead, r),
      check: () => {
        const e = loadEngine(mapped, { engine: 'auto', maxSeq: 16, weights: 'map' });
        try {
          e.model.forward(Int32Array.from([1, 2, 3]));
          e.model.forward(Int32Array.from([Math.min(4, e.weights.hp.vocab_size - 1)]));
        } finally {
          e.close();
        }
      },
    },
    { name: 'safetensors checkpoint', file: weightsFile, original: readFileSync(weightsFile), mutate: (s, r) => mutateBytes(s, weightsHead, r), check: () => void loadCheckpoint(ckpt) },
    { name: 'checkpoint state.json', file: stateFile, ...json(stateFile), check: () => void loadCheckpoint(ckpt) },
    // readShard without a checksum: the bytes go to the Arrow decoder (in its child process). Through
    // loadPrepared a changed shard is refused by its checksum before any decoding.
    { name: 'arrow shard', file: shardFile, original: shardOriginal, mutate: (s, r) => mutateBytes(s, 512, r), check: () => void readShard(shardFile) },
    {
      name: 'tokenizer.json', file: tokFile, ...json(tokFile),
      check: () => {
        const t = loadTokenizer(tokFile);
        t.decode(t.encode(SAMPLE));
      },
    },
    { name: 'prepared stats.json', file: statsFile, ...json(statsFile), check: () => void loadPrepared(dataDir) },
    { name: 'run config', file: configFile, ...json(configFile), check: () => void parseWith(RunConfig, readJsonFile(configFile), configFile) },
    { name: 'study file', file: studyFile, ...json(studyFile), check: () => void expandStudy(parseStudy(readJsonFile(studyFile), studyFile), studyFile, { dataDir, vocabSize: vocab }) },
  ];
}

/** `iterations` mutations of one target from `seed`; stops at the first finding. Restores the seed file after. */
export function fuzzTarget(t: Target, iterations: number, seed: number, onIteration?: (i: number) => void): FuzzResult {
  const rng = new Rng(seed);
  const t0 = performance.now();
  let loaded = 0;
  let rejected = 0;
  let finding: FuzzResult['finding'] = null;
  try {
    for (let i = 0; i < iterations && finding === null; i++) {
      onIteration?.(i);
      const input = t.mutate(t.original, rng);
      writeFileSync(t.file, input);
      try {
        t.check();
        loaded++;
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (isInputError(e) && !msg.includes('\n') && msg.length < 2000) rejected++;
        else finding = { iteration: i, error: e instanceof Error ? (e.stack ?? msg) : msg, input };
      }
    }
  } finally {
    writeFileSync(t.file, t.original);
  }
  return { target: t.name, iterations: loaded + rejected + (finding ? 1 : 0), loaded, rejected, seconds: (performance.now() - t0) / 1000, finding };
}
