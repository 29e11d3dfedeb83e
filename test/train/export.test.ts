import { expect } from 'chai';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseWeightScale } from '../../src/config/model.ts';
import { openGGUF } from '../../src/format/gguf/reader.ts';
import { GGMLType } from '../../src/format/gguf/constants.ts';
import { f16Round, quantizeLinear } from '../../src/format/export.ts';
import { energyPerToken, f16BitsToF32, GGML_CODECS, unpackTQ1_0, unpackTQ2_0 } from '../../src/quant/index.ts';
import { loadEngine } from '../../src/infer/engine.ts';
import { bench } from '../../src/infer/bench.ts';
import { loadPrepared } from '../../src/data/load.ts';
import { exportCheckpoint } from '../../src/train/export-checkpoint.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { paramSpecs } from '../../src/train/params.ts';
import { train } from '../../src/train/trainer.ts';
import { InputError } from '../../src/errors.ts';
import { rmDir, tinyConfig, tinyData, tmpDir } from '../support/tiny.ts';
import { rewriteGGUF } from '../infer/helpers.ts';

describe('export: checkpoint → GGUF → codes and scales back', function () {
  this.timeout(300_000);
  let dir: string;
  let data: string;
  let vocab: number;
  const runs: Record<string, string> = {};

  before(async () => {
    dir = tmpDir('export');
    data = await tinyData(dir);
    vocab = loadPrepared(data).tokenizer.vocabSize;
    const variants = {
      ternary: {},
      binary: { weight_quant: 'binary' },
      group64: { weight_scale: 'group:64', act_quant: 'int4', subln: 'off' },
      row: { weight_scale: 'row', activation: 'relu2' },
      fp: { weight_quant: 'fp', act_quant: 'none', tie_embeddings: false },
      narrow: { d_model: 128, d_ff: 512, n_heads: 4, n_kv_heads: 2 },
      narrowRow: { d_model: 192, d_ff: 320, n_heads: 4, n_kv_heads: 2, weight_quant: 'binary', weight_scale: 'row' },
    };
    for (const [name, model] of Object.entries(variants)) {
      runs[name] = path.join(dir, name);
      await train({ config: tinyConfig(vocab, { model, train: { steps: 2, ckpt_every: 2, eval_every: 2 } }), dataDir: data, runDir: runs[name]!, resume: false });
    }
  });
  after(() => rmDir(dir));

  for (const type of ['tq2_0', 'tq1_0'] as const)
    for (const variant of ['ternary', 'binary', 'row'] as const)
      it(`${variant} model as ${type.toUpperCase()}: the same codes, and scales equal to fp16(β)`, async () => {
        const out = path.join(dir, `${variant}-${type}.gguf`);
        const r = await exportCheckpoint(runs[variant]!, { type, out });
        expect(r.llamaCppCompatible, r.reasons.join('; ')).to.equal(true);
        const { state, weights } = loadCheckpoint(r.checkpoint, { moments: false });
        const c = state.config.model;
        const f = openGGUF(out);
        try {
          expect(f.getString('general.architecture')).to.equal('bitnet');
          expect(f.getU32('general.file_type')).to.equal(type === 'tq2_0' ? 37 : 36);
          expect(f.getStringArray('tokenizer.ggml.tokens')).to.have.length(vocab);
          expect(f.getString('bitnet.hidden_activation')).to.equal(variant === 'row' ? 'relu2' : 'silu');
          for (const s of paramSpecs(c).filter((s) => s.kind === 'linear')) {
            const [rows, cols] = s.shape as [number, number];
            const t = f.tensor(s.name)!;
            expect(t.type).to.equal(type === 'tq2_0' ? GGMLType.TQ2_0 : GGMLType.TQ1_0);
            expect(t.ne).to.deep.equal([cols, rows]);
            const q = quantizeLinear(weights.get(s.name)!, rows, cols, c.weight_quant as 'ternary' | 'binary', parseWeightScale(c.weight_scale));
            const back = (type === 'tq2_0' ? unpackTQ2_0 : unpackTQ1_0)(f.readTensor(s.name), (rows * cols) / 256);
            expect(Buffer.from(back.codes.buffer).equals(Buffer.from(q.codes.buffer)), s.name).to.equal(true);
            if (variant === 'binary') expect(back.codes.includes(0)).to.equal(false);
            for (let b = 0; b < back.d.length; b++) {
              const beta = c.weight_scale === 'row' ? q.scales[Math.floor((b * 256) / cols)]! : q.scales[0]!;
              expect(back.d[b], `${s.name} block ${b}`).to.equal(f16Round(beta));
            }
          }
        } finally {
          f.close();
        }
      });

  it('group scales narrower than a block: d = 1 plus a group_scales tensor; not llama.cpp-compatible, and says why', async () => {
    const out = path.join(dir, 'group.gguf');
    const r = await exportCheckpoint(runs.group64!, { out });
    expect(r.llamaCppCompatible).to.equal(false);
    expect(r.reasons.join('\n')).to.match(/group:64/).and.match(/int4/).and.match(/subln off/);
    const f = openGGUF(out);
    try {
      expect(f.hasTensor('blk.0.attn_sub_norm.weight')).to.equal(false);
      const gs = f.tensor('blk.0.ffn_down.group_scales')!;
      expect(gs.ne).to.deep.equal([512 / 64, 256]);
      const d = unpackTQ2_0(f.readTensor('blk.0.ffn_down.weight'), (256 * 512) / 256).d;
      expect(Array.from(new Set(d))).to.deep.equal([1]);
      expect(f.getBool('bitnet_ts.llama_cpp_compatible')).to.equal(false);
      expect(f.getString('bitnet_ts.act_quant')).to.equal('int4');
    } finally {
      f.close();
    }
    // bits per weight counts the scales beside the blocks: TQ2_0's 2.0625 plus one F32 per 64 weights
    const e = loadEngine(out);
    try {
      expect((e.weights.linearBytes * 8) / e.weights.linearElements).to.equal(2.0625 + 32 / 64);
    } finally {
      e.close();
    }
  });

  for (const variant of ['narrow', 'narrowRow'] as const)
    it(`${variant}: linears narrower than a TQ block are I8 codes with F32 group_scales, exactly; the rest TQ2_0; not llama.cpp-compatible, and says why`, async () => {
      const out = path.join(dir, `${variant}.gguf`);
      const r = await exportCheckpoint(runs[variant]!, { out });
      expect(r.llamaCppCompatible).to.equal(false);
      expect(r.reasons.join('\n')).to.match(variant === 'narrow' ? /d_model 128 is not a multiple of 256.*I8/ : /d_model 192 and d_ff 320 are not multiples of 256.*I8/);
      const { state, weights } = loadCheckpoint(r.checkpoint, { moments: false });
      const c = state.config.model;
      const f = openGGUF(out);
      try {
        const types = new Set<number>();
        for (const s of paramSpecs(c).filter((s) => s.kind === 'linear')) {
          const [rows, cols] = s.shape as [number, number];
          const t = f.tensor(s.name);
          types.add(t.type);
          const q = quantizeLinear(weights.get(s.name)!, rows, cols, c.weight_quant as 'ternary' | 'binary', parseWeightScale(c.weight_scale));
          if (cols % 256 === 0) {
            expect(t.type, s.name).to.equal(GGMLType.TQ2_0);
            continue;
          }
          expect([t.type, t.ne], s.name).to.deep.equal([GGMLType.I8, [cols, rows]]);
          expect(Buffer.from(f.readTensor(s.name)).equals(Buffer.from(q.codes.buffer)), s.name).to.equal(true);
          const gs = f.tensor(`${s.name.replace(/\.weight$/, '')}.group_scales`);
          expect(gs.ne, s.name).to.deep.equal([1, rows]);
          const scales = new Float32Array(f.readTensor(gs.name).slice().buffer);
          const want = c.weight_scale === 'row' ? q.scales : new Float32Array(rows).fill(q.scales[0]!);
          expect(Array.from(scales), s.name).to.deep.equal(Array.from(want)); // F32: no fp16 rounding
        }
        expect([...types].sort()).to.deep.equal(variant === 'narrow' ? [GGMLType.TQ2_0, GGMLType.I8].sort() : [GGMLType.I8]);
      } finally {
        f.close();
      }
      const e = loadEngine(out);
      try {
        const lin = e.weights.layers[0]!.q;
        expect(lin).to.include({ kind: 'ternary', groupSize: 0 });
        expect((lin as { scale: Float32Array }).scale.length).to.equal(c.weight_scale === 'row' ? c.d_model : 1);
        // bench counts the energy of what the kernels run: ternary, though the file's linear type is 'mixed' or I8
        const shape = { d_model: c.d_model, n_layers: c.n_layers, d_ff: c.d_ff, n_heads: c.n_heads, n_kv_heads: c.n_kv_heads, vocab_size: c.vocab_size };
        expect(bench(e, 4, 4).energy_pj_per_token).to.equal(energyPerToken(shape, 'ternary', '7nm').total);
        expect(Array.from(e.model.forward([1, 2, 3])).every(Number.isFinite)).to.equal(true);
      } finally {
        e.close();
      }
      // an I8 linear holds codes -1, 0, 1 only: anything else is the file's error, named
      const bad = await rewriteGGUF(out, path.join(dir, `${variant}-bad.gguf`), (_kv, tensors) => {
        const t = tensors.find((x) => x.name === 'blk.1.attn_k.weight')!;
        const data = Uint8Array.from(t.data as Uint8Array);
        data[5] = 2;
        t.data = data;
      });
      expect(() => loadEngine(bad)).to.throw(InputError, /-bad\.gguf: .*blk\.1\.attn_k\.weight.*holds 2 at element 5; an I8 linear holds ternary codes -1, 0, 1/);
    });

  it('fp model: F16 linears and an untied F16 output head; f32 embeddings on request', async () => {
    const out = path.join(dir, 'fp.gguf');
    await exportCheckpoint(runs.fp!, { out, embeddingType: 'f32' });
    const f = openGGUF(out);
    try {
      expect(f.tensor('blk.1.ffn_up.weight')!.type).to.equal(GGMLType.F16);
      expect(f.tensor('token_embd.weight')!.type).to.equal(GGMLType.F32);
      expect(f.tensor('output.weight')!.type).to.equal(GGMLType.F32);
      const w = loadCheckpoint(path.join(runs.fp!, 'checkpoints', 'step-2'), { moments: false }).weights.get('blk.1.ffn_up.weight')!;
      const bits = new Uint16Array(f.readTensor('blk.1.ffn_up.weight').slice().buffer);
      for (let i = 0; i < 50; i++) expect(f16BitsToF32(bits[i]!)).to.equal(f16Round(w[i]!));
    } finally {
      f.close();
    }
  });

  for (const [type, ggml, codec] of [['q8_0', GGMLType.Q8_0, GGML_CODECS.Q8_0], ['q6_k', GGMLType.Q6_K, GGML_CODECS.Q6_K]] as const)
    it(`--embedding-type ${type}: token_embd and an untied head as llama.cpp's reference quantizer writes them, and the engine runs the file`, async () => {
      for (const variant of ['ternary', 'fp'] as const) {
        const out = path.join(dir, `${variant}-${type}.gguf`);
        const r = await exportCheckpoint(runs[variant]!, { out, embeddingType: type });
        if (variant === 'ternary') expect(r.llamaCppCompatible, r.reasons.join('; ')).to.equal(true);
        const latent = loadCheckpoint(path.join(runs[variant]!, 'checkpoints', 'step-2'), { moments: false }).weights;
        const f = openGGUF(out);
        try {
          const names = variant === 'fp' ? ['token_embd.weight', 'output.weight'] : ['token_embd.weight'];
          for (const name of names) {
            expect(f.tensor(name).type, name).to.equal(ggml);
            expect(Buffer.from(f.readTensor(name)).equals(Buffer.from(codec.quantizeRow!(latent.get(name)!))), name).to.equal(true);
          }
        } finally {
          f.close();
        }
        const e = loadEngine(out);
        expect(e.weights.embedding).to.include({ kind: 'quant', type: type.toUpperCase() });
        expect(Array.from(e.model.forward([1, 2, 3])).every(Number.isFinite)).to.equal(true);
        e.close();
      }
    });

  it('CLI: export then inspect; a missing run is one line and exit 2', () => {
    const out = path.join(dir, 'cli.gguf');
    const r = spawnSync(process.execPath, ['bin/bitnet.js', 'export', runs.ternary!, '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/llama\.cpp-compatible: yes/);
    const i = spawnSync(process.execPath, ['bin/bitnet.js', 'inspect', out], { encoding: 'utf8' });
    expect(i.stdout).to.match(/blk\.1\.ffn_down\.weight\s+TQ2_0/);
    const bad = spawnSync(process.execPath, ['bin/bitnet.js', 'export', path.join(dir, 'nope')], { encoding: 'utf8' });
    expect(bad.status).to.equal(2);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
  });
});
