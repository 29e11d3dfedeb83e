/**
 * Token shards: Arrow IPC files (the file format, "ARROW1" magic at both ends) with two columns of
 * equal length and no nulls:
 *
 *   tokens     Int32   token ids; every document is followed by one end-of-text token (eos_id)
 *   doc_start  Uint8   1 at the first token of each document, else 0
 *
 * and schema metadata `bitnet.shard.version` = "1", `bitnet.eos_id` = the end-of-text id. So
 * documents can be found either way: after each eos, or where doc_start is 1. One record batch per
 * file. The reader validates magic, schema, types, lengths, nulls and the metadata before returning
 * anything; writes go to a temporary name in the same directory and are renamed into place.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { makeTable, tableToIPC } from 'apache-arrow';
import { columnValues, readArrowTable } from './arrow.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';

export interface Shard {
  tokens: Int32Array;
  docStart: Uint8Array;
  eosId: number;
}

export const SHARD_VERSION = '1';

/** What stats.json records of a shard: its size and SHA-256, checked before it is parsed. */
export interface ShardChecksum {
  bytes: number;
  sha256: string;
}

export function shardChecksum(bytes: Uint8Array): ShardChecksum {
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}
const MAGIC = 'ARROW1';

/** Writes `shard` to `file` atomically (temp name, then rename); returns the checksum to record. */
export function writeShard(file: string, shard: Shard): ShardChecksum {
  if (shard.tokens.length !== shard.docStart.length) throw new RangeError(`writeShard: ${shard.tokens.length} tokens but ${shard.docStart.length} doc_start flags`);
  const table = makeTable({ tokens: shard.tokens, doc_start: shard.docStart });
  table.schema.metadata.set('bitnet.shard.version', SHARD_VERSION);
  table.schema.metadata.set('bitnet.eos_id', String(shard.eosId));
  const bytes = tableToIPC(table, 'file');
  writeFileAtomic(file, bytes);
  return shardChecksum(bytes);
}

function hasMagic(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < MAGIC.length; i++) if (b[at + i] !== MAGIC.charCodeAt(i)) return false;
  return true;
}

/**
 * Reads and validates a shard; any problem is an InputError naming `file`. With `expect` (from stats.json)
 * a file that is not byte for byte the one written is refused before it is parsed, and the one that is is
 * decoded in process; without it the bytes are decoded in the Arrow reader's child process (arrow.ts).
 */
export function readShard(file: string, expect?: ShardChecksum): Shard {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(file, code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})`);
  }
  if (bytes.length < 2 * MAGIC.length + 8 || !hasMagic(bytes, 0)) throw new InputError(file, 'not an Arrow IPC file');
  if (!hasMagic(bytes, bytes.length - MAGIC.length)) throw new InputError(file, 'truncated Arrow IPC file (no closing magic)');
  if (expect) {
    const got = shardChecksum(bytes);
    if (got.bytes !== expect.bytes || got.sha256 !== expect.sha256)
      throw new InputError(file, `does not match the size and SHA-256 recorded in stats.json (${got.bytes} bytes, ${got.sha256.slice(0, 12)}… vs ${expect.bytes}, ${expect.sha256.slice(0, 12)}…): corrupt or replaced`);
  }
  const table = readArrowTable(bytes, file, { maxBatches: 1, trusted: expect !== undefined });
  const fields = [...table.columns.keys()].join(', ');
  if (fields !== 'tokens, doc_start') throw new InputError(file, `expected columns tokens, doc_start; found ${fields || 'none'}`);
  const version = table.metadata.get('bitnet.shard.version');
  if (version !== SHARD_VERSION) throw new InputError(file, `shard version ${version ?? '(missing)'}, this reader needs ${SHARD_VERSION}`);
  const eosId = Number(table.metadata.get('bitnet.eos_id'));
  if (!Number.isInteger(eosId) || eosId < 0) throw new InputError(file, 'missing or bad bitnet.eos_id metadata');
  const tokens = columnValues(file, table.columns.get('tokens')!, 'Int32', Int32Array);
  const docStart = columnValues(file, table.columns.get('doc_start')!, 'Uint8', Uint8Array);
  if (tokens.length !== table.numRows || docStart.length !== table.numRows) throw new InputError(file, 'columns of different lengths');
  const out: Shard = { tokens, docStart, eosId };
  for (let i = 0; i < out.docStart.length; i++) {
    if (out.docStart[i]! > 1) throw new InputError(file, `doc_start[${i}] is ${out.docStart[i]}, expected 0 or 1`);
  }
  return out;
}

