/**
 * The in-memory form of GGUF metadata values, shared by the writer and the reader. Integers up to 32
 * bits and floats are numbers, 64-bit integers bigints; numeric arrays come back from the reader as
 * typed arrays (a 128k-entry token_type list stays one compact buffer).
 */
import type { GGUFBigIntTypeName, GGUFNumberTypeName } from './constants.ts';

export type GGUFArray =
  | { elemType: GGUFNumberTypeName; items: ArrayLike<number> }
  | { elemType: GGUFBigIntTypeName; items: ArrayLike<bigint> }
  | { elemType: 'bool'; items: readonly boolean[] }
  | { elemType: 'string'; items: readonly string[] }
  | { elemType: 'array'; items: readonly GGUFArray[] };

export type GGUFValue =
  | { type: GGUFNumberTypeName; value: number }
  | { type: GGUFBigIntTypeName; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; value: GGUFArray };

/** Typed-array constructors for numeric array elements (reader side). */
export const NUMERIC_ARRAY_CTORS = {
  u8: Uint8Array,
  i8: Int8Array,
  u16: Uint16Array,
  i16: Int16Array,
  u32: Uint32Array,
  i32: Int32Array,
  f32: Float32Array,
  f64: Float64Array,
  u64: BigUint64Array,
  i64: BigInt64Array,
} as const;

/** Inclusive integer ranges of the integer value types (writer-side checks). */
export const INT_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

export const BIGINT_RANGES: Readonly<Record<GGUFBigIntTypeName, readonly [bigint, bigint]>> = {
  u64: [0n, 2n ** 64n - 1n],
  i64: [-(2n ** 63n), 2n ** 63n - 1n],
};
