/**
 * The one tokenizer interface that prepare, training, the GGUF export and the engine share.
 *
 * Ids 0..255 are always the 256 bytes (id b = byte b); a BPE tokenizer adds one id per new merged
 * token after them; `<|endoftext|>` is always the last id. `encode` never produces `eosId`: it treats
 * "<|endoftext|>" in the text as plain text, so decode(encode(text)) === text for every well-formed
 * string; prepare inserts `eosId` after each document itself.
 */
export interface Tokenizer {
  readonly kind: 'byte' | 'bpe';
  readonly vocabSize: number;
  readonly eosId: number;
  encode(text: string): Int32Array;
  /** Bytes of the ids as UTF-8; a byte sequence that is not UTF-8 (sampled ids) decodes with U+FFFD. */
  decode(ids: ArrayLike<number>): string;
  /** One string per id under GPT-2's byte-to-unicode mapping (GGUF tokenizer.ggml.tokens). */
  tokenStrings(): string[];
  /** "a b" merge lines in rank order (GGUF tokenizer.ggml.merges); empty for the byte tokenizer. */
  merges(): string[];
  /** The bytes one id stands for (`<|endoftext|>`'s are its UTF-8 spelling). */
  tokenBytes(id: number): Uint8Array;
}

export const EOS_TEXT = '<|endoftext|>';
export const EOS_BYTES: Uint8Array = new TextEncoder().encode(EOS_TEXT);

// ignoreBOM: text that starts with U+FEFF decodes with it (TextDecoder would drop it as a byte order mark)
const lenient = new TextDecoder('utf-8', { ignoreBOM: true });

/** Concatenates the bytes of `ids` and decodes them; shared by both tokenizers. */
export function decodeIds(tok: Pick<Tokenizer, 'tokenBytes'>, ids: ArrayLike<number>): string {
  const parts: Uint8Array[] = [];
  let n = 0;
  for (let i = 0; i < ids.length; i++) {
    const b = tok.tokenBytes(ids[i]!);
    parts.push(b);
    n += b.length;
  }
  const all = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return lenient.decode(all);
}

/** Throws a RangeError for an id outside [0, vocabSize): a bug in the caller, not bad input. */
export function checkId(id: number, vocabSize: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new RangeError(`token id ${id} outside [0, ${vocabSize})`);
}
