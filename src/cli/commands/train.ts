import type { CommandModule } from 'yargs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { applyOverrides, parseWith, readJsonFile } from '../../config/parse.ts';
import { RunConfig } from '../../config/train.ts';
import { train, TrainingDiverged } from '../../train/trainer.ts';
import { loadPrepared } from '../../data/load.ts';
import { peakRssMB } from '../../rss.ts';
import { choiceOption, intOption, stringOption } from '../flags.ts';

interface Args {
  config?: string;
  data?: string;
  out?: string;
  steps?: number;
  set?: string[];
  resume?: boolean;
  backend?: string;
  'stop-after'?: number;
  'init-from'?: string;
}

/** Reads the config file (or the run's own config.json on --resume), applies --set and the flags, validates. */
export function resolveRunConfig(argv: Args): { config: RunConfig; source: string } {
  let raw: unknown = {};
  let source = '(defaults)';
  if (argv.config) {
    raw = readJsonFile(argv.config);
    source = argv.config;
  } else if (argv.resume && argv.out) {
    source = path.join(argv.out, 'config.json');
    raw = readJsonFile(source);
  }
  const sets = [...(argv.set ?? [])];
  if (argv.steps !== undefined) sets.push(`train.steps=${argv.steps}`);
  if (argv.backend !== undefined) sets.push(`train.backend=${argv.backend}`);
  if (argv.data !== undefined) sets.push(`data=${JSON.stringify(argv.data)}`);
  if (argv['init-from'] !== undefined) sets.push(`train.init_from.run=${JSON.stringify(argv['init-from'])}`);
  raw = applyOverrides(raw, sets);
  // The vocabulary comes from the prepared data unless the config pins it.
  const r = raw as { model?: { vocab_size?: number }; data?: string };
  const dataDir = r.data ?? 'data/moby-dick';
  if (r.model?.vocab_size === undefined) {
    const vocab = loadPrepared(dataDir).tokenizer.vocabSize;
    raw = applyOverrides(raw, [`model.vocab_size=${vocab}`]);
  }
  const config = parseWith(RunConfig, raw, source);
  return { config: { ...config, data: dataDir }, source };
}

export const trainCommand: CommandModule<object, Args> = {
  command: 'train',
  describe: 'train a BitNet model (tfjs, fake-quant with straight-through estimators)',
  builder: (y) =>
    y
      .option('config', stringOption('config', { nonEmpty: true, describe: 'run config JSON (experiments/configs/*.json)' }))
      .option('data', stringOption('data', { nonEmpty: true, describe: 'prepared data directory (default: the config\'s, else data/moby-dick)' }))
      .option('out', stringOption('out', { nonEmpty: true, describe: 'run directory (default: runs/<config name>)' }))
      .option('steps', intOption('steps', { min: 1, max: 1e9, describe: 'override train.steps' }))
      .option('set', { type: 'string', array: true, describe: 'override a config key: --set model.d_model=512' })
      .option('resume', { type: 'boolean', describe: 'continue the run in --out from its last checkpoint' })
      .option('backend', choiceOption('backend', ['auto', 'tensorflow', 'wasm', 'cpu'] as const, { describe: 'tfjs backend' }))
      .option('stop-after', intOption('stop-after', { min: 1, max: 1e9, describe: 'stop after this step as if interrupted (checkpointed); --resume continues' }))
      .option('init-from', stringOption('init-from', { nonEmpty: true, describe: 'start from this run\'s (or checkpoint\'s) weights; the quantization may differ. AdamW moments: --set train.init_from.moments=keep|reset (default reset)' })),
  handler: async (argv) => {
    const out = argv.out ?? path.join('runs', argv.config ? path.basename(argv.config, '.json') : 'default');
    const { config } = resolveRunConfig({ ...argv, out });
    const useBar = process.stderr.isTTY;
    const bar = useBar
      ? new cliProgress.SingleBar({ format: 'train [{bar}] {value}/{total} steps  loss {loss}  eta {eta_formatted}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : null;
    let started = false;
    let lastStep = 0;
    let lastLoss = 0;
    try {
      const r = await train({
        config,
        dataDir: config.data!,
        runDir: out,
        resume: argv.resume ?? false,
        stopAfter: argv['stop-after'],
        log: (line) => {
          if (bar) bar.stop();
          console.log(line);
          if (bar && started) bar.start(config.train.steps, lastStep, { loss: lastLoss.toFixed(3) });
        },
        onStep: (step, total, loss) => {
          lastStep = step;
          lastLoss = loss;
          if (!bar) return;
          if (!started) {
            bar.start(total, step, { loss: loss.toFixed(3) });
            started = true;
          } else bar.update(step, { loss: loss.toFixed(3) });
        },
      });
      bar?.stop();
      const rssMb = peakRssMB();
      console.log(
        `backend ${r.backend.name}${r.backend.nativeMatmul ? ' + native matmul' : ''}; peak RSS ${rssMb.toFixed(0)} MB; ` +
          `checkpoint ${r.checkpoint}; metrics ${path.join(out, 'metrics.arrow')}`,
      );
    } catch (e) {
      bar?.stop();
      if (e instanceof TrainingDiverged) {
        // Not the user's input, but not a bug either: one line, and a distinct exit code.
        process.stderr.write(`bitnet: ${e.message}\n`);
        process.exit(3);
      }
      throw e;
    }
  },
};
