import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { loadPrepared } from '../../data/load.ts';
import { InputError } from '../../errors.ts';
import { choiceOption, pathPositional, stringOption } from '../flags.ts';
import { loadEngine } from '../../infer/engine.ts';
import { evaluate, evaluateText, type EvalResult } from '../../infer/eval.ts';
import { engineFlags, engineNotes, engineOptions, type EngineArgs } from './generate.ts';

interface Args extends EngineArgs {
  file: string;
  data?: string;
  text?: string;
  split: 'val' | 'train';
  json?: boolean;
}

export const evalCommand: CommandModule<object, Args> = {
  command: 'eval <file>',
  describe: 'loss, perplexity and bits per byte of a GGUF model on a prepared data split or a text file (windows of the context length)',
  builder: (y) =>
    engineFlags(
      y
        .positional('file', pathPositional('file', 'the .gguf file'))
        .option('data', stringOption('data', { nonEmpty: true, describe: 'a directory written by bitnet prepare (data/NAME)' }))
        .option('text', stringOption('text', { nonEmpty: true, describe: "a UTF-8 text file, tokenized by the model's own tokenizer (instead of --data)" }))
        .option('split', choiceOption('split', ['val', 'train'] as const, { default: 'val', describe: 'the split to evaluate' }))
        .option('json', { type: 'boolean', describe: 'print one JSON object {loss, perplexity, bits_per_byte, tokens}' }),
    ),
  handler: (argv) => {
    const opts = engineOptions(argv);
    const { data: dir, text: textFile } = argv;
    if ((dir === undefined) === (textFile === undefined)) throw new InputError('--data', 'give either --data DIR or --text FILE');
    if (textFile !== undefined) {
      const text = readFileSync(textFile, 'utf8');
      const e = loadEngine(argv.file, opts);
      try {
        engineNotes(e);
        print(argv, path.basename(textFile), evaluateText(e.model, e.tokenizer, text), e.kernels.name);
      } finally {
        e.close();
      }
      return;
    }
    if (dir === undefined) return; // (checked above)
    const data = loadPrepared(dir);
    const e = loadEngine(argv.file, opts);
    try {
      engineNotes(e);
      const ours = data.tokenizer.tokenStrings();
      const first = ours.findIndex((s, i) => i >= e.tokenizer.vocabSize || s !== e.tokenizer.tokenText(i));
      if (ours.length !== e.tokenizer.vocabSize || first >= 0)
        throw new InputError(dir, `its tokenizer (${ours.length} tokens) is not the model's (${e.tokenizer.vocabSize} tokens${first >= 0 ? `, first difference at id ${first}` : ''})`);
      const split = argv.split === 'val' ? data.val : data.train;
      print(argv, argv.split, evaluate(e.model, split, data.stats[argv.split].bytes_per_token), e.kernels.name);
    } finally {
      e.close();
    }
  },
};

function print(argv: Args, what: string, r: EvalResult, engine: string): void {
  if (argv.json) console.log(JSON.stringify(r));
  else console.log(`${what}: loss ${r.loss.toFixed(4)}, perplexity ${r.perplexity.toFixed(3)}, ${r.bits_per_byte.toFixed(4)} bits per byte over ${r.tokens} tokens (${engine} engine)`);
}
