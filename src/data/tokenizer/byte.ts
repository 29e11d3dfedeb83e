import { BYTE_TO_UNICODE } from './byte-unicode.ts';
import { checkId, decodeIds, EOS_BYTES, EOS_TEXT, type Tokenizer } from './types.ts';

const encoder = new TextEncoder();
const SINGLE_BYTES: Uint8Array[] = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));

/** Byte-level tokenizer: ids 0..255 are the UTF-8 bytes, 256 is `<|endoftext|>` (vocab 257). */
export class ByteTokenizer implements Tokenizer {
  readonly kind = 'byte' as const;
  readonly vocabSize = 257;
  readonly eosId = 256;

  encode(text: string): Int32Array {
    return Int32Array.from(encoder.encode(text));
  }

  decode(ids: ArrayLike<number>): string {
    return decodeIds(this, ids);
  }

  tokenStrings(): string[] {
    return [...BYTE_TO_UNICODE, EOS_TEXT];
  }

  merges(): string[] {
    return [];
  }

  tokenBytes(id: number): Uint8Array {
    checkId(id, this.vocabSize);
    return id === this.eosId ? EOS_BYTES : SINGLE_BYTES[id]!;
  }
}
