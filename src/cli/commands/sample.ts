import type { CommandModule } from 'yargs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadTokenizer } from '../../data/tokenizer/index.ts';
import { useBackend } from '../../train/backend.ts';
import { loadCheckpoint, resolveCheckpoint } from '../../train/checkpoint.ts';
import { sampleIds, storedModel } from '../../train/sample.ts';
import { choiceOption, floatOption, intOption, pathPositional, stringOption } from '../flags.ts';

interface Args {
  run: string;
  prompt: string;
  'max-tokens': number;
  temperature: number;
  'top-k': number;
  seed: number;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  'embedding-type': 'f16' | 'f32';
}

export const sampleCommand: CommandModule<object, Args> = {
  command: 'sample <run>',
  describe: 'sample text with the tfjs model (fake-quant forward, weights as the export stores them): the reference for the engine',
  builder: (y) =>
    y
      .positional('run', pathPositional('run', 'run directory (latest checkpoint) or checkpoint directory'))
      .option('prompt', stringOption('prompt', { default: '', describe: 'text to continue' }))
      .option('max-tokens', intOption('max-tokens', { default: 64, min: 0, max: 1e9, describe: 'tokens to sample at most' }))
      .option('temperature', floatOption('temperature', { default: 0.8, min: 0, max: 100, describe: '0 = greedy' }))
      .option('top-k', intOption('top-k', { default: 40, min: 0, max: 1e9, describe: '0 = no limit' }))
      .option('seed', intOption('seed', { default: 1, min: 0, max: Number.MAX_SAFE_INTEGER, describe: 'sampling seed' }))
      .option('backend', choiceOption('backend', ['auto', 'tensorflow', 'wasm', 'cpu'] as const, { default: 'auto', describe: 'tfjs backend' }))
      .option('embedding-type', choiceOption('embedding-type', ['f16', 'f32'] as const, { default: 'f16', describe: 'round embeddings as an export of this type stores them' })),
  handler: async (argv) => {
    await useBackend(argv.backend);
    const dir = resolveCheckpoint(argv.run);
    const { state, weights } = loadCheckpoint(dir, { moments: false });
    const tok = loadTokenizer(path.join(state.data.dir, 'tokenizer.json'));
    const c = state.config.model;
    const stored = storedModel(c, weights, argv['embedding-type']);
    // An empty prompt starts from <|endoftext|>, the document separator, as the engine's generate does.
    const encoded = tok.encode(argv.prompt);
    const prompt = encoded.length > 0 ? encoded : Int32Array.of(tok.eosId);
    // Like `bitnet generate`: the continuation only, so the two outputs compare directly.
    const t0 = performance.now();
    // Print whole characters only: a token can end inside a multi-byte UTF-8 sequence.
    const out: number[] = [];
    let printed = 0;
    const flush = (final: boolean) => {
      const text = tok.decode(out);
      if (!final && text.endsWith('\uFFFD')) return;
      process.stdout.write(text.slice(printed));
      printed = text.length;
    };
    const ids = sampleIds(stored.model, stored.frozen, prompt, { maxTokens: argv['max-tokens'], temperature: argv.temperature, topK: argv['top-k'], seed: argv.seed }, tok.eosId, (id) => {
      out.push(id);
      flush(false);
    });
    flush(true);
    process.stdout.write('\n');
    process.stderr.write(`${ids.length} tokens in ${((performance.now() - t0) / 1000).toFixed(2)} s (tfjs ${tf.getBackend()}, checkpoint ${dir})\n`);
    stored.dispose();
  },
};
