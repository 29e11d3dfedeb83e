/**
 * The training loop, top to bottom: data → model → for each step (micro-batches, gradients, AdamW,
 * schedules) → log, validate, checkpoint. Resume is exact: batches are a pure function of
 * (data_seed, step), the schedules of (step, total), and the checkpoint holds weights, moments and
 * the step, so N steps + resume + N steps reproduces 2N straight steps.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { RunConfig } from '../config/train.ts';
import { parseWeightScale } from '../config/model.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { batchAt, evalWindows, loadPrepared } from '../data/index.ts';
import { quantizeBinary, quantizeTernary } from '../quant/weights.ts';
import { watch } from '../native/watchdog.ts';
import { useBackend, type BackendChoice } from './backend.ts';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  checkpointDir,
  dataFingerprint,
  listCheckpoints,
  loadCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  type CheckpointState,
} from './checkpoint.ts';
import { readMetrics, writeMetrics, type MetricRow } from './metrics.ts';
import { variableGradsFreeing } from './backprop.ts';
import { BitNetModel } from './model.ts';
import { nativeTrainKernels } from './native-kernels.ts';
import { appendHost, describeHost, hostSegment } from './hosts.ts';
import { adamwExport, adamwImport, adamwInit, adamwUpdate, adamwDispose } from './optimizer.ts';
import { loadWarmStart } from './init-from.ts';
import { initParams, linearNames } from './params.ts';
import { lrAt, wdAt } from './schedule.ts';
import { versions } from './versions.ts';

export interface TrainOptions {
  config: RunConfig;
  dataDir: string;
  runDir: string;
  resume: boolean;
  /** Stop after this step as if killed (a checkpoint is written there): for resume tests and staged runs. */
  stopAfter?: number;
  /** One human line per log row. */
  log?: (line: string) => void;
  /** Called after every step (progress bars). */
  onStep?: (step: number, total: number, loss: number) => void;
}

export interface TrainResult {
  backend: BackendChoice;
  step: number;
  losses: Map<number, number>;
  valLoss: number | null;
  checkpoint: string;
  rows: MetricRow[];
}

export class TrainingDiverged extends Error {
  /** `what`: the non-finite quantity that stopped the run (the loss, or the gradient norm of a finite loss). */
  constructor(step: number, value: number, lastGood: string | null, what: 'loss' | 'gradient norm' = 'loss') {
    super(`training diverged at step ${step} (${what} ${value}); ${lastGood ? `the last good checkpoint is ${lastGood}` : 'no checkpoint was written yet'}`);
    this.name = 'TrainingDiverged';
  }
}

/** Codes of every quantized linear, concatenated: for the zero-share and flip-share health metrics. */
function allCodes(model: BitNetModel, names: string[]): Int8Array | null {
  const c = model.config;
  if (c.weight_quant === 'fp') return null;
  const g = parseWeightScale(c.weight_scale);
  const parts = names.map((n) => {
    const v = model.vars.get(n)!;
    const [rows, cols] = v.shape as [number, number];
    const w = v.dataSync() as Float32Array;
    return (c.weight_quant === 'ternary' ? quantizeTernary(w, rows, cols, g) : quantizeBinary(w, rows, cols, g)).codes;
  });
  const out = new Int8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { config, runDir } = opts;
  const tc = config.train;
  const mc = config.model;
  const log = opts.log ?? (() => {});
  if (tc.seq_len > mc.context_length) throw new InputError('train.seq_len', `${tc.seq_len} exceeds model.context_length ${mc.context_length}`);

  const backend = await useBackend(tc.backend);
  if (tc.matmul_precision === 'bf16' && !nativeTrainKernels())
    throw new InputError('train.matmul_precision', `bf16 needs the native kernels on the wasm backend (backend ${backend.name}, native ${backend.nativeMatmul ? 'on' : 'off'})`);
  const fwd = { matmulPrecision: tc.matmul_precision } as const;
  const data = loadPrepared(opts.dataDir);
  if (data.tokenizer.vocabSize !== mc.vocab_size)
    throw new InputError('model.vocab_size', `${mc.vocab_size} does not match the tokenizer of ${opts.dataDir} (${data.tokenizer.vocabSize})`);
  const fingerprint = dataFingerprint(opts.dataDir);

  // Start fresh or from the latest checkpoint.
  const existing = listCheckpoints(runDir);
  let start = 0;
  let tokensSeen = 0;
  let bestVal: number | null = null;
  let values = initParams(mc);
  let resumed: ReturnType<typeof loadCheckpoint> | null = null;
  if (opts.resume && existing.length > 0) {
    const dir = checkpointDir(runDir, existing[existing.length - 1]!);
    resumed = loadCheckpoint(dir);
    const st = resumed.state;
    if (JSON.stringify(st.config.model) !== JSON.stringify(mc))
      throw new InputError(dir, 'checkpoint model config does not match the given config (resume with the run\'s own config.json)');
    if (st.data.fingerprint !== fingerprint) throw new InputError(dir, `checkpoint was trained on different data than ${opts.dataDir}`);
    values = resumed.weights;
    start = st.step;
    tokensSeen = st.tokens_seen;
    bestVal = st.best_val_loss;
  } else if (existing.length > 0) {
    throw new InputError(runDir, 'already has checkpoints: pass --resume to continue it, or choose another --out');
  }
  // A fresh run may start from another run's weights (a resumed one has its own checkpoint).
  const warm = resumed ? null : loadWarmStart(config, runDir, fingerprint);
  if (warm) {
    values = warm.weights;
    log(`warm start from ${warm.checkpoint} (step ${warm.step}, ${warm.tokensSeen} tokens; AdamW moments ${warm.moments === 'keep' ? 'kept' : 'reset'})`);
  }
  mkdirSync(runDir, { recursive: true });
  writeFileAtomic(path.join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const host = hostSegment(start, backend.name, nativeTrainKernels());
  appendHost(runDir, host);
  log(`${start > 0 ? `resumed at step ${start} on` : 'training on'} ${describeHost(host)}`);
  const metricsFile = path.join(runDir, 'metrics.arrow');
  const rows = readMetrics(metricsFile).filter((r) => r.step <= start);

  const model = new BitNetModel(mc, values);
  const variables = [...model.vars.values()];
  const params = new Map(model.specs.map((s) => [s.name, { variable: model.vars.get(s.name)!, decay: s.kind === 'linear' || s.kind === 'head' }]));
  const opt = adamwInit(params);
  if (resumed) adamwImport(opt, resumed.state.adam_t, resumed.moments);
  else if (warm?.adam) adamwImport(opt, warm.adam.t, warm.adam.moments);
  const shapes = new Map(model.specs.map((s) => [s.name, s.shape]));
  const linears = linearNames(mc);
  let prevCodes = allCodes(model, linears);

  const B = tc.batch_size;
  const T = tc.seq_len;
  const total = tc.steps;
  const stopAt = Math.min(total, opts.stopAfter ?? total);
  const evalSet = evalWindows(data.val, { batches: tc.eval_batches, batchSize: B, seqLen: T });
  const bytesPerToken = data.valBytesPerToken;
  const losses = new Map<number, number>();
  let lastCkpt: string | null = existing.length > 0 ? checkpointDir(runDir, existing[existing.length - 1]!) : null;
  let lastVal: number | null = null;
  let windowTokens = 0;
  let windowStart = performance.now();
  const wallStart = performance.now() - (rows.at(-1)?.wall_s ?? 0) * 1000;

  const validate = (): number => {
    let sum = 0;
    // One tidy per batch: a tidy around the loop would hold every batch's activations at once.
    for (const w of evalSet) sum += tf.tidy(() => model.loss(w.x, w.y, B, T, fwd).dataSync()[0]!);
    return sum / evalSet.length;
  };

  const checkpoint = async (step: number, valLoss: number | null) => {
    const state: CheckpointState = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      config,
      step,
      tokens_seen: tokensSeen,
      adam_t: opt.t,
      data_cursor: { data_seed: tc.data_seed, next_step: step },
      data: { dir: opts.dataDir, fingerprint },
      val_loss: valLoss,
      best_val_loss: bestVal,
      versions: versions(backend.name),
    };
    const { moments } = adamwExport(opt);
    lastCkpt = await saveCheckpoint(runDir, { state, weights: model.values(), moments }, shapes);
    pruneCheckpoints(runDir, tc.keep_last);
  };

  const watchdog = watch(`training step ${start + 1} of ${total}`);
  try {
    for (let step = start; step < stopAt; step++) {
      watchdog.beat(`training step ${step + 1} of ${total}`);
      // Gradients summed over micro-batches, then averaged.
      let lossSum = 0;
      let grads = new Map<string, tf.Tensor>();
      for (let micro = 0; micro < tc.grad_accum; micro++) {
        const batch = batchAt(data.train, { seed: tc.data_seed, step: step * tc.grad_accum + micro, batchSize: B, seqLen: T });
        const { value, grads: g } = variableGradsFreeing(() => model.loss(batch.x, batch.y, B, T, fwd), variables);
        lossSum += value.dataSync()[0]!;
        value.dispose();
        const next = new Map<string, tf.Tensor>();
        for (const [k, t] of g) {
          const name = model.nameOf(k);
          const prev = grads.get(name);
          next.set(name, prev ? tf.tidy(() => tf.add(prev, t)) : t);
          if (prev) {
            prev.dispose();
            t.dispose();
          }
        }
        grads = next;
      }
      if (tc.grad_accum > 1) for (const [k, t] of grads) { grads.set(k, tf.tidy(() => tf.div(t, tc.grad_accum))); t.dispose(); }
      const loss = lossSum / tc.grad_accum;
      if (!Number.isFinite(loss)) {
        tf.dispose([...grads.values()]);
        throw new TrainingDiverged(step + 1, loss, lastCkpt);
      }
      const lr = lrAt(tc.lr, step, total);
      const wd = wdAt(tc.weight_decay, step, total);
      const gradNorm = adamwUpdate(opt, grads, { beta1: tc.beta1, beta2: tc.beta2, eps: tc.adam_eps, lr, weightDecay: wd, clip: tc.grad_clip });
      tf.dispose([...grads.values()]);
      // a non-finite gradient is not applied (adamwUpdate skips it): the weights stay those of the last step
      if (!Number.isFinite(gradNorm)) throw new TrainingDiverged(step + 1, gradNorm, lastCkpt, 'gradient norm');
      const done = step + 1;
      tokensSeen += B * T * tc.grad_accum;
      windowTokens += B * T * tc.grad_accum;
      losses.set(done, loss);
      opts.onStep?.(done, total, loss);

      const isLast = done === stopAt;
      const evalNow = done % tc.eval_every === 0 || done === total;
      const logNow = done % tc.log_every === 0 || isLast || evalNow;
      let valLoss: number | null = null;
      if (evalNow) {
        watchdog.beat(`validation after step ${done} of ${total}`);
        valLoss = validate();
        lastVal = valLoss;
        if (bestVal === null || valLoss < bestVal) bestVal = valLoss;
      }
      if (logNow) {
        const now = performance.now();
        const tps = windowTokens / ((now - windowStart) / 1000);
        const codes = allCodes(model, linears);
        let zeroFrac = NaN;
        let flipFrac = NaN;
        if (codes) {
          let z = 0;
          let f = 0;
          for (let i = 0; i < codes.length; i++) {
            if (codes[i] === 0) z++;
            if (prevCodes && codes[i] !== prevCodes[i]) f++;
          }
          zeroFrac = mc.weight_quant === 'ternary' ? z / codes.length : 0;
          flipFrac = f / codes.length;
          prevCodes = codes;
        }
        const row: MetricRow = {
          step: done,
          tokens: tokensSeen,
          loss,
          val_loss: valLoss ?? NaN,
          val_bpb: valLoss === null ? NaN : valLoss / Math.LN2 / bytesPerToken,
          lr,
          weight_decay: wd,
          grad_norm: gradNorm,
          tokens_per_s: tps,
          wall_s: (now - wallStart) / 1000,
          zero_frac: zeroFrac,
          flip_frac: flipFrac,
        };
        rows.push(row);
        writeMetrics(metricsFile, rows);
        log(
          `step ${done}/${total}  loss ${loss.toFixed(4)}` +
            (valLoss !== null ? `  val ${valLoss.toFixed(4)} (${row.val_bpb.toFixed(3)} bpb)` : '') +
            `  lr ${lr.toExponential(2)}  gnorm ${gradNorm.toFixed(3)}  ${tps.toFixed(0)} tok/s` +
            (codes ? `  zeros ${(zeroFrac * 100).toFixed(1)}%  flips ${(flipFrac * 100).toFixed(2)}%` : ''),
        );
        windowTokens = 0;
        windowStart = performance.now();
      }
      if (done % tc.ckpt_every === 0 || isLast) {
        watchdog.beat(`checkpoint of step ${done} of ${total}`);
        await checkpoint(done, valLoss);
      }
    }
    if (stopAt === total) writeFileSync(path.join(runDir, 'DONE'), `${total}\n`);
    return { backend, step: stopAt, losses, valLoss: lastVal, checkpoint: lastCkpt!, rows };
  } finally {
    watchdog.stop();
    adamwDispose(opt);
    model.dispose();
  }
}

/** True when a run finished (its DONE marker exists): sweeps skip it. */
export function isDone(runDir: string): boolean {
  return existsSync(path.join(runDir, 'DONE'));
}
