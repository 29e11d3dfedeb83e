/**
 * The `bitnet` command line: one yargs module per command in ./commands, no logic here beyond
 * dispatch and the error policy: an InputError (bad file, flag or config) prints one line and exits 2;
 * anything else is a bug and prints its stack. `runCli` runs ./main.ts's commands, from src/ through
 * tsx or bundled into dist/cli.mjs.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isInputError } from '../errors.ts';
import { ownVersion } from '../train/versions.ts';
import type { AnyCommand } from './commands/engine.ts';

const debug = process.argv.includes('--debug');

// `bitnet inspect x.gguf | head` closes stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

/** One line, whatever yargs or a message put in it. */
const oneLine = (s: string) => s.trim().replace(/\s*\n\s*/g, '; ');

const FS_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'already exists (and is not what was expected there)',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  ENAMETOOLONG: 'name too long',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
};

/** A file-system error on a path the user named (an output directory under a file, say): one line. */
function fsProblem(e: unknown): string | null {
  const x = e as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof x.code !== 'string' || typeof x.path !== 'string' || !(x.code in FS_PROBLEMS)) return null;
  return `${x.path}: ${FS_PROBLEMS[x.code]}${x.syscall ? ` (${x.syscall})` : ''}`;
}

function fail(e: unknown): never {
  const fs = debug ? null : fsProblem(e);
  if (fs !== null) {
    process.stderr.write(`bitnet: ${fs}\n`);
    process.exit(2);
  }
  // A YError is yargs' own: an unknown flag, a missing argument, or an InputError thrown by a flag's
  // coerce check (src/cli/flags.ts), which yargs rewraps with the same message.
  if ((isInputError(e) || (e instanceof Error && e.name === 'YError')) && !debug) {
    process.stderr.write(`bitnet: ${oneLine(e.message)}\n`);
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
      // package.json at the package root: yargs' own search starts at the entry file's node_modules
      // parent, which the bundle (dist/cli.mjs, yargs inlined) does not have, and falls back to the cwd
      .version(ownVersion())
      .option('debug', { type: 'boolean', describe: 'print stack traces for input errors too', global: true })
      .strict()
      .demandCommand(1, 'name a command (bitnet --help lists them)')
      .recommendCommands()
      .help()
      .wrap(Math.min(110, process.stdout.columns ?? 110))
      .fail((msg, err) => {
        if (err) fail(err);
        process.stderr.write(`bitnet: ${oneLine(msg)}\n`);
        process.exit(2);
      });
    for (const c of await load(hideBin(process.argv))) cli = cli.command(c);
    await cli.parseAsync();
  } catch (e) {
    fail(e);
  }
}
