import type { CommandModule } from 'yargs';
import { prepare } from '../../data/prepare.ts';
import { choiceOption, floatOption, intOption, stringOption } from '../flags.ts';
import type { SplitStats } from '../../data/stats.ts';

interface Args {
  corpus: string;
  tokenizer: string;
  'vocab-size'?: number;
  'val-fraction'?: number;
  out?: string;
}

const num = (n: number) => n.toLocaleString('en-US');

export const prepareCommand: CommandModule<object, Args> = {
  command: 'prepare',
  describe: 'tokenize a corpus into data/NAME/{tokenizer.json, train.arrow, val.arrow, stats.json}',
  builder: (y) =>
    y
      .option('corpus', stringOption('corpus', { default: 'moby-dick', nonEmpty: true, describe: 'bundled corpus (moby-dick: the demo; pd-mix: the studies; sotu) or a .txt/.jsonl/.parquet/.arrow file' }))
      .option('tokenizer', choiceOption('tokenizer', ['bpe', 'byte'] as const, { default: 'bpe', describe: 'byte (257 ids) or bpe (byte-level BPE)' }))
      .option('vocab-size', intOption('vocab-size', { min: 257, max: 1 << 20, describe: 'BPE vocabulary size including the 256 bytes and <|endoftext|> (default 4096)' }))
      .option('val-fraction', floatOption('val-fraction', { min: 0, minExclusive: true, max: 0.9, describe: 'fraction of documents held out for validation (default 0.1; pd-mix has a fixed split)' }))
      .option('out', stringOption('out', { nonEmpty: true, describe: 'output directory (default data/<corpus name>)' })),
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
