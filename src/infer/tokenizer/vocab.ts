/**
 * The tokenizer.ggml.* keys of a GGUF, read and checked once into plain data: the token strings, their
 * types, scores and merges, the special ids and flags, with llama.cpp's defaults where a key is absent
 * (llama_vocab::impl::load). Every problem is an InputError naming the file and the key, on one line.
 *
 * Where llama.cpp only warns, this reader refuses: a special id outside the vocabulary, a merge line
 * that is not two tokens of the file, a BYTE token whose text is not <0xXX>. Where llama.cpp quietly
 * repairs, this reader repairs the same way: an empty token string becomes "[EMPTY_<id>]", tokens that
 * llama.cpp recognizes by their text as end-of-generation or fill-in-the-middle markers become CONTROL
 * (its "control-looking token ... will be overridden").
 */
import { InputError } from '../../errors.ts';
import { Keys, StringTable, StringTableBuilder, TokenType, type GGUFFile } from '../../format/gguf/index.ts';
import { preTokenizer, SUPPORTED_PRE, type PreTokenizer } from './pretokenize.ts';
import { TokenIds } from './token-ids.ts';

export type VocabModel = 'gpt2' | 'llama';

export interface Vocab {
  source: string;
  model: VocabModel;
  /** Token strings by id, as bytes (no JS string per token: ../../format/gguf/strings.ts says why). */
  tokens: StringTable;
  /** Token bytes -> id (llama.cpp refuses duplicate strings, so this is one-to-one). */
  idOf: TokenIds;
  /** TokenType per id (values outside 1..6 read as UNDEFINED, as llama.cpp does), after the overrides above. */
  types: Uint8Array;
  /** Scores per id (SentencePiece merges by them); zeros when the file has none. */
  scores: Float32Array;
  /** "a b" merge lines in rank order (model "gpt2"; empty for "llama"). */
  merges: StringTable;
  /** tokenizer.ggml.pre as written ('' when absent). */
  pre: string;
  /** The pre-tokenizer llama.cpp applies for `pre` (model "gpt2"). */
  preTokenizer: PreTokenizer;
  bosId: number | null;
  eosId: number | null;
  eotId: number | null;
  eomId: number | null;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  /** tokenizer.chat_template (null when absent): what `bitnet chat` renders the conversation with. */
  chatTemplate: string | null;
}

/** Token texts llama.cpp treats as end of generation (its special_eog_ids list; EOS, EOT and EOM ids join them). */
export const EOG_TEXTS: ReadonlySet<string> = new Set([
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>',
  '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>',
  '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[',
]);

/**
 * Token texts llama.cpp forces to CONTROL: the end-of-generation list, and the fill-in-the-middle
 * markers it detects (llama.cpp marks only the first marker of each kind it meets, in hash order;
 * this reader marks them all).
 */
export const FORCED_CONTROL: ReadonlySet<string> = new Set([
  ...EOG_TEXTS,
  '<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>',
  '<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>',
  '<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>',
  '<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]',
  '<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>', '<|file_sep|>',
]);

const BYTE_TEXT = /^<0x[0-9A-Fa-f]{2}>$/;

/** From the tokenizer.ggml.* keys of an open GGUF. */
export function readVocab(f: GGUFFile): Vocab {
  const source = f.path;
  const fail = (problem: string): never => {
    throw new InputError(source, problem);
  };
  const name = f.getString(Keys.tokenizer.model);
  if (name !== 'gpt2' && name !== 'llama')
    fail(`${Keys.tokenizer.model} is "${name}"; this engine reads byte-level BPE ("gpt2") and SentencePiece ("llama") vocabularies only`);
  const model = name as VocabModel;
  const spm = model === 'llama';

  const pre = f.has(Keys.tokenizer.pre) ? f.getString(Keys.tokenizer.pre) : '';
  // llama.cpp sets no pre-tokenizer for SentencePiece; for BPE it refuses a name it does not know
  const pt = spm ? preTokenizer('default')! : (preTokenizer(pre) ?? fail(`${Keys.tokenizer.pre} is "${pre}", a pre-tokenizer llama.cpp does not know (it refuses the file too); this engine splits text for ${SUPPORTED_PRE}`));

  const tokens = withoutEmpty(f.getStringTable(Keys.tokenizer.tokens));
  const n = tokens.length;
  if (n === 0) fail(`${Keys.tokenizer.tokens} is empty`);
  const idOf = new TokenIds(tokens, (j, i) => fail(`${Keys.tokenizer.tokens}: duplicate token ${JSON.stringify(tokens.text(i)).slice(0, 60)} at ids ${j} and ${i}`));

  const types = new Uint8Array(n).fill(TokenType.NORMAL);
  if (f.has(Keys.tokenizer.tokenType)) {
    const a = f.getArray(Keys.tokenizer.tokenType, 'i32').items as ArrayLike<number>;
    if (a.length < n) fail(`${Keys.tokenizer.tokenType} has ${a.length} entries for ${n} tokens`);
    for (let i = 0; i < n; i++) types[i] = a[i]! >= TokenType.NORMAL && a[i]! <= TokenType.BYTE ? a[i]! : TokenType.UNDEFINED;
  }
  for (const s of FORCED_CONTROL) {
    const i = idOf.get(s);
    if (i !== undefined) types[i] = TokenType.CONTROL;
  }
  for (let i = 0; i < n; i++)
    if (types[i] === TokenType.BYTE && !BYTE_TEXT.test(tokens.text(i))) fail(`${Keys.tokenizer.tokenType}: token ${i} ${JSON.stringify(tokens.text(i)).slice(0, 40)} is a BYTE token but not of the form <0xXX>`);

  const scores = new Float32Array(n);
  if (f.has(Keys.tokenizer.scores)) {
    const arr = f.getArray(Keys.tokenizer.scores);
    if (arr.elemType !== 'f32' && arr.elemType !== 'i32') fail(`${Keys.tokenizer.scores} is an array of ${arr.elemType}, expected f32 (or i32)`);
    const a = arr.items as ArrayLike<number>;
    if (a.length < n) fail(`${Keys.tokenizer.scores} has ${a.length} entries for ${n} tokens`);
    for (let i = 0; i < n; i++) scores[i] = a[i]!;
  }

  let merges = StringTable.of([]);
  if (!spm) {
    if (!f.has(Keys.tokenizer.merges)) fail(`missing metadata key ${Keys.tokenizer.merges} (byte-level BPE needs its merges)`);
    merges = f.getStringTable(Keys.tokenizer.merges);
  }

  // special ids: llama.cpp's defaults per model (SentencePiece 1/2, BPE 11/11, Falcon's), disabled when
  // outside the vocabulary; a key outside the vocabulary is an error here
  const id = (key: string, fallback: number | null): number | null => {
    if (!f.has(key)) return fallback !== null && fallback < n ? fallback : null;
    const v = f.getNumber(key);
    if (!(Number.isInteger(v) && v >= 0 && v < n)) fail(`${key} ${v} is outside the vocabulary [0, ${n})`);
    return v;
  };
  const flag = (key: string, fallback: boolean): boolean => (f.has(key) ? f.getBool(key) : fallback);
  const addBos = flag(Keys.tokenizer.addBos, spm || pt.addBos);
  const addEos = flag(Keys.tokenizer.addEos, false);
  // llama.cpp's BPE default BOS (11) is only ever used when add_bos is on; without that, no key means no BOS
  const bosId = id(Keys.tokenizer.bosId, spm ? 1 : addBos && !pt.noDefaultBos ? 11 : null);
  const eosId = id(Keys.tokenizer.eosId, spm ? 2 : 11);
  if (addBos && bosId === null) fail(`${Keys.tokenizer.addBos} is true, but ${Keys.tokenizer.bosId} is not set`);
  if (addEos && eosId === null) fail(`${Keys.tokenizer.addEos} is true, but ${Keys.tokenizer.eosId} is not set`);

  return {
    source,
    model,
    tokens,
    idOf,
    types,
    scores,
    merges,
    pre,
    preTokenizer: pt,
    bosId,
    eosId,
    eotId: id(Keys.tokenizer.eotId, null),
    eomId: id(Keys.tokenizer.eomId, null),
    addBos,
    addEos,
    addSpacePrefix: flag(Keys.tokenizer.addSpacePrefix, spm),
    chatTemplate: f.has(Keys.tokenizer.chatTemplate) ? f.getString(Keys.tokenizer.chatTemplate) : null,
  };
}

/** llama.cpp's repair of an empty token string: "[EMPTY_<id>]" (the table unchanged when none is empty). */
function withoutEmpty(t: StringTable): StringTable {
  let empty = false;
  for (let i = 0; i < t.length && !empty; i++) empty = t.start(i) === t.end(i);
  if (!empty) return t;
  const b = new StringTableBuilder(t.length, t.bytes.length + 64);
  for (let i = 0; i < t.length; i++) {
    if (t.start(i) === t.end(i)) b.addText(`[EMPTY_${i}]`);
    else b.addBytes(t.bytes, t.start(i), t.end(i));
  }
  return b.finish();
}
