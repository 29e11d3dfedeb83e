// The engine's GGUF-vocabulary tokenizer: exactly src/data's ids on our own vocabularies (a trained BPE
// and the byte tokenizer), the file's ids on a vocabulary in another id order, decoding, bad vocabularies;
// then llama.cpp's rules on small vocabularies built here: the pre-tokenizer splits, special tokens,
// BOS/EOS defaults and keys, end of generation. The real LLaMA-3 and LLaMA-2 vocabularies against
// reference implementations are in tokenizer-reference.test.ts.
import { expect } from 'chai';
import path from 'node:path';
import { isInputError } from '../../src/errors.ts';
import { Keys, openGGUF, TokenType, writeGGUF, type GGUFValue } from '../../src/format/index.ts';
import { Rng } from '../../src/data/rng.ts';
import { ByteTokenizer, trainBpe, type Tokenizer } from '../../src/data/tokenizer/index.ts';
import { GGUFTokenizer } from '../../src/infer/tokenizer.ts';
import { splitWords } from '../../src/infer/tokenizer/pretokenize.ts';
import { rmDir, tmpDir } from '../support/tiny.ts';
import { tokenizerFile } from './tokenizer-fixtures.ts';

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
function ggufTokenizer(dir: string, name: string, tokens: string[], merges: string[], types?: Int32Array, eos?: number): Promise<GGUFTokenizer> {
  const kv: [string, GGUFValue][] = [
    [Keys.tokenizer.model, { type: 'string', value: 'gpt2' }],
    [Keys.tokenizer.pre, { type: 'string', value: 'gpt-2' }],
    [Keys.tokenizer.tokens, { type: 'array', value: { elemType: 'string', items: tokens } }],
    [Keys.tokenizer.merges, { type: 'array', value: { elemType: 'string', items: merges } }],
  ];
  if (types) kv.push([Keys.tokenizer.tokenType, { type: 'array', value: { elemType: 'i32', items: types } }]);
  if (eos !== undefined) kv.push([Keys.tokenizer.eosId, { type: 'u32', value: eos }]);
  return tokenizerFile(path.join(dir, name), kv);
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

  it('reads a vocabulary that lacks some byte tokens, dropping those bytes as llama.cpp does', async () => {
    // StarCoder's, MPT's and Falcon's vocabularies lack a few bytes; llama.cpp loads them and a lone
    // missing byte finds no token (llm_tokenizer_bpe_session's fallback looks up its UTF-8 bytes)
    const byte = new ByteTokenizer();
    const tokens = byte.tokenStrings().slice(0, 256);
    const g = await ggufTokenizer(dir, 'nobyte.gguf', tokens.filter((_, b) => b !== 0 && b !== 0xc0), []);
    // ids shift down by one after byte 0's missing token
    expect([...g.encode('a\0b')]).to.deep.equal([0x61 - 1, 0x62 - 1]);
    expect(g.decode(g.encode('x\0y é'))).to.equal('xy é');
  });

  it('rejects a bad merge line and a model this engine does not read', async () => {
    const byte = new ByteTokenizer();
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['badmerge.gguf', () => ggufTokenizer(dir, 'badmerge.gguf', byte.tokenStrings(), ['h i', 'hi xyz']), /merges\[1\] "hi xyz"/],
    ];
    for (const [name, make, pattern] of cases) {
      const err = await make().then(() => null, (e: unknown) => e);
      expect(isInputError(err), `${name}: ${String(err)}`).to.equal(true);
      expect((err as Error).message).to.contain(name).and.match(pattern);
    }
    // "llama" (SentencePiece) is read now (see below); BERT's WordPiece is not
    const file = path.join(dir, 'bert.gguf');
    await writeGGUF(file, { kv: [[Keys.tokenizer.model, { type: 'string', value: 'bert' }]] });
    const f = openGGUF(file);
    expect(() => GGUFTokenizer.fromGGUF(f)).to.throw(/tokenizer\.ggml\.model is "bert"/);
    f.close();
  });
  // ---- llama.cpp's rules on small vocabularies -------------------------------------------------------

  const str = (value: string): GGUFValue => ({ type: 'string', value });
  const strs = (items: string[]): GGUFValue => ({ type: 'array', value: { elemType: 'string', items } });
  const i32s = (items: number[]): GGUFValue => ({ type: 'array', value: { elemType: 'i32', items: Int32Array.from(items) } });
  const u32 = (value: number): GGUFValue => ({ type: 'u32', value });
  const bool = (value: boolean): GGUFValue => ({ type: 'bool', value });

  const fromKv = (name: string, kv: [string, GGUFValue][]): Promise<GGUFTokenizer> => tokenizerFile(path.join(dir, name), kv);

  /** A byte-level vocabulary: the 256 byte tokens, then `extra` (with their types), merges as given. */
  function gpt2Kv(pre: string | null, extra: [string, number][] = [], merges: string[] = []): [string, GGUFValue][] {
    const tokens = [...new ByteTokenizer().tokenStrings().slice(0, 256), ...extra.map(([t]) => t)];
    const types = [...new Array<number>(256).fill(TokenType.NORMAL), ...extra.map(([, t]) => t)];
    const kv: [string, GGUFValue][] = [
      [Keys.tokenizer.model, str('gpt2')],
      [Keys.tokenizer.tokens, strs(tokens)],
      [Keys.tokenizer.tokenType, i32s(types)],
      [Keys.tokenizer.merges, strs(merges)],
    ];
    if (pre !== null) kv.push([Keys.tokenizer.pre, str(pre)]);
    return kv;
  }

  /** A SentencePiece vocabulary: <unk> <s> </s>, the 256 byte tokens, then `pieces` with falling scores. */
  function spmKv(pieces: string[], rename = (t: string) => t): [string, GGUFValue][] {
    const hex = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
    const tokens = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, b) => hex(b)), ...pieces].map(rename);
    const types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL, ...new Array<number>(256).fill(TokenType.BYTE), ...pieces.map(() => TokenType.NORMAL)];
    const scores = Float32Array.from(tokens, (_, i) => (i < 259 ? 0 : -(i - 259)));
    return [
      [Keys.tokenizer.model, str('llama')],
      [Keys.tokenizer.tokens, strs(tokens)],
      [Keys.tokenizer.tokenType, i32s(types)],
      [Keys.tokenizer.scores, { type: 'array', value: { elemType: 'f32', items: scores } }],
    ];
  }

  const replace = (kv: [string, GGUFValue][], key: string, v: GGUFValue | null): [string, GGUFValue][] =>
    v === null ? kv.filter(([k]) => k !== key) : kv.some(([k]) => k === key) ? kv.map(([k, x]) => [k, k === key ? v : x]) : [...kv, [key, v]];

  it('refuses every bad vocabulary with one line naming the file and the key', async () => {
    const gpt2 = gpt2Kv('gpt-2');
    const spm = spmKv(['▁', 'a', '▁a']);
    const byteTokens = new ByteTokenizer().tokenStrings().slice(0, 256);
    const cases: Array<[string, [string, GGUFValue][], RegExp]> = [
      ['nomodel', replace(gpt2, Keys.tokenizer.model, null), /missing metadata key tokenizer\.ggml\.model/],
      ['bert', replace(gpt2, Keys.tokenizer.model, str('bert')), /tokenizer\.ggml\.model is "bert"/],
      ['modeltype', replace(gpt2, Keys.tokenizer.model, u32(2)), /tokenizer\.ggml\.model is u32, expected string/],
      ['notokens', replace(gpt2, Keys.tokenizer.tokens, null), /missing metadata key tokenizer\.ggml\.tokens/],
      ['tokensint', replace(gpt2, Keys.tokenizer.tokens, i32s([1, 2])), /tokenizer\.ggml\.tokens is an array of i32, expected string/],
      ['tokensempty', replace(gpt2, Keys.tokenizer.tokens, strs([])), /tokenizer\.ggml\.tokens is empty/],
      ['duplicate', replace(gpt2, Keys.tokenizer.tokens, strs([...byteTokens, 'hi', 'hi'])), /tokenizer\.ggml\.tokens: duplicate token "hi" at ids 256 and 257/],
      ['typesf32', replace(gpt2, Keys.tokenizer.tokenType, { type: 'array', value: { elemType: 'f32', items: new Float32Array(256) } }), /tokenizer\.ggml\.token_type is an array of f32, expected i32/],
      ['typesshort', replace(gpt2, Keys.tokenizer.tokenType, i32s([1, 1, 1])), /tokenizer\.ggml\.token_type has 3 entries for 256 tokens/],
      ['badbyte', replace(spm, Keys.tokenizer.tokenType, i32s([2, 3, 3, ...new Array<number>(256).fill(6), 1, 6, 1])), /tokenizer\.ggml\.token_type: token 260 "a" is a BYTE token but not of the form <0xXX>/],
      ['scoresstr', replace(spm, Keys.tokenizer.scores, strs(['0'])), /tokenizer\.ggml\.scores is an array of string, expected f32/],
      ['scoresshort', replace(spm, Keys.tokenizer.scores, { type: 'array', value: { elemType: 'f32', items: new Float32Array(5) } }), /tokenizer\.ggml\.scores has 5 entries for 262 tokens/],
      ['nomerges', replace(gpt2, Keys.tokenizer.merges, null), /missing metadata key tokenizer\.ggml\.merges/],
      ['mergesint', replace(gpt2, Keys.tokenizer.merges, i32s([1])), /tokenizer\.ggml\.merges is an array of i32, expected string/],
      ['mergeunknown', replace(gpt2, Keys.tokenizer.merges, strs(['h i', 'x zz'])), /tokenizer\.ggml\.merges: merges\[1\] "x zz" is not two known tokens/],
      ['mergenospace', replace(gpt2, Keys.tokenizer.merges, strs(['hi'])), /merges\[0\] "hi" is not two known tokens/],
      ['nobytetoken', spmKv(['▁', 'a'], (t) => (t === '<0x41>' ? '<0x4a>' : t)), /tokenizer\.ggml\.tokens has no byte token <0x41>, which SentencePiece's byte fallback needs/],
      ['bosrange', [...gpt2, [Keys.tokenizer.bosId, u32(999)]], /tokenizer\.ggml\.bos_token_id 999 is outside the vocabulary \[0, 256\)/],
      ['eosstring', [...gpt2, [Keys.tokenizer.eosId, str('2')]], /tokenizer\.ggml\.eos_token_id is string, expected/],
      ['addbosstring', [...gpt2, [Keys.tokenizer.addBos, str('yes')]], /tokenizer\.ggml\.add_bos_token is string, expected bool/],
      ['addbosnobos', [...gpt2Kv('glm4'), [Keys.tokenizer.addBos, bool(true)]], /tokenizer\.ggml\.add_bos_token is true, but tokenizer\.ggml\.bos_token_id is not set/],
      ['unknownpre', gpt2Kv('my-own-pre'), /tokenizer\.ggml\.pre is "my-own-pre", a pre-tokenizer llama\.cpp does not know/],
    ];
    for (const [name, kv, pattern] of cases) {
      const err = await fromKv(`${name}.gguf`, kv).then(() => null, (e: unknown) => e);
      expect(isInputError(err), `${name}: ${String(err)}`).to.equal(true);
      const msg = (err as Error).message;
      expect(msg, name).to.contain(`${name}.gguf`).and.match(pattern);
      expect(msg, name).not.to.contain('\n');
    }
  });

  it("splits words as llama.cpp's pre-tokenizers do (llama3, gpt2, and default's four regexes)", () => {
    // hand-derived from unicode_regex_split_custom_llama3 / _gpt2 and the "default" regex_exprs of
    // llm_tokenizer_bpe: case-insensitive contractions and digits in threes for LLaMA-3; lowercase
    // contractions and whole digit runs for GPT-2; "default" cuts punctuation out first
    const cases: Array<['llama3' | 'gpt2' | 'default', string, string[]]> = [
      ['llama3', "I'M 12345  spaces\n\nend", ['I', "'M", ' ', '123', '45', ' ', ' spaces', '\n\n', 'end']],
      ['llama3', "WE'VE we'Re 'x", ['WE', "'VE", ' we', "'Re", " '", 'x']],
      ['llama3', '  hi!!\n\n  \t', [' ', ' hi', '!!\n\n', '  \t']],
      ['llama3', '1234567', ['123', '456', '7']],
      ['gpt2', "I'm 12345  spaces\n\nend", ['I', "'m", ' 12345', ' ', ' spaces', '\n', '\n', 'end']],
      ['gpt2', "WE'VE we're", ['WE', "'", 'VE', ' we', "'re"]],
      ['default', "Hello, world's 12345 $x", ['Hello', ',', ' world', "'", 's', ' ', '123', '45', ' ', '$', 'x']],
      ['default', "don't a`b", ['don', "'", 't', ' a', '`', 'b']],
      ['default', 'x ١٢٣٤٥ 1234567', ['x', ' ', '١٢٣٤٥', ' ', '123', '456', '7']],
    ];
    for (const [kind, text, want] of cases) expect(splitWords(kind, text), `${kind} ${JSON.stringify(text)}`).to.deep.equal(want);
    for (const [kind, text] of cases) expect(splitWords(kind, text).join('')).to.equal(text);
  });

  it('encodes with the pre-tokenizer the file names; one llama.cpp knows but this engine does not is refused at encode', async () => {
    const { tokenizer: bpe } = trainBpe(CORPUS, 400);
    const kv = (pre: string | null): [string, GGUFValue][] => {
      const base: [string, GGUFValue][] = [
        [Keys.tokenizer.model, str('gpt2')],
        [Keys.tokenizer.tokens, strs(bpe.tokenStrings())],
        [Keys.tokenizer.tokenType, i32s(Array.from(ourTypes(bpe)))],
        [Keys.tokenizer.merges, strs(bpe.merges())],
      ];
      return pre === null ? base : [...base, [Keys.tokenizer.pre, str(pre)]];
    };
    const gpt2 = await fromKv('pre-gpt2.gguf', kv('gpt-2'));
    const deflt = await fromKv('pre-default.gguf', kv('default'));
    const absent = await fromKv('pre-absent.gguf', kv(null));
    const qwen = await fromKv('pre-qwen2.gguf', kv('qwen2'));
    const text = "It's 1851, don't sail: 12345 whales!";
    // "default" is not GPT-2's split: the same merges over its words
    const want = splitWords('default', text).flatMap((w) => [...gpt2.encode(w)]);
    expect(splitWords('default', text)).not.to.deep.equal(splitWords('gpt2', text));
    expect([...deflt.encode(text)]).to.deep.equal(want);
    expect([...absent.encode(text)]).to.deep.equal(want); // no key: llama.cpp's "default"
    expect(absent.pre).to.equal('default');
    const err = (() => {
      try {
        qwen.encode(text);
      } catch (e) {
        return e;
      }
    })();
    expect(isInputError(err), String(err)).to.equal(true);
    expect((err as Error).message).to.match(/pre-qwen2\.gguf: tokenizer\.ggml\.pre is "qwen2", a pre-tokenizer this engine does not implement \(it splits text for "llama-bpe".*"gpt-2".*"default"\)/);
    expect(qwen.decode(gpt2.encode(text))).to.equal(text); // decoding needs no split
  });

  it('cuts special tokens out of the text: USER_DEFINED always, CONTROL and UNKNOWN when parsing, longest first', async () => {
    const eot = 256;
    const tool = 257;
    const toolX = 258;
    const unk = 259;
    const endS = 260;
    const g = await fromKv('special.gguf', [
      ...gpt2Kv('gpt-2', [['<|eot|>', TokenType.CONTROL], ['<tool>', TokenType.USER_DEFINED], ['<tool>x', TokenType.USER_DEFINED], ['<unk>', TokenType.UNKNOWN], ['</s>', TokenType.NORMAL]]),
      [Keys.tokenizer.eosId, u32(eot)],
    ]);
    const bytes = (s: string) => Array.from(new TextEncoder().encode(s));
    expect([...g.encode('a<tool>b<tool>xc')]).to.deep.equal([0x61, tool, 0x62, toolX, 0x63]);
    expect([...g.encode('a<|eot|>')]).to.deep.equal([0x61, ...bytes('<|eot|>')]); // CONTROL: text unless parsing
    expect([...g.encode('a<|eot|><unk>', { parseSpecial: true })]).to.deep.equal([0x61, eot, unk]);
    expect([...g.promptIds('a<|eot|>')]).to.deep.equal([0x61, eot]); // prompts parse special tokens
    expect([...g.encode('</s>', { parseSpecial: true })]).to.deep.equal([endS]); // llama.cpp makes "</s>" CONTROL by its text
    expect(g.tokenType(endS)).to.equal(TokenType.CONTROL);
    expect(g.decode([0x61, tool, eot, unk, endS])).to.equal('a<tool>');
    expect(g.decode([0x61, tool, eot, unk, endS], { special: true })).to.equal('a<tool><|eot|><unk></s>');
    expect([g.isEog(eot), g.isEog(endS), g.isEog(tool)]).to.deep.equal([true, true, false]);
    expect([...g.encode('\uD800')]).to.deep.equal([...g.encode('\uFFFD')]); // a lone surrogate is U+FFFD, as TextEncoder writes it
  });

  it("adds BOS and EOS as the keys say, with llama.cpp's defaults when they are absent", async () => {
    const plain = await fromKv('bos-gpt2.gguf', gpt2Kv('gpt-2'));
    expect([plain.addBos, plain.bosId, plain.eosId]).to.deep.equal([false, null, 11]); // llama.cpp's BPE default EOS is 11
    expect([...plain.promptIds('hi')]).to.deep.equal([0x68, 0x69]);
    const l3 = await fromKv('bos-llama3.gguf', [...gpt2Kv('llama-bpe'), [Keys.tokenizer.bosId, u32(200)]]);
    expect([...l3.promptIds('hi')]).to.deep.equal([200, 0x68, 0x69]); // LLaMA-3's names add BOS by default
    expect([...l3.encode('hi')]).to.deep.equal([0x68, 0x69]);
    const off = await fromKv('bos-off.gguf', [...gpt2Kv('llama-bpe'), [Keys.tokenizer.bosId, u32(200)], [Keys.tokenizer.addBos, bool(false)]]);
    expect([...off.promptIds('hi')]).to.deep.equal([0x68, 0x69]);
    const eos = await fromKv('eos-on.gguf', [...gpt2Kv('gpt-2'), [Keys.tokenizer.eosId, u32(201)], [Keys.tokenizer.addEos, bool(true)]]);
    expect([...eos.promptIds('hi')]).to.deep.equal([0x68, 0x69, 201]);
    expect([...eos.promptIds('')]).to.deep.equal([201]);

    const spm = await fromKv('bos-spm.gguf', spmKv(['▁', 'a', 'b', '▁a', 'ab', '▁ab']));
    expect([spm.model, spm.addBos, spm.bosId, spm.eosId, spm.addSpacePrefix]).to.deep.equal(['llama', true, 1, 2, true]);
    const id = (t: string) => Array.from({ length: spm.vocabSize }, (_, i) => spm.tokenText(i)).indexOf(t);
    expect([...spm.promptIds('ab')]).to.deep.equal([1, id('▁ab')]);
    expect([...spm.encode('ab b')]).to.deep.equal([id('▁ab'), id('▁'), id('b')]);
    expect([...spm.encode('ac')]).to.deep.equal([id('▁a'), 3 + 0x63]); // "c" is no token: its byte <0x63>
    expect(spm.decode(spm.encode('ab b\tc'))).to.equal('ab b\tc');
    expect(spm.isEog(2)).to.equal(true);
  });
});
