import type { CommandModule } from 'yargs';
import { ablateCommand } from './ablate.ts';
import { infoCommand } from './info.ts';
import { inspectCommand } from './inspect.ts';
import { prepareCommand } from './prepare.ts';
import { reportCommand } from './report.ts';
import { trainCommand } from './train.ts';
import { exportCommand } from './export.ts';
import { sampleCommand } from './sample.ts';
import { generateCommand } from './generate.ts';
import { evalCommand } from './eval.ts';
import { benchCommand } from './bench.ts';
import { synthCommand } from './synth.ts';

// One line per command; each module holds only argument parsing and printing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [infoCommand, prepareCommand, inspectCommand, trainCommand, exportCommand, sampleCommand, ablateCommand, reportCommand, generateCommand, evalCommand, benchCommand, synthCommand];
