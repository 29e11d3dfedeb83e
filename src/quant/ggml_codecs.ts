/**
 * The decoders of the GGUF tensor types that llama.cpp and bitnet.cpp files use for embeddings,
 * heads and linears besides our own TQ1_0/TQ2_0 (codecs.ts), by ggml type name: a loader looks the
 * name of a tensor's type up here and gets the block geometry, the decoder, the integer form the
 * engine's quantized matmul is defined on and, where llama.cpp has a simple reference quantizer, that
 * quantizer. (The numeric ggml type ids are format constants: src/format/gguf/constants.ts.)
 *
 * Each decoder is bit-exact with ggml's dequantize_row_* (one file per type, with its byte layout).
 * Decoders check their arguments and throw a RangeError on misuse (n not a multiple of the block
 * size, a byte or output length that does not match); callers at a user-facing boundary wrap that.
 */
import { BF16_BLOCK, BF16_BLOCK_BYTES, dequantizeRowBF16, quantizeRowBF16 } from './bf16.ts';
import { checkCount, type IntBlock } from './ggml_block.ts';
import { dequantizeI2_S, I2_S_BLOCK, I2_S_BLOCK_BYTES, i2sByteLength, quantizeI2_S } from './i2_s.ts';
import { dequantizeRowQ4_0, quantizeRowQ4_0, Q4_0_BLOCK, Q4_0_BLOCK_BYTES, unpackQ4_0 } from './q4_0.ts';
import { dequantizeRowQ4_K, Q4_K_BLOCK, Q4_K_BLOCK_BYTES, unpackQ4_K } from './q4_k.ts';
import { dequantizeRowQ6_K, Q6_K_BLOCK, Q6_K_BLOCK_BYTES, quantizeRowQ6_K, unpackQ6_K } from './q6_k.ts';
import { dequantizeRowQ8_0, quantizeRowQ8_0, Q8_0_BLOCK, Q8_0_BLOCK_BYTES, unpackQ8_0 } from './q8_0.ts';

export type GgmlTypeName = 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K' | 'BF16' | 'I2_S';

export interface GgmlCodec {
  readonly name: GgmlTypeName;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block, scales included (I2_S: the codes only; its scale is in the tensor's tail). */
  readonly blockBytes: number;
  /** Bytes that n elements take (n a multiple of blockSize): n/blockSize·blockBytes, I2_S + 32 for the tail. */
  byteLength(n: number): number;
  /**
   * Decodes n elements (a multiple of blockSize) from exactly byteLength(n) bytes into `out` (length
   * n). For the block types that is any whole number of rows; for I2_S, whose one scale sits after
   * all the codes, it is the whole tensor.
   */
  dequantizeRow(bytes: Uint8Array, n: number, out: Float32Array): void;
  /** llama.cpp's (or bitnet.cpp's) reference quantizer, for the types that have a simple one. */
  quantizeRow?(x: Float32Array): Uint8Array;
  /** The block at byte `offset` in integer form (EngineKernels.matmulQuant's definition), for the integer block types. */
  unpackBlock?(bytes: Uint8Array, offset: number, blk: IntBlock): void;
}

function blockLength(name: string, blockSize: number, blockBytes: number): (n: number) => number {
  return (n) => {
    checkCount(`${name} byteLength`, n, blockSize);
    return (n / blockSize) * blockBytes;
  };
}

export const GGML_CODECS: Readonly<Record<GgmlTypeName, GgmlCodec>> = {
  Q8_0: {
    name: 'Q8_0', blockSize: Q8_0_BLOCK, blockBytes: Q8_0_BLOCK_BYTES, byteLength: blockLength('Q8_0', Q8_0_BLOCK, Q8_0_BLOCK_BYTES),
    dequantizeRow: dequantizeRowQ8_0, quantizeRow: quantizeRowQ8_0, unpackBlock: unpackQ8_0,
  },
  Q4_0: {
    name: 'Q4_0', blockSize: Q4_0_BLOCK, blockBytes: Q4_0_BLOCK_BYTES, byteLength: blockLength('Q4_0', Q4_0_BLOCK, Q4_0_BLOCK_BYTES),
    dequantizeRow: dequantizeRowQ4_0, quantizeRow: quantizeRowQ4_0, unpackBlock: unpackQ4_0,
  },
  Q4_K: {
    name: 'Q4_K', blockSize: Q4_K_BLOCK, blockBytes: Q4_K_BLOCK_BYTES, byteLength: blockLength('Q4_K', Q4_K_BLOCK, Q4_K_BLOCK_BYTES),
    dequantizeRow: dequantizeRowQ4_K, unpackBlock: unpackQ4_K,
  },
  Q6_K: {
    name: 'Q6_K', blockSize: Q6_K_BLOCK, blockBytes: Q6_K_BLOCK_BYTES, byteLength: blockLength('Q6_K', Q6_K_BLOCK, Q6_K_BLOCK_BYTES),
    dequantizeRow: dequantizeRowQ6_K, quantizeRow: quantizeRowQ6_K, unpackBlock: unpackQ6_K,
  },
  BF16: {
    name: 'BF16', blockSize: BF16_BLOCK, blockBytes: BF16_BLOCK_BYTES, byteLength: blockLength('BF16', BF16_BLOCK, BF16_BLOCK_BYTES),
    dequantizeRow: dequantizeRowBF16, quantizeRow: quantizeRowBF16,
  },
  I2_S: {
    name: 'I2_S', blockSize: I2_S_BLOCK, blockBytes: I2_S_BLOCK_BYTES, byteLength: i2sByteLength,
    dequantizeRow: dequantizeI2_S, quantizeRow: quantizeI2_S,
  },
};

/** The codec of a type name (exact spelling, as GGML_CODECS's keys), or undefined. */
export function ggmlCodec(name: string): GgmlCodec | undefined {
  return Object.hasOwn(GGML_CODECS, name) ? GGML_CODECS[name as GgmlTypeName] : undefined;
}
