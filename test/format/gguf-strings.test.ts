import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { openGGUF, StringTable, StringTableBuilder, writeGGUF } from '../../src/format/gguf/index.ts';
import { tempDir } from './helpers.ts';

const utf8 = (s: string) => Array.from(Buffer.from(s, 'utf8'));

describe('format/gguf: string tables (string arrays as bytes and offsets)', () => {
  it('round-trips strings, empty ones included, across the builder growing', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { maxLength: 300 }), (strings) => {
        const t = StringTable.of(strings);
        expect(t.length).to.equal(strings.length);
        expect(t.toArray()).to.deep.equal(strings);
        strings.forEach((s, i) => {
          expect(t.text(i)).to.equal(s);
          expect(Array.from(t.bytes.subarray(t.start(i), t.end(i)))).to.deep.equal(utf8(s));
        });
      }),
    );
  });

  it('keeps bytes that are not UTF-8 as they are, and decodes them as Buffer does', () => {
    const b = new StringTableBuilder(1, 1);
    b.addBytes(Uint8Array.of(0x61, 0xff, 0x62, 0xfe), 1, 2);
    b.addBytes(Uint8Array.of(0xfe), 0, 1);
    b.addText('é');
    const t = b.finish();
    expect(Array.from(t.bytes)).to.deep.equal([0xff, 0xfe, 0xc3, 0xa9]);
    expect(t.toArray()).to.deep.equal(['\uFFFD', '\uFFFD', 'é']);
    expect(() => t.text(3)).to.throw(RangeError);
    expect(() => new StringTable(new Uint8Array(2), Uint32Array.of(0, 3))).to.throw(RangeError);
  });

  it('the reader gives a string array as a table without making its strings, and as strings on request', async () => {
    const file = path.join(tempDir(), 'strings.gguf');
    const items = ['a', '', 'XY', 'Ġthe', '日本'];
    await writeGGUF(file, { kv: [['s.arr', { type: 'array', value: { elemType: 'string', items } }]], tensors: [] });
    // two bytes of "XY" replaced by bytes no UTF-8 string has: the table must keep them
    const raw = fs.readFileSync(file);
    const at = raw.indexOf('XY');
    raw[at] = 0xff;
    raw[at + 1] = 0xc0;
    fs.writeFileSync(file, raw);
    const f = openGGUF(file);
    try {
      const t = f.getStringTable('s.arr');
      expect(t.length).to.equal(5);
      expect(Array.from(t.bytes.subarray(t.start(2), t.end(2)))).to.deep.equal([0xff, 0xc0]);
      expect(t.text(3)).to.equal('Ġthe');
      expect(f.getStringArray('s.arr')).to.deep.equal(['a', '', '\uFFFD\uFFFD', 'Ġthe', '日本']);
      expect(f.getStringTable('s.arr')).to.equal(t); // one table per array, not a copy per call
    } finally {
      f.close();
    }
  });
});
