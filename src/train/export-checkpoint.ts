/**
 * A training checkpoint → GGUF: reads the checkpoint (latent weights + its resolved config) and the
 * tokenizer of the data it was trained on, and hands them to the format room's exporter.
 */
import path from 'node:path';
import { parseWeightScale } from '../config/model.ts';
import { loadTokenizer } from '../data/tokenizer/index.ts';
import { GGUF_PRE } from '../data/tokenizer/bpe.ts';
import { InputError } from '../errors.ts';
import { exportGGUF, type EmbeddingType, type ExportResult, type TernaryType } from '../format/export.ts';
import { loadCheckpoint, resolveCheckpoint } from './checkpoint.ts';
import { paramSpecs } from './params.ts';

export interface ExportCheckpointOptions {
  type?: TernaryType;
  out?: string;
  embeddingType?: EmbeddingType;
  /** The prepared data directory whose tokenizer to embed (default: the one the run trained on). */
  dataDir?: string;
}

/** Exports RUN_OR_CHECKPOINT; default output: <run>/model.gguf. */
export async function exportCheckpoint(runOrCheckpoint: string, opts: ExportCheckpointOptions = {}): Promise<ExportResult & { checkpoint: string }> {
  const dir = resolveCheckpoint(runOrCheckpoint);
  const { state, weights } = loadCheckpoint(dir, { moments: false });
  const model = state.config.model;
  const dataDir = opts.dataDir ?? state.data.dir;
  const tokenizer = loadTokenizer(path.join(dataDir, 'tokenizer.json'));
  if (tokenizer.vocabSize !== model.vocab_size)
    throw new InputError(path.join(dataDir, 'tokenizer.json'), `vocabulary ${tokenizer.vocabSize} does not match the checkpoint's ${model.vocab_size}`);
  const runDir = path.dirname(path.dirname(dir));
  const tensors = paramSpecs(model).map((s) => {
    const data = weights.get(s.name);
    if (!data) throw new InputError(dir, `checkpoint has no tensor ${s.name}`);
    return { name: s.name, shape: s.shape, kind: s.kind, data };
  });
  const r = await exportGGUF(
    {
      model,
      granularity: parseWeightScale(model.weight_scale),
      tensors,
      tokenizer,
      pre: GGUF_PRE,
      provenance: { config: state.config, run: runDir, step: state.step },
      name: path.basename(runDir),
    },
    { out: opts.out ?? path.join(runDir, 'model.gguf'), type: opts.type ?? 'tq2_0', embeddingType: opts.embeddingType ?? 'f16' },
  );
  return { ...r, checkpoint: dir };
}
