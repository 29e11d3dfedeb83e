import type { Argv, CommandModule } from 'yargs';
import { intOption, choiceOption, floatOption, pathPositional, stringOption } from '../flags.ts';
import { loadEngine, type Engine, type EngineChoice, type EngineOptions } from '../../infer/engine.ts';
import { generate } from '../../infer/generate.ts';
import { WEIGHTS_MODES, type WeightsMode } from '../../infer/mapped.ts';
import { DEFAULT_SAMPLER, type SamplerParams } from '../../infer/sampler.ts';

export interface EngineArgs {
  engine?: string;
  threads?: number;
  weights?: string;
}

/** --engine and --threads, shared by generate, eval and bench. */
export function engineFlags<T>(y: Argv<T>): Argv<T & EngineArgs> {
  return y
    .option('engine', choiceOption('engine', ['auto', 'native', 'ts'] as const, { default: 'auto', describe: 'kernels: native (the addon), ts (TypeScript), auto (native when the addon is built)' }))
    .option('threads', intOption('threads', { min: 1, max: 256, describe: 'threads of the native kernels (default: the addon pool\'s)' }))
    .option('weights', choiceOption('weights', WEIGHTS_MODES, { default: 'auto', describe: 'map: run the file in place (memory-mapped, no copy); copy: into the engine\'s memory (faster kernels); auto: copy unless that takes over half the RAM' })) as Argv<T & EngineArgs>;
}

export function engineOptions(argv: EngineArgs): Pick<EngineOptions, 'engine' | 'threads' | 'weights'> {
  return { engine: (argv.engine ?? 'auto') as EngineChoice, threads: argv.threads, weights: (argv.weights ?? 'auto') as WeightsMode };
}

/** Says on stderr when the default engine fell back to TypeScript. */
export function engineNotes(e: Engine): void {
  if (e.fallback !== null) process.stderr.write(`bitnet: native kernels unavailable (${e.fallback}); using the TypeScript engine\n`);
}

export interface SamplingArgs {
  temperature: number;
  'top-k': number;
  'top-p': number;
  'repeat-penalty': number;
  seed?: number;
}

/** --temperature, --top-k, --top-p, --repeat-penalty and --seed, shared by generate and chat. */
export function samplingFlags<T>(y: Argv<T>): Argv<T & SamplingArgs> {
  return y
    .option('temperature', floatOption('temperature', { default: DEFAULT_SAMPLER.temperature, min: 0, max: 100, describe: '0 = greedy' }))
    .option('top-k', intOption('top-k', { default: DEFAULT_SAMPLER.topK, min: 0, max: 1e9, describe: 'sample among the k most likely tokens (0 = all)' }))
    .option('top-p', floatOption('top-p', { default: DEFAULT_SAMPLER.topP, min: 0, minExclusive: true, max: 1, describe: 'nucleus: the most likely tokens up to this probability (1 = all)' }))
    .option('repeat-penalty', floatOption('repeat-penalty', { default: DEFAULT_SAMPLER.repeatPenalty, min: 0, minExclusive: true, max: 100, describe: `penalty on the last ${DEFAULT_SAMPLER.repeatLastN} tokens (1 = off)` }))
    .option('seed', intOption('seed', { min: 0, max: Number.MAX_SAFE_INTEGER, describe: 'sampling seed (default: random, printed at the end)' })) as Argv<T & SamplingArgs>;
}

/** The sampler's parameters and the seed (a random one when --seed is not given). */
export function samplingOptions(argv: SamplingArgs): { sampler: SamplerParams; seed: number } {
  return {
    sampler: { temperature: argv.temperature, topK: argv['top-k'], topP: argv['top-p'], repeatPenalty: argv['repeat-penalty'], repeatLastN: DEFAULT_SAMPLER.repeatLastN },
    seed: argv.seed ?? Math.floor(Math.random() * 2 ** 32),
  };
}

/** tokens/s, or "-" for no time. */
export const rate = (n: number, s: number): string => (s > 0 ? (n / s).toFixed(1) : '-');

interface Args extends EngineArgs, SamplingArgs {
  file: string;
  prompt: string;
  'max-tokens': number;
}

export const generateCommand: CommandModule<object, Args> = {
  command: 'generate <file>',
  describe: 'continue a prompt with a GGUF model: the text to stdout as it comes, then tokens/s to stderr',
  builder: (y) =>
    engineFlags(
      samplingFlags(
        y
          .positional('file', pathPositional('file', 'the .gguf file'))
          .option('prompt', stringOption('prompt', { demand: true, describe: 'the text to continue' }))
          .option('max-tokens', intOption('max-tokens', { default: 128, min: 0, max: 1e9, describe: 'tokens to generate at most' })),
      ),
    ),
  handler: (argv) => {
    const opts = engineOptions(argv);
    const { sampler, seed } = samplingOptions(argv);
    const e = loadEngine(argv.file, opts);
    try {
      engineNotes(e);
      const r = generate(e.model, e.tokenizer, {
        prompt: argv.prompt,
        maxTokens: argv['max-tokens'],
        seed,
        sampler,
        onText: (s) => process.stdout.write(s),
      });
      process.stdout.write('\n');
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
