import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { adamwExport, adamwImport, adamwInit, adamwUpdate, adamwDispose } from '../../src/train/optimizer.ts';
import { useBackend } from '../../src/train/backend.ts';
import { wasmView } from '../../src/train/native-kernels.ts';
import { nativeAddon } from '../../src/native/addon.ts';
import { Rng } from '../../src/data/rng.ts';

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

describe('train/optimizer (AdamW) in place on the wasm heap (native kernels)', () => {
  it('follows the scalar reference over three steps, with clipping and decay only where asked', async function () {
    const choice = await useBackend('wasm');
    if (!choice.nativeMatmul) this.skip();
    const a = tf.variable(tf.tensor1d([0.5, -1.0, 0.25]), true, 'opt-wa');
    const b = tf.variable(tf.tensor1d([2.0]), true, 'opt-wb');
    expect(wasmView(a), 'the native path is taken').to.not.equal(null);
    const st = adamwInit(new Map([['a', { variable: a, decay: true }], ['b', { variable: b, decay: false }]]));
    const cfg = { beta1: 0.9, beta2: 0.95, eps: 1e-8, lr: 0.01, weightDecay: 0.1, clip: 1.0 };
    let ref = [{ p: 0.5, m: 0, v: 0 }, { p: -1.0, m: 0, v: 0 }, { p: 0.25, m: 0, v: 0 }, { p: 2.0, m: 0, v: 0 }];
    const gs = [[3, 4, 0, 0], [0.1, -0.2, 0.05, 0.3], [-0.5, 0.5, 0.5, -0.1]];
    gs.forEach((g, step) => {
      const norm = adamwUpdate(st, new Map([['a', tf.tensor1d(g.slice(0, 3))], ['b', tf.tensor1d(g.slice(3))]]), cfg);
      const want = Math.sqrt(g.reduce((x, y) => x + y * y, 0));
      expect(norm).to.be.closeTo(want, 1e-6);
      const s = want > 1 ? 1 / want : 1;
      ref = ref.map((r, i) => refStep(r.p, g[i]! * s, r.m, r.v, step + 1, 0.01, i < 3 ? 0.1 : 0, 0.9, 0.95, 1e-8));
      const got = [...a.dataSync(), ...b.dataSync()];
      got.forEach((x, i) => expect(x, `step ${step + 1} param ${i}`).to.be.closeTo(ref[i]!.p, 1e-6));
    });
    const { moments } = adamwExport(st);
    expect(moments.get('a')!.m[0]).to.be.closeTo(ref[0]!.m, 1e-6);
    expect(moments.get('b')!.v[0]).to.be.closeTo(ref[3]!.v, 1e-6);
    adamwDispose(st);
    a.dispose();
    b.dispose();
    await tf.setBackend('cpu');
  });
});

describe('train/optimizer: the native AdamW step on every instruction set', () => {
  const addon = nativeAddon();
  if (addon === null || process.env.BITNET_NO_NATIVE === '1') return;
  it('gives the float32 formula\'s bits (Math.fround per operation) on scalar and AVX2 alike, with a tail past whole vectors', function () {
    const n = 1037;
    const rng = new Rng(41);
    const p0 = rng.fillNormal(new Float32Array(n), 1);
    const m0 = rng.fillNormal(new Float32Array(n), 0.01);
    const v0 = rng.fillNormal(new Float32Array(n), 1e-3).map(Math.abs);
    const g = rng.fillNormal(new Float32Array(n), 0.1);
    const [gscale, lr, b1, b2, eps, bc1, bc2, decay] = [0.7, 1e-3, 0.9, 0.95, 1e-8, 0.1, 0.05, 0.9999].map(Math.fround) as number[] as [number, number, number, number, number, number, number, number];
    const f = Math.fround;
    const [c1, c2] = [f(1 - b1), f(1 - b2)];
    const want = { p: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n) };
    for (let i = 0; i < n; i++) {
      const gi = f(g[i]! * gscale);
      const mi = f(f(m0[i]! * b1) + f(gi * c1));
      const vi = f(f(v0[i]! * b2) + f(f(gi * gi) * c2));
      const u = f(f(mi / bc1) / f(f(Math.sqrt(f(vi / bc2))) + eps));
      [want.m[i], want.v[i], want.p[i]] = [mi, vi, f(f(p0[i]! * decay) - f(u * lr))];
    }
    let ran = 0;
    for (const isa of ['scalar', 'avx2', 'avx512vnni'] as const) {
      try {
        addon.setIsa(isa);
      } catch {
        continue; // not on this CPU
      }
      const [p, m, v] = [p0.slice(), m0.slice(), v0.slice()];
      addon.adamwStep(p, m, v, g, Float32Array.of(gscale, lr, b1, b2, eps, bc1, bc2, decay));
      for (const [name, got, exp] of [['p', p, want.p], ['m', m, want.m], ['v', v, want.v]] as const)
        for (let i = 0; i < n; i++) if (!Object.is(got[i], exp[i])) expect.fail(`${isa}: ${name}[${i}] = ${got[i]} vs ${exp[i]}`);
      ran++;
    }
    addon.setIsa('auto');
    expect(ran).to.be.at.least(2);
  });
});
