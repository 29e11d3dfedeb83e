/** File formats: GGUF read/write, safetensors read/write, atomic file and directory writes. */
export * from './arrow.ts';
export * from './atomic.ts';
export * from './gguf/index.ts';
export * from './safetensors.ts';
export * from './shards.ts';
