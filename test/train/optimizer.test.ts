import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { adamwExport, adamwImport, adamwInit, adamwUpdate, adamwDispose } from '../../src/train/optimizer.ts';

/** Scalar AdamW written out for one parameter, the reference. */
function refStep(p: number, g: number, m: number, v: number, t: number, lr: number, wd: number, b1: number, b2: number, eps: number) {
  m = b1 * m + (1 - b1) * g;
  v = b2 * v + (1 - b2) * g * g;
  const upd = m / (1 - b1 ** t) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
  return { p: p - lr * wd * p - lr * upd, m, v };
}

describe('train/optimizer (AdamW)', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('matches the scalar reference, decays only decay=true params, and clips by global norm', () => {
    const a = tf.variable(tf.tensor1d([0.5, -1.0]), true, 'opt-a');
    const b = tf.variable(tf.tensor1d([2.0]), true, 'opt-b');
    const st = adamwInit(new Map([['a', { variable: a, decay: true }], ['b', { variable: b, decay: false }]]));
    const cfg = { beta1: 0.9, beta2: 0.95, eps: 1e-8, lr: 0.01, weightDecay: 0.1, clip: 1.0 };
    const gA = [3, 4]; // global norm with gB: sqrt(9+16+0) = 5 → scaled by 1/5
    const gB = [0];
    const norm = adamwUpdate(st, new Map([['a', tf.tensor1d(gA)], ['b', tf.tensor1d(gB)]]), cfg);
    expect(norm).to.be.closeTo(5, 1e-6);
    const ra0 = refStep(0.5, 3 / 5, 0, 0, 1, 0.01, 0.1, 0.9, 0.95, 1e-8);
    const ra1 = refStep(-1.0, 4 / 5, 0, 0, 1, 0.01, 0.1, 0.9, 0.95, 1e-8);
    const rb = refStep(2.0, 0, 0, 0, 1, 0.01, 0, 0.9, 0.95, 1e-8);
    const av = a.dataSync();
    expect(av[0]).to.be.closeTo(ra0.p, 1e-6);
    expect(av[1]).to.be.closeTo(ra1.p, 1e-6);
    expect(b.dataSync()[0]).to.be.closeTo(rb.p, 1e-7);
    adamwDispose(st);
    a.dispose();
    b.dispose();
  });

  it('exports and re-imports its state so the next step is identical', () => {
    const mk = (n: string) => tf.variable(tf.tensor1d([0.3, -0.2, 0.1]), true, n);
    const p1 = mk('opt-p1');
    const s1 = adamwInit(new Map([['p', { variable: p1, decay: true }]]));
    const cfg = { beta1: 0.9, beta2: 0.95, eps: 1e-8, lr: 0.01, weightDecay: 0.1, clip: 0 };
    const g = () => new Map([['p', tf.tensor1d([0.1, 0.2, -0.3])]]);
    adamwUpdate(s1, g(), cfg);
    const saved = adamwExport(s1);
    const p2 = tf.variable(tf.tensor(p1.dataSync()), true, 'opt-p2');
    const s2 = adamwInit(new Map([['p', { variable: p2, decay: true }]]));
    adamwImport(s2, saved.t, saved.moments);
    adamwUpdate(s1, g(), cfg);
    adamwUpdate(s2, g(), cfg);
    expect(Array.from(p2.dataSync())).to.deep.equal(Array.from(p1.dataSync()));
    expect(s2.t).to.equal(2);
    adamwDispose(s1);
    adamwDispose(s2);
    p1.dispose();
    p2.dispose();
  });
});
