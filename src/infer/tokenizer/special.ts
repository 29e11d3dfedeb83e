/**
 * Special tokens in text: llama.cpp's tokenizer_st_partition. Before any pre-tokenizer or merge, the
 * text is cut at every occurrence of a special token's string, and each occurrence becomes that token.
 *
 * Which tokens: CONTROL, USER_DEFINED and UNKNOWN ones (llama.cpp's cache_special_tokens), longest
 * string first; CONTROL and UNKNOWN tokens only when the caller parses special tokens (prompts do),
 * USER_DEFINED ones always (as Hugging Face's added tokens). Each token in that order cuts every text
 * piece left by the tokens before it, left to right, non-overlapping. llama.cpp sorts by length with
 * std::sort, which leaves the order of equally long tokens unspecified; here they go by id, which only
 * matters when two such strings overlap in the text. The lstrip/rstrip attributes llama.cpp sets for a
 * few model names (phi-3, jina, modern-bert) are not applied.
 */
import { TokenType, type StringTable } from '../../format/gguf/index.ts';

/** A piece of text still to tokenize, or a token id found in the text. */
export type Fragment = string | number;

export class SpecialTokens {
  /** Special tokens, longest UTF-8 string first (then by id), with whether they need parse_special. */
  private readonly list: { text: string; id: number; control: boolean }[] = [];
  /** First UTF-16 unit of a token's string -> indices into `list`, to find the few that occur in a text in one pass. */
  private readonly byFirst = new Map<number, number[]>();

  constructor(tokens: StringTable, types: ArrayLike<number>) {
    const bytes: number[] = [];
    for (let id = 0; id < tokens.length; id++) {
      const t = types[id]!;
      if ((t === TokenType.CONTROL || t === TokenType.UNKNOWN || t === TokenType.USER_DEFINED) && tokens.end(id) > tokens.start(id)) {
        this.list.push({ text: tokens.text(id), id, control: t !== TokenType.USER_DEFINED });
        bytes[id] = tokens.end(id) - tokens.start(id);
      }
    }
    this.list.sort((a, b) => bytes[b.id]! - bytes[a.id]! || a.id - b.id);
    this.list.forEach((s, i) => {
      const k = s.text.charCodeAt(0);
      const at = this.byFirst.get(k);
      if (at) at.push(i);
      else this.byFirst.set(k, [i]);
    });
  }

  /** `text` cut into text pieces and special token ids, in order; no piece is empty. */
  partition(text: string, parseSpecial: boolean): Fragment[] {
    let frags: Fragment[] = text.length > 0 ? [text] : [];
    for (const i of this.occurring(text, parseSpecial)) {
      const s = this.list[i]!;
      const next: Fragment[] = [];
      for (const f of frags) {
        if (typeof f !== 'string') {
          next.push(f);
          continue;
        }
        let at = 0;
        for (let hit = f.indexOf(s.text); hit >= 0; hit = f.indexOf(s.text, at)) {
          if (hit > at) next.push(f.slice(at, hit));
          next.push(s.id);
          at = hit + s.text.length;
        }
        if (at < f.length) next.push(f.slice(at));
      }
      frags = next;
    }
    return frags;
  }

  /** Indices (in `list` order) of the usable tokens whose string occurs somewhere in `text`. */
  private occurring(text: string, parseSpecial: boolean): number[] {
    const found = new Set<number>();
    for (let p = 0; p < text.length; p++) {
      const cands = this.byFirst.get(text.charCodeAt(p));
      if (cands === undefined) continue;
      for (const i of cands) {
        const s = this.list[i]!;
        if ((parseSpecial || !s.control) && text.startsWith(s.text, p)) found.add(i);
      }
    }
    return [...found].sort((a, b) => a - b);
  }
}
