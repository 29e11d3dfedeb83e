import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { BITNET_ARCHS, type BitnetArch } from '../../format/gguf/bitnet.ts';
import { choiceOption, intOption, stringOption } from '../flags.ts';
import { parseShape, synthModel, SYNTH_LINEAR_TYPES, SYNTH_SHAPES, SYNTH_TABLE_TYPES, type SynthLinearType, type SynthTableType } from '../../infer/synth.ts';
import { readSourceVocab } from '../../infer/synth-vocab.ts';

interface Args {
  shape: string;
  arch: BitnetArch;
  type: SynthLinearType;
  'embedding-type': SynthTableType;
  'output-type'?: SynthTableType;
  out: string;
  seed: number;
  tokenizer?: string;
}

export const synthCommand: CommandModule<object, Args> = {
  command: 'synth',
  describe: 'write a random-weight ternary GGUF model of a BitNet shape, in our layout or llama.cpp\'s / bitnet.cpp\'s, for tests and benchmarks without a checkpoint',
  builder: (y) =>
    y
      .option('shape', stringOption('shape', { demand: true, nonEmpty: true, describe: `${Object.keys(SYNTH_SHAPES).join(', ')} or d,layers,ff,heads,kvheads,vocab` }))
      .option('arch', choiceOption('arch', BITNET_ARCHS, { default: 'bitnet', describe: 'general.architecture: bitnet (SwiGLU), bitnet-b1.58 / bitnet-25 (bitnet.cpp, ReLU²)' }))
      .option('type', choiceOption('type', SYNTH_LINEAR_TYPES, { default: 'tq2_0', describe: 'ternary tensor type (i2_s: bitnet.cpp\'s, one scale per tensor)' }))
      .option('embedding-type', choiceOption('embedding-type', SYNTH_TABLE_TYPES, { default: 'f16', describe: 'token embedding type (q8_0 / q6_k: llama.cpp\'s reference quantizers)' }))
      .option('output-type', choiceOption('output-type', SYNTH_TABLE_TYPES, { describe: 'an untied head (output.weight) of this type (default: tied to the embedding)' }))
      .option('out', stringOption('out', { demand: true, nonEmpty: true, describe: 'the .gguf file to write' }))
      .option('seed', intOption('seed', { default: 1, min: 0, max: 2 ** 32 - 1, describe: 'weight seed' }))
      .option('tokenizer', stringOption('tokenizer', { nonEmpty: true, describe: "take the vocabulary (and chat template) from a GGUF or a Hugging Face tokenizer.json; its size replaces the shape's vocab" })),
  handler: async (argv) => {
    const source = argv.tokenizer === undefined ? undefined : await readSourceVocab(argv.tokenizer);
    const shape = { ...parseShape(argv.shape, argv.type), ...(source ? { vocab_size: source.vocabSize } : {}) };
    const t0 = Date.now();
    mkdirSync(path.dirname(path.resolve(argv.out)), { recursive: true });
    await synthModel(argv.out, shape, argv.type, argv.seed, { arch: argv.arch, embeddingType: argv['embedding-type'], outputType: argv['output-type'], vocab: source?.kv });
    const mb = statSync(argv.out).size / 1e6;
    const head = argv['output-type'] ? `untied ${argv['output-type'].toUpperCase()} head` : 'tied head';
    const vocab = source ? `vocab ${source.summary} from ${argv.tokenizer}` : `vocab ${shape.vocab_size}`;
    console.log(
      `wrote ${argv.out}: d${shape.d_model} L${shape.n_layers} ff${shape.d_ff} heads ${shape.n_heads}/${shape.n_kv_heads} ${vocab}, ` +
        `${argv.type.toUpperCase()}, ${argv.arch}, ${argv['embedding-type'].toUpperCase()} embedding, ${head}, ${mb.toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  },
};
