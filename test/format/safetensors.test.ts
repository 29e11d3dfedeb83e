import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { openSafetensors, readSafetensors, writeSafetensors } from '../../src/format/index.ts';
import { expectInputError, tempDir } from './helpers.ts';

/** A safetensors file from a raw header object and data buffer (for hostile cases). */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Buffer {
  const json = Buffer.from(headerText ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

describe('format/safetensors', () => {
  const dir = tempDir();

  it('round-trips tensors of several dtypes and the metadata', () => {
    const file = path.join(dir, 'a.safetensors');
    const w = new Float32Array([1.5, -2, 3.25, 0, 7, 8]);
    const ids = new Int32Array([1, -2, 3]);
    const steps = new BigInt64Array([5n, -6n]);
    const half = new Uint16Array([0x3c00, 0xc000, 0x7bff]);
    const mask = new Uint8Array([1, 0, 1, 1]);
    const small = new Int8Array([-1, 0, 1]);
    writeSafetensors(file, [
      { name: 'blk.0.attn_q.weight', dtype: 'F32', shape: [2, 3], data: w },
      { name: 'ids', dtype: 'I32', shape: [3], data: ids },
      { name: 'steps', dtype: 'I64', shape: [2], data: steps },
      { name: 'half', dtype: 'F16', shape: [3], data: half },
      { name: 'mask', dtype: 'U8', shape: [2, 2], data: mask },
      { name: 'small', dtype: 'I8', shape: [3], data: small },
      { name: 'scalar', dtype: 'F32', shape: [], data: new Float32Array([42]) },
      { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    ], { step: '100', config: '{"d_model":256}' });

    const b = fs.readFileSync(file);
    const n = Number(b.readBigUInt64LE(0));
    expect(n % 8).to.equal(0);
    expect(b.subarray(8, 9).toString()).to.equal('{');

    const r = readSafetensors(file);
    expect(r.metadata).to.deep.equal({ step: '100', config: '{"d_model":256}' });
    expect(r.tensors.get('blk.0.attn_q.weight')).to.deep.equal({ dtype: 'F32', shape: [2, 3], data: w });
    expect(r.tensors.get('ids')!.data).to.deep.equal(ids);
    expect(r.tensors.get('steps')!.data).to.deep.equal(steps);
    expect(r.tensors.get('half')!.data).to.deep.equal(half);
    expect(r.tensors.get('mask')!.data).to.deep.equal(mask);
    expect(r.tensors.get('small')!.data).to.deep.equal(small);
    expect(r.tensors.get('scalar')!.data).to.deep.equal(new Float32Array([42]));
    expect(r.tensors.get('empty')!.shape).to.deep.equal([0, 4]);

    const f = openSafetensors(file);
    try {
      expect(f.readF32('blk.0.attn_q.weight')).to.deep.equal(w);
      expectInputError(() => f.readF32('ids'), file, /"ids" is I32, expected F32/);
      expectInputError(() => f.tensor('nope'), file, /no tensor named "nope"/);
    } finally {
      f.close();
    }
  });

  it('refuses caller bugs when writing, leaving no file', () => {
    const file = path.join(dir, 'bad-write.safetensors');
    expect(() => writeSafetensors(file, [{ name: 'a', dtype: 'F32', shape: [3], data: new Float32Array(2) }])).to.throw(/12 bytes, data has 8/);
    expect(() => writeSafetensors(file, [
      { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array(1) },
      { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    ])).to.throw(/duplicate or reserved/);
    expect(() => writeSafetensors(file, [{ name: '__metadata__', dtype: 'U8', shape: [1], data: new Uint8Array(1) }])).to.throw(/reserved/);
    expect(fs.readdirSync(dir).filter((x) => x.startsWith('bad-write'))).to.deep.equal([]);
  });

  it('validates the header against the file', () => {
    let n = 0;
    const check = (content: Buffer, problem: RegExp): void => {
      const file = path.join(dir, `bad-${n++}.safetensors`);
      fs.writeFileSync(file, content);
      expectInputError(() => openSafetensors(file), file, problem);
    };
    const t = (dtype: string, shape: number[], offs: number[]) => ({ dtype, shape, data_offsets: offs });
    check(Buffer.alloc(5), /truncated: 5 bytes/);
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(2n ** 63n);
    check(huge, /header length 9223372036854775808 is larger than the 8 bytes/);
    check(rawFile(null, new Uint8Array(0), '{"a": '), /not valid JSON/);
    check(rawFile([1, 2], new Uint8Array(0)), /not a JSON object/);
    check(rawFile({ a: t('F33', [1], [0, 4]) }, new Uint8Array(4)), /"a": unknown dtype "F33"/);
    check(rawFile({ a: t('F32', [1.5], [0, 4]) }, new Uint8Array(4)), /shape \[1\.5\]/);
    check(rawFile({ a: t('F32', [2], [0, 4]) }, new Uint8Array(4)), /needs 8 bytes, data_offsets give 4/);
    check(rawFile({ a: t('F32', [1], [0, 8]) }, new Uint8Array(4)), /go past the 4-byte data buffer/);
    check(rawFile({ a: t('F32', [1], [4, 0]) }, new Uint8Array(4)), /begin <= end/);
    check(rawFile({ a: t('F32', [2], [0, 8]), b: t('F32', [1], [4, 8]) }, new Uint8Array(8)), /"b" starts at data offset 4, expected 8/);
    check(rawFile({ a: t('F32', [1], [4, 8]) }, new Uint8Array(8)), /"a" starts at data offset 4, expected 0/);
    check(rawFile({ a: t('F32', [1], [0, 4]) }, new Uint8Array(8)), /4 bytes that no tensor covers/);
    check(rawFile({ __metadata__: { k: 1 } }, new Uint8Array(0)), /__metadata__ must be an object of strings/);
    check(rawFile({ a: 'x' }, new Uint8Array(0)), /"a": entry is not an object/);
    const missing = path.join(dir, 'missing.safetensors');
    expectInputError(() => openSafetensors(missing), missing, /cannot open: ENOENT/);
  });
});
