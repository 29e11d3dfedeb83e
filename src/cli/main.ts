// The full `bitnet` command line (every command): bin/bitnet.js runs it bundled into dist/cli.mjs,
// or through tsx as the fallback.
import { commandLoaders, loadCommands } from './commands/index.ts';
import { runCli } from './run.ts';

await runCli((argv) => loadCommands(argv, commandLoaders));
