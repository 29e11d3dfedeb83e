import { engineCommandLoaders, type Loaders, loadCommands } from './engine.ts';

/**
 * Every command, by name, loaded on demand: a command imports only what it needs (the engine's
 * commands never load tfjs, vega or arrow), which keeps start-up time and peak RSS down.
 * Each module holds only argument parsing and printing.
 */
export const commandLoaders: Loaders = {
  info: async () => (await import('./info.ts')).infoCommand,
  prepare: async () => (await import('./prepare.ts')).prepareCommand,
  train: async () => (await import('./train.ts')).trainCommand,
  sample: async () => (await import('./sample.ts')).sampleCommand,
  export: async () => (await import('./export.ts')).exportCommand,
  quantize: async () => (await import('./quantize.ts')).quantizeCommand,
  ...engineCommandLoaders,
  ablate: async () => (await import('./ablate.ts')).ablateCommand,
  report: async () => (await import('./report.ts')).reportCommand,
  worker: async () => (await import('./worker.ts')).workerCommand,
};

export { loadCommands };
