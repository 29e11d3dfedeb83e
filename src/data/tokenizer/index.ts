export { BpeTokenizer, GGUF_PRE, GPT2_SPLIT, preTokenize } from './bpe.ts';
export { ByteTokenizer } from './byte.ts';
export { BYTE_TO_UNICODE, bytesToUnicode, unicodeToBytes } from './byte-unicode.ts';
export { loadTokenizer, tokenizerFileText, tokenizerFromJson, tokenizerToJson, type TokenizerJson } from './json.ts';
export { MIN_PAIR_COUNT, trainBpe, type BpeTrainResult } from './train-bpe.ts';
export { EOS_TEXT, type Tokenizer } from './types.ts';
export { MAX_VOCAB } from './vocab.ts';
