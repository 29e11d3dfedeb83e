import type { CommandModule } from 'yargs';
import os from 'node:os';
import path from 'node:path';
import { armNamesBeforeData, ensureStudyData, findRunsDir, readStudyFile, resolveStudy } from '../../ablate/expand.ts';
import { checkSubset, runStudy } from '../../ablate/runner.ts';
import { InputError, isInputError } from '../../errors.ts';
import type { ResolvedStudy } from '../../ablate/expand.ts';
import { intListOption, intOption, pathPositional, stringOption } from '../flags.ts';

/** --queue: enqueue (or report on) the study's runs; with --wait, follow them to the end. */
async function queued(argv: Args, study: ResolvedStudy, runsDir: string): Promise<void> {
  const { parseQueueUrl } = await import('../../ablate/queue/connection.ts');
  const { checkConnection, enqueueStudy, openQueue, studyStatus } = await import('../../ablate/queue/jobs.ts');
  const addr = parseQueueUrl(argv.queue!);
  const q = openQueue(addr);
  try {
    await checkConnection(q, addr);
    const print = (rows: { id: string; state: string; detail: string }[]) => {
      const w = Math.max(...rows.map((r) => r.id.length));
      for (const r of rows) console.log(`${r.id.padEnd(w)}  ${r.state.padEnd(13)}  ${r.detail}`);
    };
    if (argv.status) {
      print(await studyStatus(q, study, runsDir));
      return;
    }
    const r = await enqueueStudy(q, study, runsDir, argv.attempts);
    console.log(`study ${study.name} on ${addr.display}: ${r.added.length} enqueued, ${r.retried.length} failed ones retried, ${r.queued.length} already queued, ${r.complete.length} complete`);
    if (!argv.wait) return;
    for (;;) {
      const rows = await studyStatus(q, study, runsDir);
      const open = rows.filter((x) => x.state !== 'done' && x.state !== 'failed');
      if (open.length === 0) {
        print(rows);
        const failed = rows.filter((x) => x.state === 'failed').length;
        console.log(`${rows.length - failed} done, ${failed} failed`);
        if (failed > 0) process.exitCode = 1;
        return;
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
  } finally {
    await q.close();
  }
}

/** A study or runs directory given to `flag`; one that holds no study is an error naming the flag. */
function findRunsDirOf(flag: string, dir: string): string {
  try {
    return findRunsDir(dir);
  } catch (e) {
    throw isInputError(e) ? new InputError(flag, e.message) : e;
  }
}

interface Args {
  study: string;
  workers?: number;
  only?: string[];
  seeds?: number[];
  out?: string;
  attempts: number;
  queue?: string;
  reuse?: string[];
  'reuse-unrecorded'?: boolean;
  status?: boolean;
  wait?: boolean;
}

export const ablateCommand: CommandModule<object, Args> = {
  command: 'ablate <study>',
  describe: 'run every arm x seed of a study (experiments/STUDY/study.json) in parallel workers; rerun to resume',
  builder: (y) =>
    y
      .positional('study', pathPositional('study', 'the study file'))
      .option('workers', intOption('workers', { min: 1, max: 256, describe: `parallel worker processes (default: the number of cores, ${os.availableParallelism()})` }))
      .option('only', { type: 'string', array: true, describe: 'run only these arms' })
      .option('seeds', intListOption('seeds', { describe: 'run only these seeds (e.g. --seeds 3 4)' }))
      .option('out', stringOption('out', { nonEmpty: true, describe: 'runs directory (default: runs/ beside the study file)' }))
      .option('attempts', intOption('attempts', { default: 2, min: 1, max: 100, describe: 'tries per run before it is left FAILED (a hung run is stopped by its watchdog and retried from its checkpoint)' }))
      .option('reuse', { type: 'string', array: true, describe: 'study or runs directories of other studies: a complete run there that computed exactly one of this study\'s runs (same config, data, tokens and ISA) is copied instead of trained again' })
      .option('reuse-unrecorded', { type: 'boolean', describe: 'with --reuse: also runs trained before runs kept hosts.json, whose instruction set is unknown (the report marks them)' })
      .option('queue', stringOption('queue', { nonEmpty: true, describe: 'redis://[user:password@]host:port[/db]: enqueue the runs for `bitnet worker` processes on any machine instead of running them here' }))
      .option('status', { type: 'boolean', describe: 'with --queue: where every run stands (queued, running where and at which step, done, failed and why)' })
      .option('wait', { type: 'boolean', describe: 'with --queue: wait until every run is done or failed' }),
  handler: async (argv) => {
    const workers = argv.workers ?? os.availableParallelism();
    const runsDir = argv.out ?? path.join(path.dirname(argv.study), 'runs');
    // Validate the file and the flags before preparing anything (a corpus takes a minute); then
    // resolve against the (prepared) data.
    const file = readStudyFile(argv.study);
    if (argv.queue !== undefined) {
      // the queue takes every incomplete run: a subset would be silently ignored
      if (argv.reuse) throw new InputError('--reuse', 'not with --queue (copy the runs with a local `bitnet ablate --reuse` first)');
      if (argv.only || argv.seeds) throw new InputError(argv.only ? '--only' : '--seeds', 'not with --queue (the queue takes every incomplete run of the study)');
    } else if (argv.status || argv.wait) throw new InputError(argv.status ? '--status' : '--wait', 'needs --queue (a local study prints its progress as it runs)');
    if (argv['reuse-unrecorded'] && !argv.reuse) throw new InputError('--reuse-unrecorded', 'needs --reuse');
    checkSubset(argv.study, armNamesBeforeData(file, argv.study), file.seeds, argv.only, argv.seeds);
    await ensureStudyData(file, (l) => console.log(l));
    const study = resolveStudy(argv.study);
    if (argv.queue !== undefined) return queued(argv, study, runsDir);
    for (const note of new Set(study.runs.flatMap((r) => (r.note ? [`${r.arm}: ${r.note}`] : [])))) console.log(note);
    console.log(`study ${study.name}: ${study.arms.length} arms x ${study.study.seeds.length} seeds = ${study.runs.length} runs in ${runsDir}, ${workers} worker(s)`);
    const reuse = argv.reuse?.map((d) => findRunsDirOf('--reuse', d));
    if (reuse?.some((d) => path.resolve(d) === path.resolve(runsDir))) throw new InputError('--reuse', `${runsDir} is this study's own runs directory`);
    const r = await runStudy(study, { runsDir, workers, only: argv.only, seeds: argv.seeds, attempts: argv.attempts, reuse, reuseUnrecorded: argv['reuse-unrecorded'] });
    console.log(`${r.done.length} trained, ${r.reused.length} reused, ${r.skipped.length} already complete, ${r.failed.length} failed`);
    for (const f of r.failed) console.log(`failed ${f.id}: ${f.error.split('\n')[0]}`);
    if (r.failed.length > 0) process.exitCode = 1;
  },
};
