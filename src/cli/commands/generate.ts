import type { Argv, CommandModule } from 'yargs';
import { InputError } from '../../errors.ts';
import { loadEngine, type Engine, type EngineChoice, type EngineOptions } from '../../infer/engine.ts';
import { generate } from '../../infer/generate.ts';
import { DEFAULT_SAMPLER } from '../../infer/sampler.ts';

export interface EngineArgs {
  engine?: string;
  threads?: number;
}

/** --engine and --threads, shared by generate, eval and bench. --engine is a plain string so a bad value is one InputError line. */
export function engineFlags<T>(y: Argv<T>): Argv<T & EngineArgs> {
  return y
    .option('engine', { type: 'string', describe: 'native or ts kernels (default: native when the addon is built, else ts)' })
    .option('threads', { type: 'number', describe: 'threads of the native kernels (default: the addon pool\'s)' }) as Argv<T & EngineArgs>;
}

export function engineOptions(argv: EngineArgs): Pick<EngineOptions, 'engine' | 'threads'> {
  const e = argv.engine ?? 'auto';
  if (e !== 'native' && e !== 'ts' && e !== 'auto') throw new InputError('--engine', `"${e}" is not native or ts`);
  return { engine: e as EngineChoice, threads: argv.threads };
}

/** Says on stderr when the default engine fell back to TypeScript, or the vocabulary's pre-tokenizer is not GPT-2's. */
export function engineNotes(e: Engine): void {
  if (e.fallback !== null) process.stderr.write(`bitnet: native kernels unavailable (${e.fallback}); using the TypeScript engine\n`);
  if (!e.tokenizer.preIsGpt2) process.stderr.write(`bitnet: note: the file asks for pre-tokenizer "${e.tokenizer.pre}"; text is split with GPT-2's\n`);
}

interface Args extends EngineArgs {
  file: string;
  prompt: string;
  'max-tokens': number;
  temperature: number;
  'top-k': number;
  'top-p': number;
  'repeat-penalty': number;
  seed?: number;
}

export const generateCommand: CommandModule<object, Args> = {
  command: 'generate <file>',
  describe: 'continue a prompt with a GGUF model: the text to stdout as it comes, then tokens/s to stderr',
  builder: (y) =>
    engineFlags(
      y
        .positional('file', { type: 'string', demandOption: true, describe: 'the .gguf file' })
        .option('prompt', { type: 'string', demandOption: true, describe: 'the text to continue' })
        .option('max-tokens', { type: 'number', default: 128, describe: 'tokens to generate at most' })
        .option('temperature', { type: 'number', default: DEFAULT_SAMPLER.temperature, describe: '0 = greedy' })
        .option('top-k', { type: 'number', default: DEFAULT_SAMPLER.topK, describe: 'sample among the k most likely tokens (0 = all)' })
        .option('top-p', { type: 'number', default: DEFAULT_SAMPLER.topP, describe: 'nucleus: the most likely tokens up to this probability (1 = all)' })
        .option('repeat-penalty', { type: 'number', default: DEFAULT_SAMPLER.repeatPenalty, describe: `penalty on the last ${DEFAULT_SAMPLER.repeatLastN} tokens (1 = off)` })
        .option('seed', { type: 'number', describe: 'sampling seed (default: random, printed at the end)' }),
    ),
  handler: (argv) => {
    const opts = engineOptions(argv);
    const seed = argv.seed ?? Math.floor(Math.random() * 2 ** 32);
    if (!(Number.isSafeInteger(seed) && seed >= 0)) throw new InputError('--seed', `must be a non-negative integer, got ${argv.seed}`);
    const checks: [string, number, boolean][] = [
      ['--temperature', argv.temperature, argv.temperature >= 0],
      ['--top-k', argv['top-k'], Number.isInteger(argv['top-k']) && argv['top-k'] >= 0],
      ['--top-p', argv['top-p'], argv['top-p'] > 0 && argv['top-p'] <= 1],
      ['--repeat-penalty', argv['repeat-penalty'], argv['repeat-penalty'] > 0],
    ];
    for (const [flag, v, ok] of checks) if (!ok || !Number.isFinite(v)) throw new InputError(flag, `${v} is out of range`);
    const e = loadEngine(argv.file, opts);
    try {
      engineNotes(e);
      const r = generate(e.model, e.tokenizer, {
        prompt: argv.prompt,
        maxTokens: argv['max-tokens'],
        seed,
        sampler: { temperature: argv.temperature, topK: argv['top-k'], topP: argv['top-p'], repeatPenalty: argv['repeat-penalty'], repeatLastN: DEFAULT_SAMPLER.repeatLastN },
        onText: (s) => process.stdout.write(s),
      });
      process.stdout.write('\n');
      const rate = (n: number, s: number) => (s > 0 ? (n / s).toFixed(1) : '-');
      process.stderr.write(
        `${r.ids.length} tokens in ${r.genSeconds.toFixed(2)} s: ${rate(r.ids.length, r.genSeconds)} tokens/s ` +
          `(prompt ${r.promptTokens} tokens at ${rate(r.promptTokens, r.promptSeconds)} tokens/s; stop: ${r.stop}; ` +
          `${e.kernels.name} engine, ${e.threads} thread${e.threads === 1 ? '' : 's'}; seed ${seed})\n`,
      );
    } finally {
      e.close();
    }
  },
};
