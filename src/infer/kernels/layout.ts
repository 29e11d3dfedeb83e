/**
 * The engine's packed ternary layout (pure layout code, shared by the TS and native kernels).
 *
 * A [rows, cols] matrix of ternary codes t ∈ {−1, 0, 1} (row-major: rows = outputs, cols = inputs):
 *   - each row is cut into blocks of 128 columns, the last one padded; a row takes
 *     ceil(cols / 128) · 32 bytes and row r starts at byte r · that;
 *   - byte m (0..31) of block j holds columns 128j + m + 32q, q = 0..3, in bits 2q..2q+1 (LSB first);
 *   - the 2-bit code is c = t + 1 (−1, 0, 1 → 0, 1, 2); padding columns hold c = 1 (t = 0).
 *
 * These are exactly the bytes of the `qs` halves of GGUF's TQ2_0 blocks (src/quant/tq2_0.ts), so a TQ2_0
 * tensor becomes this layout by dropping each block's fp16 scale (tq2_0ToPacked), with no bit shuffling.
 * bitnet.cpp's I2_S (src/quant/i2_s.ts) has the same blocks of 128 columns in 32 bytes and the same
 * codes, with the four fields of a byte in the opposite order (column m in bits 7–6): i2sToPacked
 * reverses the fields of each byte and keeps the tensor's one scale.
 * The AVX2 kernel (native/src/ternary.cc) loads a 32-byte block, isolates the four 2-bit fields with a
 * shift and a mask into four vectors of 32 codes that line up with 32 consecutive activations each, and
 * multiplies unsigned codes by signed int8 activations with maddubs; subtracting Σx turns Σc·x into Σt·x.
 */
import { I2_S_BLOCK, I2_S_TAIL_BYTES, i2sScale } from '../../quant/i2_s.ts';

export const BLOCK_COLS = 128;
export const BLOCK_BYTES = 32;
/** TQ2_0: 256 weights in 64 code bytes plus an fp16 scale. */
const TQ2_0_BLOCK_BYTES = 66;

/** byte → the byte with its four 2-bit fields in reverse order (I2_S field k ↔ engine field 3 − k). */
const REVERSE_FIELDS = Uint8Array.from({ length: 256 }, (_, b) => ((b & 3) << 6) | ((b & 12) << 2) | ((b >> 2) & 12) | (b >> 6));

function checkDims(fn: string, rows: number, cols: number): void {
  for (const [name, v] of [['rows', rows], ['cols', cols]] as const)
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new RangeError(`${fn}: ${name} must be an integer in [0, 2^31), got ${v}`);
}

/** Bytes of one packed row. */
export function packedRowBytes(cols: number): number {
  return Math.ceil(cols / BLOCK_COLS) * BLOCK_BYTES;
}

/** Bytes of a packed [rows, cols] matrix. */
export function packedBytes(rows: number, cols: number): number {
  return rows * packedRowBytes(cols);
}

/** Packs row-major ternary codes (Int8Array of −1/0/1) into the layout above (into `out` when given). */
export function repackTernary(codes: Int8Array, rows: number, cols: number, out?: Uint8Array): Uint8Array {
  checkDims('repackTernary', rows, cols);
  if (codes.length !== rows * cols) throw new RangeError(`repackTernary: codes has length ${codes.length}, expected rows*cols = ${rows * cols}`);
  const rowBytes = packedRowBytes(cols);
  out ??= new Uint8Array(rows * rowBytes);
  if (out.length !== rows * rowBytes) throw new RangeError(`repackTernary: out has length ${out.length}, expected ${rows * rowBytes}`);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    for (let j = 0; j * BLOCK_COLS < cols; j++) {
      const c0 = j * BLOCK_COLS;
      const o = r * rowBytes + j * BLOCK_BYTES;
      for (let m = 0; m < 32; m++) {
        let byte = 0;
        for (let q = 0; q < 4; q++) {
          const col = c0 + m + 32 * q;
          let c = 1;
          if (col < cols) {
            const t = codes[src + col]!;
            if (t !== -1 && t !== 0 && t !== 1) throw new RangeError(`repackTernary: code ${t} at row ${r}, column ${col} is not −1, 0 or 1`);
            c = t + 1;
          }
          byte |= c << (2 * q);
        }
        out[o + m] = byte;
      }
    }
  }
  return out;
}

/** The inverse of repackTernary (code 3, never written by the packer, reads as t = 2). */
export function unpackTernary(packed: Uint8Array, rows: number, cols: number): Int8Array {
  checkDims('unpackTernary', rows, cols);
  const rowBytes = packedRowBytes(cols);
  if (packed.length !== rows * rowBytes) throw new RangeError(`unpackTernary: packed has length ${packed.length}, expected ${rows * rowBytes}`);
  const codes = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let col = 0; col < cols; col++) {
      const byte = packed[r * rowBytes + (col >> 7) * BLOCK_BYTES + (col & 31)]!;
      codes[r * cols + col] = ((byte >> (2 * ((col >> 5) & 3))) & 3) - 1;
    }
  return codes;
}

/**
 * A TQ2_0 tensor of [rows, cols] (cols a multiple of 256, blocks row-major) as the packed layout plus
 * its block scales (code 3, which TQ2_0 never uses, is rejected): scaleBits[r · cols/256 + b] are the raw fp16 bits of block b of row r (convert them
 * with kernels.f16ToF32 and use them as group scales with groupSize 256). The packed bytes go to `out`
 * when given (the engine's aligned weight memory, src/infer/store.ts).
 */
export function tq2_0ToPacked(data: Uint8Array, rows: number, cols: number, out?: Uint8Array): { packed: Uint8Array; scaleBits: Uint16Array } {
  checkDims('tq2_0ToPacked', rows, cols);
  if (cols % 256 !== 0) throw new RangeError(`tq2_0ToPacked: cols ${cols} is not a multiple of 256`);
  const nBlocks = (rows * cols) / 256;
  if (data.length !== nBlocks * TQ2_0_BLOCK_BYTES)
    throw new RangeError(`tq2_0ToPacked: data has length ${data.length}, expected ${nBlocks * TQ2_0_BLOCK_BYTES} (${nBlocks} blocks of 66 bytes)`);
  const packed = out ?? new Uint8Array(nBlocks * 64);
  if (packed.length !== nBlocks * 64) throw new RangeError(`tq2_0ToPacked: out has length ${packed.length}, expected ${nBlocks * 64}`);
  const scaleBits = new Uint16Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) {
    const o = b * TQ2_0_BLOCK_BYTES;
    for (let m = 0; m < 64; m++) {
      const byte = data[o + m]!;
      if ((byte & (byte >> 1) & 0x55) !== 0) throw new RangeError(`tq2_0ToPacked: block ${b} byte ${m} holds the unused 2-bit code 3`);
      packed[b * 64 + m] = byte;
    }
    scaleBits[b] = data[o + 64]! | (data[o + 65]! << 8);
  }
  return { packed, scaleBits };
}

/**
 * bitnet.cpp's I2_S tensor of [rows, cols] (cols a multiple of 128; rows·cols/4 code bytes, then the
 * float32 scale and 28 bytes of padding: src/quant/i2_s.ts) as the packed layout plus its one scale,
 * for ternaryMatmulScaled with scale = [scale] (per tensor). A row of I2_S is ne0/4 bytes of whole
 * blocks, so rows land where packedRowBytes puts them and only the fields of each byte move. Code 3,
 * which bitnet.cpp never writes, is rejected. The packed bytes go to `out` when given.
 */
export function i2sToPacked(data: Uint8Array, rows: number, cols: number, out?: Uint8Array): { packed: Uint8Array; scale: number } {
  checkDims('i2sToPacked', rows, cols);
  if (cols % I2_S_BLOCK !== 0) throw new RangeError(`i2sToPacked: cols ${cols} is not a multiple of ${I2_S_BLOCK}`);
  const codeBytes = (rows * cols) / 4;
  if (data.length !== codeBytes + I2_S_TAIL_BYTES)
    throw new RangeError(`i2sToPacked: data has length ${data.length}, expected rows*cols/4 + ${I2_S_TAIL_BYTES} = ${codeBytes + I2_S_TAIL_BYTES}`);
  const packed = out ?? new Uint8Array(codeBytes);
  if (packed.length !== codeBytes) throw new RangeError(`i2sToPacked: out has length ${packed.length}, expected ${codeBytes}`);
  for (let i = 0; i < codeBytes; i++) {
    const byte = data[i]!;
    if ((byte & (byte >> 1) & 0x55) !== 0) throw new RangeError(`i2sToPacked: byte ${i} holds the unused 2-bit code 3`);
    packed[i] = REVERSE_FIELDS[byte]!;
  }
  return { packed, scale: i2sScale(data, rows * cols) };
}
