import type { CommandModule } from 'yargs';
import { parseQueueUrl } from '../../ablate/queue/connection.ts';
import { checkConnection, openQueue } from '../../ablate/queue/jobs.ts';
import { startQueueWorker } from '../../ablate/queue/worker.ts';
import { intOption, stringOption } from '../flags.ts';

interface Args {
  queue: string;
  threads?: number;
  concurrency: number;
  'stall-timeout': number;
}

export const workerCommand: CommandModule<object, Args> = {
  command: 'worker',
  describe: 'take study runs from a BullMQ queue on Redis and train them (any machine that sees the study directory at the same path)',
  builder: (y) =>
    y
      .option('queue', stringOption('queue', { demand: true, nonEmpty: true, describe: 'redis://[user:password@]host:port[/db] (password also from BITNET_REDIS_PASSWORD)' }))
      .option('threads', intOption('threads', { min: 1, max: 256, describe: 'kernel threads per run (default: the cores shared out among --concurrency runs)' }))
      .option('concurrency', intOption('concurrency', { default: 1, min: 1, max: 64, describe: 'runs at once on this machine' }))
      .option('stall-timeout', intOption('stall-timeout', { default: 30, min: 1, max: 3600, describe: 'seconds without a heartbeat after which a dead worker\'s run goes to another worker' })),
  handler: async (argv) => {
    const addr = parseQueueUrl(argv.queue);
    // A wrong address or password is one line and exit 2, before any job is taken.
    const probe = openQueue(addr);
    try {
      await checkConnection(probe, addr);
    } finally {
      await probe.close().catch(() => {});
    }
    const worker = startQueueWorker(addr, { threads: argv.threads, concurrency: argv.concurrency, stallTimeoutS: argv['stall-timeout'] });
    process.stderr.write(`bitnet worker: ${addr.display} queue ${addr.name}, ${argv.concurrency} run(s) at once; Ctrl-C to stop\n`);
    await new Promise<void>((resolve) => {
      const stop = () => void worker.close(true).finally(resolve);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  },
};
