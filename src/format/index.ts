/** File formats: GGUF read/write, safetensors read/write, atomic file and directory writes. */
export * from './atomic.ts';
export * from './gguf/constants.ts';
export * from './gguf/reader.ts';
export type { GGUFArray, GGUFValue } from './gguf/value.ts';
export * from './gguf/writer.ts';
export * from './safetensors.ts';
export * from './gguf/summary.ts';
export * from './shards.ts';
