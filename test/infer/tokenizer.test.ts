// The engine's GGUF-vocabulary tokenizer: exactly src/data's ids on our own vocabularies (a trained BPE
// and the byte tokenizer), the file's ids on a vocabulary in another id order, decoding, bad vocabularies.
import { expect } from 'chai';
import path from 'node:path';
import { isInputError } from '../../src/errors.ts';
import { Keys, openGGUF, TokenType, writeGGUF, type GGUFValue } from '../../src/format/index.ts';
import { Rng } from '../../src/data/rng.ts';
import { ByteTokenizer, trainBpe, type Tokenizer } from '../../src/data/tokenizer/index.ts';
import { GGUFTokenizer } from '../../src/infer/tokenizer.ts';
import { rmDir, tmpDir } from '../support/tiny.ts';

const CORPUS = [
  'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse,',
  "and nothing particular to interest me on shore, I thought I'd sail about a little and see the watery part of the world.",
  'It is a way I have of driving off the spleen; whenever it is a damp, drizzly November in my soul... 1851, 2024!',
  'Ünïcödé wörds, 日本語のテキスト, emoji 🐳🐋 and    runs   of spaces\n\n\tand tabs.',
];

const SAMPLES = [
  'Call me Ishmael.',
  "I'll sail about; it's a damp, drizzly November — isn't it?",
  '   leading spaces and trailing   ',
  'numbers 12345 and 3.14159, words12mixed',
  'Ünïcödé 日本語 🐳 <|endoftext|> is plain text here',
  '\n\n\ttabs\r\nand newlines\n',
  '',
];

/** Writes a GGUF holding only a tokenizer and reads it back. */
async function ggufTokenizer(dir: string, name: string, tokens: string[], merges: string[], types?: Int32Array, eos?: number): Promise<GGUFTokenizer> {
  const kv: [string, GGUFValue][] = [
    [Keys.tokenizer.model, { type: 'string', value: 'gpt2' }],
    [Keys.tokenizer.pre, { type: 'string', value: 'gpt-2' }],
    [Keys.tokenizer.tokens, { type: 'array', value: { elemType: 'string', items: tokens } }],
    [Keys.tokenizer.merges, { type: 'array', value: { elemType: 'string', items: merges } }],
  ];
  if (types) kv.push([Keys.tokenizer.tokenType, { type: 'array', value: { elemType: 'i32', items: types } }]);
  if (eos !== undefined) kv.push([Keys.tokenizer.eosId, { type: 'u32', value: eos }]);
  const file = path.join(dir, name);
  await writeGGUF(file, { kv });
  const f = openGGUF(file);
  try {
    return GGUFTokenizer.fromGGUF(f);
  } finally {
    f.close();
  }
}

function ourTypes(t: Tokenizer): Int32Array {
  const types = new Int32Array(t.vocabSize).fill(TokenType.NORMAL);
  types[t.eosId] = TokenType.CONTROL;
  return types;
}

describe('infer/tokenizer: the GGUF vocabulary tokenizer', function () {
  let dir: string;
  before(() => (dir = tmpDir('tok')));
  after(() => rmDir(dir));

  it('gives exactly the ids of a BPE trained by src/data, and decodes them back', async () => {
    const { tokenizer: bpe } = trainBpe(CORPUS, 420);
    expect(bpe.merges().length).to.be.greaterThan(40);
    const g = await ggufTokenizer(dir, 'bpe.gguf', bpe.tokenStrings(), bpe.merges(), ourTypes(bpe), bpe.eosId);
    expect(g.vocabSize).to.equal(bpe.vocabSize);
    for (const text of [...SAMPLES, ...CORPUS]) {
      const ids = g.encode(text);
      expect([...ids], JSON.stringify(text)).to.deep.equal([...bpe.encode(text)]);
      expect(g.decode(ids)).to.equal(text);
    }
    expect(g.encode(CORPUS[0]!).length).to.be.lessThan(CORPUS[0]!.length * 0.8); // the merges are used
  });

  it('gives exactly the ids of the byte tokenizer (no merges)', async () => {
    const byte = new ByteTokenizer();
    const g = await ggufTokenizer(dir, 'byte.gguf', byte.tokenStrings(), byte.merges(), ourTypes(byte), byte.eosId);
    for (const text of SAMPLES) expect([...g.encode(text)]).to.deep.equal([...byte.encode(text)]);
  });

  it("gives the file's ids for a vocabulary in another id order", async () => {
    const { tokenizer: bpe } = trainBpe(CORPUS, 400);
    const strings = bpe.tokenStrings();
    const rng = new Rng(9);
    const perm = Array.from(strings, (_, i) => i); // perm[our id] = file id
    for (let i = perm.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    const tokens: string[] = new Array(strings.length);
    strings.forEach((s, i) => (tokens[perm[i]!] = s));
    const g = await ggufTokenizer(dir, 'perm.gguf', tokens, bpe.merges());
    for (const text of SAMPLES) {
      const want = Array.from(bpe.encode(text), (id) => perm[id]!);
      expect([...g.encode(text)]).to.deep.equal(want);
      expect(g.decode(g.encode(text))).to.equal(text);
    }
  });

  it('falls back to byte tokens for a merge whose result is not a token', async () => {
    const byte = new ByteTokenizer();
    const tokens = byte.tokenStrings();
    const g = await ggufTokenizer(dir, 'orphan.gguf', [...tokens, 'hi'], ['h i', 'e y']); // "ey" is not a token
    expect([...g.encode('hi hey')]).to.deep.equal([257, 32, 104, 101, 121]);
  });

  it('decodes control tokens to nothing and normal tokens to their bytes', async () => {
    const { tokenizer: bpe } = trainBpe(CORPUS, 300);
    const g = await ggufTokenizer(dir, 'ctl.gguf', bpe.tokenStrings(), bpe.merges(), ourTypes(bpe), bpe.eosId);
    expect(g.eosId).to.equal(bpe.eosId);
    expect(g.decode([72, 105, bpe.eosId, 33])).to.equal('Hi!');
    expect(g.tokenBytes(bpe.eosId).length).to.equal(0);
    // an empty prompt starts from EOS (our document separator); a non-empty one gets nothing prepended
    expect([...g.promptIds('')]).to.deep.equal([bpe.eosId]);
    expect([...g.promptIds('Hi')]).to.deep.equal([...bpe.encode('Hi')]);
  });

  it('rejects a vocabulary without every byte token, a bad merge line and a non-gpt2 model', async () => {
    const byte = new ByteTokenizer();
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['nobyte.gguf', () => ggufTokenizer(dir, 'nobyte.gguf', byte.tokenStrings().slice(1), []), /no token for byte 0x0/],
      ['badmerge.gguf', () => ggufTokenizer(dir, 'badmerge.gguf', byte.tokenStrings(), ['h i', 'hi xyz']), /merges\[1\] "hi xyz"/],
    ];
    for (const [name, make, pattern] of cases) {
      const err = await make().then(() => null, (e: unknown) => e);
      expect(isInputError(err), `${name}: ${String(err)}`).to.equal(true);
      expect((err as Error).message).to.contain(name).and.match(pattern);
    }
    const file = path.join(dir, 'llama.gguf');
    await writeGGUF(file, { kv: [[Keys.tokenizer.model, { type: 'string', value: 'llama' }]] });
    const f = openGGUF(file);
    expect(() => GGUFTokenizer.fromGGUF(f)).to.throw(/tokenizer\.ggml\.model is "llama"/);
    f.close();
  });
});
