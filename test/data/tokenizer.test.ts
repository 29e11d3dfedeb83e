import { expect } from 'chai';
import fc from 'fast-check';
import { InputError } from '../../src/errors.ts';
import {
  BpeTokenizer,
  BYTE_TO_UNICODE,
  ByteTokenizer,
  EOS_TEXT,
  preTokenize,
  tokenizerFileText,
  tokenizerFromJson,
  trainBpe,
  type Tokenizer,
} from '../../src/data/tokenizer/index.ts';

const SMALL = ['low low low low low lower lower newest newest newest newest newest newest widest widest widest'];

/** The slow reference encoder: per word, repeatedly merge the lowest-rank adjacent pair, leftmost first. */
function referenceEncode(tok: Tokenizer, text: string): number[] {
  const strings = tok.tokenStrings();
  const idOf = new Map(strings.map((s, i) => [s, i]));
  const rank = new Map(tok.merges().map((m, r) => [m, r]));
  const out: number[] = [];
  for (const word of preTokenize(text)) {
    let syms = [...new TextEncoder().encode(word)].map((b) => BYTE_TO_UNICODE[b]!);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = rank.get(`${syms[i]} ${syms[i + 1]}`);
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
      }
      if (best < 0) break;
      syms = [...syms.slice(0, best), syms[best]! + syms[best + 1]!, ...syms.slice(best + 2)];
    }
    for (const s of syms) out.push(idOf.get(s)!);
  }
  return out;
}

const texts = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constantFrom('', ' ', '  a', "it's\n\n  we'll", EOS_TEXT, 'é😀\u0000\r\n\t'));

describe('data/tokenizer', () => {
  const bpe = trainBpe(
    [SMALL[0]!, "The whale's tale: 3 harpoons, 12 boats.\n\nCall me Ishmael. Some years ago— never mind how long precisely —", 'naïve café 😀 über'],
    330,
  ).tokenizer;

  it('byte-to-unicode maps 256 bytes to distinct non-space characters (GPT-2 order)', () => {
    expect(new Set(BYTE_TO_UNICODE).size).to.equal(256);
    expect(BYTE_TO_UNICODE[0x20]).to.equal('Ġ');
    expect(BYTE_TO_UNICODE[0x0a]).to.equal('Ċ');
    expect(BYTE_TO_UNICODE[0x41]).to.equal('A');
    expect(BYTE_TO_UNICODE[0x00]).to.equal('Ā');
    for (const c of BYTE_TO_UNICODE) expect(/\s/u.test(c)).to.equal(false);
  });

  it('pre-tokenizes like GPT-2 / llama.cpp "gpt-2" and never drops text', () => {
    expect(preTokenize("Hello world's  end 123!\n\n  x")).to.deep.equal(['Hello', ' world', "'s", ' ', ' end', ' 123', '!', '\n\n ', ' x']);
    expect(preTokenize('a\tb   ')).to.deep.equal(['a', '\t', 'b', '   ']);
    fc.assert(fc.property(texts, (t) => preTokenize(t).join('') === t));
  });

  it('byte tokenizer: ids are bytes, eos is 256, decode(encode(t)) === t', () => {
    const tok = new ByteTokenizer();
    expect([...tok.encode('Aé')]).to.deep.equal([0x41, 0xc3, 0xa9]);
    expect(tok.vocabSize).to.equal(257);
    expect(tok.tokenStrings()[256]).to.equal(EOS_TEXT);
    expect(tok.decode([0x41, 256])).to.equal(`A${EOS_TEXT}`);
    fc.assert(fc.property(texts, (t) => tok.decode(tok.encode(t)) === t));
  });

  it('BPE learns the expected merges on a small corpus', () => {
    const tok = trainBpe(SMALL, 257 + 6).tokenizer;
    // Words: "low" x1, " low" x4, " lower" x2, " newest" x6, " widest" x3 (space = byte 32 = 'Ġ').
    // e-s and s-t occur 9 times; the tie goes to the smaller id pair, e(101)+s(115). Then es-t 9;
    // then l-o and o-w 7 (l-o smaller), lo-w 7; then Ġ-n, Ġ-low, Ġn-e, ... all 6: Ġ(32)+n(110) first,
    // then Ġ(32)+low(259) before Ġn(260)+e.
    expect(tok.merges()).to.deep.equal(['e s', 'es t', 'l o', 'lo w', 'Ġ n', 'Ġ low']);
    expect(tok.vocabSize).to.equal(263);
    expect(tok.eosId).to.equal(262);
    expect([...tok.encode(' lowest')]).to.deep.equal([261, 257]);
    expect(tok.tokenStrings()[261]).to.equal('Ġlow');
  });

  it('BPE round-trips any UTF-8 text and matches the slow reference encoder', () => {
    fc.assert(
      fc.property(texts, (t) => {
        const ids = bpe.encode(t);
        expect(bpe.decode(ids)).to.equal(t);
        expect([...ids]).to.deep.equal(referenceEncode(bpe, t));
        for (const id of ids) expect(id).to.be.within(0, bpe.eosId - 1);
      }),
      { numRuns: 300 },
    );
    // Long runs go through the heap path, not quadratic rescans.
    const long = 'ab'.repeat(20000) + ' '.repeat(5000);
    expect(bpe.decode(bpe.encode(long))).to.equal(long);
  });

  it('BPE training is deterministic and stops early, saying so, when the corpus runs out of pairs', () => {
    const a = trainBpe(SMALL, 300);
    const b = trainBpe(SMALL, 300);
    expect(a.tokenizer.merges()).to.deep.equal(b.tokenizer.merges());
    expect(a.stoppedEarly).to.equal(true);
    expect(a.tokenizer.vocabSize).to.be.below(300);
    expect(trainBpe(SMALL, 258).stoppedEarly).to.equal(false);
  });

  it('tokenizer.json round-trips both kinds to identical behaviour and bytes', () => {
    for (const tok of [bpe, new ByteTokenizer()] as Tokenizer[]) {
      const text = tokenizerFileText(tok);
      const back = tokenizerFromJson(JSON.parse(text), 'tokenizer.json');
      expect(back.kind).to.equal(tok.kind);
      expect(back.tokenStrings()).to.deep.equal(tok.tokenStrings());
      expect(tokenizerFileText(back)).to.equal(text);
      expect([...back.encode('Call me Ishmael 😀')]).to.deep.equal([...tok.encode('Call me Ishmael 😀')]);
    }
    const j = JSON.parse(tokenizerFileText(bpe));
    expect(j.pre).to.equal('gpt-2');
    expect(j.vocab_size).to.equal(256 + j.merges.length + 1);
  });

  it('a bad tokenizer.json is an InputError naming the file', () => {
    const good = JSON.parse(tokenizerFileText(bpe));
    const bad = [
      { ...good, vocab_size: good.vocab_size + 1 },
      { ...good, eos_id: 3 },
      { ...good, merges: ['Ġ zz'] },
      { ...good, merges: ['a b c'] },
      { ...good, kind: 'wordpiece' },
      { ...good, extra: 1 },
      { ...good, pre: 'llama3' },
      { ...JSON.parse(tokenizerFileText(new ByteTokenizer())), merges: ['a b'] },
      'not an object',
    ];
    for (const v of bad) expect(() => tokenizerFromJson(v, 'tok.json')).to.throw(InputError, /^tok\.json: /);
  });

  it('a merge whose string already exists reuses that id (token strings stay unique)', () => {
    // "a"+"bc" after "ab"+"c" gives "abc" twice: one token, two merge lines.
    const A = 97;
    const tok = BpeTokenizer.fromPairs([
      [A, A + 1], // ab = 256
      [256, A + 2], // abc = 257
      [A + 1, A + 2], // bc = 258
      [A, 258], // a+bc -> abc, reuses 257
    ]);
    expect(tok.vocabSize).to.equal(260);
    expect(new Set(tok.tokenStrings()).size).to.equal(tok.vocabSize);
    expect(tok.merges()).to.have.length(4);
    expect([...tok.encode('abc')]).to.deep.equal([257]);
    const back = tokenizerFromJson(JSON.parse(tokenizerFileText(tok)), 'x');
    expect(back.tokenStrings()).to.deep.equal(tok.tokenStrings());
  });
});
