// bitnet chat: the conversation rendered by the file's Jinja template, the KV cache kept across turns
// (only the new tokens prefilled, and a reply identical to a fresh prefill of the whole conversation),
// the fallback when the rendered prefix changes, Ctrl-C's stop, BOS handling, one-line errors; then the
// command itself with a piped stdin.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { isInputError } from '../../src/errors.ts';
import { Keys, type GGUFValue } from '../../src/format/index.ts';
import { ChatSession, type ChatOptions } from '../../src/infer/chat.ts';
import { loadEngine, type Engine } from '../../src/infer/engine.ts';
import { rmDir, tmpDir } from '../support/tiny.ts';
import { writeTinyModel } from './helpers.ts';

/** ChatML-like, with the vocabulary's one special token (<|endoftext|>, also EOS) closing each message. */
const TEMPLATE = "{% for m in messages %}{{ m.role }}:{{ m.content }}<|endoftext|>{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
/** A template that rewrites the whole prompt every turn (the count comes first): nothing can be reused. */
const COUNTING = '{{ messages | length }} messages\n' + TEMPLATE;

const greedy: Omit<ChatOptions, 'source'> = { maxTokens: 8, sampler: { temperature: 0, topK: 0, topP: 1, repeatPenalty: 1, repeatLastN: 64 }, seed: 1 };

describe('infer/chat: chat templates and the KV cache across turns', function () {
  let dir: string;
  const engines: Record<string, Engine> = {};
  const files: Record<string, string> = {};
  before(async () => {
    dir = tmpDir('chat');
    for (const [name, template] of [['plain', TEMPLATE], ['counting', COUNTING], ['none', null]] as const) {
      const kv: [string, GGUFValue][] = template === null ? [] : [[Keys.tokenizer.chatTemplate, { type: 'string', value: template }]];
      files[name] = (await writeTinyModel(dir, `${name}.gguf`, { context_length: 512, kv })).file;
    }
    engines.plain = loadEngine(files.plain!, { engine: 'ts' });
    engines.counting = loadEngine(files.counting!, { engine: 'ts' });
  });
  after(() => {
    for (const e of Object.values(engines)) e.close();
    rmDir(dir);
  });

  const session = (name: string, system?: string) => new ChatSession(engines[name]!.model, engines[name]!.tokenizer, { source: files[name]!, system, ...greedy });

  /** The reply a fresh session gives after `history`: the whole conversation prefilled at once. */
  async function freshReply(name: string, history: ChatSession['messages'], user: string): Promise<number[]> {
    const s = session(name);
    s.messages.push(...history);
    const r = await s.turn(user);
    expect(r.reusedTokens).to.equal(0);
    return r.ids;
  }

  it('renders the template, prefills only the new turn, and replies as a fresh prefill of the whole conversation would', async () => {
    const s = session('plain', 'Be brief.');
    expect(s.render([...s.messages, { role: 'user', content: 'Hi' }])).to.equal('system:Be brief.<|endoftext|>user:Hi<|endoftext|>assistant:');
    const t1 = await s.turn('Hi there');
    expect(t1.reusedTokens).to.equal(0);
    expect(t1.prefilledTokens).to.equal(t1.promptTokens);
    expect(t1.ids.length).to.be.greaterThan(0);
    const before = [...s.messages];
    expect(before.map((m) => m.role)).to.deep.equal(['system', 'user', 'assistant']);
    expect(before[2]!.content).to.equal(t1.text);
    const t2 = await s.turn('And then?');
    // everything up to the first reply is in the cache; at most the reply's tokens are prefilled again
    expect(t2.reusedTokens).to.be.at.least(t1.promptTokens).and.at.most(t1.promptTokens + t1.ids.length);
    expect(t2.prefilledTokens).to.equal(t2.promptTokens - t2.reusedTokens);
    expect(t2.prefilledTokens).to.be.lessThan(t2.promptTokens - t1.promptTokens + t1.ids.length + 1);
    expect(t2.ids).to.deep.equal(await freshReply('plain', before, 'And then?'));
  });

  it('re-prefills from the first token that differs when the template rewrites earlier text', async () => {
    const s = session('counting');
    const t1 = await s.turn('Hi');
    const before = [...s.messages];
    const t2 = await s.turn('More');
    expect(t2.reusedTokens).to.be.lessThan(t1.promptTokens); // "1 messages" became "3 messages"
    expect(t2.prefilledTokens).to.equal(t2.promptTokens - t2.reusedTokens);
    expect(t2.ids).to.deep.equal(await freshReply('counting', before, 'More'));
  });

  it('stops a reply when interrupted, keeps the partial reply, and the next turn is still exact', async () => {
    const s = session('plain');
    const t1 = await s.turn('Hi', { interrupted: () => true });
    expect([t1.stop, t1.ids.length]).to.deep.equal(['interrupted', 1]);
    const before = [...s.messages];
    expect(before[1]!.content).to.equal(t1.text);
    const t2 = await s.turn('Go on');
    expect(t2.ids).to.deep.equal(await freshReply('plain', before, 'Go on'));
  });

  it('puts BOS once when the file adds it and the template writes it too', async () => {
    const file = (await writeTinyModel(dir, 'bos.gguf', {
      context_length: 128,
      kv: [
        [Keys.tokenizer.chatTemplate, { type: 'string', value: '{{ bos_token }}' + TEMPLATE }],
        [Keys.tokenizer.bosId, { type: 'u32', value: 299 }],
        [Keys.tokenizer.addBos, { type: 'bool', value: true }],
      ],
    })).file;
    const e = loadEngine(file, { engine: 'ts' });
    try {
      const s = new ChatSession(e.model, e.tokenizer, { source: file, ...greedy });
      const ids = s.promptIds([{ role: 'user', content: 'x' }]);
      expect(ids.slice(0, 2)).to.deep.equal([299, ...e.tokenizer.encode('user')].slice(0, 2));
      expect(ids.filter((id) => id === 299)).to.have.length(2); // BOS, and the <|endoftext|> closing the message
    } finally {
      e.close();
    }
  });

  it('refuses a file without a template, a template that does not parse, one that raises and one that renders nothing, in one line', async () => {
    const e = loadEngine(files.none!, { engine: 'ts' });
    try {
      expect(() => new ChatSession(e.model, e.tokenizer, { source: files.none!, ...greedy })).to.throw(/none\.gguf: has no tokenizer\.chat_template: bitnet chat needs/);
    } finally {
      e.close();
    }
    const bad = (await writeTinyModel(dir, 'bad.gguf', { kv: [[Keys.tokenizer.chatTemplate, { type: 'string', value: '{% for m in messages %}' }]] })).file;
    const raises = (await writeTinyModel(dir, 'raises.gguf', { kv: [[Keys.tokenizer.chatTemplate, { type: 'string', value: "{{ raise_exception('System role not supported') }}" }]] })).file;
    const empty = (await writeTinyModel(dir, 'empty.gguf', { kv: [[Keys.tokenizer.chatTemplate, { type: 'string', value: '{# nothing #}' }]] })).file;
    for (const [file, pattern] of [
      [bad, /bad\.gguf: tokenizer\.chat_template does not parse: /],
      [raises, /raises\.gguf: tokenizer\.chat_template: System role not supported/],
      [empty, /empty\.gguf: tokenizer\.chat_template renders the conversation as no tokens at all/],
    ] as const) {
      const x = loadEngine(file, { engine: 'ts' });
      try {
        const err = await (async () => new ChatSession(x.model, x.tokenizer, { source: file, ...greedy }).turn('hi'))().then(() => null, (e: unknown) => e);
        expect(isInputError(err), String(err)).to.equal(true);
        expect((err as Error).message).to.match(pattern).and.not.contain('\n');
      } finally {
        x.close();
      }
    }
  });

  it('bitnet chat with a piped stdin: a reply per line, the second turn from the cache; no template is exit 2', () => {
    const bin = path.resolve('bin/bitnet.js');
    const r = spawnSync(process.execPath, [bin, 'chat', files.plain!, '--temperature', '0', '--max-tokens', '6', '--system', 'Be brief.'], { input: 'Hello\n\nHow are you?\n', encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const turns = [...r.stderr.matchAll(/^\[(\d+) tokens at [\d.-]+ tokens\/s; prompt (\d+) tokens: (\d+) from the cache, (\d+) prefilled at [\d.-]+ tokens\/s; stop: [a-z-]+\]$/gm)].map((m) => m.slice(1).map(Number));
    expect(turns, r.stderr).to.have.length(2); // the empty line is no turn
    const [[n1, p1, c1, f1], [, p2, c2, f2]] = turns as [number[], number[]];
    expect([c1, f1]).to.deep.equal([0, p1]);
    expect(c2).to.be.at.least(p1!).and.at.most(p1! + n1!);
    expect(f2).to.equal(p2! - c2!);
    expect(r.stdout.split('\n')).to.have.length(3); // two replies, each ended by a newline
    const none = spawnSync(process.execPath, [bin, 'chat', files.none!], { input: 'Hello\n', encoding: 'utf8' });
    expect(none.status).to.equal(2);
    expect(none.stderr).to.match(/^bitnet: .*none\.gguf: has no tokenizer\.chat_template: .*\n$/);
  });
});
