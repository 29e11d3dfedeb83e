import { z } from 'zod';

export const ShardChecksum = z.object({ bytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict();

/** Per split: tokens include one <|endoftext|> after each document; bytes are the text's UTF-8 bytes. */
export const SplitStats = z
  .object({
    documents: z.number().int().min(0),
    characters: z.number().int().min(0),
    bytes: z.number().int().min(0),
    tokens: z.number().int().min(0),
    /** bytes / tokens: converts a per-token loss to bits per byte. */
    bytes_per_token: z.number().min(0),
    /** Entropy of the split's own token frequencies, nats per token: the loss of a model that learned only those. */
    unigram_entropy: z.number().min(0).optional(),
  })
  .strict();

/** A named document of a bundled corpus, where it went and what it holds. */
export const DocumentStats = z
  .object({
    id: z.string(),
    source: z.string(),
    licence: z.string(),
    split: z.enum(['train', 'val']),
    characters: z.number().int().min(0),
    bytes: z.number().int().min(0),
    tokens: z.number().int().min(0),
  })
  .strict();
export type DocumentStats = z.infer<typeof DocumentStats>;
export type SplitStats = z.infer<typeof SplitStats>;

/** stats.json of a prepared data directory (no timestamps or timings: the file is reproducible). */
export const PreparedStats = z
  .object({
    format: z.literal('bitnet-ts-prepared'),
    version: z.literal(1),
    corpus: z.string(),
    tokenizer: z.enum(['byte', 'bpe']),
    vocab_size: z.number().int().min(257),
    vocab_size_requested: z.number().int().min(257),
    /** True when BPE ran out of pairs seen twice before reaching the requested size. */
    stopped_early: z.boolean(),
    merges: z.number().int().min(0),
    val_fraction: z.number().gt(0).lt(1),
    train: SplitStats,
    val: SplitStats,
    /** Size and SHA-256 of train.arrow and val.arrow, checked before they are read (absent in older data). */
    shards: z.object({ train: ShardChecksum, val: ShardChecksum }).strict().optional(),
    /** Every document of a corpus that names them (bundled pd-mix), in corpus order. */
    documents: z.array(DocumentStats).optional(),
  })
  .strict();
export type PreparedStats = z.infer<typeof PreparedStats>;
