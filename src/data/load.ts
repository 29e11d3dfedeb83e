import { statSync } from 'node:fs';
import path from 'node:path';
import { parseWith, readJsonFile } from '../config/parse.ts';
import { InputError } from '../errors.ts';
import { readShard, type Shard } from '../format/shards.ts';
import { PreparedStats } from './stats.ts';
import { loadTokenizer, type Tokenizer } from './tokenizer/index.ts';

export interface Prepared {
  dir: string;
  tokenizer: Tokenizer;
  train: Int32Array;
  val: Int32Array;
  trainDocStart: Uint8Array;
  valDocStart: Uint8Array;
  stats: PreparedStats;
  /** UTF-8 bytes per validation token (stats.val.bytes_per_token): bits/byte = nats/token / ln 2 / this. */
  valBytesPerToken: number;
}

function checkShard(file: string, shard: Shard, tok: Tokenizer, expectedTokens: number): void {
  if (shard.eosId !== tok.eosId) throw new InputError(file, `eos id ${shard.eosId} does not match the tokenizer's ${tok.eosId}`);
  if (shard.tokens.length !== expectedTokens) throw new InputError(file, `${shard.tokens.length} tokens, but stats.json says ${expectedTokens}`);
  for (let i = 0; i < shard.tokens.length; i++) {
    const t = shard.tokens[i]!;
    if (t < 0 || t >= tok.vocabSize) throw new InputError(file, `token ${i} is ${t}, outside the vocabulary [0, ${tok.vocabSize})`);
  }
}

/**
 * Loads a directory written by `prepare` (used by training and eval): the tokenizer, both token
 * shards and the stats, each validated, and checked against each other (vocabulary, eos, counts).
 */
export function loadPrepared(dir: string): Prepared {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new InputError(dir, 'no such data directory (run `bitnet prepare` first)');
  }
  if (!isDir) throw new InputError(dir, 'not a directory');
  const statsFile = path.join(dir, 'stats.json');
  const stats = parseWith(PreparedStats, readJsonFile(statsFile), statsFile);
  const tokenizer = loadTokenizer(path.join(dir, 'tokenizer.json'));
  if (tokenizer.vocabSize !== stats.vocab_size) throw new InputError(statsFile, `vocab_size ${stats.vocab_size} does not match tokenizer.json's ${tokenizer.vocabSize}`);
  const trainFile = path.join(dir, 'train.arrow');
  const valFile = path.join(dir, 'val.arrow');
  const train = readShard(trainFile, stats.shards?.train);
  const val = readShard(valFile, stats.shards?.val);
  checkShard(trainFile, train, tokenizer, stats.train.tokens);
  checkShard(valFile, val, tokenizer, stats.val.tokens);
  return { dir, tokenizer, train: train.tokens, val: val.tokens, trainDocStart: train.docStart, valDocStart: val.docStart, stats, valBytesPerToken: stats.val.bytes_per_token };
}
