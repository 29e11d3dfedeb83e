/**
 * Which command modules a command line loads (src/cli/commands/engine.ts loadCommands): only the named
 * command's, so the engine's commands never load tfjs and `bitnet bench --help` does not load training
 * (5.4 s and 196 MB when it loaded every command; 0.6 s now); all of them for --help without a command
 * or an unknown name (yargs lists or suggests them); none for a bare --version.
 */
import { expect } from 'chai';
import { loadCommands, type AnyCommand, type Loaders } from '../../src/cli/commands/engine.ts';

function recording(): { loaders: Loaders; loaded: string[] } {
  const loaded: string[] = [];
  const loaders: Loaders = Object.fromEntries(
    ['train', 'bench', 'generate'].map((name) => [name, async (): Promise<AnyCommand> => (loaded.push(name), { command: name, describe: name, handler: () => {} })]),
  );
  return { loaders, loaded };
}

describe('cli/loadCommands: what a command line loads', () => {
  for (const [argv, want] of [
    [['bench', 'm.gguf', '--threads', '2'], ['bench']],
    [['--debug', 'generate', 'm.gguf'], ['generate']],
    [['--version'], []],
    [['--help'], ['train', 'bench', 'generate']],
    [['bench', '--help'], ['bench']],
    [['--help', 'train'], ['train']],
    [['--version', '--help'], ['train', 'bench', 'generate']],
    [['bnech'], ['train', 'bench', 'generate']],
    [[], ['train', 'bench', 'generate']],
  ] as const) {
    it(`${argv.join(' ') || '(nothing)'}: ${want.join(', ') || 'none'}`, async () => {
      const { loaders, loaded } = recording();
      const commands = await loadCommands(argv, loaders);
      expect(loaded).to.deep.equal(want);
      expect(commands.map((c) => c.command)).to.deep.equal(want);
    });
  }
});
