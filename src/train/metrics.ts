/**
 * The run's metrics: one row per logged step in runs/NAME/metrics.arrow (Arrow IPC file), rewritten
 * whole under a temporary name at every log so a kill never leaves a torn file. A resumed run keeps
 * the rows up to its checkpoint and drops the rest, so the file matches an uninterrupted run.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { makeTable, tableToIPC } from 'apache-arrow';
import { columnValues, readArrowTable } from '../format/arrow.ts';
import { InputError } from '../errors.ts';

export const METRIC_COLUMNS = [
  'step',
  'tokens',
  'loss',
  'val_loss',
  'val_bpb',
  'lr',
  'weight_decay',
  'grad_norm',
  'tokens_per_s',
  'wall_s',
  'zero_frac',
  'flip_frac',
] as const;
export type MetricRow = Record<(typeof METRIC_COLUMNS)[number], number>;

export function writeMetrics(file: string, rows: readonly MetricRow[]): void {
  const cols: Record<string, Float64Array | Int32Array> = {};
  for (const c of METRIC_COLUMNS) {
    const arr = c === 'step' ? new Int32Array(rows.length) : new Float64Array(rows.length);
    rows.forEach((r, i) => (arr[i] = r[c]));
    cols[c] = arr;
  }
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, tableToIPC(makeTable(cols), 'file'));
  renameSync(tmp, file);
}

export function readMetrics(file: string): MetricRow[] {
  if (!existsSync(file)) return [];
  const table = readArrowTable(readFileSync(file), file);
  const cols = METRIC_COLUMNS.map((c) => {
    const col = table.columns.get(c);
    if (!col) throw new InputError(file, `missing column "${c}"`);
    return c === 'step' ? columnValues(file, col, 'Int32', Int32Array) : columnValues(file, col, 'Float64', Float64Array);
  });
  const rows: MetricRow[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const r = {} as MetricRow;
    METRIC_COLUMNS.forEach((c, j) => (r[c] = cols[j]![i]!));
    rows.push(r);
  }
  return rows;
}
