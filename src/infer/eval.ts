/**
 * Loss of a model over a token stream: non-overlapping windows of the context length, each run from an
 * empty cache, every token after a window's first predicted from those before it. Perplexity =
 * exp(loss); bits per byte = loss / ln 2 / (UTF-8 bytes per token of the split).
 */
import { watch } from '../native/watchdog.ts';
import type { Model } from './model.ts';
import type { GGUFTokenizer } from './tokenizer.ts';

export interface EvalResult {
  /** Mean negative log-likelihood per predicted token, in nats. */
  loss: number;
  perplexity: number;
  bits_per_byte: number;
  /** Tokens predicted. */
  tokens: number;
}

/** Mean NLL over `tokens` in windows of `window` (default: the model's cache size); logits in chunks of the model's batch. */
export function evaluate(model: Model, tokens: Int32Array, bytesPerToken: number, window = model.maxSeq, onWindow?: (done: number, total: number) => void): EvalResult {
  const V = model.hp.vocab_size;
  const logits = new Float32Array(model.maxBatch * V);
  let nll = 0;
  let count = 0;
  const windows = Math.ceil(tokens.length / window);
  const watchdog = watch('engine evaluation');
  try {
    for (let w = 0; w < windows; w++) {
      watchdog.beat(`engine evaluation, window ${w + 1} of ${windows}`);
      const win = tokens.subarray(w * window, Math.min(tokens.length, (w + 1) * window));
      if (win.length < 2) continue;
      model.reset();
      // the last token of a window predicts nothing: run the first length-1
      for (let c0 = 0; c0 < win.length - 1; c0 += model.maxBatch) {
        const c1 = Math.min(win.length - 1, c0 + model.maxBatch);
        const out = logits.subarray(0, (c1 - c0) * V);
        model.forward(win.subarray(c0, c1), out);
        for (let i = 0; i < c1 - c0; i++) {
          const row = out.subarray(i * V, (i + 1) * V);
          let max = -Infinity;
          for (let j = 0; j < V; j++) if (row[j]! > max) max = row[j]!;
          let z = 0;
          for (let j = 0; j < V; j++) z += Math.exp(row[j]! - max);
          nll += Math.log(z) + max - row[win[c0 + i + 1]!]!;
          count++;
        }
      }
      onWindow?.(w + 1, windows);
    }
  } finally {
    watchdog.stop();
  }
  const loss = count > 0 ? nll / count : NaN;
  return { loss, perplexity: Math.exp(loss), bits_per_byte: loss / Math.LN2 / bytesPerToken, tokens: count };
}

/**
 * The loss of `text` tokenized by the model's own tokenizer, as llama.cpp's perplexity tool tokenizes it
 * (BOS and EOS as the file says, special tokens' strings as plain text): how a file whose vocabulary
 * is not one of ours is evaluated. Bits per byte count the text's UTF-8 bytes.
 */
export function evaluateText(model: Model, tokenizer: GGUFTokenizer, text: string): EvalResult {
  const tokens = tokenizer.encode(text, { addSpecial: true });
  return evaluate(model, tokens, Buffer.byteLength(text, 'utf8') / Math.max(1, tokens.length));
}
