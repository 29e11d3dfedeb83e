import { expect } from 'chai';
import fc from 'fast-check';
import { StringTable, StringTableBuilder } from '../../src/format/gguf/index.ts';
import { TokenIds } from '../../src/infer/tokenizer/token-ids.ts';

const never = (a: number, b: number): never => {
  throw new Error(`duplicate ${a} ${b}`);
};

describe('infer/tokenizer: token ids by bytes (TokenIds)', () => {
  it('finds every token by its bytes and by its string, and nothing else (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ unit: 'grapheme', maxLength: 12 }), { maxLength: 400 }), fc.string({ maxLength: 12 }), (tokens, other) => {
        const ids = new TokenIds(StringTable.of(tokens), never);
        tokens.forEach((s, i) => {
          expect(ids.get(s)).to.equal(i);
          const b = Buffer.from(s, 'utf8');
          const padded = Uint8Array.from([7, ...b, 9]);
          expect(ids.getBytes(padded, 1, 1 + b.length)).to.equal(i);
        });
        if (!tokens.includes(other) && !tokens.includes(Buffer.from(other, 'utf8').toString('utf8'))) expect(ids.get(other)).to.equal(undefined);
      }),
    );
  });

  it('reports the first duplicate by both ids, comparing bytes as llama.cpp does', () => {
    expect(() => new TokenIds(StringTable.of(['a', 'b', 'c', 'b']), never)).to.throw('duplicate 1 3');
    // two different invalid bytes read as the same U+FFFD string, yet are different tokens
    const b = new StringTableBuilder();
    b.addBytes(Uint8Array.of(0xff), 0, 1);
    b.addBytes(Uint8Array.of(0xfe), 0, 1);
    const t = b.finish();
    expect(t.text(0)).to.equal(t.text(1));
    const ids = new TokenIds(t, never);
    expect([ids.getBytes(Uint8Array.of(0xff)), ids.getBytes(Uint8Array.of(0xfe)), ids.get('\uFFFD')]).to.deep.equal([0, 1, undefined]);
  });

  it('looks up strings longer than its scratch buffer', () => {
    const long = 'ü'.repeat(1000);
    const ids = new TokenIds(StringTable.of(['x', long]), never);
    expect(ids.get(long)).to.equal(1);
    expect(ids.get('x')).to.equal(0);
  });
});
