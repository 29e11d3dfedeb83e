/**
 * The last step of every run: export the trained checkpoint to GGUF and evaluate that file with the
 * engine, so the study reports what a deployed model does beside the tfjs validation loss. The result
 * goes to <run>/engine.json; a run is complete when it has DONE and engine.json.
 *
 * The GGUF export and the engine's eval are not in this build yet, so the step records that instead of
 * numbers: the report leaves the engine columns empty rather than showing made-up values.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../config/parse.ts';
import { writeFileAtomic } from '../format/atomic.ts';

export const ENGINE_FILE = 'engine.json';

export interface EngineResult {
  /** ok: measured; disabled: the study set eval.engine false; unavailable: this build cannot export or run it; failed: it threw. */
  status: 'ok' | 'disabled' | 'unavailable' | 'failed';
  reason?: string;
  gguf?: string;
  /** Bits per weight of the quantized linears in the GGUF. */
  bits_per_weight?: number;
  loss?: number;
  perplexity?: number;
  bits_per_byte?: number;
  tokens?: number;
  /** Engine generation speed. */
  tokens_per_s?: number;
}

export interface FinishOptions {
  engine: boolean;
  dataDir: string;
}

export async function finishRun(runDir: string, opts: FinishOptions): Promise<EngineResult> {
  const result: EngineResult = opts.engine
    ? { status: 'unavailable', reason: 'GGUF export (src/format/export.ts) and engine eval (src/infer/eval.ts) are not in this build yet' }
    : { status: 'disabled', reason: 'the study sets eval.engine to false' };
  writeFileAtomic(path.join(runDir, ENGINE_FILE), JSON.stringify(result, null, 2) + '\n');
  return result;
}

export function readEngineResult(runDir: string): EngineResult | null {
  const file = path.join(runDir, ENGINE_FILE);
  return existsSync(file) ? (readJsonFile(file) as EngineResult) : null;
}
