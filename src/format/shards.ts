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
import { readFileSync } from 'node:fs';
import { DataType, makeTable, tableFromIPC, tableToIPC, type Table } from 'apache-arrow';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';

export interface Shard {
  tokens: Int32Array;
  docStart: Uint8Array;
  eosId: number;
}

export const SHARD_VERSION = '1';
const MAGIC = 'ARROW1';

/** Writes `shard` to `file` atomically (temp name, then rename). */
export function writeShard(file: string, shard: Shard): void {
  if (shard.tokens.length !== shard.docStart.length) throw new RangeError(`writeShard: ${shard.tokens.length} tokens but ${shard.docStart.length} doc_start flags`);
  const table = makeTable({ tokens: shard.tokens, doc_start: shard.docStart });
  table.schema.metadata.set('bitnet.shard.version', SHARD_VERSION);
  table.schema.metadata.set('bitnet.eos_id', String(shard.eosId));
  writeFileAtomic(file, tableToIPC(table, 'file'));
}

function hasMagic(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < MAGIC.length; i++) if (b[at + i] !== MAGIC.charCodeAt(i)) return false;
  return true;
}

/** Reads and validates a shard; any problem is an InputError naming `file`. */
export function readShard(file: string): Shard {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(file, code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})`);
  }
  if (bytes.length < 2 * MAGIC.length + 8 || !hasMagic(bytes, 0)) throw new InputError(file, 'not an Arrow IPC file');
  if (!hasMagic(bytes, bytes.length - MAGIC.length)) throw new InputError(file, 'truncated Arrow IPC file (no closing magic)');
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    throw new InputError(file, `corrupt Arrow IPC file (${(e as Error).message})`);
  }
  const fields = table.schema.fields.map((f) => f.name).join(', ');
  if (fields !== 'tokens, doc_start') throw new InputError(file, `expected columns tokens, doc_start; found ${fields || 'none'}`);
  const version = table.schema.metadata.get('bitnet.shard.version');
  if (version !== SHARD_VERSION) throw new InputError(file, `shard version ${version ?? '(missing)'}, this reader needs ${SHARD_VERSION}`);
  const eosId = Number(table.schema.metadata.get('bitnet.eos_id'));
  if (!Number.isInteger(eosId) || eosId < 0) throw new InputError(file, 'missing or bad bitnet.eos_id metadata');
  const tokens = table.getChild('tokens')!;
  const docStart = table.getChild('doc_start')!;
  if (!(DataType.isInt(tokens.type) && tokens.type.bitWidth === 32 && tokens.type.isSigned)) throw new InputError(file, `column tokens is ${tokens.type}, expected Int32`);
  if (!(DataType.isInt(docStart.type) && docStart.type.bitWidth === 8 && !docStart.type.isSigned)) throw new InputError(file, `column doc_start is ${docStart.type}, expected Uint8`);
  if (tokens.nullCount > 0 || docStart.nullCount > 0) throw new InputError(file, 'null values in a shard');
  // Copy out: the arrays may be views into the file buffer at any alignment, and callers keep them.
  const out: Shard = { tokens: Int32Array.from(tokens.toArray() as Int32Array), docStart: Uint8Array.from(docStart.toArray() as Uint8Array), eosId };
  for (let i = 0; i < out.docStart.length; i++) {
    if (out.docStart[i]! > 1) throw new InputError(file, `doc_start[${i}] is ${out.docStart[i]}, expected 0 or 1`);
  }
  return out;
}

