import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { choiceOption, intOption, stringOption } from '../flags.ts';
import { parseShape, synthModel, SYNTH_SHAPES } from '../../infer/synth.ts';
import { readSourceVocab } from '../../infer/synth-vocab.ts';

interface Args {
  shape: string;
  type: string;
  out: string;
  seed: number;
  tokenizer?: string;
}

export const synthCommand: CommandModule<object, Args> = {
  command: 'synth',
  describe: 'write a random-weight ternary GGUF model of a BitNet shape, for benchmarks without a checkpoint',
  builder: (y) =>
    y
      .option('shape', stringOption('shape', { demand: true, nonEmpty: true, describe: `${Object.keys(SYNTH_SHAPES).join(', ')} or d,layers,ff,heads,kvheads,vocab` }))
      .option('type', choiceOption('type', ['tq2_0', 'tq1_0'] as const, { default: 'tq2_0', describe: 'ternary tensor type' }))
      .option('out', stringOption('out', { demand: true, nonEmpty: true, describe: 'the .gguf file to write' }))
      .option('seed', intOption('seed', { default: 1, min: 0, max: 2 ** 32 - 1, describe: 'weight seed' }))
      .option('tokenizer', stringOption('tokenizer', { nonEmpty: true, describe: "take the vocabulary (and chat template) from a GGUF or a Hugging Face tokenizer.json; its size replaces the shape's vocab" })),
  handler: async (argv) => {
    const source = argv.tokenizer === undefined ? undefined : await readSourceVocab(argv.tokenizer);
    const shape = { ...parseShape(argv.shape), ...(source ? { vocab_size: source.vocabSize } : {}) };
    const type = argv.type as 'tq2_0' | 'tq1_0';
    const t0 = Date.now();
    mkdirSync(path.dirname(path.resolve(argv.out)), { recursive: true });
    await synthModel(argv.out, shape, type, argv.seed, source?.kv);
    const mb = statSync(argv.out).size / 1e6;
    const vocab = source ? `vocab ${source.summary} from ${argv.tokenizer}` : `vocab ${shape.vocab_size}`;
    console.log(`wrote ${argv.out}: d${shape.d_model} L${shape.n_layers} ff${shape.d_ff} heads ${shape.n_heads}/${shape.n_kv_heads} ${vocab}, ${type.toUpperCase()}, ${mb.toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  },
};
