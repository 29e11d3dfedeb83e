/**
 * The `bitnet` command line: one yargs module per command in ./commands, no logic here beyond
 * dispatch and the error policy: an InputError (bad file, flag or config) prints one line and exits 2;
 * anything else is a bug and prints its stack. `runCli` is shared by the full CLI (./main.ts) and the
 * engine-only bundle (./engine-main.ts).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isInputError } from '../errors.ts';
import type { AnyCommand } from './commands/engine.ts';

const debug = process.argv.includes('--debug');

// `bitnet inspect x.gguf | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

function fail(e: unknown): never {
  if (isInputError(e) && !debug) {
    process.stderr.write(`bitnet: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`bitnet: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}

/** Parses the command line and runs the command it names, from `load(argv)`'s commands. */
export async function runCli(load: (argv: readonly string[]) => Promise<AnyCommand[]>): Promise<void> {
  try {
    let cli = yargs(hideBin(process.argv))
      .scriptName('bitnet')
      .usage('$0 <command> [options]')
      .option('debug', { type: 'boolean', describe: 'print stack traces for input errors too', global: true })
      .strict()
      .demandCommand(1, 'name a command (bitnet --help lists them)')
      .recommendCommands()
      .help()
      .wrap(Math.min(110, process.stdout.columns ?? 110))
      .fail((msg, err) => {
        if (err) fail(err);
        process.stderr.write(`bitnet: ${msg}\n`);
        process.exit(2);
      });
    for (const c of await load(hideBin(process.argv))) cli = cli.command(c);
    await cli.parseAsync();
  } catch (e) {
    fail(e);
  }
}
