/** GGUF alone (constants, reader, writer, summary): what the engine imports, without the training formats' dependencies. */
export * from './constants.ts';
export * from './bitnet.ts';
export * from './reader.ts';
export type { GGUFArray, GGUFValue } from './value.ts';
export { StringTable, StringTableBuilder } from './strings.ts';
export * from './writer.ts';
export * from './summary.ts';
