// Mapped weights (src/infer/mapped.ts, readWeights with a map): a model run in place from the mapped
// file gives the same logits, bit for bit, as the same file copied into the engine's memory, with the
// native and the TS kernels; the tables and the TQ linears really are views of the mapping (no copy);
// 'auto' maps only what would not fit; --weights is validated like every flag.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openGGUF } from '../../src/format/index.ts';
import { loadEngine, type EngineChoice } from '../../src/infer/engine.ts';
import { isMapped, wantsMap } from '../../src/infer/mapped.ts';
import { parseShape, synthModel, type SynthLinearType } from '../../src/infer/synth.ts';
import { nativeAddon } from '../../src/native/addon.ts';

const SHAPE = '256,2,512,4,2,300';
const PROMPT = [5, 77, 1, 299, 42, 42, 8, 130];

describe('infer/mapped weights', function () {
  this.timeout(120_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitnet-mapped-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (type: SynthLinearType) => path.join(dir, `${type}.gguf`);
  before(async () => {
    for (const type of ['tq1_0', 'tq2_0', 'i2_s'] as const) await synthModel(file(type), parseShape(SHAPE, type), type, 3, { embeddingType: 'q8_0' });
  });

  if (process.env.BITNET_NO_NATIVE === '1' || nativeAddon() === null) {
    it('needs the native addon (mapFile); BITNET_NO_NATIVE=1 skips this file', () => {
      expect(process.env.BITNET_NO_NATIVE, 'the addon is not built').to.equal('1');
    });
    return;
  }

  /** Logits of every prompt position, then 6 greedy steps, as one array. */
  function run(f: string, engine: EngineChoice, weights: 'map' | 'copy'): { logits: Float32Array; mapped: boolean; kinds: string[]; embeddingMapped: boolean; linearMapped: boolean } {
    const e = loadEngine(f, { engine, weights, maxSeq: 64 });
    try {
      const parts: Float32Array[] = [];
      let last = e.model.forward(PROMPT).slice();
      parts.push(last);
      for (let i = 0; i < 6; i++) {
        let best = 0;
        for (let j = 1; j < last.length; j++) if (last[j]! > last[best]!) best = j;
        last = e.model.forward([best]).slice();
        parts.push(last);
      }
      const logits = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) {
        logits.set(p, o);
        o += p.length;
      }
      const L = e.weights.layers[0]!;
      const w = (l: typeof L.q) => (l.kind === 'ternary' ? l.packed : l.w);
      const bytes = (a: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      return { logits, mapped: e.weights.mapped, kinds: [L.q.kind, L.gate.kind, L.down.kind], embeddingMapped: isMapped(bytes(e.weights.embedding.w)), linearMapped: isMapped(bytes(w(L.down))) };
    } finally {
      e.close();
    }
  }

  for (const type of ['tq1_0', 'tq2_0', 'i2_s'] as const)
    for (const engine of ['native', 'ts'] as const)
      it(`${type}, ${engine} kernels: mapped and copied give the same logits bit for bit`, () => {
        const copied = run(file(type), engine, 'copy');
        const mapped = run(file(type), engine, 'map');
        expect(copied.mapped).to.equal(false);
        expect(mapped.mapped).to.equal(true);
        // TQ linears run in place; I2_S has no in-place kernel and is repacked as before
        expect(mapped.kinds).to.deep.equal(type === 'i2_s' ? ['ternary', 'ternary', 'ternary'] : ['blocks', 'blocks', 'blocks']);
        expect(copied.kinds).to.deep.equal(['ternary', 'ternary', 'ternary']);
        // the embedding (and a TQ linear) are views of the mapping, not copies
        expect([mapped.embeddingMapped, mapped.linearMapped]).to.deep.equal([true, type !== 'i2_s']);
        expect([copied.embeddingMapped, copied.linearMapped]).to.deep.equal([false, false]);
        expect(Buffer.from(mapped.logits.buffer).equals(Buffer.from(copied.logits.buffer))).to.equal(true);
        expect(mapped.logits.every(Number.isFinite)).to.equal(true);
      });

  it('maps a file larger than 4 GiB (a sparse one): a view past 4 GiB reads what was written there', () => {
    const big = path.join(dir, 'sparse.bin');
    const fd = fs.openSync(big, 'w+');
    try {
      const at = 5 * 2 ** 30;
      fs.writeSync(fd, Buffer.from('bitnet'), 0, 6, at);
      const [head, tail] = nativeAddon()!.mapFile(fd, at + 6, Float64Array.of(0, 4096, at, 6));
      expect(new Uint8Array(head!).every((b) => b === 0)).to.equal(true);
      expect(Buffer.from(tail!).toString()).to.equal('bitnet');
    } finally {
      fs.closeSync(fd);
      fs.rmSync(big);
    }
  });

  it("'auto' maps only when the copy would take more than half the memory; 'copy' never maps", () => {
    const f = openGGUF(file('tq1_0'));
    try {
      const size = fs.statSync(file('tq1_0')).size;
      expect(wantsMap(f, 'auto', 64 * size)).to.equal(false);
      expect(wantsMap(f, 'auto', size)).to.equal(true);
      expect(wantsMap(f, 'copy', 1)).to.equal(false);
      expect(wantsMap(f, 'map', 1e15)).to.equal(true);
    } finally {
      f.close();
    }
  });

  it('bitnet generate --weights map prints what --weights copy prints; a bad --weights is one line and exit 2', () => {
    const sh = (...args: string[]) => spawnSync(process.execPath, ['bin/bitnet.js', ...args], { encoding: 'utf8' });
    const args = ['generate', file('tq1_0'), '--prompt', 'the', '--max-tokens', '8', '--temperature', '0'];
    const a = sh(...args, '--weights', 'map');
    const b = sh(...args, '--weights', 'copy');
    expect(a.status, a.stderr).to.equal(0);
    expect(b.status, b.stderr).to.equal(0);
    expect(a.stdout).to.equal(b.stdout);
    const bad = sh(...args, '--weights', 'mmap');
    expect(bad.status).to.equal(2);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
    expect(bad.stderr).to.match(/--weights/);
  });
});
