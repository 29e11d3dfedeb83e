import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import {
  GGML_TYPES,
  GGMLType,
  GGUFWriter,
  ggmlTypeById,
  ggmlTypeByName,
  openGGUF,
  tensorByteLength,
  writeGGUF,
  type GGUFValue,
} from '../../src/format/index.ts';
import { bytes, expectInputError, expectReject, tempDir, writeSmallGGUF } from './helpers.ts';

const ALL_KV: [string, GGUFValue][] = [
  ['t.u8', { type: 'u8', value: 200 }],
  ['t.i8', { type: 'i8', value: -100 }],
  ['t.u16', { type: 'u16', value: 60000 }],
  ['t.i16', { type: 'i16', value: -30000 }],
  ['t.u32', { type: 'u32', value: 4_000_000_000 }],
  ['t.i32', { type: 'i32', value: -2_000_000_000 }],
  ['t.f32', { type: 'f32', value: 1.5 }],
  ['t.bool_true', { type: 'bool', value: true }],
  ['t.bool_false', { type: 'bool', value: false }],
  ['t.string', { type: 'string', value: 'héllo, 世界 🙂' }],
  ['t.string_empty', { type: 'string', value: '' }],
  ['t.u64', { type: 'u64', value: 2n ** 63n + 5n }],
  ['t.i64', { type: 'i64', value: -(2n ** 62n) }],
  ['t.f64', { type: 'f64', value: Math.PI }],
  ['a.u8', { type: 'array', value: { elemType: 'u8', items: [0, 1, 255] } }],
  ['a.i8', { type: 'array', value: { elemType: 'i8', items: [-128, 0, 127] } }],
  ['a.u16', { type: 'array', value: { elemType: 'u16', items: [0, 65535] } }],
  ['a.i16', { type: 'array', value: { elemType: 'i16', items: [-32768, 32767] } }],
  ['a.u32', { type: 'array', value: { elemType: 'u32', items: [0, 4294967295] } }],
  ['a.i32', { type: 'array', value: { elemType: 'i32', items: [-2147483648, 7] } }],
  ['a.f32', { type: 'array', value: { elemType: 'f32', items: [0.25, -3] } }],
  ['a.f64', { type: 'array', value: { elemType: 'f64', items: [Math.E, -1e300] } }],
  ['a.u64', { type: 'array', value: { elemType: 'u64', items: [0n, 2n ** 64n - 1n] } }],
  ['a.i64', { type: 'array', value: { elemType: 'i64', items: [-(2n ** 63n), 42n] } }],
  ['a.bool', { type: 'array', value: { elemType: 'bool', items: [true, false, true] } }],
  ['a.string', { type: 'array', value: { elemType: 'string', items: ['a', '', 'ü'] } }],
  ['a.empty', { type: 'array', value: { elemType: 'u32', items: [] } }],
  ['a.nested', {
    type: 'array',
    value: { elemType: 'array', items: [{ elemType: 'i32', items: [1, 2] }, { elemType: 'string', items: ['x'] }] },
  }],
];

/** Plain JS form of a value, for deep comparison (typed arrays to arrays). */
function plain(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

describe('format/gguf: constants', () => {
  it('has the ggml ids and block sizes of the ternary and float types', () => {
    expect(ggmlTypeByName('tq2_0')).to.deep.equal({ id: 35, name: 'TQ2_0', blockSize: 256, typeSize: 66 });
    expect(ggmlTypeByName('TQ1_0')).to.deep.equal({ id: 34, name: 'TQ1_0', blockSize: 256, typeSize: 54 });
    expect(ggmlTypeById(0)!.typeSize).to.equal(4);
    expect(ggmlTypeById(1)!.typeSize).to.equal(2);
    expect(ggmlTypeById(8)).to.deep.include({ name: 'Q8_0', blockSize: 32, typeSize: 34 });
    expect(ggmlTypeById(12)).to.deep.include({ name: 'Q4_K', typeSize: 144 });
    expect(ggmlTypeById(14)).to.deep.include({ name: 'Q6_K', typeSize: 210 });
    expect(ggmlTypeById(4)).to.equal(undefined);
    expect(new Set(GGML_TYPES.map((t) => t.id)).size).to.equal(GGML_TYPES.length);
  });

  it('computes tensor byte lengths and refuses shapes that do not fit the type', () => {
    const tq2 = ggmlTypeById(GGMLType.TQ2_0)!;
    expect(tensorByteLength(tq2, [512, 3])).to.equal(2 * 3 * 66);
    expect(tensorByteLength(tq2, [100, 3])).to.match(/not a multiple of the TQ2_0 block size 256/);
    expect(tensorByteLength(tq2, [256, 0])).to.match(/dimension 0/);
    expect(tensorByteLength(tq2, [256, 1, 1, 1, 1])).to.match(/5 dimensions/);
    expect(tensorByteLength(ggmlTypeById(0)!, [2 ** 30, 2 ** 30])).to.match(/2\^53/);
  });
});

describe('format/gguf: write and read back', () => {
  const dir = tempDir();

  it('keeps every field when the metadata crosses the writer\'s 64 KB buffer chunks (a real vocabulary)', async () => {
    // Regression: scalar writes that made the header builder grow went into the previous chunk.
    const file = path.join(dir, 'big-header.gguf');
    const tokens = Array.from({ length: 9000 }, (_, i) => `token-${i}`);
    const ids = Int32Array.from({ length: 9000 }, (_, i) => i % 7);
    const tensors = Array.from({ length: 40 }, (_, i) => ({ name: `blk.${i}.attn_norm.weight`, ne: [3], type: GGMLType.F32, data: new Float32Array([i, i + 1, i + 2]) }));
    await writeGGUF(file, {
      kv: [
        ['general.architecture', { type: 'string', value: 'bitnet' }],
        ['tokenizer.ggml.tokens', { type: 'array', value: { elemType: 'string', items: tokens } }],
        ['tokenizer.ggml.token_type', { type: 'array', value: { elemType: 'i32', items: ids } }],
        ['after.big', { type: 'u32', value: 77 }],
      ],
      tensors,
    });
    const f = openGGUF(file);
    try {
      expect(f.getString('general.architecture')).to.equal('bitnet');
      expect(f.getStringArray('tokenizer.ggml.tokens')).to.deep.equal(tokens);
      expect(Array.from(f.getArray('tokenizer.ggml.token_type', 'i32').items as Int32Array)).to.deep.equal(Array.from(ids));
      expect(f.getU32('after.big')).to.equal(77);
      for (const t of tensors) expect(Array.from(new Float32Array(f.readTensor(t.name).slice().buffer))).to.deep.equal(Array.from(t.data));
    } finally {
      f.close();
    }
  });

  it('round-trips every KV value type, in order', async () => {
    const file = path.join(dir, 'kv.gguf');
    await writeGGUF(file, { kv: ALL_KV });
    const f = openGGUF(file);
    try {
      expect(f.version).to.equal(3);
      expect([...f.kv.keys()]).to.deep.equal(ALL_KV.map(([k]) => k));
      for (const [k, v] of ALL_KV) expect(plain(f.kv.get(k)), k).to.deep.equal(plain(v));
      expect(f.getU8('t.u8')).to.equal(200);
      expect(f.getI64('t.i64')).to.equal(-(2n ** 62n));
      expect(f.getU64('t.u64')).to.equal(2n ** 63n + 5n);
      expect(f.getBool('t.bool_true')).to.equal(true);
      expect(f.getF64('t.f64')).to.equal(Math.PI);
      expect(f.getStringArray('a.string')).to.deep.equal(['a', '', 'ü']);
      expect(f.getArray('a.u32', 'u32').items).to.be.instanceOf(Uint32Array);
      expect(f.getNumber('t.u16')).to.equal(60000);
      expect(f.tensors).to.have.length(0);
    } finally {
      f.close();
    }
  });

  it('round-trips random scalar values and strings (property)', async () => {
    const file = path.join(dir, 'prop.gguf');
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.double({ noNaN: true }),
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.array(fc.string({ unit: 'grapheme', maxLength: 8 }), { maxLength: 20 }),
        async (u32, i32, i64, f64, s, arr) => {
          await writeGGUF(file, {
            kv: [
              ['p.u32', { type: 'u32', value: u32 }],
              ['p.i32', { type: 'i32', value: i32 }],
              ['p.i64', { type: 'i64', value: i64 }],
              ['p.f64', { type: 'f64', value: f64 }],
              ['p.f32', { type: 'f32', value: Math.fround(f64) }],
              ['p.s', { type: 'string', value: s }],
              ['p.arr', { type: 'array', value: { elemType: 'string', items: arr } }],
            ],
          });
          const f = openGGUF(file);
          try {
            expect(f.getU32('p.u32')).to.equal(u32);
            expect(f.getI32('p.i32')).to.equal(i32);
            expect(f.getI64('p.i64')).to.equal(i64);
            expect(Object.is(f.getF64('p.f64'), f64)).to.equal(true);
            expect(Object.is(f.getF32('p.f32'), Math.fround(f64))).to.equal(true);
            expect(f.getString('p.s')).to.equal(s);
            expect(f.getStringArray('p.arr')).to.deep.equal(arr);
          } finally {
            f.close();
          }
        },
      ),
      { numRuns: 60, seed: 42 },
    );
  });

  it('round-trips F32, F16 and TQ2_0 tensors with aligned offsets', async () => {
    const file = path.join(dir, 'tensors.gguf');
    const data = await writeSmallGGUF(file);
    const f = openGGUF(file);
    try {
      expect(f.alignment).to.equal(32);
      expect(f.dataOffset % 32).to.equal(0);
      expect(f.tensors.map((t) => [t.name, t.typeName, t.ne, t.byteLength, t.nElements])).to.deep.equal([
        ['output_norm.weight', 'F32', [8], 32, 8],
        ['token_embd.weight', 'F16', [8, 4], 64, 32],
        ['blk.0.attn_q.weight', 'TQ2_0', [256, 2], 132, 512],
      ]);
      for (const t of f.tensors) {
        expect((t.offset - f.dataOffset) % 32, t.name).to.equal(0);
        expect(f.readTensor(t.name), t.name).to.deep.equal(data.get(t.name));
      }
      const into = new Uint8Array(132);
      expect(f.readTensor('blk.0.attn_q.weight', into)).to.equal(into);
      expect(into).to.deep.equal(data.get('blk.0.attn_q.weight'));
      // every tensor padded to the alignment, the last one too (as gguf-py writes)
      const last = f.tensors[2]!;
      expect(f.fileSize).to.equal(last.offset + Math.ceil(last.byteLength / 32) * 32);
      expect(f.getString('general.architecture')).to.equal('bitnet');
    } finally {
      f.close();
    }
  });

  it('writes general.alignment for a non-default alignment and aligns to it', async () => {
    const file = path.join(dir, 'align64.gguf');
    await writeGGUF(file, {
      alignment: 64,
      tensors: [
        { name: 'a', ne: [3], type: GGMLType.F32, data: new Float32Array([1, 2, 3]) },
        { name: 'b', ne: [5], type: GGMLType.I8, data: new Int8Array([1, -2, 3, -4, 5]) },
      ],
    });
    const f = openGGUF(file);
    try {
      expect(f.alignment).to.equal(64);
      expect(f.getU32('general.alignment')).to.equal(64);
      expect(f.dataOffset % 64).to.equal(0);
      expect(f.tensors.map((t) => t.offset - f.dataOffset)).to.deep.equal([0, 64]);
      expect(new Float32Array(f.readTensor('a').buffer)).to.deep.equal(new Float32Array([1, 2, 3]));
      expect(new Int8Array(f.readTensor('b').buffer)).to.deep.equal(new Int8Array([1, -2, 3, -4, 5]));
    } finally {
      f.close();
    }
  });

  it('streams tensor data in chunks, sync or async, and only renames at the end', async () => {
    const file = path.join(dir, 'stream.gguf');
    const w = new GGUFWriter(file);
    w.addTensor('a', [512], GGMLType.F16);
    w.addTensor('b', [256, 4], GGMLType.TQ1_0, 4 * 54);
    const full = bytes(1024, 5);
    await w.writeTensor('a', [full.subarray(0, 100), full.subarray(100, 1000), full.subarray(1000)]);
    expect(fs.existsSync(file), 'final path exists before finish').to.equal(false);
    const tq1 = bytes(216, 9);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 216; i += 54) yield tq1.subarray(i, i + 54);
    }
    await w.writeTensor('b', chunks());
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('stream.gguf.tmp-'))).to.have.length(1);
    await w.finish();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('stream.gguf'))).to.deep.equal(['stream.gguf']);
    const f = openGGUF(file);
    try {
      expect(f.readTensor('a')).to.deep.equal(full);
      expect(f.readTensor('b')).to.deep.equal(tq1);
      expect(f.tensor('b').typeName).to.equal('TQ1_0');
    } finally {
      f.close();
    }
  });

  it('asks writeGGUF data functions one tensor at a time, in order', async () => {
    const file = path.join(dir, 'lazy.gguf');
    const calls: string[] = [];
    const tensor = (name: string) => ({
      name, ne: [4], type: GGMLType.F32,
      data: () => {
        calls.push(name);
        return new Float32Array(4).fill(calls.length);
      },
    });
    await writeGGUF(file, { tensors: [tensor('x'), tensor('y')] });
    expect(calls).to.deep.equal(['x', 'y']);
    const f = openGGUF(file);
    expect(new Float32Array(f.readTensor('y').buffer)).to.deep.equal(new Float32Array([2, 2, 2, 2]));
    f.close();
  });

  it('puts magic, version, counts, the first KV and the data where llama.cpp expects them', async () => {
    const file = path.join(dir, 'layout.gguf');
    await writeGGUF(file, {
      kv: [['general.architecture', { type: 'string', value: 'bitnet' }]],
      tensors: [{ name: 'w', ne: [4], type: GGMLType.F32, data: new Float32Array([1, 2, 3, 4]) }],
    });
    const b = fs.readFileSync(file);
    expect(b.subarray(0, 4).toString('latin1')).to.equal('GGUF');
    expect(b.readUInt32LE(4)).to.equal(3);
    expect(b.readBigUInt64LE(8)).to.equal(1n); // tensor count
    expect(b.readBigUInt64LE(16)).to.equal(1n); // KV count
    expect(b.readBigUInt64LE(24)).to.equal(20n); // key length
    expect(b.subarray(32, 52).toString()).to.equal('general.architecture');
    expect(b.readUInt32LE(52)).to.equal(8); // string
    expect(b.readBigUInt64LE(56)).to.equal(6n);
    expect(b.subarray(64, 70).toString()).to.equal('bitnet');
    // tensor info: name, n_dims, ne0, type, offset
    expect(b.readBigUInt64LE(70)).to.equal(1n);
    expect(b.subarray(78, 79).toString()).to.equal('w');
    expect(b.readUInt32LE(79)).to.equal(1);
    expect(b.readBigUInt64LE(83)).to.equal(4n);
    expect(b.readUInt32LE(91)).to.equal(0);
    expect(b.readBigUInt64LE(95)).to.equal(0n);
    // header ends at 103, zero padding to 128, then 16 data bytes padded to 32
    expect([...b.subarray(103, 128)].every((x) => x === 0)).to.equal(true);
    expect(b.readFloatLE(128)).to.equal(1);
    expect(b.readFloatLE(140)).to.equal(4);
    expect(b.length).to.equal(160);
  });

  it('reads version 2 files (same layout)', () => {
    const file = path.join(dir, 'v2.gguf');
    const b = fs.readFileSync(path.join(dir, 'layout.gguf'));
    b.writeUInt32LE(2, 4);
    fs.writeFileSync(file, b);
    const f = openGGUF(file);
    expect(f.version).to.equal(2);
    expect(f.getString('general.architecture')).to.equal('bitnet');
    f.close();
  });

  it('typed getters name the file and key when a key is missing or of another type', async () => {
    const file = path.join(dir, 'getters.gguf');
    await writeSmallGGUF(file);
    const f = openGGUF(file);
    try {
      expectInputError(() => f.getU32('bitnet.context_length'), file, /missing metadata key bitnet\.context_length/);
      expectInputError(() => f.getString('bitnet.block_count'), file, /bitnet\.block_count is u32, expected string/);
      expectInputError(() => f.getArray('tokenizer.ggml.tokens', 'i32'), file, /array of string, expected i32/);
      expectInputError(() => f.readTensor('nope'), file, /no tensor named "nope"/);
      expect(f.getU32('bitnet.context_length', 256)).to.equal(256);
      expect(f.getU32('bitnet.block_count', 256)).to.equal(2);
      expectInputError(() => f.getF32('bitnet.block_count', 1), file, /is u32, expected f32/);
    } finally {
      f.close();
    }
  });
});

describe('format/gguf: writer misuse throws', () => {
  const dir = tempDir();
  const leftovers = (name: string): string[] => fs.readdirSync(dir).filter((n) => n.startsWith(name));

  it('refuses duplicate keys, bad values and general.alignment set by hand', () => {
    const w = new GGUFWriter(path.join(dir, 'm1.gguf'));
    w.addU32('k', 1);
    expect(() => w.addU32('k', 2)).to.throw(/duplicate key k/);
    expect(() => w.addU8('u8', 256)).to.throw(/not a u8/);
    expect(() => w.addI8('i8', 1.5)).to.throw(/not a i8/);
    expect(() => w.addU64('u64', -1n)).to.throw(/not a u64/);
    expect(() => w.addArray('arr', { elemType: 'u16', items: [1, 70000] })).to.throw(/not a u16/);
    expect(() => w.addU32('general.alignment', 64)).to.throw(/alignment option/);
    expect(() => w.addString('', 'x')).to.throw(/empty key/);
    // a failed add leaves nothing behind: the key is still free
    w.addU8('u8', 255);
    expect(() => new GGUFWriter(path.join(dir, 'm1.gguf'), { alignment: 12 })).to.throw(/power of two/);
    w.abort();
  });

  it('refuses bad tensor declarations', () => {
    const w = new GGUFWriter(path.join(dir, 'm2.gguf'));
    w.addTensor('a', [4], GGMLType.F32);
    expect(() => w.addTensor('a', [4], GGMLType.F32)).to.throw(/duplicate tensor a/);
    expect(() => w.addTensor('x'.repeat(64), [4], GGMLType.F32)).to.throw(/64 bytes/);
    w.addTensor('y'.repeat(63), [4], GGMLType.F32);
    expect(() => w.addTensor('d5', [1, 1, 1, 1, 1], GGMLType.F32)).to.throw(/5 dimensions/);
    expect(() => w.addTensor('d0', [], GGMLType.F32)).to.throw(/0 dimensions/);
    expect(() => w.addTensor('tq', [100, 2], GGMLType.TQ2_0)).to.throw(/block size 256/);
    expect(() => w.addTensor('z', [0], GGMLType.F32)).to.throw(/dimension 0/);
    expect(() => w.addTensor('t', [4], 5)).to.throw(/unknown ggml type 5/);
    expect(() => w.addTensor('s', [256], GGMLType.TQ2_0, 64)).to.throw(/66 bytes, got 64/);
    w.abort();
  });

  it('refuses KVs and declarations after data started, wrong order, wrong sizes and an early finish', async () => {
    const file = path.join(dir, 'm3.gguf');
    const w = new GGUFWriter(file);
    w.addTensor('a', [2], GGMLType.F32);
    w.addTensor('b', [2], GGMLType.F32);
    await expectReject(w.writeTensor('b', new Float32Array(2)), /out of order \(next is a\)/);
    await expectReject(w.writeTensor('c', new Float32Array(2)), /was not declared/);
    await w.writeTensor('a', new Float32Array(2));
    expect(() => w.addU32('late', 1)).to.throw(/after tensor data started/);
    expect(() => w.addTensor('late', [2], GGMLType.F32)).to.throw(/after tensor data started/);
    await expectReject(w.writeTensor('a', new Float32Array(2)), /already written/);
    await expectReject(w.finish(), /1 tensors not written \(next is b\)/);
    w.abort();
    expect(leftovers('m3.gguf')).to.deep.equal([]);
  });

  it('removes the temporary file when a tensor gets the wrong number of bytes', async () => {
    for (const [name, data] of [['short', new Float32Array(3)], ['long', [new Uint8Array(12), new Uint8Array(8)]]] as const) {
      const file = path.join(dir, `${name}.gguf`);
      const w = new GGUFWriter(file);
      w.addTensor('a', [4], GGMLType.F32);
      await expectReject(w.writeTensor('a', data), /bytes/);
      expect(leftovers(`${name}.gguf`)).to.deep.equal([]);
      await expectReject(w.finish(), /already finished or aborted/);
    }
  });

  it('leaves an existing file untouched when writeGGUF fails midway', async () => {
    const file = path.join(dir, 'keep.gguf');
    fs.writeFileSync(file, 'old');
    await expectReject(writeGGUF(file, {
      tensors: [
        { name: 'a', ne: [4], type: GGMLType.F32, data: new Float32Array(4) },
        { name: 'b', ne: [4], type: GGMLType.F32, data: () => { throw new Error('producer failed'); } },
      ],
    }), /producer failed/);
    expect(fs.readFileSync(file, 'utf8')).to.equal('old');
    expect(leftovers('keep.gguf')).to.deep.equal(['keep.gguf']);
  });
});

describe('format/gguf: the reader decodes strings as TextDecoder does', () => {
  // The reader decodes metadata strings with Buffer#toString('utf8', start, end), not TextDecoder
  // (no view object per string: a 128 K vocabulary made ~20 MB of garbage). Both must agree on every
  // byte sequence: invalid UTF-8 (U+FFFD replacement), a leading BOM kept, lone continuation bytes.
  it('Buffer utf8 == TextDecoder(ignoreBOM) on arbitrary bytes', () => {
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0xef, 0xbb, 0xbf, 0x80, 0xc0, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xf5, 0xff));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 24 }), (a) => {
        const u = Uint8Array.from(a);
        expect(Buffer.from(u.buffer, u.byteOffset, u.length).toString('utf8', 0, u.length)).to.equal(decoder.decode(u));
      }),
      { numRuns: 20000 },
    );
    expect(Buffer.from([0xef, 0xbb, 0xbf, 0x41]).toString('utf8')).to.equal('\uFEFFA');
  });
});
