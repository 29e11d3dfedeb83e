import { expect } from 'chai';
import fc from 'fast-check';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTable, tableToIPC } from 'apache-arrow';
import { InputError } from '../../src/errors.ts';
import { readShard, writeShard } from '../../src/format/shards.ts';
import { tempDir } from './support.ts';

describe('format/shards', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir()));
  afterEach(() => t.cleanup());

  it('round-trips tokens, doc_start and eos id, leaving no temp file', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 70000 }), { maxLength: 300 }), (ids) => {
        const f = path.join(t.dir, 's.arrow');
        const tokens = Int32Array.from(ids);
        const docStart = Uint8Array.from(ids, (_, i) => (i % 7 === 0 ? 1 : 0));
        writeShard(f, { tokens, docStart, eosId: 70000 });
        const back = readShard(f);
        expect(back.tokens).to.deep.equal(tokens);
        expect(back.docStart).to.deep.equal(docStart);
        expect(back.eosId).to.equal(70000);
      }),
      { numRuns: 30 },
    );
    expect(readdirSync(t.dir)).to.deep.equal(['s.arrow']);
  });

  it('writes byte-identical files for identical shards', () => {
    const s = { tokens: Int32Array.of(5, 6, 9), docStart: Uint8Array.of(1, 0, 0), eosId: 9 };
    writeShard(path.join(t.dir, 'a.arrow'), s);
    writeShard(path.join(t.dir, 'b.arrow'), s);
    expect(readFileSync(path.join(t.dir, 'a.arrow')).equals(readFileSync(path.join(t.dir, 'b.arrow')))).to.equal(true);
  });

  it('rejects missing, non-Arrow, truncated and mistyped shards with an InputError naming the file', () => {
    const good = path.join(t.dir, 'good.arrow');
    writeShard(good, { tokens: Int32Array.of(1, 2, 3, 4), docStart: Uint8Array.of(1, 0, 1, 0), eosId: 4 });
    const bytes = readFileSync(good);
    const put = (name: string, content: string | Uint8Array) => {
      const f = path.join(t.dir, name);
      writeFileSync(f, content);
      return f;
    };
    const withMeta = (cols: Parameters<typeof makeTable>[0]) => {
      const tb = makeTable(cols);
      tb.schema.metadata.set('bitnet.shard.version', '1');
      tb.schema.metadata.set('bitnet.eos_id', '4');
      return tableToIPC(tb, 'file');
    };
    const cases: [string, RegExp][] = [
      [path.join(t.dir, 'missing.arrow'), /missing\.arrow: no such file$/],
      [put('text.arrow', 'hello, not arrow at all'), /text\.arrow: not an Arrow IPC file$/],
      [put('trunc.arrow', bytes.subarray(0, bytes.length - 40)), /trunc\.arrow: truncated Arrow IPC file/],
      [put('mid.arrow', Buffer.concat([bytes.subarray(0, 200), Buffer.from('ARROW1')])), /mid\.arrow: corrupt or truncated Arrow IPC file/],
      [put('cols.arrow', withMeta({ ids: Int32Array.of(1) })), /cols\.arrow: expected columns tokens, doc_start; found ids/],
      [put('type.arrow', withMeta({ tokens: Float32Array.of(1), doc_start: Uint8Array.of(1) })), /type\.arrow: column tokens is Float32, expected Int32/],
      [put('flag.arrow', withMeta({ tokens: Int32Array.of(1), doc_start: Int8Array.of(1) })), /flag\.arrow: column doc_start is Int8, expected Uint8/],
      [put('two.arrow', withMeta({ tokens: Int32Array.of(1), doc_start: Uint8Array.of(2) })), /two\.arrow: doc_start\[0\] is 2/],
      [put('meta.arrow', tableToIPC(makeTable({ tokens: Int32Array.of(1), doc_start: Uint8Array.of(1) }), 'file')), /meta\.arrow: shard version \(missing\)/],
    ];
    for (const [f, pattern] of cases) {
      expect(() => readShard(f), f).to.throw(InputError, pattern);
    }
  });
});
