/**
 * Text generation (llama2.c's `generate()`): the prompt as one batch, then one token at a time with the
 * sampler until EOS, the token budget or the end of the KV cache, streaming the text as it comes (UTF-8
 * sequences split across tokens are held back until complete).
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

export function generate(model: Model, tokenizer: GGUFTokenizer, opts: GenerateOptions): GenerateResult {
  if (!(Number.isInteger(opts.maxTokens) && opts.maxTokens >= 0)) throw new InputError('--max-tokens', `must be a non-negative integer, got ${opts.maxTokens}`);
  const prompt = tokenizer.promptIds(opts.prompt);
  if (prompt.length >= model.maxSeq) throw new InputError('--prompt', `is ${prompt.length} tokens; the model's context holds ${model.maxSeq}`);
  const sampler = new Sampler(model.hp.vocab_size, opts.sampler, opts.seed);
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true }); // a generated U+FEFF is text, not a byte order mark
  const history: number[] = Array.from(prompt);
  const ids: number[] = [];
  let text = '';
  const emit = (piece: string) => {
    if (piece.length === 0) return;
    text += piece;
    opts.onText?.(piece);
  };

  const watchdog = watch(`generation, prompt (${prompt.length} tokens)`);
  try {
    model.reset();
    const t0 = performance.now();
    let logits = model.forward(prompt);
    watchdog.beat('generation');
    const t1 = performance.now();
    const one = new Int32Array(1);
    let stop: GenerateResult['stop'] = 'max-tokens';
    for (let i = 0; i < opts.maxTokens; i++) {
      const next = sampler.sample(logits, history);
      if (tokenizer.isEog(next)) {
        stop = 'eos';
        break;
      }
      ids.push(next);
      history.push(next);
      emit(decoder.decode(tokenizer.tokenBytes(next), { stream: true }));
      if (model.pos >= model.maxSeq) {
        stop = 'context';
        break;
      }
      if (i + 1 < opts.maxTokens) {
        one[0] = next;
        logits = model.forward(one);
        watchdog.beat();
      }
    }
    emit(decoder.decode());
    return { ids, text, promptTokens: prompt.length, promptSeconds: (t1 - t0) / 1000, genSeconds: (performance.now() - t1) / 1000, stop };
  } finally {
    watchdog.stop();
  }
}
