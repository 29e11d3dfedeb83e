import type { CommandModule } from 'yargs';
import { prepare } from '../../data/prepare.ts';
import type { SplitStats } from '../../data/stats.ts';

interface Args {
  corpus: string;
  tokenizer: string;
  'vocab-size'?: number;
  'val-fraction': number;
  out?: string;
}

const num = (n: number) => n.toLocaleString('en-US');

export const prepareCommand: CommandModule<object, Args> = {
  command: 'prepare',
  describe: 'tokenize a corpus into data/NAME/{tokenizer.json, train.arrow, val.arrow, stats.json}',
  builder: (y) =>
    y
      .option('corpus', { type: 'string', default: 'moby-dick', describe: 'bundled corpus (moby-dick, sotu) or a .txt/.jsonl/.parquet/.arrow file' })
      // A plain string, checked by prepare, so a bad value is one InputError line like every other.
      .option('tokenizer', { type: 'string', default: 'bpe', describe: 'byte (257 ids) or bpe (byte-level BPE)' })
      .option('vocab-size', { type: 'number', describe: 'BPE vocabulary size including the 256 bytes and <|endoftext|> (default 4096)' })
      .option('val-fraction', { type: 'number', default: 0.1, describe: 'fraction of documents held out for validation' })
      .option('out', { type: 'string', describe: 'output directory (default data/<corpus name>)' }),
  handler: async (argv) => {
    const r = await prepare({ corpus: argv.corpus, tokenizer: argv.tokenizer as 'byte' | 'bpe', vocabSize: argv['vocab-size'], valFraction: argv['val-fraction'], out: argv.out });
    const s = r.stats;
    console.log(`prepared ${r.out} in ${r.seconds.toFixed(1)} s: corpus ${s.corpus}, ${s.tokenizer} tokenizer, vocab ${s.vocab_size} (${s.merges} merges)`);
    if (s.stopped_early) console.log(`note: the corpus gave only ${s.merges} merges (pairs seen at least twice); asked for vocab ${s.vocab_size_requested}`);
    const rows: [string, SplitStats][] = [
      ['train', s.train],
      ['val', s.val],
    ];
    const table = [
      ['split', 'documents', 'characters', 'bytes', 'tokens', 'bytes/token'],
      ...rows.map(([name, t]) => [name, num(t.documents), num(t.characters), num(t.bytes), num(t.tokens), t.bytes_per_token.toFixed(3)]),
    ];
    const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
    for (const row of table) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  },
};
