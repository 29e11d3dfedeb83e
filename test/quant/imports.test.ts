import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as quant from '../../src/quant/index.ts';
import { TERNARY_CODECS } from '../../src/quant/codecs.ts';

const dir = fileURLToPath(new URL('../../src/quant/', import.meta.url));

describe('quant/boundaries', () => {
  it('imports nothing of ours outside src/quant, and tfjs only in ste.ts', () => {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(dir + f, 'utf8');
      const specs = [...src.matchAll(/(?:from|import)\s*\(?'([^']+)'/g)].map((m) => m[1]!);
      for (const s of specs) {
        if (s.startsWith('.')) expect(s, `${f} imports ${s}`).to.match(/^\.\/[a-z0-9_]+\.ts$/);
        else expect([f, s], `${f} imports ${s}`).to.deep.equal(['ste.ts', '@tensorflow/tfjs-core']);
      }
      if (f === 'index.ts') expect(specs, 'index.ts must not load tfjs through ste.ts').to.not.include('./ste.ts');
    }
  });

  it('offers the codecs by type name with their block geometry', () => {
    expect(TERNARY_CODECS.TQ2_0.blockBytes).to.equal(66);
    expect(TERNARY_CODECS.TQ1_0.blockBytes).to.equal(54);
    const codes = new Int8Array(256).map((_, i) => (i % 3) - 1);
    for (const c of Object.values(TERNARY_CODECS)) {
      expect(c.blockSize).to.equal(256);
      const bytes = c.pack(codes, new Float32Array([0.25]));
      expect(bytes.length, c.name).to.equal(c.blockBytes);
      expect(c.unpack(bytes, 1).codes).to.deep.equal(codes);
    }
    expect(quant.TERNARY_CODECS).to.equal(TERNARY_CODECS);
  });
});
