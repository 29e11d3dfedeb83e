/**
 * `bitnet quantize`: a trained full-precision run quantized after training (src/quant/ptq.ts) and
 * evaluated on the same validation windows its training used (its config's eval batches, batch size and
 * sequence length over its data's validation split), so the loss compares directly with the run's own
 * final validation loss and with QAT runs of the same study. Activations stay as the run trained them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { evalWindows, loadPrepared } from '../data/index.ts';
import { InputError } from '../errors.ts';
import { ptqBitsPerWeight, ptqDequantize, ptqName, type PtqScheme } from '../quant/ptq.ts';
import { useBackend } from './backend.ts';
import { loadCheckpoint, resolveCheckpoint } from './checkpoint.ts';
import { BitNetModel } from './model.ts';
import { paramSpecs } from './params.ts';

export interface PtqResult {
  checkpoint: string;
  scheme: string;
  /** Stored bits per weight of the quantized linears (codes + fp16 scales), weighted by their sizes. */
  bits_per_weight: number;
  val_loss: number;
  val_bpb: number;
  /** The same windows without quantization (the run's own final validation loss, recomputed). */
  fp_val_loss: number;
  eval_tokens: number;
}

export async function evaluatePtq(run: string, scheme: PtqScheme): Promise<PtqResult> {
  const dir = resolveCheckpoint(run);
  const { state, weights } = loadCheckpoint(dir, { moments: false });
  const c = state.config;
  if (c.model.weight_quant !== 'fp') throw new InputError(run, `was trained with ${c.model.weight_quant} weights: post-training quantization starts from an fp run`);
  await useBackend(c.train.backend);
  const data = loadPrepared(state.data.dir);
  const B = c.train.batch_size;
  const T = c.train.seq_len;
  const windows = evalWindows(data.val, { batches: c.train.eval_batches, batchSize: B, seqLen: T });
  const loss = (values: Map<string, Float32Array>) => {
    const model = new BitNetModel(c.model, values);
    try {
      let sum = 0;
      for (const w of windows) sum += tf.tidy(() => model.loss(w.x, w.y, B, T).dataSync()[0]!);
      return sum / windows.length;
    } finally {
      model.dispose();
    }
  };
  const quantized = new Map(weights);
  let bits = 0;
  let count = 0;
  for (const s of paramSpecs(c.model)) {
    if (s.kind !== 'linear') continue;
    const [rows, cols] = s.shape as [number, number];
    quantized.set(s.name, ptqDequantize(weights.get(s.name)!, rows, cols, scheme));
    bits += ptqBitsPerWeight(scheme, rows, cols) * rows * cols;
    count += rows * cols;
  }
  const valLoss = loss(quantized);
  return {
    checkpoint: dir,
    scheme: ptqName(scheme),
    bits_per_weight: bits / count,
    val_loss: valLoss,
    val_bpb: valLoss / Math.LN2 / data.valBytesPerToken,
    fp_val_loss: loss(weights),
    eval_tokens: windows.length * B * T,
  };
}
