/**
 * GGUF constants: magic, versions, value types, the ggml tensor type table, file types and the general
 * and tokenizer key names (the bitnet architecture's keys and tensor names are in ./bitnet.ts). Kept
 * apart from the writer and the reader (gguf-py's layout), so both and the engine share one table.
 *
 * Type ids and block sizes follow ggml (ggml.h `enum ggml_type`, gguf-py `GGML_QUANT_SIZES`); ids that
 * ggml removed from GGUF files (4, 5, 31-33, 37, 38) are not listed and a reader rejects them. 36,
 * which mainline ggml no longer uses (its IQ4_NL_4_4 was removed from files), is bitnet.cpp's I2_S:
 * its ggml fork numbers GGML_TYPE_I2_S = 36 (I8_S = 37, TL1 = 38, TL2 = 39: activation and
 * lookup-table types that we do not read; 39 is MXFP4 in mainline, which wins here).
 */

/** "GGUF" as the first four bytes of the file (0x46554747 read as a little-endian u32). */
export const GGUF_MAGIC = 0x46554747;
/** Versions the reader accepts: v2 and v3 share the layout (u64 counts and lengths); v1 is gone. */
export const GGUF_READ_VERSIONS: readonly number[] = [2, 3];
export const GGUF_WRITE_VERSION = 3;
/** Alignment of the data section and of every tensor when general.alignment is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_NAME is 64 including the terminating NUL: a name may have at most 63 bytes. */
export const GGUF_MAX_NAME_BYTES = 63;
export const GGUF_MAX_DIMS = 4;

/** Value types of a KV pair, by name; the ids are the on-disk u32. */
export const GGUFValueType = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;
export type GGUFValueTypeName = keyof typeof GGUFValueType;
export type GGUFNumberTypeName = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
export type GGUFBigIntTypeName = 'u64' | 'i64';

const VALUE_TYPE_NAMES = new Map<number, GGUFValueTypeName>(
  Object.entries(GGUFValueType).map(([n, id]) => [id, n as GGUFValueTypeName]),
);

/** The name of a value type id, or undefined for an unknown id. */
export function valueTypeName(id: number): GGUFValueTypeName | undefined {
  return VALUE_TYPE_NAMES.get(id);
}

/** Byte size of a fixed-size value type (undefined for string and array). */
export const VALUE_TYPE_SIZE: Readonly<Partial<Record<GGUFValueTypeName, number>>> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, u64: 8, i64: 8, f64: 8,
};

/** Fewest bytes one element of this type can take on disk (string: its u64 length; array: type + count). */
export function minValueBytes(type: GGUFValueTypeName): number {
  if (type === 'string') return 8;
  if (type === 'array') return 12;
  return VALUE_TYPE_SIZE[type]!;
}

/**
 * One ggml tensor type: `blockSize` elements are stored in `typeSize` bytes, and a tensor has
 * `tailBytes` more after all its blocks (only I2_S has a tail).
 */
export interface GGMLTypeInfo {
  readonly id: number;
  readonly name: string;
  readonly blockSize: number;
  readonly typeSize: number;
  readonly tailBytes?: number;
}

const QK_K = 256;

/** ggml tensor types that may appear in a GGUF file. */
export const GGML_TYPES: readonly GGMLTypeInfo[] = [
  { id: 0, name: 'F32', blockSize: 1, typeSize: 4 },
  { id: 1, name: 'F16', blockSize: 1, typeSize: 2 },
  { id: 2, name: 'Q4_0', blockSize: 32, typeSize: 2 + 16 },
  { id: 3, name: 'Q4_1', blockSize: 32, typeSize: 2 + 2 + 16 },
  { id: 6, name: 'Q5_0', blockSize: 32, typeSize: 2 + 4 + 16 },
  { id: 7, name: 'Q5_1', blockSize: 32, typeSize: 2 + 2 + 4 + 16 },
  { id: 8, name: 'Q8_0', blockSize: 32, typeSize: 2 + 32 },
  { id: 9, name: 'Q8_1', blockSize: 32, typeSize: 4 + 4 + 32 },
  { id: 10, name: 'Q2_K', blockSize: QK_K, typeSize: 2 + 2 + QK_K / 16 + QK_K / 4 },
  { id: 11, name: 'Q3_K', blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 8 + 12 },
  { id: 12, name: 'Q4_K', blockSize: QK_K, typeSize: 2 + 2 + QK_K / 2 + 12 },
  { id: 13, name: 'Q5_K', blockSize: QK_K, typeSize: 2 + 2 + QK_K / 2 + QK_K / 8 + 12 },
  { id: 14, name: 'Q6_K', blockSize: QK_K, typeSize: 2 + QK_K / 2 + QK_K / 4 + QK_K / 16 },
  { id: 15, name: 'Q8_K', blockSize: QK_K, typeSize: 4 + QK_K + QK_K / 8 },
  { id: 16, name: 'IQ2_XXS', blockSize: QK_K, typeSize: 2 + QK_K / 4 },
  { id: 17, name: 'IQ2_XS', blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 32 },
  { id: 18, name: 'IQ3_XXS', blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 8 },
  { id: 19, name: 'IQ1_S', blockSize: QK_K, typeSize: 2 + QK_K / 8 + QK_K / 16 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, typeSize: 2 + 16 },
  { id: 21, name: 'IQ3_S', blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4 },
  { id: 22, name: 'IQ2_S', blockSize: QK_K, typeSize: 2 + QK_K / 4 + QK_K / 16 },
  { id: 23, name: 'IQ4_XS', blockSize: QK_K, typeSize: 2 + 2 + QK_K / 2 + QK_K / 64 },
  { id: 24, name: 'I8', blockSize: 1, typeSize: 1 },
  { id: 25, name: 'I16', blockSize: 1, typeSize: 2 },
  { id: 26, name: 'I32', blockSize: 1, typeSize: 4 },
  { id: 27, name: 'I64', blockSize: 1, typeSize: 8 },
  { id: 28, name: 'F64', blockSize: 1, typeSize: 8 },
  { id: 29, name: 'IQ1_M', blockSize: QK_K, typeSize: QK_K / 8 + QK_K / 16 + QK_K / 32 },
  { id: 30, name: 'BF16', blockSize: 1, typeSize: 2 },
  { id: 34, name: 'TQ1_0', blockSize: QK_K, typeSize: 2 + 4 * 13 },
  { id: 35, name: 'TQ2_0', blockSize: QK_K, typeSize: 2 + 64 },
  // bitnet.cpp's I2_S (src/quant/i2_s.ts): 2-bit codes in blocks of 128 weights (32 bytes), then ONE
  // float32 scale for the tensor and 28 bytes of padding. Its fork's ggml.c sizes a tensor of n
  // weights as n/4 + 32 (ggml_nbytes special-cases I2_S; its type_traits say blck_size 1, type_size 1,
  // which ggml_row_size uses for nothing that reaches the file). We describe the real geometry
  // instead, so a row is ne0/4 bytes here too, and require ne0 % 128 == 0: rows of whole blocks, as
  // bitnet.cpp's converter and kernels need (every I2_S tensor of a real file is a linear with such rows).
  { id: 36, name: 'I2_S', blockSize: 128, typeSize: 32, tailBytes: 32 },
  { id: 39, name: 'MXFP4', blockSize: 32, typeSize: 1 + 16 },
  { id: 40, name: 'NVFP4', blockSize: 64, typeSize: 4 + 32 },
];

/**
 * Type ids by name, for the types this project writes or reads by name: its exports, and the foreign
 * embedding / head / linear types that `bitnet synth` writes so the engine's loader is tested on them.
 */
export const GGMLType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q8_0: 8,
  Q4_K: 12,
  Q6_K: 14,
  I8: 24,
  I32: 26,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  I2_S: 36,
} as const;

/** The ternary types of llama.cpp (PR #8151) and bitnet.cpp's I2_S: what "ternary linears" means in bits-per-weight totals. */
export const TERNARY_TYPES: ReadonlySet<number> = new Set([GGMLType.TQ1_0, GGMLType.TQ2_0, GGMLType.I2_S]);

const TYPES_BY_ID = new Map(GGML_TYPES.map((t) => [t.id, t]));
const TYPES_BY_NAME = new Map(GGML_TYPES.map((t) => [t.name, t]));

/** The type with this id, or undefined when ggml defines none (or none usable in a file). */
export function ggmlTypeById(id: number): GGMLTypeInfo | undefined {
  return TYPES_BY_ID.get(id);
}

/** The type with this name (`'TQ2_0'`, case-insensitive), or undefined. */
export function ggmlTypeByName(name: string): GGMLTypeInfo | undefined {
  return TYPES_BY_NAME.get(name.toUpperCase());
}

/**
 * Bytes of a tensor of this type and shape (ne in ggml order), or a one-line reason why the shape does
 * not fit the type (ne0 not a multiple of the block size, a dimension below 1, too many elements).
 */
export function tensorByteLength(type: GGMLTypeInfo, ne: readonly number[]): number | string {
  if (ne.length < 1 || ne.length > GGUF_MAX_DIMS) return `${ne.length} dimensions, expected 1 to ${GGUF_MAX_DIMS}`;
  let n = 1;
  for (const d of ne) {
    if (!Number.isSafeInteger(d) || d < 1) return `dimension ${d} is not an integer >= 1`;
    n *= d;
    if (!Number.isSafeInteger(n)) return `shape [${ne.join(', ')}] has 2^53 or more elements`;
  }
  if (ne[0]! % type.blockSize !== 0) {
    return `ne0 = ${ne[0]} is not a multiple of the ${type.name} block size ${type.blockSize}`;
  }
  return typeByteLength(type, n);
}

/** Bytes of nElements (a multiple of the block size) of this type as one tensor: its blocks and its tail. */
export function typeByteLength(type: GGMLTypeInfo, nElements: number): number {
  return (nElements / type.blockSize) * type.typeSize + (type.tailBytes ?? 0);
}

/** general.file_type values (llama.cpp `enum llama_ftype`) that this project writes. */
export const FileType = {
  ALL_F32: 0,
  MOSTLY_F16: 1,
  MOSTLY_Q8_0: 7,
  MOSTLY_BF16: 32,
  MOSTLY_TQ1_0: 36,
  MOSTLY_TQ2_0: 37,
  /** bitnet.cpp's LLAMA_FTYPE_MOSTLY_I2_S (its converter writes 40; mainline llama.cpp has no such value). */
  MOSTLY_I2_S: 40,
} as const;

/** tokenizer.ggml.token_type values (llama.cpp's llama_token_type; 0 is UNDEFINED there). */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/** KV key names this project writes or reads. */
export const Keys = {
  general: {
    architecture: 'general.architecture',
    name: 'general.name',
    description: 'general.description',
    alignment: 'general.alignment',
    fileType: 'general.file_type',
    quantizationVersion: 'general.quantization_version',
  },
  tokenizer: {
    model: 'tokenizer.ggml.model',
    pre: 'tokenizer.ggml.pre',
    tokens: 'tokenizer.ggml.tokens',
    tokenType: 'tokenizer.ggml.token_type',
    scores: 'tokenizer.ggml.scores',
    merges: 'tokenizer.ggml.merges',
    bosId: 'tokenizer.ggml.bos_token_id',
    eosId: 'tokenizer.ggml.eos_token_id',
    unknownId: 'tokenizer.ggml.unknown_token_id',
    paddingId: 'tokenizer.ggml.padding_token_id',
    addBos: 'tokenizer.ggml.add_bos_token',
    addEos: 'tokenizer.ggml.add_eos_token',
    /** SentencePiece's dummy prefix: a space before the text (llama.cpp's default: on for model "llama"). */
    addSpacePrefix: 'tokenizer.ggml.add_space_prefix',
    /** End of turn / end of message: chat models stop there too. */
    eotId: 'tokenizer.ggml.eot_token_id',
    eomId: 'tokenizer.ggml.eom_token_id',
    /** A Jinja template that renders a list of chat messages as the model's prompt (Hugging Face's chat_template). */
    chatTemplate: 'tokenizer.chat_template',
  },
} as const;
