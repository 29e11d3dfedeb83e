// The layouts llama.cpp and bitnet.cpp write, in the engine: block-quantized embeddings and heads
// (BF16, Q8_0, Q6_K, Q4_K, Q4_0), bitnet.cpp's I2_S linears and the architecture variants, against the
// slow reference forward of ./helpers.ts (whose head models the int8 quantization of its input per
// weight block, as llama.cpp's vec_dot does); a quantized embedding against the same file with that
// tensor dequantized to F32; and the one-line errors for what the loader does not run.
import { expect } from 'chai';
import path from 'node:path';
import { Rng } from '../../src/data/rng.ts';
import { isInputError } from '../../src/errors.ts';
import { GGMLType, TensorNames } from '../../src/format/index.ts';
import { loadEngine, type Engine } from '../../src/infer/engine.ts';
import { nativeKernels, type Kernels, tsKernels } from '../../src/infer/kernels/index.ts';
import { GGML_CODECS, type GgmlTypeName } from '../../src/quant/ggml_codecs.ts';
import { rmDir, tmpDir } from '../support/tiny.ts';
import { referenceForward, rewriteGGUF, writeTinyModel, type TinySpec } from './helpers.ts';

const T = 10;

function kernelSets(): Kernels[] {
  const n = nativeKernels();
  return n ? [tsKernels, n] : [tsKernels];
}

function allLogits(e: Engine, ids: Int32Array): Float32Array {
  e.model.reset();
  const out = new Float32Array(ids.length * e.weights.hp.vocab_size);
  e.model.forward(ids, out);
  return out;
}

/** Max |a − b| over each position's row relative to that row's max |b|, the worst position. */
function worstRel(a: Float32Array, b: Float32Array, V: number): number {
  let worst = 0;
  for (let t = 0; t < a.length / V; t++) {
    let diff = 0;
    let mag = 0;
    for (let i = t * V; i < (t + 1) * V; i++) {
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
      mag = Math.max(mag, Math.abs(b[i]!));
    }
    worst = Math.max(worst, diff / mag);
  }
  return worst;
}

const ids = (n: number, vocab: number, seed: number): Int32Array => {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => rng.int(vocab));
};

describe('infer/foreign layouts: llama.cpp\'s and bitnet.cpp\'s tensor types in the engine', function () {
  let dir: string;
  before(() => (dir = tmpDir('foreign')));
  after(() => rmDir(dir));

  const cases: Array<[string, TinySpec]> = [
    ['I2_S linears, bitnet-b1.58, ReLU², tied Q6_K embedding (bitnet.cpp\'s 2B4T layout)', { arch: 'bitnet-b1.58', type: 'I2_S', activation: 'relu2', embedding: 'Q6_K', seed: 31 }],
    ['I2_S linears, bitnet-25, F16 embedding and an untied Q6_K head', { arch: 'bitnet-25', type: 'I2_S', activation: 'relu2', embedding: 'F16', output: 'Q6_K', tied: false, seed: 32 }],
    ['TQ2_0, Q8_0 embedding and an untied Q4_K head', { embedding: 'Q8_0', output: 'Q4_K', tied: false, seed: 33 }],
    ['TQ1_0, tied Q4_K embedding', { type: 'TQ1_0', embedding: 'Q4_K', seed: 34, n_layers: 1 }],
    ['TQ2_0, tied Q4_0 embedding', { embedding: 'Q4_0', seed: 35, n_layers: 1 }],
    ['TQ2_0, tied Q8_0 embedding', { embedding: 'Q8_0', seed: 36, n_layers: 1 }],
    ['TQ2_0, BF16 embedding and an untied BF16 head', { embedding: 'BF16', tied: false, seed: 37, n_layers: 1 }],
    ['I2_S linears with fp activations (dequantized at load)', { type: 'I2_S', act_quant: 'none', seed: 38, n_layers: 1 }],
  ];

  cases.forEach(([title, spec], ci) => {
    it(`${title}: the reference forward's logits`, async () => {
      const { file, ref } = await writeTinyModel(dir, `case${ci}.gguf`, spec);
      const tokens = ids(T, ref.vocab, 200 + ci);
      const want = referenceForward(ref, tokens);
      for (const k of kernelSets()) {
        const e = loadEngine(file, { engine: k.name });
        expect(worstRel(allLogits(e, tokens), want, ref.vocab), `${k.name} kernels`).to.be.at.most(1e-4);
        e.close();
      }
    });
  });

  for (const type of ['Q8_0', 'Q6_K', 'Q4_K', 'Q4_0', 'BF16'] as const)
    it(`a ${type} embedding gives the logits of the same model with token_embd dequantized to F32`, async () => {
      const { file, ref } = await writeTinyModel(dir, `emb-${type}.gguf`, { embedding: type, output: 'F32', tied: false, n_layers: 1, seed: 40 });
      const f32 = await rewriteGGUF(file, path.join(dir, `emb-${type}-f32.gguf`), (_, tensors) => {
        const t = tensors.find((x) => x.name === TensorNames.tokenEmbd)!;
        const out = new Float32Array(ref.vocab * ref.d);
        GGML_CODECS[type as GgmlTypeName].dequantizeRow(t.data as Uint8Array, out.length, out);
        Object.assign(t, { type: GGMLType.F32, data: out });
      });
      const tokens = ids(T, ref.vocab, 41);
      for (const k of kernelSets()) {
        const [a, b] = [file, f32].map((p) => loadEngine(p, { engine: k.name }));
        expect(a!.weights.embedding.kind).to.equal('quant');
        expect(b!.weights.embedding.kind).to.equal('f32');
        expect(Array.from(allLogits(a!, tokens)), `${k.name} kernels`).to.deep.equal(Array.from(allLogits(b!, tokens)));
        a!.close();
        b!.close();
      }
    });

  it('an embedding or head type the kernels do not run is a one-line InputError naming the tensor, its type and what is supported', async () => {
    const { file } = await writeTinyModel(dir, 'q5.gguf', { n_layers: 1, tied: false, embedding: 'F16' });
    const q5 = await rewriteGGUF(file, path.join(dir, 'q5-emb.gguf'), (_, tensors) => {
      const t = tensors.find((x) => x.name === TensorNames.output)!;
      Object.assign(t, { type: 13 /* Q5_K */, data: new Uint8Array((t.ne[0]! * t.ne[1]!) / 256 * 176) });
    });
    let err: unknown;
    try {
      loadEngine(q5, { engine: 'ts' });
    } catch (e) {
      err = e;
    }
    expect(isInputError(err), String(err)).to.equal(true);
    expect((err as Error).message).to.equal(`${q5}: tensor output.weight: type Q5_K is not supported here (supported: F16, F32, BF16, Q8_0, Q6_K, Q4_K, Q4_0)`);
  });
});
