import { z } from 'zod';
import { parseWith, readJsonFile } from '../../config/parse.ts';
import { InputError } from '../../errors.ts';
import { BpeTokenizer, GGUF_PRE } from './bpe.ts';
import { ByteTokenizer } from './byte.ts';
import { EOS_TEXT, type Tokenizer } from './types.ts';

/**
 * tokenizer.json: everything needed to rebuild a tokenizer, nothing derivable twice over.
 *
 *   { "format": "bitnet-ts-tokenizer", "version": 1, "kind": "byte" | "bpe",
 *     "pre": "gpt-2" (bpe) | null (byte), "vocab_size": N, "eos_id": N - 1, "eos": "<|endoftext|>",
 *     "merges": ["Ġ t", "h e", ...] }
 *
 * Token strings are not stored: ids 0..255 are the bytes (strings under GPT-2's byte-to-unicode
 * mapping), each merge line yields the next id unless its concatenation is already a token, and
 * `<|endoftext|>` is last. The loader replays the merges and checks vocab_size and eos_id against them.
 */
const TokenizerFile = z
  .object({
    format: z.literal('bitnet-ts-tokenizer'),
    version: z.literal(1),
    kind: z.enum(['byte', 'bpe']),
    pre: z.string().nullable(),
    vocab_size: z.number().int().min(257),
    eos_id: z.number().int().min(0),
    eos: z.literal(EOS_TEXT),
    merges: z.array(z.string()),
  })
  .strict();

export type TokenizerJson = z.infer<typeof TokenizerFile>;

export function tokenizerToJson(tok: Tokenizer): TokenizerJson {
  return {
    format: 'bitnet-ts-tokenizer',
    version: 1,
    kind: tok.kind,
    pre: tok.kind === 'bpe' ? GGUF_PRE : null,
    vocab_size: tok.vocabSize,
    eos_id: tok.eosId,
    eos: EOS_TEXT,
    merges: tok.merges(),
  };
}

/** The file's text (stable key order, one merge per line, trailing newline): byte-identical per tokenizer. */
export function tokenizerFileText(tok: Tokenizer): string {
  return `${JSON.stringify(tokenizerToJson(tok), null, 2)}\n`;
}

/** Rebuilds a tokenizer from parsed tokenizer.json content; `source` names it in errors. */
export function tokenizerFromJson(value: unknown, source: string): Tokenizer {
  const j = parseWith(TokenizerFile, value, source);
  let tok: Tokenizer;
  if (j.kind === 'byte') {
    if (j.merges.length > 0) throw new InputError(source, 'merges: a byte tokenizer has no merges');
    tok = new ByteTokenizer();
  } else {
    if (j.pre !== GGUF_PRE) throw new InputError(source, `pre: expected "${GGUF_PRE}", got ${JSON.stringify(j.pre)}`);
    const r = BpeTokenizer.fromMergeLines(j.merges);
    if ('error' in r) throw new InputError(source, r.error);
    tok = r;
  }
  if (tok.vocabSize !== j.vocab_size) throw new InputError(source, `vocab_size: is ${j.vocab_size}, but the merges give ${tok.vocabSize}`);
  if (tok.eosId !== j.eos_id) throw new InputError(source, `eos_id: is ${j.eos_id}, expected ${tok.eosId}`);
  return tok;
}

export function loadTokenizer(file: string): Tokenizer {
  return tokenizerFromJson(readJsonFile(file), file);
}
