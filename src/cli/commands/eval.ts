import type { CommandModule } from 'yargs';
import { loadPrepared } from '../../data/load.ts';
import { InputError } from '../../errors.ts';
import { choiceOption, pathPositional, stringOption } from '../flags.ts';
import { loadEngine } from '../../infer/engine.ts';
import { evaluate } from '../../infer/eval.ts';
import { engineFlags, engineNotes, engineOptions, type EngineArgs } from './generate.ts';

interface Args extends EngineArgs {
  file: string;
  data: string;
  split: 'val' | 'train';
  json?: boolean;
}

export const evalCommand: CommandModule<object, Args> = {
  command: 'eval <file>',
  describe: 'loss, perplexity and bits per byte of a GGUF model on a prepared data split (windows of the context length)',
  builder: (y) =>
    engineFlags(
      y
        .positional('file', pathPositional('file', 'the .gguf file'))
        .option('data', stringOption('data', { demand: true, nonEmpty: true, describe: 'a directory written by bitnet prepare (data/NAME)' }))
        .option('split', choiceOption('split', ['val', 'train'] as const, { default: 'val', describe: 'the split to evaluate' }))
        .option('json', { type: 'boolean', describe: 'print one JSON object {loss, perplexity, bits_per_byte, tokens}' }),
    ),
  handler: (argv) => {
    const opts = engineOptions(argv);
    const data = loadPrepared(argv.data);
    const e = loadEngine(argv.file, opts);
    try {
      engineNotes(e);
      const ours = data.tokenizer.tokenStrings();
      const first = ours.findIndex((s, i) => s !== e.tokenizer.tokens[i]);
      if (ours.length !== e.tokenizer.vocabSize || first >= 0)
        throw new InputError(argv.data, `its tokenizer (${ours.length} tokens) is not the model's (${e.tokenizer.vocabSize} tokens${first >= 0 ? `, first difference at id ${first}` : ''})`);
      const split = argv.split === 'val' ? data.val : data.train;
      const r = evaluate(e.model, split, data.stats[argv.split].bytes_per_token);
      if (argv.json) console.log(JSON.stringify(r));
      else console.log(`${argv.split}: loss ${r.loss.toFixed(4)}, perplexity ${r.perplexity.toFixed(3)}, ${r.bits_per_byte.toFixed(4)} bits per byte over ${r.tokens} tokens (${e.kernels.name} engine)`);
    } finally {
      e.close();
    }
  },
};
