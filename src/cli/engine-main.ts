// The engine's commands alone (./commands/engine.ts), the entry of the bundle bin/bitnet.js builds with
// esbuild and runs without tsx. It imports nothing that needs tsx's hooks.
import { engineCommandLoaders, loadCommands } from './commands/engine.ts';
import { runCli } from './run.ts';

await runCli((argv) => loadCommands(argv, engineCommandLoaders));
