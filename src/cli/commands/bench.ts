import type { CommandModule } from 'yargs';
import { InputError } from '../../errors.ts';
import { intOption, pathPositional } from '../flags.ts';
import { bench } from '../../infer/bench.ts';
import { loadEngine } from '../../infer/engine.ts';
import { engineFlags, engineNotes, engineOptions, type EngineArgs } from './generate.ts';

interface Args extends EngineArgs {
  file: string;
  'prompt-tokens': number;
  'gen-tokens': number;
  json?: boolean;
}

export const benchCommand: CommandModule<object, Args> = {
  command: 'bench <file>',
  describe: 'prompt-processing and generation tokens/s, load time, peak RSS, bits per weight and energy per token of a GGUF model',
  builder: (y) =>
    engineFlags(
      y
        .positional('file', pathPositional('file', 'the .gguf file'))
        .option('prompt-tokens', intOption('prompt-tokens', { default: 128, min: 1, max: 1 << 20, describe: 'random tokens processed as one batch (pp)' }))
        .option('gen-tokens', intOption('gen-tokens', { default: 128, min: 1, max: 1 << 20, describe: 'tokens generated one at a time (tg)' }))
        .option('json', { type: 'boolean', describe: 'print one JSON object' }),
    ),
  handler: (argv) => {
    const pp = argv['prompt-tokens'];
    const tg = argv['gen-tokens'];
    const e = loadEngine(argv.file, { ...engineOptions(argv), maxSeq: Math.max(pp, tg), maxBatch: pp });
    try {
      engineNotes(e);
      if (e.model.maxSeq < Math.max(pp, tg)) throw new InputError(argv.file, `its context length ${e.weights.hp.context_length} is shorter than ${Math.max(pp, tg)} tokens`);
      const r = bench(e, pp, tg);
      if (argv.json) {
        console.log(JSON.stringify(r));
        return;
      }
      const hp = e.weights.hp;
      console.log(`${argv.file}: d${hp.d_model} L${hp.n_layers} ff${hp.d_ff} heads ${hp.n_heads}/${hp.n_kv_heads} vocab ${hp.vocab_size}, ${r.linear_type} linears at ${r.bits_per_weight.toFixed(4)} bits per weight`);
      console.log(`engine ${r.engine}, ${r.threads} thread${r.threads === 1 ? '' : 's'}, weights ${r.weights}; loaded in ${r.load_s.toFixed(2)} s; peak RSS ${r.peak_rss_mb.toFixed(0)} MB`);
      console.log(`pp ${pp}: ${r.pp_tokens_per_s.toFixed(1)} tokens/s`);
      console.log(`tg ${tg}: ${r.tg_tokens_per_s.toFixed(1)} tokens/s`);
      const roof = r.bandwidth_gb_s === null ? 'read bandwidth not measured (no native addon)' : `read bandwidth ${r.bandwidth_gb_s.toFixed(1)} GB/s: tg at ${r.tg_roofline_pct!.toFixed(1)}% of the roofline`;
      console.log(`${r.mb_read_per_token.toFixed(1)} MB of weights read per token; ${roof}`);
      console.log(`arithmetic energy per token (7nm): ${(r.energy_pj_per_token / 1e6).toFixed(3)} µJ vs ${(r.energy_pj_per_token_fp16 / 1e6).toFixed(3)} µJ for the FP16 twin (${(r.energy_pj_per_token_fp16 / r.energy_pj_per_token).toFixed(1)}x)`);
    } finally {
      e.close();
    }
  },
};
