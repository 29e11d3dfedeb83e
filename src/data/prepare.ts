/**
 * `bitnet prepare`: corpus -> tokenizer + token shards + statistics, in data/NAME/:
 *
 *   tokenizer.json   the tokenizer (see tokenizer/json.ts)
 *   train.arrow      token shard of the training documents (see format/shards.ts)
 *   val.arrow        token shard of the validation documents
 *   stats.json       counts per split (see stats.ts)
 *
 * The BPE is trained on the training documents only. Everything is written into a temporary sibling
 * directory that replaces NAME at the end, so a failure or a kill never leaves partial output, and
 * the files are byte-identical across runs (no timestamps, no timings).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.ts';
import { withTempDir, writeFileAtomic } from '../format/atomic.ts';
import { writeShard, type Shard } from '../format/shards.ts';
import { loadCorpus, type Document } from './corpus.ts';
import { splitDocuments } from './split.ts';
import type { DocumentStats, PreparedStats, SplitStats } from './stats.ts';
import { ByteTokenizer, MAX_VOCAB, tokenizerFileText, trainBpe, type Tokenizer } from './tokenizer/index.ts';

export interface PrepareOptions {
  /** Bundled corpus name or a file path; default "moby-dick". */
  corpus?: string;
  tokenizer?: 'byte' | 'bpe';
  /** Default 4096 for BPE; the byte tokenizer has exactly 257. */
  vocabSize?: number;
  /** Fraction of documents held out, in (0, 1); default 0.1. */
  valFraction?: number;
  /** Output directory; default data/<corpus name>. */
  out?: string;
}

export interface PrepareResult {
  out: string;
  stats: PreparedStats;
  seconds: number;
}

export const DEFAULT_VOCAB = 4096;

function checkOptions(o: PrepareOptions): { kind: 'byte' | 'bpe'; vocabSize: number; valFraction: number } {
  const kind = o.tokenizer ?? 'bpe';
  if (kind !== 'byte' && kind !== 'bpe') throw new InputError('--tokenizer', `expected byte or bpe, got "${kind}"`);
  const vocabSize = o.vocabSize ?? (kind === 'bpe' ? DEFAULT_VOCAB : 257);
  if (kind === 'byte') {
    if (vocabSize !== 257) throw new InputError('--vocab-size', `the byte tokenizer has exactly 257 ids (256 bytes + <|endoftext|>), got ${vocabSize}`);
  } else if (!Number.isInteger(vocabSize) || vocabSize < 258 || vocabSize > MAX_VOCAB) {
    throw new InputError('--vocab-size', `must be an integer from 258 (256 bytes + 1 merge + <|endoftext|>) to ${MAX_VOCAB}, got ${vocabSize}`);
  }
  const valFraction = o.valFraction ?? 0.1;
  if (!(valFraction > 0 && valFraction < 1)) throw new InputError('--val-fraction', `must be between 0 and 1 (exclusive), got ${valFraction}`);
  return { kind, vocabSize, valFraction };
}

/** Refuses to replace something that is not a previous prepare's output (or an empty directory). */
function checkOut(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new InputError('--out', `${out} exists and is not a directory`);
  const entries = readdirSync(out);
  if (entries.length > 0 && !entries.includes('stats.json')) throw new InputError('--out', `${out} is not empty and holds no stats.json; not replacing it`);
}

function countCodePoints(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const p = text.charCodeAt(i - 1);
      if (p >= 0xd800 && p <= 0xdbff) n--;
    }
  }
  return n;
}

/** Encodes documents into one shard: each document's tokens then eos; doc_start marks first tokens. */
/** Entropy in nats of the token frequencies of `tokens` (ids below `vocab`). */
export function unigramEntropy(tokens: Int32Array, vocab: number): number {
  const counts = new Float64Array(vocab);
  for (let i = 0; i < tokens.length; i++) counts[tokens[i]!]!++;
  let h = 0;
  for (let v = 0; v < vocab; v++) if (counts[v]! > 0) {
    const p = counts[v]! / tokens.length;
    h -= p * Math.log(p);
  }
  return h;
}

export function encodeDocuments(tok: Tokenizer, docs: readonly Document[]): { shard: Shard; stats: SplitStats; tokensPerDoc: number[] } {
  const parts = docs.map((d) => tok.encode(d.text));
  const total = parts.reduce((s, p) => s + p.length + 1, 0);
  const tokens = new Int32Array(total);
  const docStart = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    docStart[o] = 1;
    tokens.set(p, o);
    o += p.length;
    tokens[o++] = tok.eosId;
  }
  let characters = 0;
  let bytes = 0;
  for (const d of docs) {
    characters += countCodePoints(d.text);
    bytes += Buffer.byteLength(d.text, 'utf8');
  }
  return {
    shard: { tokens, docStart, eosId: tok.eosId },
    stats: { documents: docs.length, characters, bytes, tokens: total, bytes_per_token: total > 0 ? bytes / total : 0, unigram_entropy: unigramEntropy(tokens, tok.vocabSize) },
    tokensPerDoc: parts.map((p) => p.length + 1),
  };
}

/** Per named document, in corpus order: its split, size and licence. */
function documentStats(all: readonly Document[], splits: [readonly Document[], number[]][]): DocumentStats[] {
  const tokens = new Map<Document, number>();
  for (const [docs, counts] of splits) docs.forEach((d, i) => tokens.set(d, counts[i]!));
  const val = new Set(splits[1]![0]);
  return all.map((d) => ({
    id: d.id!,
    source: d.source ?? 'unknown',
    licence: d.licence ?? 'unknown',
    split: val.has(d) ? 'val' : 'train',
    characters: countCodePoints(d.text),
    bytes: Buffer.byteLength(d.text, 'utf8'),
    tokens: tokens.get(d) ?? 0,
  }));
}

export async function prepare(opts: PrepareOptions = {}): Promise<PrepareResult> {
  const t0 = performance.now();
  const { kind, vocabSize, valFraction } = checkOptions(opts);
  const corpus = await loadCorpus(opts.corpus ?? 'moby-dick');
  const out = opts.out ?? path.join('data', corpus.name);
  checkOut(out);
  // A corpus that names each document's split (pd-mix) keeps it: whole documents, the same every time.
  const fixed = corpus.documents.every((d) => d.split !== undefined);
  if (fixed && opts.valFraction !== undefined) throw new InputError('--val-fraction', `${corpus.source} has a fixed validation split by document; the fraction does not apply`);
  const { train, val } = fixed
    ? { train: corpus.documents.filter((d) => d.split === 'train'), val: corpus.documents.filter((d) => d.split === 'val') }
    : splitDocuments(corpus.documents, valFraction);
  if (train.length === 0 || val.length === 0) throw new InputError(corpus.source, 'too little text to split into train and validation');

  let tok: Tokenizer;
  let stoppedEarly = false;
  if (kind === 'bpe') {
    const r = trainBpe(
      train.map((d) => d.text),
      vocabSize,
    );
    tok = r.tokenizer;
    stoppedEarly = r.stoppedEarly;
  } else {
    tok = new ByteTokenizer();
  }
  const tr = encodeDocuments(tok, train);
  const va = encodeDocuments(tok, val);
  const stats: PreparedStats = {
    format: 'bitnet-ts-prepared',
    version: 1,
    corpus: corpus.source,
    tokenizer: kind,
    vocab_size: tok.vocabSize,
    vocab_size_requested: vocabSize,
    stopped_early: stoppedEarly,
    merges: tok.merges().length,
    val_fraction: fixed ? val.length / corpus.documents.length : valFraction,
    train: tr.stats,
    val: va.stats,
  };
  if (corpus.documents.every((d) => d.id !== undefined)) stats.documents = documentStats(corpus.documents, [[train, tr.tokensPerDoc], [val, va.tokensPerDoc]]);
  await withTempDir(out, (dir) => {
    writeFileAtomic(path.join(dir, 'tokenizer.json'), tokenizerFileText(tok));
    stats.shards = { train: writeShard(path.join(dir, 'train.arrow'), tr.shard), val: writeShard(path.join(dir, 'val.arrow'), va.shard) };
    writeFileAtomic(path.join(dir, 'stats.json'), `${JSON.stringify(stats, null, 2)}\n`);
  });
  return { out, stats, seconds: (performance.now() - t0) / 1000 };
}
