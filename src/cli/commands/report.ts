import type { CommandModule } from 'yargs';
import { pathPositional, stringOption } from '../flags.ts';
import { mkdirSync } from 'node:fs';
import { writeReport } from '../../ablate/report.ts';

interface Args {
  study: string;
  out?: string;
}

export const reportCommand: CommandModule<object, Args> = {
  command: 'report <study>',
  describe: 'aggregate a study\'s runs into results.arrow, results.md (per arm mean ± std; paired comparisons with 95 % CI, Welch p, equivalence and MDE; contrasts of two paired differences) and loss.svg/png',
  builder: (y) =>
    y
      .positional('study', pathPositional('study', 'the study directory (holding runs/) or the runs directory'))
      .option('out', stringOption('out', { nonEmpty: true, describe: 'where the results go (default: the study directory)' })),
  handler: async (argv) => {
    if (argv.out) mkdirSync(argv.out, { recursive: true });
    const r = await writeReport(argv.study, argv.out);
    process.stdout.write(r.markdown.split('\n').filter((l) => l.startsWith('|')).join('\n') + '\n');
    console.log(`wrote ${r.files.join(', ')}`);
  },
};
