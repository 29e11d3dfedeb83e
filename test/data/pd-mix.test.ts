/**
 * pd-mix, the studies' corpus (src/data/pd-mix.ts, data/README.md): its documents and their licences,
 * Moby-Dick once, the fixed whole-document validation split of at least 100 K tokens, the Brown
 * corpus rebuilt from its tagged form, and `bitnet prepare --corpus pd-mix` byte-identical on rerun.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { brownToText, pdMixDocuments, PD_MIX_VAL_BOOK } from '../../src/data/pd-mix.ts';
import { prepare } from '../../src/data/prepare.ts';
import { PreparedStats } from '../../src/data/stats.ts';
import { rmDir, tmpDir } from '../support/tiny.ts';

describe('data/pd-mix', function () {
  this.timeout(300_000);

  it('rebuilds Brown text from word/TAG tokens: tags dropped, punctuation attached, `` and \'\' as "', () => {
    const tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, but/cc 1/2/cd of/in Atlanta's/np$ ./.\n\n\n\tIt/pps ended/vbd (/( twice/rb )/) ./.\n";
    expect(brownToText(tagged)).to.equal('The jury said "no evidence", but 1/2 of Atlanta\'s.\nIt ended (twice).');
  });

  it('holds 233 addresses, 18 books and 500 Brown samples (28.5 M characters), each with its licence, Moby-Dick once', () => {
    const docs = pdMixDocuments();
    const count = (s: string) => docs.filter((d) => d.source === s).length;
    expect([count('sotu'), count('gutenberg'), count('brown')]).to.deep.equal([233, 18, 500]);
    expect(docs.reduce((n, d) => n + d.text.length, 0)).to.be.within(28_000_000, 29_000_000);
    expect(new Set(docs.map((d) => d.id)).size).to.equal(docs.length);
    for (const d of docs) expect(d.licence, d.id).to.be.a('string').and.not.equal('');
    expect(docs.filter((d) => d.source === 'brown').every((d) => /not public domain/.test(d.licence!))).to.equal(true);
    expect(docs.filter((d) => d.text.includes('Call me Ishmael')).map((d) => d.id)).to.deep.equal(['gutenberg/melville-moby_dick']);
    expect(docs.every((d) => !d.text.includes('\r') && !/\/(at|nn|vbd)\b/.test(d.text.slice(0, 2000)))).to.equal(true);
  });

  it('validation: whole documents by fixed rules: 12 addresses, one whole book, one Brown sample per genre', () => {
    const val = pdMixDocuments().filter((d) => d.split === 'val');
    expect(val.filter((d) => d.source === 'sotu')).to.have.length(12);
    expect(val.filter((d) => d.source === 'gutenberg').map((d) => d.id)).to.deep.equal([`gutenberg/${PD_MIX_VAL_BOOK}`]);
    const brown = val.filter((d) => d.source === 'brown').map((d) => d.id!.slice(6, 10));
    expect(brown).to.deep.equal(['ca02', 'cb02', 'cc02', 'cd02', 'ce02', 'cf02', 'cg02', 'ch02', 'cj02', 'ck02', 'cl02', 'cm02', 'cn02', 'cp02', 'cr02']);
  });

  it('prepare --corpus pd-mix: byte-identical on rerun; stats.json lists every document, split and licence; >= 100 K validation tokens', async () => {
    const dir = tmpDir('pdmix');
    try {
      const outs = [path.join(dir, 'a'), path.join(dir, 'b')];
      for (const out of outs) await prepare({ corpus: 'pd-mix', out });
      for (const f of ['stats.json', 'tokenizer.json', 'train.arrow', 'val.arrow'])
        expect(readFileSync(path.join(outs[1]!, f)).equals(readFileSync(path.join(outs[0]!, f))), f).to.equal(true);
      const stats = PreparedStats.parse(JSON.parse(readFileSync(path.join(outs[0]!, 'stats.json'), 'utf8')));
      expect(stats.documents).to.have.length(751);
      const val = stats.documents!.filter((d) => d.split === 'val');
      expect(val).to.have.length(28);
      // whole documents: the split's tokens are exactly its documents' tokens (each with its end-of-text)
      expect(val.reduce((n, d) => n + d.tokens, 0)).to.equal(stats.val.tokens);
      expect(stats.documents!.filter((d) => d.split === 'train').reduce((n, d) => n + d.tokens, 0)).to.equal(stats.train.tokens);
      expect(stats.val.tokens).to.be.at.least(100_000);
      expect(stats.train.tokens).to.be.within(7_000_000, 8_500_000);
      expect(stats.train.unigram_entropy).to.be.within(6, 8);
    } finally {
      rmDir(dir);
    }
  });

  it('--val-fraction with pd-mix is a one-line error: its split is fixed', () => {
    const r = spawnSync(process.execPath, ['bin/bitnet.js', 'prepare', '--corpus', 'pd-mix', '--val-fraction', '0.2', '--out', 'data/never'], { encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.equal('bitnet: --val-fraction: pd-mix has a fixed validation split by document; the fraction does not apply\n');
  });
});
