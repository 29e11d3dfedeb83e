// A training step's tensor memory: `npx tsx bench/memory-train.ts [CONFIG]` (TFJS_GRADS=1: tf.variableGrads
// instead of the trainer's variableGradsFreeing). Watches the wasm backend's allocations and frees (its
// move and disposeData) and prints, per step, the bytes of tensor data held before the step, at the end
// of the forward and at the step's peak, and the wasm heap's size (its high-water mark: wasm memory
// never shrinks). tf.memory() and tf.profile count a buffer once per tensor sharing it, so they cannot.
import '../src/train/gradients.ts';
import * as tf from '@tensorflow/tfjs-core';
import { parseWith, readJsonFile } from '../src/config/parse.ts';
import { RunConfig } from '../src/config/train.ts';
import { batchAt } from '../src/data/batches.ts';
import { loadPrepared } from '../src/data/load.ts';
import { useBackend } from '../src/train/backend.ts';
import { BitNetModel } from '../src/train/model.ts';
import { initParams } from '../src/train/params.ts';
import { variableGradsFreeing } from '../src/train/backprop.ts';
const cfgFile = process.argv[2] ?? 'experiments/configs/tiny-b158.json';
const config = parseWith(RunConfig, readJsonFile(cfgFile), cfgFile);
await useBackend('auto');
const be = tf.backend() as any;
const sizes = new Map<object, number>(); let live = 0, peak = 0;
const om = be.move.bind(be), od = be.disposeData.bind(be);
be.move = (dataId: object, values: unknown, shape: number[], dtype: string, rc: number) => { om(dataId, values, shape, dtype, rc); if (dtype !== 'string') { const n = shape.reduce((a, b) => a * b, 1) * 4; sizes.set(dataId, n); live += n; peak = Math.max(peak, live); } };
be.disposeData = (dataId: object, force?: boolean) => { const r = od(dataId, force); if (!be.dataIdMap.has(dataId) && sizes.has(dataId)) { live -= sizes.get(dataId)!; sizes.delete(dataId); } return r; };
const data = loadPrepared('data/moby-dick');
const mc = config.model; const { batch_size: B, seq_len: T } = config.train;
const model = new BitNetModel(mc, initParams(mc));
const vars = [...model.vars.values()];
for (let step = 0; step < 3; step++) {
  const batch = batchAt(data.train, { seed: 1, step, batchSize: B, seqLen: T });
  const base = live; peak = live;
  let fwd = 0;
  const f = () => { const l = model.loss(batch.x, batch.y, B, T); fwd = live; return l; };
  const { value, grads } = process.env.TFJS_GRADS === '1' ? (({ value, grads }) => ({ value, grads: Object.values(grads) }))(tf.variableGrads(f, vars)) : (({ value, grads }) => ({ value, grads: [...grads.values()] }))(variableGradsFreeing(f, vars));
  value.dispose(); tf.dispose(grads);
  console.log(`step ${step}: held before ${(base / 2 ** 20).toFixed(1)} MiB, at the end of forward +${((fwd - base) / 2 ** 20).toFixed(1)}, peak +${((peak - base) / 2 ** 20).toFixed(1)} MiB; wasm heap ${(be.wasm.HEAPU8.buffer.byteLength / 2 ** 20).toFixed(0)} MiB`);
}
