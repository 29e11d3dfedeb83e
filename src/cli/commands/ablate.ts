import type { CommandModule } from 'yargs';
import os from 'node:os';
import path from 'node:path';
import { ensureStudyData, readStudyFile, resolveStudy } from '../../ablate/expand.ts';
import { runStudy } from '../../ablate/runner.ts';
import { intOption, pathPositional, stringOption } from '../flags.ts';

interface Args {
  study: string;
  workers?: number;
  only?: string[];
  out?: string;
  attempts: number;
}

export const ablateCommand: CommandModule<object, Args> = {
  command: 'ablate <study>',
  describe: 'run every arm x seed of a study (experiments/STUDY/study.json) in parallel workers; rerun to resume',
  builder: (y) =>
    y
      .positional('study', pathPositional('study', 'the study file'))
      .option('workers', intOption('workers', { min: 1, max: 256, describe: `parallel worker processes (default: the number of cores, ${os.availableParallelism()})` }))
      .option('only', { type: 'string', array: true, describe: 'run only these arms' })
      .option('out', stringOption('out', { nonEmpty: true, describe: 'runs directory (default: runs/ beside the study file)' }))
      .option('attempts', intOption('attempts', { default: 2, min: 1, max: 100, describe: 'tries per run before it is left FAILED (a hung run is stopped by its watchdog and retried from its checkpoint)' })),
  handler: async (argv) => {
    const workers = argv.workers ?? os.availableParallelism();
    const runsDir = argv.out ?? path.join(path.dirname(argv.study), 'runs');
    // Validate the file before preparing anything; then resolve against the (prepared) data.
    await ensureStudyData(readStudyFile(argv.study), (l) => console.log(l));
    const study = resolveStudy(argv.study);
    for (const note of new Set(study.runs.flatMap((r) => (r.note ? [`${r.arm}: ${r.note}`] : [])))) console.log(note);
    console.log(`study ${study.name}: ${study.arms.length} arms x ${study.study.seeds.length} seeds = ${study.runs.length} runs in ${runsDir}, ${workers} worker(s)`);
    const r = await runStudy(study, { runsDir, workers, only: argv.only, attempts: argv.attempts });
    console.log(`${r.done.length} trained, ${r.skipped.length} already complete, ${r.failed.length} failed`);
    for (const f of r.failed) console.log(`failed ${f.id}: ${f.error.split('\n')[0]}`);
    if (r.failed.length > 0) process.exitCode = 1;
  },
};
