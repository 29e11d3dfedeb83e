/**
 * Pre-tokenizers of byte-level BPE vocabularies (GGUF `tokenizer.ggml.pre`), as llama.cpp splits text
 * into the words that BPE then merges within: the table of names llama.cpp accepts, with the flags each
 * name sets, and the three splits this engine implements.
 *
 * - "llama3" (LLaMA-3's regex, names "llama-bpe", "llama3", ...): unicode_regex_split_custom_llama3 in
 *   llama.cpp's unicode.cpp. Case-insensitive contractions, letters with one optional leading
 *   non-letter, digits in groups of 1 to 3, punctuation runs with trailing newlines, newline runs.
 * - "gpt2" (GPT-2's regex, names "gpt-2", "mpt", "olmo", ...): unicode_regex_split_custom_gpt2.
 * - "default" (name "default", or no name at all): llama.cpp's four regexes applied one after the
 *   other, each splitting the pieces of the one before (unicode_regex_split over regex_exprs):
 *   punctuation runs, then GPT-2's rule, then digit runs, then ASCII digits in threes from the left.
 *   This is not GPT-2's split: "don't" becomes "don" "'" "t", "12345" becomes "123" "45".
 *
 * llama.cpp's custom splitters are hand-written state machines over code points; each is exactly its
 * regex read as a leftmost-first alternation (checked case by case: the optional space, the lookahead
 * `\s+(?!\S)`, a lone space at the end), so the splits here are JavaScript regexes with one change:
 * `\s` is llama.cpp's whitespace (unicode_set_whitespace, Unicode's White_Space property), which has
 * U+0085 and lacks U+FEFF where JavaScript's `\s` does the opposite. \p{L} and \p{N} are the Unicode
 * categories in both programs, up to the Unicode versions of their tables (Node's ICU is newer than the
 * table compiled into llama.cpp, so letters assigned in recent Unicode versions may split differently).
 *
 * Text that no alternative matches is kept as a piece of its own (llama.cpp's "no matches" branch and
 * unicode_regex_split_stl's gaps); with these regexes every character is matched anyway.
 */

/** The splits implemented here. */
export type SplitKind = 'llama3' | 'gpt2' | 'default';

export interface PreTokenizer {
  /** The split this engine applies; null when llama.cpp knows the name but this engine does not implement it. */
  split: SplitKind | null;
  /** A word that is a token of the vocabulary is that token, without merging (HF's ignore_merges). */
  ignoreMerges: boolean;
  /** llama.cpp's default for tokenizer.ggml.add_bos_token under this name (the key overrides it). */
  addBos: boolean;
  /** llama.cpp drops the default BOS id under this name (chatglm). */
  noDefaultBos: boolean;
}

const names = (list: string): string[] => list.trim().split(/\s+/);

/**
 * Every tokenizer.ggml.pre llama.cpp accepts (llama_vocab::impl::load, in the version read for this
 * table), by the split it applies. llama.cpp refuses any other name ("unknown pre-tokenizer type").
 */
const KNOWN: ReadonlyMap<string, PreTokenizer> = (() => {
  const m = new Map<string, PreTokenizer>();
  const add = (list: string, p: Partial<PreTokenizer>) => {
    for (const n of names(list)) m.set(n, { split: null, ignoreMerges: false, addBos: false, noDefaultBos: false, ...p });
  };
  add('default', { split: 'default' });
  // LLAMA_VOCAB_PRE_TYPE_LLAMA3, and DBRX/SMAUG/CHATGLM4 which use the same regex without its flags
  add('llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2 jina-v5-nano', { split: 'llama3', ignoreMerges: true, addBos: true });
  add('dbrx smaug-bpe', { split: 'llama3' });
  add('glm4 chatglm-bpe', { split: 'llama3', noDefaultBos: true });
  // LLAMA_VOCAB_PRE_TYPE_GPT2 and the types that share its regex (MPT, OLMO, JAIS, TRILLION, GRANITE_DOCLING)
  add('gpt-2 phi-2 jina-es jina-de gigachat jina-v2-es jina-v2-de a.x-4.0 mellum modern-bert exaone4 jina-v1-en jina-v2-code roberta-bpe', { split: 'gpt2' });
  add('mpt olmo jais trillion granite-docling', { split: 'gpt2' });
  // known to llama.cpp, other splits: not implemented here (their flags still apply)
  add('minicpm5 youtu granite-embed-multi-97m', { ignoreMerges: true });
  add('tekken', { ignoreMerges: true, addBos: true });
  add('chameleon', { addBos: true });
  add(
    `deepseek-llm deepseek-coder deepseek-v3 spark2_5 falcon starcoder jais-2 gemma4 granite-embed-multi-311m sarvam-moe
     whitespace refact command-r qwen2 deepseek-r1-qwen kormo f2llmv2 qwen35 stablelm2 poro-chat viking smollm codeshell
     bloom gpt3-finnish exaone exaone-moe minerva-7b megrez gpt-4o llama4 kanana2 talkie tiny_aya cohere2moe superbpe
     bailingmoe bailingmoe2 llada-moe seed-coder hunyuan hunyuan-dense hy_v4 joyai-llm kimi-k2 ufakzeka grok-2 afmoe
     laguna minimax-m2 solar-open mellum2`,
    {},
  );
  return m;
})();

/** The names this engine splits text for, in words, for messages. */
export const SUPPORTED_PRE = '"llama-bpe" (LLaMA-3\'s regex, also "llama3", "dbrx", "smaug-bpe", ...), "gpt-2" (also "mpt", "olmo", ...) and "default"';

/** The pre-tokenizer llama.cpp uses for this name ('' = the key is absent: "default"), or undefined when llama.cpp refuses the name. */
export function preTokenizer(name: string): PreTokenizer | undefined {
  return KNOWN.get(name === '' ? 'default' : name);
}

/** llama.cpp's whitespace (unicode_set_whitespace: Unicode White_Space), as the inside of a character class. */
const WS = '\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/** `\s+(?!\S)|\s+` with llama.cpp's whitespace: a run of whitespace, less its last one when a non-space follows. */
const SPACES = `[${WS}]+(?![^${WS}])|[${WS}]+`;

/** GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
const GPT2 = new RegExp(`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|${SPACES}`, 'gu');

/**
 * LLaMA-3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * The case-insensitive group is spelled out as llama.cpp does (unicode_tolower only maps A-Z onto these letters).
 */
const LLAMA3 = new RegExp(
  `'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*|[${WS}]*[\\r\\n]+|${SPACES}`,
  'gu',
);

/**
 * llama.cpp's "default" regexes after the first, GPT-2's (which it runs through the GPT-2 splitter). In
 * its first, [\p{P}\$\+<=>\^~\|]+, \p{P} is ASCII punctuation plus every non-ASCII code point of
 * category P (its "collapsed" text), i.e. the Unicode category as JavaScript has it; the backtick is
 * not in the class. The last is matched on raw code points: ASCII digits only.
 */
const DEFAULT_PUNCT = /[\p{P}$+<=>^~|]+/gu;
const DEFAULT_DIGITS = /\p{N}+/gu;
const DEFAULT_THREES = /[0-9][0-9][0-9]/g;

/** Appends the pieces of `text` under `re` to `out`: the matches, and the text between them as pieces of its own. */
function splitInto(text: string, re: RegExp, out: string[]): void {
  let at = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++; // none of the regexes here matches the empty string; never loop on one that would
      continue;
    }
    if (m.index > at) out.push(text.slice(at, m.index));
    out.push(m[0]);
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push(text.slice(at));
}

/** Splits each piece again under `re`. */
function resplit(pieces: readonly string[], re: RegExp): string[] {
  const out: string[] = [];
  for (const p of pieces) splitInto(p, re, out);
  return out;
}

/** The words of `text` under one of the implemented splits (text must be well-formed UTF-16). */
export function splitWords(kind: SplitKind, text: string): string[] {
  const out: string[] = [];
  if (kind === 'llama3') splitInto(text, LLAMA3, out);
  else if (kind === 'gpt2') splitInto(text, GPT2, out);
  else {
    splitInto(text, DEFAULT_PUNCT, out);
    return resplit(resplit(resplit(out, GPT2), DEFAULT_DIGITS), DEFAULT_THREES);
  }
  return out;
}
