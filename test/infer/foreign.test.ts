// The layouts llama.cpp and bitnet.cpp write, in the engine: block-quantized embeddings and heads
// (BF16, Q8_0, Q6_K, Q4_K, Q4_0), bitnet.cpp's I2_S linears and the architecture variants, against the
// slow reference forward of ./helpers.ts (whose head models the int8 quantization of its input per
// weight block, as llama.cpp's vec_dot does); a quantized embedding against the same file with that
// tensor dequantized to F32; `bitnet synth`'s foreign files (load, generate, eval; the I2_S bytes
// against bitnet.cpp's layout); and the one-line errors for what the loader does not run.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Rng } from '../../src/data/rng.ts';
import { isInputError } from '../../src/errors.ts';
import { GGMLType, openGGUF, TensorNames } from '../../src/format/index.ts';
import { loadEngine, type Engine } from '../../src/infer/engine.ts';
import { evaluate } from '../../src/infer/eval.ts';
import { generate } from '../../src/infer/generate.ts';
import { nativeKernels, type Kernels, tsKernels, unpackTernary } from '../../src/infer/kernels/index.ts';
import { synthModel } from '../../src/infer/synth.ts';
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

  /** The load's error, which must be a one-line InputError naming the file. */
  function loadError(file: string): string {
    let err: unknown;
    try {
      loadEngine(file, { engine: 'ts' });
    } catch (e) {
      err = e;
    }
    expect(isInputError(err), String(err)).to.equal(true);
    const msg = (err as Error).message;
    expect(msg).to.contain(file).and.not.contain('\n');
    return msg;
  }

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
    expect(loadError(q5)).to.equal(`${q5}: tensor output.weight: type Q5_K is not supported here (supported: F16, F32, BF16, Q8_0, Q6_K, Q4_K, Q4_0)`);
  });

  it('an I2_S tensor whose rows are not whole 128-weight blocks, or that holds the unused code 3, is a one-line InputError', async () => {
    const { file } = await writeTinyModel(dir, 'i2s-bad.gguf', { type: 'I2_S', n_layers: 1 });
    // ne {256, 256} → {64, 1024}: the same weights and bytes, rows of half a block (the writer refuses
    // such a tensor, so the header is patched: the name, then n_dims (u32) and ne0, ne1 (u64))
    const bytes = readFileSync(file);
    const at = bytes.indexOf('blk.0.attn_q.weight') + 'blk.0.attn_q.weight'.length + 4;
    expect([bytes.readBigUInt64LE(at), bytes.readBigUInt64LE(at + 8)]).to.deep.equal([256n, 256n]);
    bytes.writeBigUInt64LE(64n, at);
    bytes.writeBigUInt64LE(1024n, at + 8);
    const narrow = path.join(dir, 'i2s-narrow.gguf');
    writeFileSync(narrow, bytes);
    expect(loadError(narrow)).to.match(/tensor "?blk\.0\.attn_q\.weight"?: ne0 = 64 is not a multiple of the I2_S block size 128/);
    const code3 = await rewriteGGUF(file, path.join(dir, 'i2s-code3.gguf'), (_, tensors) => {
      (tensors.find((x) => x.name === 'blk.0.ffn_up.weight')!.data as Uint8Array)[9] = 0x3c; // fields 0, 3, 3, 0: code 3 twice
    });
    expect(loadError(code3)).to.match(/tensor blk\.0\.ffn_up\.weight: .*byte 9 holds the unused 2-bit code 3/);
  });

  it("a TQ2_0 tensor that holds the unused code 3 is a one-line InputError naming it when copied (mapped, it reads as t = 2, as llama.cpp's dequantizer reads it)", async () => {
    const { file } = await writeTinyModel(dir, 'tq2-code3-src.gguf', { type: 'TQ2_0', n_layers: 1 });
    const code3 = await rewriteGGUF(file, path.join(dir, 'tq2-code3.gguf'), (_, tensors) => {
      (tensors.find((x) => x.name === 'blk.0.ffn_up.weight')!.data as Uint8Array)[66 + 3] = 0x30; // block 1: field 2 holds code 3
    });
    expect(loadError(code3)).to.match(/tensor blk\.0\.ffn_up\.weight: .*block 1 .*code 3/);
  });

  describe('bitnet synth in bitnet.cpp\'s layout (bitnet-b1.58, I2_S, Q6_K embedding)', () => {
    let file: string;
    // ffn_down rows of 640 = 5 I2_S blocks: not whole TQ blocks of 256, which I2_S does not need
    const shape = { d_model: 512, n_layers: 2, d_ff: 640, n_heads: 8, n_kv_heads: 2, vocab_size: 300 };
    before(async () => {
      file = path.join(dir, 'synth-i2s.gguf');
      await synthModel(file, shape, 'i2_s', 7, { arch: 'bitnet-b1.58', embeddingType: 'q6_k', outputType: 'q8_0' });
    });

    it('writes the variant\'s keys and types: ReLU², file type 40, I2_S linears, Q6_K embedding, untied Q8_0 head', () => {
      const f = openGGUF(file);
      try {
        expect(f.getString('general.architecture')).to.equal('bitnet-b1.58');
        expect(f.getString('bitnet-b1.58.hidden_activation')).to.equal('relu2');
        expect(f.getNumber('general.file_type')).to.equal(40);
        expect(f.tensor('blk.0.ffn_down.weight').typeName).to.equal('I2_S');
        expect(f.tensor(TensorNames.tokenEmbd).typeName).to.equal('Q6_K');
        expect(f.tensor(TensorNames.output).typeName).to.equal('Q8_0');
      } finally {
        f.close();
      }
    });

    it('loads, generates the same greedy text with both kernel sets, and evaluates', () => {
      const texts: string[] = [];
      for (const k of kernelSets()) {
        const e = loadEngine(file, { engine: k.name });
        expect(e.weights.linearType).to.equal('I2_S');
        expect(e.weights.hp.activation).to.equal('relu2');
        const g = generate(e.model, e.tokenizer, { prompt: 'hello', maxTokens: 6, sampler: { temperature: 0, topK: 0, topP: 1, repeatPenalty: 1, repeatLastN: 64 }, seed: 1 });
        expect(g.ids).to.have.length(6);
        texts.push(g.ids.join(','));
        const r = evaluate(e.model, ids(40, 300, 5), 1);
        expect(r.tokens).to.equal(39);
        expect(Number.isFinite(r.loss) && r.loss > 0).to.equal(true);
        e.close();
      }
      expect(new Set(texts).size, 'native and TS agree').to.equal(1);
    });

    it('lays I2_S out as bitnet.cpp does (src/ggml-bitnet-mad.cpp quantize_i2_s, x86 ACT_PARALLEL; utils/convert-hf-to-gguf-bitnet.py quantize_to_i2_s)', async () => {
      // What is checked, on a tensor synth wrote from codes we recover independently of our decoders:
      //   - the tensor is n/4 + 32 bytes (n weights), its blocks of 128 consecutive weights 32 bytes each;
      //   - byte m of a block holds elements m, m + 32, m + 64, m + 96 in bits 7–6, 5–4, 3–2, 1–0;
      //   - the 2-bit code is t + 1 (−1 → 0, 0 → 1, +1 → 2; 3 never appears);
      //   - the float32 scale (β = mean|W|, the only nonzero |value|) sits at byte n/4, then 28 zero bytes.
      const small = path.join(dir, 'synth-i2s-small.gguf');
      await synthModel(small, { d_model: 128, n_layers: 1, d_ff: 256, n_heads: 2, n_kv_heads: 2, vocab_size: 300 }, 'i2_s', 9, { arch: 'bitnet-b1.58' });
      const f = openGGUF(small);
      const info = f.tensor('blk.0.ffn_gate.weight'); // [256 rows, 128 cols]
      const bytes = f.readTensor(info.name);
      f.close();
      const n = 256 * 128;
      expect(info.ne).to.deep.equal([128, 256]);
      expect(bytes.length).to.equal(n / 4 + 32);
      const scale = new DataView(bytes.buffer, bytes.byteOffset).getFloat32(n / 4, true);
      expect(scale).to.be.greaterThan(0).and.lessThan(0.05);
      expect(Array.from(bytes.subarray(n / 4 + 4))).to.deep.equal(new Array(28).fill(0));
      // decode by the statement above and compare with the engine's view of the same tensor
      const t = new Int8Array(n);
      for (let g = 0; g < n / 128; g++)
        for (let m = 0; m < 32; m++)
          for (let k = 0; k < 4; k++) {
            const code = (bytes[32 * g + m]! >> (6 - 2 * k)) & 3;
            expect(code, `block ${g} byte ${m} field ${k}`).to.not.equal(3);
            t[128 * g + m + 32 * k] = code - 1;
          }
      const counts = [0, 0, 0];
      t.forEach((v) => counts[v + 1]!++);
      expect(counts[1]! / n).to.be.within(0.2, 0.45); // absmean ternarization of normals: ~31% zeros
      const e = loadEngine(small, { engine: 'ts' });
      const lin = e.weights.layers[0]!.gate;
      expect(lin.kind).to.equal('ternary');
      if (lin.kind === 'ternary') {
        expect(Array.from(lin.scale)).to.deep.equal([scale]);
        expect(Array.from(unpackTernary(lin.packed, 256, 128))).to.deep.equal(Array.from(t));
      }
      e.close();
    });
  });
});
