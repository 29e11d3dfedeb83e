/**
 * A chat with an instruction-tuned model (`bitnet chat`): the conversation rendered by the file's
 * tokenizer.chat_template (Jinja, through @huggingface/jinja, with the variables llama.cpp passes:
 * messages, add_generation_prompt, bos_token, eos_token), tokenized as llama.cpp tokenizes a chat
 * prompt (special tokens parsed; BOS added as the file says, and a BOS the template wrote itself at the
 * start dropped so that it is not there twice: common_chat_template_direct_apply).
 *
 * The KV cache is kept across turns. Each turn renders the whole conversation again and compares its
 * tokens with those in the cache: only the tokens after the longest common prefix are prefilled. When
 * the template renders earlier turns the same way and the reply re-tokenizes to the tokens that were
 * generated, that is just the new turn; when either is not so (a template that rewrites history, a
 * reply whose text tokenizes differently, a reply cut by Ctrl-C), the cache is truncated at the first
 * token that differs and the rest prefilled again, so the model always sees exactly the rendered text.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { Template } from '@huggingface/jinja';
import { InputError } from '../errors.ts';
import { Keys } from '../format/gguf/index.ts';
import { watch } from '../native/watchdog.ts';
import { sampleTokens, TextStream, type StopReason } from './generate.ts';
import type { Model } from './model.ts';
import { Sampler, type SamplerParams } from './sampler.ts';
import type { GGUFTokenizer } from './tokenizer.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatOptions {
  /** The file the template came from, for messages. */
  source: string;
  system?: string;
  /** Tokens per reply at most. */
  maxTokens: number;
  sampler: SamplerParams;
  seed: number;
}

export interface TurnResult {
  text: string;
  ids: number[];
  /** Tokens of the whole rendered conversation up to this reply. */
  promptTokens: number;
  /** Of those, the ones already in the KV cache, and the ones prefilled now. */
  reusedTokens: number;
  prefilledTokens: number;
  promptSeconds: number;
  genSeconds: number;
  stop: StopReason | 'interrupted';
}

export interface TurnIO {
  onText?: (text: string) => void;
  /** Asked after each token (the loop yields to the event loop first, so a SIGINT handler can run). */
  interrupted?: () => boolean;
}

/** Length of the common prefix of two id lists. */
function commonPrefix(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class ChatSession {
  /** The conversation so far (system, user, assistant, ...). */
  readonly messages: ChatMessage[] = [];
  private readonly template: Template;
  private readonly sampler: Sampler;
  /** The tokens in the model's KV cache, position by position. */
  private cached: number[] = [];

  constructor(
    private readonly model: Model,
    private readonly tokenizer: GGUFTokenizer,
    private readonly opts: ChatOptions,
  ) {
    const src = tokenizer.chatTemplate;
    if (src === null) throw new InputError(opts.source, `has no ${Keys.tokenizer.chatTemplate}: bitnet chat needs an instruction-tuned model's template (bitnet generate continues plain text)`);
    try {
      this.template = new Template(src);
    } catch (e) {
      throw new InputError(opts.source, `${Keys.tokenizer.chatTemplate} does not parse: ${(e as Error).message}`);
    }
    if (!(Number.isInteger(opts.maxTokens) && opts.maxTokens >= 0)) throw new InputError('--max-tokens', `must be a non-negative integer, got ${opts.maxTokens}`);
    if (opts.system !== undefined) this.messages.push({ role: 'system', content: opts.system });
    this.sampler = new Sampler(model.hp.vocab_size, opts.sampler, opts.seed);
    model.reset();
  }

  /** The prompt text of `messages` with the assistant's turn opened. */
  render(messages: readonly ChatMessage[]): string {
    const t = this.tokenizer;
    const bos = t.bosId !== null ? t.tokenText(t.bosId) : '';
    const eos = t.eosId !== null ? t.tokenText(t.eosId) : '';
    let text: string;
    try {
      text = this.template.render({ messages, add_generation_prompt: true, bos_token: bos, eos_token: eos });
    } catch (e) {
      // templates refuse what they do not support with raise_exception ("System role not supported")
      throw new InputError(this.opts.source, `${Keys.tokenizer.chatTemplate}: ${(e as Error).message}`);
    }
    return t.addBos && bos !== '' && text.startsWith(bos) ? text.slice(bos.length) : text;
  }

  /** The ids the model is given for `messages`: BOS as the file says, then the rendered text, special tokens parsed. */
  promptIds(messages: readonly ChatMessage[]): number[] {
    const t = this.tokenizer;
    const ids = Array.from(t.encode(this.render(messages), { parseSpecial: true }));
    return t.addBos && t.bosId !== null ? [t.bosId, ...ids] : ids;
  }

  /** One user message and the model's reply, streamed through `io.onText`. */
  async turn(user: string, io: TurnIO = {}): Promise<TurnResult> {
    const { model, tokenizer } = this;
    const messages: ChatMessage[] = [...this.messages, { role: 'user', content: user }];
    const prompt = this.promptIds(messages);
    if (prompt.length === 0) throw new InputError(this.opts.source, `${Keys.tokenizer.chatTemplate} renders the conversation as no tokens at all`);
    if (prompt.length >= model.maxSeq) throw new InputError(this.opts.source, `the conversation is ${prompt.length} tokens; the context holds ${model.maxSeq} (--ctx)`);
    // at least one token is prefilled: its logits start the reply
    const reused = Math.min(commonPrefix(this.cached, prompt), prompt.length - 1);
    model.truncate(reused);
    this.cached.length = reused;

    const out = new TextStream(tokenizer, io.onText);
    const ids: number[] = [];
    const watchdog = watch(`chat, prompt (${prompt.length - reused} new tokens)`);
    try {
      const t0 = performance.now();
      const logits = model.forward(prompt.slice(reused));
      watchdog.beat('chat');
      const t1 = performance.now();
      let stop: TurnResult['stop'] = 'max-tokens';
      const tokens = sampleTokens(model, tokenizer, this.sampler, logits, [...prompt], this.opts.maxTokens);
      for (let r = tokens.next(); ; r = tokens.next()) {
        if (r.done) {
          stop = r.value;
          break;
        }
        ids.push(r.value);
        out.push(r.value);
        watchdog.beat();
        await yieldToEvents();
        if (io.interrupted?.()) {
          stop = 'interrupted';
          break;
        }
      }
      out.end();
      const text = out.text;
      // the cache holds the prompt and the reply's tokens up to the last one fed
      this.cached = [...prompt, ...ids].slice(0, model.pos);
      this.messages.splice(0, this.messages.length, ...messages, { role: 'assistant', content: text });
      return {
        text, ids, stop,
        promptTokens: prompt.length,
        reusedTokens: reused,
        prefilledTokens: prompt.length - reused,
        promptSeconds: (t1 - t0) / 1000,
        genSeconds: (performance.now() - t1) / 1000,
      };
    } finally {
      watchdog.stop();
    }
  }
}
