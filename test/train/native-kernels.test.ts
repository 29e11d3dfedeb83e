import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../../src/train/backend.ts';
import { nativeStatus } from '../../src/native.ts';
import { Rng } from '../../src/data/rng.ts';

/** Naive float64 matmul of [batch, m, k]·[batch, k, n] with the flags applied by index. */
function naive(a: Float32Array, b: Float32Array, batch: [number, number], m: number, n: number, k: number, ta: boolean, tb: boolean): Float64Array {
  const out = new Float64Array(Math.max(...batch) * m * n);
  for (let z = 0; z < Math.max(...batch); z++) {
    const ao = batch[0] === 1 ? 0 : z * m * k;
    const bo = batch[1] === 1 ? 0 : z * k * n;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[ao + (ta ? p * m + i : i * k + p)]! * b[bo + (tb ? j * k + p : p * n + j)]!;
        out[z * m * n + i * n + j] = s;
      }
  }
  return out;
}

describe('train/native-kernels: the wasm BatchMatMul on the addon', () => {
  it('is installed when the addon loaded (unless BITNET_NO_NATIVE=1), and agrees with a naive matmul for every flag and broadcast', async () => {
    const choice = await useBackend('wasm');
    if (process.env.BITNET_NO_NATIVE === '1') expect(choice.nativeMatmul).to.equal(false);
    else expect(choice.nativeMatmul, nativeStatus().reason).to.equal(true);
    const rng = new Rng(5);
    for (const [batch, m, n, k] of [[[1, 1], 5, 7, 3], [[3, 3], 17, 9, 33], [[4, 1], 8, 65, 16], [[1, 2], 31, 2, 130]] as [[number, number], number, number, number][])
      for (const ta of [false, true])
        for (const tb of [false, true]) {
          const a = rng.fillNormal(new Float32Array(batch[0] * m * k), 1);
          const b = rng.fillNormal(new Float32Array(batch[1] * k * n), 1);
          const got = tf.tidy(() =>
            tf.matMul(tf.tensor3d(a, [batch[0], ta ? k : m, ta ? m : k]), tf.tensor3d(b, [batch[1], tb ? n : k, tb ? k : n]), ta, tb).dataSync(),
          );
          const want = naive(a, b, batch, m, n, k, ta, tb);
          expect(got.length).to.equal(want.length);
          for (let i = 0; i < want.length; i++) expect(got[i]).to.be.closeTo(want[i]!, 1e-4 * (1 + Math.abs(want[i]!)));
        }
  });
});
