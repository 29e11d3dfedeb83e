import type { CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandModule<any, any>;
export type Loaders = Record<string, () => Promise<AnyCommand>>;

/**
 * The commands that run the inference engine and nothing of training (no tfjs, arrow or vega): each
 * loads only its own modules, so the engine's peak RSS stays within file + KV cache + 64 MB.
 */
export const engineCommandLoaders: Loaders = {
  inspect: async () => (await import('./inspect.ts')).inspectCommand,
  generate: async () => (await import('./generate.ts')).generateCommand,
  chat: async () => (await import('./chat.ts')).chatCommand,
  eval: async () => (await import('./eval.ts')).evalCommand,
  bench: async () => (await import('./bench.ts')).benchCommand,
  synth: async () => (await import('./synth.ts')).synthCommand,
};

/**
 * The command named on the command line (its --help too: yargs renders a command's help from that
 * command alone), or all of `loaders` (for a bare --help, a typo, or no command); none for a bare
 * --version, which would otherwise load every command's modules (tfjs and all: ~130 MB, seconds).
 */
export async function loadCommands(argv: readonly string[], loaders: Loaders): Promise<AnyCommand[]> {
  const name = argv.find((a) => !a.startsWith('-'));
  if (name === undefined && argv.includes('--version') && !argv.includes('--help')) return [];
  if (name !== undefined && name in loaders) return [await loaders[name]!()];
  return Promise.all(Object.values(loaders).map((load) => load()));
}
