import type { CommandModule } from 'yargs';
import { EMBEDDING_TYPES, type EmbeddingType } from '../../format/export.ts';
import { exportCheckpoint } from '../../train/export-checkpoint.ts';
import { choiceOption, pathPositional, stringOption } from '../flags.ts';

interface Args {
  run: string;
  type: 'tq2_0' | 'tq1_0';
  out?: string;
  'embedding-type': EmbeddingType;
  data?: string;
}

export const exportCommand: CommandModule<object, Args> = {
  command: 'export <run>',
  describe: 'write a run or checkpoint as GGUF (arch "bitnet", ternary linears as TQ2_0 or TQ1_0)',
  builder: (y) =>
    y
      .positional('run', pathPositional('run', 'run directory (its latest checkpoint) or checkpoint directory'))
      .option('type', choiceOption('type', ['tq2_0', 'tq1_0'] as const, { default: 'tq2_0', describe: 'ternary tensor type: TQ2_0 2.06 bpw (fast), TQ1_0 1.69 bpw' }))
      .option('out', stringOption('out', { nonEmpty: true, describe: 'output file (default: RUN/model.gguf)' }))
      .option('embedding-type', choiceOption('embedding-type', EMBEDDING_TYPES, { default: 'f16', describe: 'token embedding / head type (q8_0 / q6_k: llama.cpp\'s reference quantizers)' }))
      .option('data', stringOption('data', { nonEmpty: true, describe: 'prepared data directory whose tokenizer to embed (default: the run\'s)' })),
  handler: async (argv) => {
    const r = await exportCheckpoint(argv.run, { type: argv.type, out: argv.out, embeddingType: argv['embedding-type'], dataDir: argv.data });
    console.log(`exported ${r.checkpoint} → ${r.out} (${(r.bytes / 1e6).toFixed(2)} MB, ${argv.type.toUpperCase()})`);
    if (r.llamaCppCompatible) console.log('llama.cpp-compatible: yes');
    else console.log(`llama.cpp-compatible: no — runs in our engine only:\n  ${r.reasons.join('\n  ')}`);
  },
};
