/**
 * Tiny fixtures shared by the training, export and engine tests: a small prepared corpus (byte
 * tokenizer or BPE) and small run configs, so every test trains in seconds on one core.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunConfig } from '../../src/config/train.ts';
import { prepare } from '../../src/data/prepare.ts';

export function tmpDir(tag: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `bitnet-${tag}-`));
}

export function rmDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A few KB of varied English, repeated into several documents. */
export function tinyCorpusFile(dir: string): string {
  const para = [
    'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse,',
    'and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.',
    'It is a way I have of driving off the spleen and regulating the circulation. Whenever I find myself growing grim about the mouth;',
    'whenever it is a damp, drizzly November in my soul; then, I account it high time to get to sea as soon as I can.',
  ];
  const lines: string[] = [];
  for (let d = 0; d < 12; d++) lines.push(JSON.stringify({ text: `Chapter ${d + 1}. ${para.slice(d % 4).concat(para.slice(0, d % 4)).join(' ')}` }));
  const file = path.join(dir, 'tiny.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Prepares the tiny corpus into `<dir>/data` and returns that directory. */
export async function tinyData(dir: string, tokenizer: 'byte' | 'bpe' = 'bpe', vocabSize = 320): Promise<string> {
  const out = path.join(dir, 'data');
  await prepare({ corpus: tinyCorpusFile(dir), tokenizer, vocabSize: tokenizer === 'byte' ? 257 : vocabSize, valFraction: 0.25, out });
  return out;
}

/** A 2-layer d256 config (row lengths multiples of 256 so TQ export works), a handful of steps. */
export function tinyConfig(vocab: number, over: { model?: Record<string, unknown>; train?: Record<string, unknown> } = {}): RunConfig {
  return RunConfig.parse({
    model: { vocab_size: vocab, d_model: 256, n_layers: 2, n_heads: 4, n_kv_heads: 2, d_ff: 512, context_length: 64, seed: 3, ...over.model },
    train: {
      steps: 6,
      batch_size: 2,
      seq_len: 32,
      log_every: 1,
      eval_every: 3,
      eval_batches: 1,
      ckpt_every: 3,
      keep_last: 5,
      backend: 'wasm',
      lr: { kind: 'cosine', peak: 3e-3, warmup: 2 },
      ...over.train,
    },
  });
}
