// The data room's public API: corpora, tokenizers, prepare, the prepared-data loader, batches.
export { batchAt, evalWindows, type Batch, type BatchOptions } from './batches.ts';
export { BUNDLED_CORPORA, decodeUtf8, loadCorpus, type Corpus, type Document } from './corpus.ts';
export { loadPrepared, type Prepared } from './load.ts';
export { DEFAULT_VOCAB, encodeDocuments, prepare, type PrepareOptions, type PrepareResult } from './prepare.ts';
export { mixSeed, Rng, type RngState } from './rng.ts';
export { splitDocuments } from './split.ts';
export { PreparedStats, SplitStats } from './stats.ts';
export * from './tokenizer/index.ts';
