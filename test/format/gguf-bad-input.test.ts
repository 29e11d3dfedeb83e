// The "Bad input" cases of issue 4, one hand-built hostile file each: every one must fail with one
// InputError line naming the file, before any tensor byte is exposed.
import fs from 'node:fs';
import path from 'node:path';
import { openGGUF } from '../../src/format/index.ts';
import { expectInputError, tempDir, writeSmallGGUF } from './helpers.ts';

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const u64 = (v: number | bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};
const str = (s: string): Buffer => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
const kvString = (k: string, v: string): Buffer => Buffer.concat([str(k), u32(8), str(v)]);
const kvU32 = (k: string, v: number): Buffer => Buffer.concat([str(k), u32(4), u32(v)]);
const tensorInfo = (name: string, ne: (number | bigint)[], type: number, offset: number | bigint): Buffer =>
  Buffer.concat([str(name), u32(ne.length), ...ne.map(u64), u32(type), u64(offset)]);

interface RawSpec {
  magic?: string;
  version?: number;
  kvs?: Buffer[];
  tensors?: Buffer[];
  nKv?: bigint;
  nTensors?: bigint;
  data?: Buffer;
  alignment?: number;
}

/** Header, KVs and tensor infos as given, zero padding to the alignment, then `data`. */
function raw(spec: RawSpec): Buffer {
  const kvs = spec.kvs ?? [];
  const tensors = spec.tensors ?? [];
  const head = Buffer.concat([
    Buffer.from(spec.magic ?? 'GGUF', 'latin1'),
    u32(spec.version ?? 3),
    u64(spec.nTensors ?? tensors.length),
    u64(spec.nKv ?? kvs.length),
    ...kvs,
    ...tensors,
  ]);
  const a = spec.alignment ?? 32;
  return Buffer.concat([head, Buffer.alloc((a - (head.length % a)) % a), spec.data ?? Buffer.alloc(0)]);
}

describe('format/gguf: bad input is one InputError line naming the file', () => {
  const dir = tempDir();
  let n = 0;
  const check = (content: Buffer, problem: RegExp): void => {
    const file = path.join(dir, `bad-${n++}.gguf`);
    fs.writeFileSync(file, content);
    expectInputError(() => openGGUF(file), file, problem);
  };
  const F32 = 0;
  const TQ2_0 = 35;

  it('accepts the hand-built baseline (so the cases below fail for their one defect)', () => {
    const file = path.join(dir, 'good.gguf');
    fs.writeFileSync(file, raw({
      kvs: [kvString('general.architecture', 'bitnet')],
      tensors: [tensorInfo('a', [4], F32, 0), tensorInfo('b', [256, 1], TQ2_0, 32)],
      data: Buffer.alloc(32 + 66),
    }));
    const f = openGGUF(file);
    f.readTensor('b');
    f.close();
  });

  it('truncated files', async () => {
    const whole = path.join(dir, 'whole.gguf');
    await writeSmallGGUF(whole);
    const b = fs.readFileSync(whole);
    check(b.subarray(0, 0), /truncated: 0 bytes/);
    check(b.subarray(0, 23), /truncated: 23 bytes/);
    check(b.subarray(0, 40), /truncated|cannot fit/);
    check(b.subarray(0, 150), /cannot fit in 150 bytes/);
    const f = openGGUF(whole);
    const { dataOffset, tensors } = f;
    f.close();
    check(b.subarray(0, dataOffset - 4), /truncated/);
    const lastEnd = tensors[2]!.offset + tensors[2]!.byteLength;
    check(b.subarray(0, lastEnd - 1), /"blk\.0\.attn_q\.weight" .* past the end of the file/);
  });

  it('wrong magic and unsupported versions', () => {
    check(raw({ magic: 'GGML' }), /not a GGUF file: magic bytes 47 47 4d 4c/);
    check(Buffer.alloc(64), /not a GGUF file/);
    check(raw({ version: 1 }), /unsupported GGUF version 1/);
    check(raw({ version: 4 }), /unsupported GGUF version 4/);
    check(raw({ version: 0x03000000 }), /big-endian/);
  });

  it('counts that cannot fit in the file', () => {
    check(raw({ nKv: 2n ** 64n - 1n }), /KV count 18446744073709551615 cannot fit/);
    check(raw({ nTensors: 2n ** 40n }), /tensor count 1099511627776/);
    check(raw({ kvs: [kvU32('a', 1)], nKv: 2n }), /KV 1 at offset 41 has an empty key/);
  });

  it('string lengths larger than the file', () => {
    check(raw({ kvs: [Buffer.concat([u64(2n ** 63n), Buffer.from('k')])] }), /key of KV 0 length 9223372036854775808 .* larger than/);
    check(raw({ kvs: [Buffer.concat([str('k'), u32(8), u64(1_000_000), Buffer.from('x')])] }), /value of "k" length 1000000/);
    check(raw({ tensors: [Buffer.concat([u64(2n ** 62n), Buffer.from('name')])] }), /name of tensor 0 length/);
  });

  it('unknown value types, bad arrays and bools', () => {
    check(raw({ kvs: [Buffer.concat([str('k'), u32(13), u32(0)])] }), /"k" has unknown value type 13/);
    check(raw({ kvs: [Buffer.concat([str('k'), u32(9), u32(77), u64(0)])] }), /array "k" .* unknown element type 77/);
    check(raw({ kvs: [Buffer.concat([str('k'), u32(9), u32(4), u64(2n ** 61n)])] }), /element count of array "k" 2305843009213693952/);
    check(raw({ kvs: [Buffer.concat([str('k'), u32(9), u32(8), u64(3), str('a')])] }), /truncated|larger than/);
    check(raw({ kvs: [Buffer.concat([str('k'), u32(7), Buffer.from([2])])] }), /bool value of "k" .* is 2/);
    const nested = Buffer.concat([str('k'), u32(9), ...Array.from({ length: 12 }, () => Buffer.concat([u32(9), u64(1)])), u32(4), u64(0)]);
    check(raw({ kvs: [nested] }), /nests deeper than 8/);
  });

  it('duplicate keys and tensor names, empty keys', () => {
    check(raw({ kvs: [kvU32('k', 1), kvU32('k', 2)] }), /duplicate metadata key "k"/);
    check(raw({ kvs: [kvU32('', 1)] }), /empty key/);
    check(raw({ tensors: [tensorInfo('a', [4], F32, 0), tensorInfo('a', [4], F32, 32)], data: Buffer.alloc(64) }), /duplicate tensor name "a"/);
  });

  it('a bad general.alignment', () => {
    check(raw({ kvs: [kvU32('general.alignment', 48)] }), /general\.alignment 48 is not a power of two/);
    check(raw({ kvs: [kvU32('general.alignment', 4)] }), /general\.alignment 4 /);
    check(raw({ kvs: [kvU32('general.alignment', 0)] }), /general\.alignment 0 /);
    check(raw({ kvs: [kvString('general.alignment', '32')] }), /general\.alignment is string, expected u32/);
  });

  it('tensor names, dimensions and types that cannot be', () => {
    check(raw({ tensors: [tensorInfo('x'.repeat(64), [4], F32, 0)], data: Buffer.alloc(32) }), /name of 64 bytes/);
    check(raw({ tensors: [tensorInfo('a', [], F32, 0)], data: Buffer.alloc(32) }), /"a" has 0 dimensions/);
    check(raw({ tensors: [tensorInfo('a', [1, 1, 1, 1, 1], F32, 0)], data: Buffer.alloc(32) }), /"a" has 5 dimensions/);
    check(raw({ tensors: [tensorInfo('a', [4, 0], F32, 0)], data: Buffer.alloc(32) }), /dimension 1 = 0/);
    check(raw({ tensors: [tensorInfo('a', [2n ** 32n, 2n ** 32n], F32, 0)] }), /2\^53 or more elements/);
    check(raw({ tensors: [tensorInfo('a', [4], 5, 0)], data: Buffer.alloc(32) }), /unknown ggml type 5/);
    check(raw({ tensors: [tensorInfo('a', [4], 1000, 0)], data: Buffer.alloc(32) }), /unknown ggml type 1000/);
    check(raw({ tensors: [tensorInfo('a', [100, 2], TQ2_0, 0)], data: Buffer.alloc(256) }), /ne0 = 100 is not a multiple of the TQ2_0 block size 256/);
  });

  it('offsets and sizes beyond the end, misaligned or overlapping', () => {
    check(raw({ tensors: [tensorInfo('a', [4], F32, 0)], data: Buffer.alloc(15) }), /"a" .* past the end of the file/);
    check(raw({ tensors: [tensorInfo('a', [4], F32, 2n ** 63n)], data: Buffer.alloc(32) }), /past the end/);
    check(raw({ tensors: [tensorInfo('a', [4], F32, 8)], data: Buffer.alloc(64) }), /offset 8 is not a multiple of the alignment 32/);
    check(raw({ tensors: [tensorInfo('a', [16], F32, 0), tensorInfo('b', [4], F32, 32)], data: Buffer.alloc(128) }), /"a" and "b" overlap/);
    check(raw({ tensors: [tensorInfo('a', [256, 1000], TQ2_0, 0)], data: Buffer.alloc(1000) }), /past the end/);
  });

  it('paths that are not readable GGUF files', () => {
    const missing = path.join(dir, 'missing.gguf');
    expectInputError(() => openGGUF(missing), missing, /cannot open: ENOENT/);
    expectInputError(() => openGGUF(dir), dir, /not a regular file|EISDIR/);
  });
});
