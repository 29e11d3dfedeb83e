// The engine's forward pass against the slow reference of ./helpers.ts on tiny GGUF files in every
// layout it reads; native against TS kernels; the KV cache against the full-sequence forward; TQ1_0
// against TQ2_0 of the same codes; and bad files. Without the native addon the native halves fail.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isInputError } from '../../src/errors.ts';
import { archKeys, GGMLType, Keys, openGGUF, type GGUFTensorSpec, type GGUFValue } from '../../src/format/index.ts';
import { Rng } from '../../src/data/rng.ts';
import { loadEngine, type Engine } from '../../src/infer/engine.ts';
import { nativeKernels, type Kernels, tsKernels } from '../../src/infer/kernels/index.ts';
import { Model } from '../../src/infer/model.ts';
import { fuseLinears, readWeights } from '../../src/infer/weights.ts';
import { rmDir, tmpDir } from '../support/tiny.ts';
import { referenceForward, rewriteGGUF, writeTinyModel, type TinySpec } from './helpers.ts';

const T = 12;

function randomIds(n: number, vocab: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => rng.int(vocab));
}

function allLogits(e: Engine, ids: Int32Array): Float32Array {
  e.model.reset();
  const out = new Float32Array(ids.length * e.weights.hp.vocab_size);
  e.model.forward(ids, out);
  return out;
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

/** Max |a − b| over each position's row, relative to that row's max |b|. */
function worstRowError(a: Float32Array, b: Float32Array, V: number): { pos: number; rel: number } {
  let worst = { pos: -1, rel: 0 };
  for (let t = 0; t < a.length / V; t++) {
    const ra = a.subarray(t * V, (t + 1) * V);
    const rb = b.subarray(t * V, (t + 1) * V);
    let diff = 0;
    for (let i = 0; i < V; i++) diff = Math.max(diff, Math.abs(ra[i]! - rb[i]!));
    const rel = diff / maxAbs(rb);
    if (rel > worst.rel || worst.pos < 0) worst = { pos: t, rel };
  }
  return worst;
}

function kernelSets(): Kernels[] {
  const n = nativeKernels();
  return n ? [tsKernels, n] : [tsKernels];
}

describe('infer/model: the engine against the reference forward', function () {
  let dir: string;
  before(() => (dir = tmpDir('engine')));
  after(() => rmDir(dir));

  const cases: Array<[string, TinySpec]> = [
    ['TQ2_0, per-tensor d, SwiGLU, SubLN, GQA 4/2, tied F16 embedding', {}],
    ['TQ1_0, per-row d, ReLU², no SubLN, MHA, untied F32 head', { type: 'TQ1_0', scales: 'row', activation: 'relu2', subln: false, n_kv_heads: 4, embedding: 'F32', tied: false, n_layers: 1 }],
    ['TQ2_0, d varying per block (other tools), GQA 4/1', { scales: 'block', n_kv_heads: 1, seed: 5 }],
    ['TQ2_0, group scales of 64 columns, int4 activations', { scales: { group: 64 }, act_quant: 'int4', seed: 7 }],
    ['TQ1_0, group scales of 128 columns, ReLU², 8 heads of 32', { type: 'TQ1_0', scales: { group: 128 }, activation: 'relu2', n_heads: 8, n_kv_heads: 2, seed: 9 }],
    ['TQ2_0 with fp activations (act_quant none)', { act_quant: 'none', seed: 11 }],
    ['F16 linears (the fp baseline) with fp activations', { type: 'F16', act_quant: 'none', seed: 13, n_layers: 1 }],
    ['F32 linears with int8 activations', { type: 'F32', seed: 15, n_layers: 1 }],
  ];

  cases.forEach(([title, spec], ci) => {
    it(title, async () => {
      const { file, ref } = await writeTinyModel(dir, `case${ci}.gguf`, spec);
      const ids = randomIds(T, ref.vocab, 100 + ci);
      const want = referenceForward(ref, ids);
      for (const k of kernelSets()) {
        const e = loadEngine(file, { engine: k.name });
        const got = allLogits(e, ids);
        const worst = worstRowError(got, want, ref.vocab);
        expect(worst.rel, `${k.name} kernels: position ${worst.pos}`).to.be.at.most(1e-4);
        e.close();
      }
    });
  });

  it('native and TS kernels give the same logits (1e-5 relative) and the same greedy continuation', async function () {
    const native = nativeKernels();
    expect(native, 'the native addon must be built for this test').to.not.equal(null);
    const { file, ref } = await writeTinyModel(dir, 'nt.gguf', { seed: 21 });
    const ids = randomIds(T, ref.vocab, 3);
    const [a, b] = (['ts', 'native'] as const).map((engine) => loadEngine(file, { engine }));
    const la = allLogits(a!, ids);
    const lb = allLogits(b!, ids);
    expect(worstRowError(lb, la, ref.vocab).rel).to.be.at.most(1e-5);
    const greedy = (e: Engine): number[] => {
      e.model.reset();
      let logits = e.model.forward(ids);
      const outIds: number[] = [];
      for (let i = 0; i < 12; i++) {
        let best = 0;
        for (let j = 1; j < logits.length; j++) if (logits[j]! > logits[best]!) best = j;
        outIds.push(best);
        logits = e.model.forward([best]);
      }
      return outIds;
    };
    expect(greedy(b!)).to.deep.equal(greedy(a!));
  });

  it('KV-cache decoding (one token at a time, and in chunks) equals the full-sequence forward', async () => {
    const { file, ref } = await writeTinyModel(dir, 'kv.gguf', { seed: 31, n_kv_heads: 1 });
    const ids = randomIds(T, ref.vocab, 4);
    for (const k of kernelSets()) {
      const e = loadEngine(file, { engine: k.name });
      const full = allLogits(e, ids);
      const V = ref.vocab;
      e.model.reset();
      for (let t = 0; t < T; t++) {
        const row = e.model.forward([ids[t]!]);
        expect(worstRowError(row, full.subarray(t * V, (t + 1) * V), V).rel, `${k.name} position ${t}`).to.be.at.most(1e-6);
      }
      // the same through a model whose steps hold 5 tokens: chunks of 5, 5, 2
      const chunked = new Model(e.weights, { kernels: k, maxBatch: 5 });
      const out = new Float32Array(T * V);
      chunked.forward(ids, out);
      expect(worstRowError(out, full, V).rel, `${k.name} chunked`).to.be.at.most(1e-6);
      expect(chunked.pos).to.equal(T);
      // the prompt then one more token, as generation does
      e.model.reset();
      e.model.forward(ids.subarray(0, T - 1));
      const lastRow = e.model.forward([ids[T - 1]!]);
      expect(worstRowError(lastRow, full.subarray((T - 1) * V), V).rel).to.be.at.most(1e-6);
      e.close();
    }
  });

  it('TQ1_0 and TQ2_0 files of the same codes and scales give identical logits', async () => {
    for (const scales of ['tensor', 'block'] as const) {
      const a = await writeTinyModel(dir, `same2-${scales}.gguf`, { type: 'TQ2_0', scales, seed: 41, n_layers: 1 });
      const b = await writeTinyModel(dir, `same1-${scales}.gguf`, { type: 'TQ1_0', scales, seed: 41, n_layers: 1 });
      expect([...b.codes.get('blk.0.ffn_down.weight')!]).to.deep.equal([...a.codes.get('blk.0.ffn_down.weight')!]);
      const ids = randomIds(T, a.ref.vocab, 5);
      for (const k of kernelSets()) {
        const la = allLogits(loadEngine(a.file, { engine: k.name }), ids);
        const lb = allLogits(loadEngine(b.file, { engine: k.name }), ids);
        expect(lb).to.deep.equal(la);
      }
    }
  });

  it('fused q|k|v and gate|up (one kernel call each in generation) give the same bits as the separate linears', async () => {
    for (const spec of [{ scales: 'tensor', kvHeads: 1 }, { scales: 'row' }, { scales: 'block', type: 'TQ1_0' }] as const) {
      const { file } = await writeTinyModel(dir, `fused-${spec.scales}.gguf`, { ...spec, seed: 17 });
      const f = openGGUF(file);
      const w = readWeights(f);
      f.close();
      for (const L of w.layers) {
        expect(L.qkv, 'q|k|v fused').to.not.equal(null);
        expect(L.gateUp, 'gate|up fused').to.not.equal(null);
        expect(L.qkv!.rows).to.equal(w.hp.d_model + 2 * w.hp.kv_dim);
      }
      const unfused = { ...w, layers: w.layers.map((L) => ({ ...L, qkv: null, gateUp: null })) };
      const ids = randomIds(T, w.hp.vocab_size, 6);
      for (const k of kernelSets()) {
        const a = new Model(w, { kernels: k });
        const b = new Model(unfused, { kernels: k });
        for (let t = 0; t < T; t++) expect(Array.from(a.forward([ids[t]!])), `${k.name} position ${t}`).to.deep.equal(Array.from(b.forward([ids[t]!])));
      }
    }
    // not fusable: different kinds, or codes not back to back in one buffer
    const f = openGGUF((await writeTinyModel(dir, 'fused-no.gguf', { seed: 18, n_layers: 1 })).file);
    const w = readWeights(f);
    f.close();
    const L = w.layers[0]!;
    expect(fuseLinears([L.q, L.v])).to.equal(null); // k lies between them
    expect(fuseLinears([L.q, { kind: 'f32', rows: 1, cols: w.hp.d_model, w: new Float32Array(w.hp.d_model) }])).to.equal(null);
    if (L.q.kind === 'ternary') expect(fuseLinears([L.q, { ...L.q, packed: L.q.packed.slice() }])).to.equal(null);
  });

  it('collapses equal block scales to one per tensor or per row, else keeps one per block', async () => {
    for (const [scales, len, group] of [['tensor', 1, 0], ['row', 256, 0], ['block', 512, 256]] as const) {
      const { file } = await writeTinyModel(dir, `collapse-${scales}.gguf`, { scales, n_layers: 1, seed: 3 });
      const f = openGGUF(file);
      const w = readWeights(f);
      f.close();
      const q = w.layers[0]!.down; // [256, 512]: two blocks per row
      expect(q.kind).to.equal('ternary');
      if (q.kind !== 'ternary') return;
      expect(q.scale.length).to.equal(len);
      expect(q.groupSize).to.equal(group);
    }
  });
});

describe('infer/weights: bad files are InputErrors naming the file', function () {
  let dir: string;
  let good: string;
  before(async () => {
    dir = tmpDir('engine-bad');
    good = (await writeTinyModel(dir, 'good.gguf', { n_layers: 1 })).file;
  });
  after(() => rmDir(dir));

  /** Rewrites the good file with its KVs and tensors edited. */
  const variant = (name: string, edit: (kv: Map<string, GGUFValue>, tensors: GGUFTensorSpec[]) => void): Promise<string> => rewriteGGUF(good, path.join(dir, name), edit);

  function expectInputError(file: string, pattern: RegExp): void {
    let err: unknown;
    try {
      loadEngine(file, { engine: 'ts' });
    } catch (e) {
      err = e;
    }
    expect(isInputError(err), `expected an InputError, got ${String(err)}`).to.equal(true);
    const msg = (err as Error).message;
    expect(msg).to.contain(file);
    expect(msg, msg).to.match(pattern);
    expect(msg).to.not.contain('\n');
  }

  it('loads the unedited file', () => {
    const e = loadEngine(good, { engine: 'ts' });
    expect(e.weights.hp.n_layers).to.equal(1);
  });

  it('a wrong architecture', async () => {
    const f = await variant('llama.gguf', (kv) => kv.set(Keys.general.architecture, { type: 'string', value: 'llama' }));
    expectInputError(f, /general\.architecture is "llama"/);
  });

  it('a missing tensor', async () => {
    const f = await variant('missing.gguf', (_, t) => t.splice(t.findIndex((x) => x.name === 'blk.0.ffn_up.weight'), 1));
    expectInputError(f, /missing tensor blk\.0\.ffn_up\.weight/);
  });

  it('a missing required key', async () => {
    const f = await variant('nokey.gguf', (kv) => kv.delete(archKeys('bitnet').feedForwardLength));
    expectInputError(f, /bitnet\.feed_forward_length/);
  });

  it('a tensor shape that contradicts the keys', async () => {
    const f = await variant('ff.gguf', (kv) => kv.set(archKeys('bitnet').feedForwardLength, { type: 'u32', value: 768 }));
    expectInputError(f, /tensor blk\.0\.ffn_gate\.weight: shape \[256, 512\] contradicts the metadata, expected \[256, 768\]/);
    const g = await variant('heads.gguf', (kv) => kv.set(archKeys('bitnet').headCountKv, { type: 'u32', value: 3 }));
    expectInputError(g, /head_count_kv 3 does not divide head_count 4/);
  });

  it('an unsupported tensor type', async () => {
    const f = await variant('q8.gguf', (_, tensors) => {
      const i = tensors.findIndex((x) => x.name === 'blk.0.attn_q.weight');
      tensors[i] = { name: tensors[i]!.name, ne: [256, 256], type: GGMLType.Q8_0, data: new Uint8Array((256 * 256 / 32) * 34) };
    });
    expectInputError(f, /blk\.0\.attn_q\.weight: type Q8_0 is not supported here \(supported: TQ2_0, TQ1_0, I2_S, I8, F16, F32\)/);
  });

  it('a TQ2_0 block with the unused code 3', async () => {
    const f = await variant('code3.gguf', (_, tensors) => {
      const t = tensors.find((x) => x.name === 'blk.0.attn_k.weight')!;
      (t.data as Uint8Array)[5] = 0xff;
    });
    expectInputError(f, /blk\.0\.attn_k\.weight: .*code 3/);
  });

  it('a vocabulary that does not match the model', async () => {
    const f = await variant('vocab.gguf', (kv) => {
      const tokens = (kv.get(Keys.tokenizer.tokens)!.value as unknown as { items: string[] }).items;
      kv.set(Keys.tokenizer.tokens, { type: 'array', value: { elemType: 'string', items: tokens.slice(0, -1) } });
      kv.delete(Keys.tokenizer.tokenType);
      kv.set(Keys.tokenizer.eosId, { type: 'u32', value: 0 });
    });
    expectInputError(f, /the tokenizer has 299 tokens but the model's vocabulary is 300/);
  });

  it('a truncated file', () => {
    const bytes = readFileSync(good);
    const f = path.join(dir, 'truncated.gguf');
    writeFileSync(f, bytes.subarray(0, bytes.length - 1000));
    expectInputError(f, /past the end of the file/);
  });
});
