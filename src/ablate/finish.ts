/**
 * The last step of every run: export the trained checkpoint to GGUF (TQ2_0 ternary linears, F16
 * embeddings) and evaluate that file with our engine on the whole validation split, plus a short
 * generation benchmark, so the study reports what a deployed model does beside the tfjs validation
 * loss. The result goes to <run>/engine.json; a run is complete when it has DONE and engine.json.
 * A failure here is recorded in engine.json (status "failed") and does not fail the trained run.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../config/parse.ts';
import { loadPrepared } from '../data/load.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { bench } from '../infer/bench.ts';
import { loadEngine } from '../infer/engine.ts';
import { evaluate } from '../infer/eval.ts';
import { exportCheckpoint } from '../train/export-checkpoint.ts';

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

/** Tokens of the generation benchmark (after a 16-token prompt): enough for a stable tokens/s. */
const BENCH_PROMPT = 16;
const BENCH_GEN = 64;

async function exportAndEvaluate(runDir: string, dataDir: string): Promise<EngineResult> {
  const gguf = path.join(runDir, 'model.gguf');
  await exportCheckpoint(runDir, { type: 'tq2_0', out: gguf, dataDir });
  const data = loadPrepared(dataDir);
  const e = loadEngine(gguf);
  try {
    const r = evaluate(e.model, data.val, data.valBytesPerToken);
    const b = bench(e, BENCH_PROMPT, BENCH_GEN);
    return {
      status: 'ok',
      gguf: 'model.gguf',
      bits_per_weight: b.bits_per_weight,
      loss: r.loss,
      perplexity: r.perplexity,
      bits_per_byte: r.bits_per_byte,
      tokens: r.tokens,
      tokens_per_s: b.tg_tokens_per_s,
    };
  } finally {
    e.close();
  }
}

export async function finishRun(runDir: string, opts: FinishOptions): Promise<EngineResult> {
  let result: EngineResult;
  if (!opts.engine) result = { status: 'disabled', reason: 'the study sets eval.engine to false' };
  else {
    try {
      result = await exportAndEvaluate(runDir, opts.dataDir);
    } catch (e) {
      result = { status: 'failed', reason: e instanceof Error ? e.message : String(e) };
    }
  }
  writeFileAtomic(path.join(runDir, ENGINE_FILE), JSON.stringify(result, null, 2) + '\n');
  return result;
}

export function readEngineResult(runDir: string): EngineResult | null {
  const file = path.join(runDir, ENGINE_FILE);
  return existsSync(file) ? (readJsonFile(file) as EngineResult) : null;
}
