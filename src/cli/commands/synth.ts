import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { choiceOption, intOption, stringOption } from '../flags.ts';
import { parseShape, synthModel, SYNTH_SHAPES } from '../../infer/synth.ts';

interface Args {
  shape: string;
  type: string;
  out: string;
  seed: number;
}

export const synthCommand: CommandModule<object, Args> = {
  command: 'synth',
  describe: 'write a random-weight ternary GGUF model of a BitNet shape, for benchmarks without a checkpoint',
  builder: (y) =>
    y
      .option('shape', stringOption('shape', { demand: true, nonEmpty: true, describe: `${Object.keys(SYNTH_SHAPES).join(', ')} or d,layers,ff,heads,kvheads,vocab` }))
      .option('type', choiceOption('type', ['tq2_0', 'tq1_0'] as const, { default: 'tq2_0', describe: 'ternary tensor type' }))
      .option('out', stringOption('out', { demand: true, nonEmpty: true, describe: 'the .gguf file to write' }))
      .option('seed', intOption('seed', { default: 1, min: 0, max: 2 ** 32 - 1, describe: 'weight seed' })),
  handler: async (argv) => {
    const shape = parseShape(argv.shape);
    const type = argv.type as 'tq2_0' | 'tq1_0';
    const t0 = Date.now();
    mkdirSync(path.dirname(path.resolve(argv.out)), { recursive: true });
    await synthModel(argv.out, shape, type, argv.seed);
    const mb = statSync(argv.out).size / 1e6;
    console.log(`wrote ${argv.out}: d${shape.d_model} L${shape.n_layers} ff${shape.d_ff} heads ${shape.n_heads}/${shape.n_kv_heads} vocab ${shape.vocab_size}, ${type.toUpperCase()}, ${mb.toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  },
};
