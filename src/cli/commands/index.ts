import type { CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = CommandModule<any, any>;

/**
 * Every command, by name, loaded on demand: a command imports only what it needs (the engine's
 * commands never load tfjs, vega or arrow), which keeps start-up time and peak RSS down.
 * Each module holds only argument parsing and printing.
 */
export const commandLoaders: Record<string, () => Promise<AnyCommand>> = {
  info: async () => (await import('./info.ts')).infoCommand,
  prepare: async () => (await import('./prepare.ts')).prepareCommand,
  train: async () => (await import('./train.ts')).trainCommand,
  sample: async () => (await import('./sample.ts')).sampleCommand,
  export: async () => (await import('./export.ts')).exportCommand,
  inspect: async () => (await import('./inspect.ts')).inspectCommand,
  generate: async () => (await import('./generate.ts')).generateCommand,
  eval: async () => (await import('./eval.ts')).evalCommand,
  bench: async () => (await import('./bench.ts')).benchCommand,
  synth: async () => (await import('./synth.ts')).synthCommand,
  ablate: async () => (await import('./ablate.ts')).ablateCommand,
  report: async () => (await import('./report.ts')).reportCommand,
};

/** The command named on the command line, or all of them (for --help, a typo, or no command). */
export async function loadCommands(argv: readonly string[]): Promise<AnyCommand[]> {
  const name = argv.find((a) => !a.startsWith('-'));
  if (name !== undefined && name in commandLoaders && !argv.includes('--help')) return [await commandLoaders[name]!()];
  return Promise.all(Object.values(commandLoaders).map((load) => load()));
}
