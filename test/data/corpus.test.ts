import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeData, makeTable, Table, tableToIPC, Utf8, Vector, vectorFromArray, type Data } from 'apache-arrow';
import { InputError } from '../../src/errors.ts';
import { loadCorpus } from '../../src/data/corpus.ts';
import { parquetFile, tempDir } from './support.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** An Arrow table with a Utf8 column `text` whose raw bytes are given (to plant invalid UTF-8). */
function rawUtf8Table(values: Uint8Array[]): Table {
  const offsets = new Int32Array(values.length + 1);
  values.forEach((v, i) => (offsets[i + 1] = offsets[i]! + v.length));
  const bytes = new Uint8Array(offsets[values.length]!);
  values.forEach((v, i) => bytes.set(v, offsets[i]!));
  const data = makeData({ type: new Utf8(), length: values.length, valueOffsets: offsets, data: bytes }) as Data<Utf8>;
  return new Table({ text: new Vector([data]) });
}

describe('data/corpus', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir()));
  afterEach(() => t.cleanup());
  const file = (name: string, content: string | Uint8Array) => {
    const f = path.join(t.dir, name);
    writeFileSync(f, content);
    return f;
  };

  it('loads the bundled corpora, one document per chapter / speech', async () => {
    const moby = await loadCorpus('moby-dick');
    expect(moby.name).to.equal('moby-dick');
    expect(moby.documents).to.have.length(139);
    expect(moby.documents.reduce((n, d) => n + d.text.length, 0)).to.be.within(1_100_000, 1_300_000);
    expect((await loadCorpus('sotu')).documents).to.have.length(233);
  });

  it('reads .txt as one document, .jsonl by line, .parquet and .arrow (file and stream) by row', async () => {
    const txt = await loadCorpus(file('book.txt', 'Chapter 1\f\nChapter 2 é'));
    expect(txt.name).to.equal('book');
    expect(txt.documents).to.deep.equal([{ text: 'Chapter 1\f\nChapter 2 é' }]);

    const jl = await loadCorpus(file('d.jsonl', '{"text":"one"}\n\n{"text":"two","id":2}\r\n{"text":""}\n'));
    expect(jl.documents).to.deep.equal([{ text: 'one' }, { text: 'two' }]);

    const pq = await loadCorpus(file('d.parquet', parquetFile([utf8('alpha ß'), utf8('beta')])));
    expect(pq.documents).to.deep.equal([{ text: 'alpha ß' }, { text: 'beta' }]);

    const table = new Table({ id: vectorFromArray([1, 2]), text: vectorFromArray(['x😀', 'y'], new Utf8()) });
    for (const kind of ['file', 'stream'] as const) {
      const arrow = await loadCorpus(file(`d-${kind}.arrow`, tableToIPC(table, kind)));
      expect(arrow.documents).to.deep.equal([{ text: 'x😀' }, { text: 'y' }]);
    }
  });

  describe('bad input -> one-line InputError naming the input', () => {
    const rejects = async (spec: string, pattern: RegExp) => {
      const err = await loadCorpus(spec).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(InputError);
      expect((err as Error).message).to.match(pattern);
      expect((err as Error).message).to.not.include('\n');
    };

    it('a missing file or unknown corpus name', async () => {
      await rejects('does-not-exist.txt', /^does-not-exist\.txt: no such file or bundled corpus \(bundled: moby-dick, sotu, pd-mix\)$/);
      await rejects('moby', /^moby: no such file or bundled corpus/);
      await rejects(t.dir, /not a file/);
      await rejects(file('x.csv', 'a,b'), /unknown corpus format/);
    });

    it('an empty corpus', async () => {
      await rejects(file('e.txt', ''), /e\.txt: empty corpus/);
      await rejects(file('e.jsonl', '\n\n{"text":""}\n'), /e\.jsonl: empty corpus/);
    });

    it('invalid UTF-8 in every format', async () => {
      const bad = Uint8Array.of(0x61, 0xc3, 0x28, 0x62);
      await rejects(file('b.txt', bad), /b\.txt: invalid UTF-8$/);
      await rejects(file('b.jsonl', Uint8Array.of(...utf8('{"text":"'), 0xff, ...utf8('"}'))), /b\.jsonl: invalid UTF-8$/);
      await rejects(file('b.parquet', parquetFile([utf8('ok'), bad])), /b\.parquet: invalid UTF-8$/);
      await rejects(file('b.arrow', tableToIPC(rawUtf8Table([utf8('ok'), bad]), 'file')), /b\.arrow: invalid UTF-8$/);
    });

    it('a malformed jsonl line names the file and line', async () => {
      await rejects(file('m.jsonl', '{"text":"a"}\n{"text": oops}\n'), /m\.jsonl:2: malformed JSON line/);
      await rejects(file('n.jsonl', '{"text":"a"}\n\n{"body":"b"}\n'), /n\.jsonl:3: expected an object with a string field "text"/);
    });

    it('a truncated or non-Arrow .arrow, a missing or non-string text column', async () => {
      const good = tableToIPC(new Table({ text: vectorFromArray(['a', 'b'], new Utf8()) }), 'file');
      await rejects(file('t.arrow', good.subarray(0, good.length - 30)), /t\.arrow: corrupt or truncated Arrow IPC file or stream/);
      await rejects(file('j.arrow', 'just some text'), /j\.arrow: corrupt or truncated Arrow IPC file or stream/);
      await rejects(file('c.arrow', tableToIPC(makeTable({ body: new Int32Array([1]) }), 'file')), /c\.arrow: no column "text"/);
      await rejects(file('i.arrow', tableToIPC(makeTable({ text: new Int32Array([1]) }), 'file')), /i\.arrow: column "text" is Int32, expected Utf8/);
    });

    it('a corrupt .parquet or one without a string text column', async () => {
      await rejects(file('t.parquet', parquetFile([utf8('a')]).subarray(0, 20)), /t\.parquet: not a readable Parquet file/);
      await rejects(file('n.parquet', parquetFile([utf8('a')], 'body')), /n\.parquet: no column "text"/);
    });
  });
});
