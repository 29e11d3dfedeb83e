/**
 * Text generation (llama2.c's `generate()`): the prompt as one batch, then one token at a time with the
 * sampler until EOS, the token budget or the end of the KV cache, streaming the text as it comes (UTF-8
 * sequences split across tokens are held back until complete). The token loop (sampleTokens) and the
 * text stream (TextStream) serve chat's replies too.
 */
import { performance } from 'node:perf_hooks';
import { InputError } from '../errors.ts';
import { watch } from '../native/watchdog.ts';
import type { Model } from './model.ts';
import { Sampler, type SamplerParams } from './sampler.ts';
import type { GGUFTokenizer } from './tokenizer.ts';

export interface GenerateOptions {
  prompt: string;
  maxTokens: number;
  sampler: SamplerParams;
  seed: number;
  /** Called with each piece of new text. */
  onText?: (text: string) => void;
}

export interface GenerateResult {
  /** The generated ids (the prompt's not included). */
  ids: number[];
  text: string;
  promptTokens: number;
  promptSeconds: number;
  /** Seconds of the token-by-token loop (sampling included). */
  genSeconds: number;
  stop: 'eos' | 'max-tokens' | 'context';
}

export type StopReason = GenerateResult['stop'];

/**
 * The token-by-token loop after a prefill: samples from `logits`, yields the token, feeds it to the
 * model only when another one is wanted, until an end-of-generation token (not yielded), `maxTokens`
 * or the end of the KV cache; returns why it stopped. A consumer that stops iterating early (chat's
 * Ctrl-C) leaves its last token unfed: the cache then holds everything before it. `history` (the
 * repetition penalty's) gets each yielded token.
 */
export function* sampleTokens(model: Model, tokenizer: GGUFTokenizer, sampler: Sampler, logits: Float32Array, history: number[], maxTokens: number): Generator<number, StopReason, void> {
  const one = new Int32Array(1);
  for (let i = 0; i < maxTokens; i++) {
    const next = sampler.sample(logits, history);
    if (tokenizer.isEog(next)) return 'eos';
    history.push(next);
    yield next;
    if (model.pos >= model.maxSeq) return 'context';
    if (i + 1 < maxTokens) {
      one[0] = next;
      logits = model.forward(one);
    }
  }
  return 'max-tokens';
}

/** Generated tokens as text, piece by piece: a UTF-8 sequence split across tokens is held back until complete. */
export class TextStream {
  text = '';
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true }); // a generated U+FEFF is text, not a byte order mark

  constructor(
    private readonly tokenizer: GGUFTokenizer,
    private readonly onText?: (text: string) => void,
  ) {}

  push(id: number): void {
    this.emit(this.decoder.decode(this.tokenizer.tokenBytes(id), { stream: true }));
  }

  /** Flushes what is held back (an incomplete sequence becomes U+FFFD). */
  end(): void {
    this.emit(this.decoder.decode());
  }

  private emit(piece: string): void {
    if (piece.length === 0) return;
    this.text += piece;
    this.onText?.(piece);
  }
}

export function generate(model: Model, tokenizer: GGUFTokenizer, opts: GenerateOptions): GenerateResult {
  if (!(Number.isInteger(opts.maxTokens) && opts.maxTokens >= 0)) throw new InputError('--max-tokens', `must be a non-negative integer, got ${opts.maxTokens}`);
  const prompt = tokenizer.promptIds(opts.prompt);
  if (prompt.length >= model.maxSeq) throw new InputError('--prompt', `is ${prompt.length} tokens; the model's context holds ${model.maxSeq}`);
  const sampler = new Sampler(model.hp.vocab_size, opts.sampler, opts.seed);
  const out = new TextStream(tokenizer, opts.onText);
  const ids: number[] = [];

  const watchdog = watch(`generation, prompt (${prompt.length} tokens)`);
  try {
    model.reset();
    const t0 = performance.now();
    const logits = model.forward(prompt);
    watchdog.beat('generation');
    const t1 = performance.now();
    const tokens = sampleTokens(model, tokenizer, sampler, logits, Array.from(prompt), opts.maxTokens);
    let r = tokens.next();
    for (; !r.done; r = tokens.next()) {
      ids.push(r.value);
      out.push(r.value);
      watchdog.beat();
    }
    out.end();
    return { ids, text: out.text, promptTokens: prompt.length, promptSeconds: (t1 - t0) / 1000, genSeconds: (performance.now() - t1) / 1000, stop: r.value };
  } finally {
    watchdog.stop();
  }
}
