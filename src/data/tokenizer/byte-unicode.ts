/**
 * GPT-2's byte-to-unicode mapping: every byte gets a printable, non-space character, so a byte-level
 * token can be written as a plain string (GGUF `tokenizer.ggml.tokens`, "a b" merge lines). Printable
 * Latin-1 bytes map to themselves; the other 68 bytes map to U+0100 upward in byte order (space -> 'Ġ',
 * newline -> 'Ċ'). No mapped character is a space, so "a b" splits a merge line unambiguously.
 */
function buildTable(): string[] {
  const keep = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(keep(b) ? b : next++);
  return out;
}

/** BYTE_TO_UNICODE[b] is the one-character string of byte b. */
export const BYTE_TO_UNICODE: readonly string[] = buildTable();

const UNICODE_TO_BYTE = new Map<string, number>(BYTE_TO_UNICODE.map((c, b) => [c, b]));

/** The GPT-2 string of some bytes. */
export function bytesToUnicode(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_TO_UNICODE[b]!;
  return s;
}

/** The bytes of a GPT-2 string, or undefined when it has a character outside the mapping. */
export function unicodeToBytes(s: string): Uint8Array | undefined {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = UNICODE_TO_BYTE.get(s[i]!);
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}
