import type { CommandModule } from 'yargs';
import { InputError } from '../../errors.ts';
import { parsePtqScheme } from '../../quant/ptq.ts';
import { evaluatePtq } from '../../train/ptq-eval.ts';
import { pathPositional, stringOption } from '../flags.ts';

interface Args {
  run: string;
  to: string;
  json?: boolean;
}

export const quantizeCommand: CommandModule<object, Args> = {
  command: 'quantize <run>',
  describe: 'post-training quantization of a trained fp run (round to nearest), evaluated on the validation windows its training used',
  builder: (y) =>
    y
      .positional('run', pathPositional('run', 'an fp run directory (its latest checkpoint) or checkpoint directory'))
      .option('to', stringOption('to', { demand: true, describe: 'ternary (absmean per tensor), binary, int4:G (absmax per G columns) or int8 (absmax per row)' }))
      .option('json', { type: 'boolean', describe: 'print one JSON object' }),
  handler: async (argv) => {
    const scheme = parsePtqScheme(argv.to);
    if (!scheme) throw new InputError('--to', `"${argv.to}" is not ternary, binary, int4:G (G a positive integer) or int8`);
    const r = await evaluatePtq(argv.run, scheme);
    if (argv.json) console.log(JSON.stringify(r));
    else
      console.log(
        `${r.checkpoint}: ${r.scheme} after training (${r.bits_per_weight.toFixed(3)} bits/weight): val loss ${r.val_loss.toFixed(4)} (${r.val_bpb.toFixed(4)} bits/byte) ` +
          `vs ${r.fp_val_loss.toFixed(4)} unquantized, over the same ${r.eval_tokens.toLocaleString('en-US')} validation tokens`,
      );
  },
};
