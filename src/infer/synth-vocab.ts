/**
 * `bitnet synth --tokenizer FILE`: a real vocabulary for a synthetic model, so that the engine can be
 * tested and benchmarked with, say, LLaMA-3's 128k tokens and chat template instead of synth's made-up
 * byte pairs. The source is either
 *
 * - a GGUF: every tokenizer.* key copied as it is (tokenizer.ggml.*, tokenizer.chat_template), or
 * - a Hugging Face tokenizer.json of a byte-level BPE (LLaMA-3, GPT-2 and their kin), converted as
 *   llama.cpp's convert_hf_to_gguf.py converts it: tokens by id (a gap becomes "[PAD<id>]", UNUSED),
 *   added tokens CONTROL when special and USER_DEFINED otherwise, merges as "a b" lines, the
 *   pre-tokenizer named by its split regex ("llama-bpe" for LLaMA-3's, "gpt-2" for a plain ByteLevel
 *   split). BOS, EOS, add_bos_token and the chat template come from the tokenizer_config.json next to
 *   it, when there is one.
 *
 * The result is checked by reading it with the engine's own tokenizer before the model is written, so
 * a vocabulary synth accepts is one generate and chat accept. SentencePiece tokenizer.json files (LLaMA-2:
 * no scores there) are refused; their GGUF carries the scores and is accepted.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError, isInputError } from '../errors.ts';
import { Keys, openGGUF, TokenType, writeGGUF, type GGUFValue } from '../format/gguf/index.ts';
import { GGUFTokenizer } from './tokenizer.ts';

export interface SourceVocab {
  /** The tokenizer keys to write. */
  kv: [string, GGUFValue][];
  vocabSize: number;
  /** "gpt2/llama-bpe, 128256 tokens, with a chat template", for the summary line. */
  summary: string;
}

/** LLaMA-3's split regex as tokenizer.json writes it. */
const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const str = (value: string): GGUFValue => ({ type: 'string', value });
const strings = (items: readonly string[]): GGUFValue => ({ type: 'array', value: { elemType: 'string', items } });

/** The vocabulary of `file` (.gguf, or a tokenizer.json), checked; InputError('--tokenizer') naming the file otherwise. */
export async function readSourceVocab(file: string): Promise<SourceVocab> {
  const kv = isGGUF(file) ? ggufKv(file) : hfKv(file);
  // checked as the engine will read it: a tokenizer-only GGUF written to a temporary folder and opened
  const dir = mkdtempSync(path.join(tmpdir(), 'bitnet-vocab-'));
  let tok: GGUFTokenizer;
  try {
    const probe = path.join(dir, 'vocab.gguf');
    await writeGGUF(probe, { kv });
    const f = openGGUF(probe);
    try {
      tok = GGUFTokenizer.fromGGUF(f);
    } catch (e) {
      throw isInputError(e) ? new InputError('--tokenizer', `${file}: ${e.problem}`) : e;
    } finally {
      f.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const template = kv.some(([k]) => k === Keys.tokenizer.chatTemplate) ? ', with a chat template' : '';
  return { kv, vocabSize: tok.vocabSize, summary: `${tok.model}${tok.model === 'gpt2' ? `/${tok.pre}` : ''}, ${tok.vocabSize} tokens${template}` };
}

function isGGUF(file: string): boolean {
  try {
    return readFileSync(file).subarray(0, 4).toString('latin1') === 'GGUF';
  } catch (e) {
    throw new InputError('--tokenizer', `${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function ggufKv(file: string): [string, GGUFValue][] {
  const f = openGGUF(file);
  try {
    const kv = [...f.kv].filter(([k]) => k.startsWith('tokenizer.'));
    if (!kv.some(([k]) => k === Keys.tokenizer.tokens)) throw new InputError('--tokenizer', `${file} has no ${Keys.tokenizer.tokens}: no vocabulary to take`);
    return kv;
  } finally {
    f.close();
  }
}

interface HfAdded {
  id: number;
  content: string;
  special?: boolean;
}
interface HfTokenizer {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; byte_fallback?: boolean };
  added_tokens?: HfAdded[];
  pre_tokenizer?: HfPre | null;
}
interface HfPre {
  type?: string;
  pretokenizers?: HfPre[];
  pattern?: { Regex?: string; String?: string };
  use_regex?: boolean;
}

function hfKv(file: string): [string, GGUFValue][] {
  const fail = (problem: string): never => {
    throw new InputError('--tokenizer', `${file}: ${problem}`);
  };
  let j: HfTokenizer;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as HfTokenizer;
  } catch (e) {
    return fail(`neither a GGUF nor a tokenizer.json (${(e as Error).message})`);
  }
  const m = j.model;
  if (m?.type !== 'BPE' || typeof m.vocab !== 'object' || !Array.isArray(m.merges)) return fail(`model.type is ${JSON.stringify(m?.type)}; only BPE tokenizer.json files with a vocab and merges are read`);
  const pres = flatten(j.pre_tokenizer);
  if (m.byte_fallback === true || !pres.some((p) => p.type === 'ByteLevel'))
    fail('is not a byte-level BPE (a SentencePiece-style tokenizer.json has no scores: take the vocabulary from its GGUF instead)');
  const split = pres.find((p) => p.type === 'Split')?.pattern?.Regex;
  const pre = split === undefined ? (pres.some((p) => p.type === 'ByteLevel' && p.use_regex !== false) ? 'gpt-2' : null) : split === LLAMA3_REGEX ? 'llama-bpe' : null;
  if (pre === null) fail(`its pre-tokenizer (${split === undefined ? 'a ByteLevel split without its regex' : `split ${JSON.stringify(split).slice(0, 80)}`}) is neither LLaMA-3's nor GPT-2's`);

  const byId = new Map<number, { text: string; type: number }>();
  for (const [text, id] of Object.entries(m.vocab)) byId.set(id, { text, type: TokenType.NORMAL });
  for (const a of j.added_tokens ?? []) byId.set(a.id, { text: a.content, type: a.special ? TokenType.CONTROL : TokenType.USER_DEFINED });
  let n = 0;
  for (const id of byId.keys()) n = Math.max(n, id + 1);
  const tokens = new Array<string>(n);
  const types = new Int32Array(n);
  for (let id = 0; id < n; id++) {
    const t = byId.get(id) ?? { text: `[PAD${id}]`, type: TokenType.UNUSED };
    tokens[id] = t.text;
    types[id] = t.type;
  }
  const merges = m.merges.map((x) => (Array.isArray(x) ? `${x[0]} ${x[1]}` : x));
  const kv: [string, GGUFValue][] = [
    [Keys.tokenizer.model, str('gpt2')],
    [Keys.tokenizer.pre, str(pre!)],
    [Keys.tokenizer.tokens, strings(tokens)],
    [Keys.tokenizer.tokenType, { type: 'array', value: { elemType: 'i32', items: types } }],
    [Keys.tokenizer.merges, strings(merges)],
  ];
  kv.push(...configKv(path.join(path.dirname(file), 'tokenizer_config.json'), tokens, fail));
  return kv;
}

/** tokenizer_config.json's BOS, EOS, add_bos_token and chat template, as keys. */
function configKv(file: string, tokens: readonly string[], fail: (problem: string) => never): [string, GGUFValue][] {
  if (!existsSync(file)) return [];
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    return fail(`${path.basename(file)} beside it does not parse (${(e as Error).message})`);
  }
  const kv: [string, GGUFValue][] = [];
  const special = (name: string, key: string) => {
    const v = c[name];
    const text = typeof v === 'string' ? v : typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : null;
    if (text === null) return;
    const id = tokens.indexOf(text);
    if (id < 0) fail(`${path.basename(file)}'s ${name} ${JSON.stringify(text)} is no token of the vocabulary`);
    kv.push([key, { type: 'u32', value: id }]);
  };
  special('bos_token', Keys.tokenizer.bosId);
  special('eos_token', Keys.tokenizer.eosId);
  if (typeof c.add_bos_token === 'boolean') kv.push([Keys.tokenizer.addBos, { type: 'bool', value: c.add_bos_token }]);
  const t = c.chat_template;
  // a list of named templates: the one named "default", as the converter picks it
  const template = typeof t === 'string' ? t : Array.isArray(t) ? (t as { name?: string; template?: string }[]).find((x) => x.name === 'default')?.template : undefined;
  if (typeof template === 'string') kv.push([Keys.tokenizer.chatTemplate, str(template)]);
  return kv;
}

function flatten(p: HfPre | null | undefined): HfPre[] {
  if (p === null || p === undefined) return [];
  return p.type === 'Sequence' ? (p.pretokenizers ?? []).flatMap(flatten) : [p];
}
