// Where a training step's time goes: `npx tsx bench/profile-train.ts [CONFIG] [steps]`.
// Runs forward + backward (the trainer's variableGradsFreeing; TFJS_GRADS=1: tf.variableGrads) of the model on real batches under tf.profile and sums
// kernelTimeMs by kernel name (the native matmul registered into wasm shows as BatchMatMul); the
// optimizer step is timed apart. Prints ms per step by kernel, share, and the step's wall time.
import '../src/train/gradients.ts';
import * as tf from '@tensorflow/tfjs-core';
import { performance } from 'node:perf_hooks';
import { parseWith, readJsonFile } from '../src/config/parse.ts';
import { RunConfig } from '../src/config/train.ts';
import { batchAt } from '../src/data/batches.ts';
import { loadPrepared } from '../src/data/load.ts';
import { useBackend } from '../src/train/backend.ts';
import { variableGradsFreeing } from '../src/train/backprop.ts';
import { BitNetModel } from '../src/train/model.ts';
import { adamwInit, adamwUpdate } from '../src/train/optimizer.ts';
import { initParams } from '../src/train/params.ts';

const [cfgArg, stepsArg] = process.argv.slice(2);
const cfgFile = cfgArg ?? 'experiments/configs/tiny-b158.json';
const config = parseWith(RunConfig, readJsonFile(cfgFile), cfgFile);
const steps = Number(stepsArg ?? 3);
const backend = await useBackend('auto');
const data = loadPrepared('data/moby-dick');
const mc = config.model;
const { batch_size: B, seq_len: T } = config.train;
const model = new BitNetModel(mc, initParams(mc));
const params = new Map(model.specs.map((s) => [s.name, { variable: model.vars.get(s.name)!, decay: s.kind === 'linear' }]));
const opt = adamwInit(params);
const byKernel = new Map<string, { ms: number; calls: number }>();
let wall = 0;
let optMs = 0;
let peakBytes = 0;
for (let step = 0; step <= steps; step++) {
  const batch = batchAt(data.train, { seed: 1, step, batchSize: B, seqLen: T });
  const t0 = performance.now();
  let grads: Map<string, tf.Tensor> = new Map();
  const info = await tf.profile(() => {
    const lossFn = () => model.loss(batch.x, batch.y, B, T);
    const { value, grads: g } = process.env.TFJS_GRADS === '1' ? (({ value, grads }) => ({ value, grads: new Map(Object.entries(grads)) }))(tf.variableGrads(lossFn)) : variableGradsFreeing(lossFn, [...model.vars.values()]);
    value.dataSync();
    value.dispose();
    grads = new Map([...g].map(([k, t]) => [model.nameOf(k), t]));
  });
  const t1 = performance.now();
  adamwUpdate(opt, grads, { beta1: 0.9, beta2: 0.95, eps: 1e-8, lr: 1e-3, weightDecay: 0.1, clip: 1 });
  tf.dispose([...grads.values()]);
  const t2 = performance.now();
  if (step === 0) continue; // warm-up
  peakBytes = Math.max(peakBytes, info.peakBytes);
  wall += t2 - t0;
  optMs += t2 - t1;
  if (process.env.SHOW && step === 1) for (const k of info.kernels) if (k.name === process.env.SHOW) console.log(k.name, JSON.stringify(k.inputShapes), '->', JSON.stringify(k.outputShapes), typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs.toFixed(2) : '');
  for (const k of info.kernels) {
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    e.calls++;
    byKernel.set(k.name, e);
  }
}
const per = (x: number) => x / steps;
console.log(`${cfgFile} on ${backend.name}: ${per(wall).toFixed(1)} ms/step (${((B * T) / (per(wall) / 1000)).toFixed(0)} tokens/s under tf.profile), optimizer ${per(optMs).toFixed(1)} ms`);
const total = [...byKernel.values()].reduce((a, e) => a + e.ms, 0);
for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25))
  console.log(`  ${name.padEnd(24)} ${per(e.ms).toFixed(2).padStart(8)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${(e.calls / steps).toFixed(0).padStart(5)} calls`);
console.log(`  tensor memory at the step's peak: ${(peakBytes / 2 ** 20).toFixed(1)} MiB (tf.profile peakBytes: what the step holds at once, the wasm heap's high-water mark follows it)`);
console.log(`  kernels total ${per(total).toFixed(1)} ms; the rest of forward+backward (autograd bookkeeping, JS) ${(per(wall - optMs) - per(total)).toFixed(1)} ms`);
