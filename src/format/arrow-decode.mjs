// Arrow IPC bytes -> plain typed arrays per column (never arrow objects), for src/format/arrow.ts.
// Imported there for files whose checksum we wrote ourselves; run as a child process (stdin: the bytes,
// argv[2]: the options as JSON; stdout: the v8-serialized result) for every other file, because on a
// corrupt file apache-arrow can walk the same message forever or allocate without bound (both found by
// the reader fuzz, test/fuzz/): the parent ends an overrunning child and sees a crash for what it is.
// Plain JavaScript so the child needs no TypeScript loader.
import { readFileSync } from 'node:fs';
import { serialize } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { RecordBatchReader, Table } from 'apache-arrow';

/** @param {Uint8Array} bytes @param {{ stream?: boolean, maxBatches: number }} opts */
export function decodeArrow(bytes, opts) {
  const reader = RecordBatchReader.from(bytes);
  const batches = [];
  if (reader.isFile()) {
    reader.open();
    if (reader.numDictionaries !== 0) throw new Error(`${reader.numDictionaries} dictionary batches (none expected)`);
    if (reader.numRecordBatches < 1 || reader.numRecordBatches > opts.maxBatches)
      throw new Error(`${reader.numRecordBatches} record batches (expected 1 to ${opts.maxBatches})`);
    for (let i = 0; i < reader.numRecordBatches; i++) {
      const b = reader.readRecordBatch(i);
      if (b === null) throw new Error(`record batch ${i} is missing`);
      batches.push(b);
    }
  } else {
    if (!opts.stream) throw new Error('not in the IPC file format');
    for (const b of reader) {
      if (batches.length >= opts.maxBatches) throw new Error(`more than ${opts.maxBatches} record batches`);
      batches.push(b);
    }
    if (batches.length === 0) throw new Error('no record batch');
  }
  const table = new Table(batches);
  const copy = (a) => (a ? a.slice() : null);
  return {
    numRows: table.numRows,
    metadata: [...table.schema.metadata],
    columns: table.schema.fields.map((f) => {
      const col = table.getChild(f.name);
      return {
        name: f.name,
        type: String(f.type),
        length: col.length,
        nullCount: col.nullCount,
        chunks: col.data.map((d) => ({
          length: d.length,
          nullCount: d.nullCount,
          offset: d.offset,
          values: copy(d.values),
          offsets: copy(d.valueOffsets),
          validity: d.nullCount > 0 ? copy(d.nullBitmap) : null,
        })),
      };
    }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let out;
  try {
    out = { ok: true, ...decodeArrow(readFileSync(0), JSON.parse(process.argv[2] ?? '{}')) };
  } catch (e) {
    out = { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  process.stdout.write(serialize(out));
}
