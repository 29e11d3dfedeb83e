/**
 * The ternary block codecs by GGUF type name, so a writer or loader picks one by the name it stores
 * and gets the block geometry with it. (The numeric ggml type ids are format constants: src/format.)
 */
import { QK_K } from './blocks.ts';
import { packTQ1_0, TQ1_0_BLOCK_BYTES, unpackTQ1_0 } from './tq1_0.ts';
import { packTQ2_0, TQ2_0_BLOCK_BYTES, unpackTQ2_0 } from './tq2_0.ts';

export type TernaryTypeName = 'TQ1_0' | 'TQ2_0';

export interface TernaryCodec {
  name: TernaryTypeName;
  /** Weights per block. */
  blockSize: number;
  /** Bytes per block, scale included. */
  blockBytes: number;
  pack(codes: Int8Array, d: Float32Array): Uint8Array;
  unpack(bytes: Uint8Array, nBlocks: number): { codes: Int8Array; d: Float32Array };
}

export const TERNARY_CODECS: Readonly<Record<TernaryTypeName, TernaryCodec>> = {
  TQ1_0: { name: 'TQ1_0', blockSize: QK_K, blockBytes: TQ1_0_BLOCK_BYTES, pack: packTQ1_0, unpack: unpackTQ1_0 },
  TQ2_0: { name: 'TQ2_0', blockSize: QK_K, blockBytes: TQ2_0_BLOCK_BYTES, pack: packTQ2_0, unpack: unpackTQ2_0 },
};
