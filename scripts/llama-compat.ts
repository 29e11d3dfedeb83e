/**
 * Makes the llama.cpp compatibility goldens that test/infer/llama-compat.test.ts checks our engine
 * against, in CI and without llama.cpp: our export of a trained run, requantized by llama.cpp's own
 * `llama-quantize --allow-requantize` the way the TQ2_0/TQ1_0 files on the hubs are made (token
 * embedding Q6_K by default, Q8_0 with --token-embedding-type q8_0), and llama.cpp's greedy
 * continuation of a few prompts on each (node-llama-cpp's build of the same llama.cpp release:
 * bench/peers/compat-check.mjs), with the prompt's token ids as llama.cpp tokenized it.
 *
 *   npx tsx scripts/llama-compat.ts --run RUN [--out test/fixtures/llama-compat] [--tokens 16]
 *
 * RUN is a trained run directory (test/fixtures/llama-compat/README.md says which one made the
 * committed files and how). Writes OUT/<variant>.gguf and OUT/golden.json; llama.cpp's tools are
 * built on demand (scripts/llama-cpp-peer.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureLlamaCpp, ensureNodeLlamaCpp } from './llama-cpp-peer.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    run: { type: 'string' },
    out: { type: 'string', default: 'test/fixtures/llama-compat' },
    tokens: { type: 'string', default: '16' },
  },
});
const fail = (msg: string): never => {
  process.stderr.write(`llama-compat: ${msg}\n`);
  process.exit(2);
};
if (!flags.run) fail('--run: give a trained run directory');
const tokens = Number(flags.tokens);
if (!Number.isInteger(tokens) || tokens < 1 || tokens > 256) fail(`--tokens: an integer in [1, 256], got ${flags.tokens}`);

/** What llama-quantize makes of our export: the files users download are made this way. */
export const VARIANTS = [
  { name: 'tq2_0-q6_k', type: 'TQ2_0', args: [] as string[] },
  { name: 'tq1_0-q6_k', type: 'TQ1_0', args: [] as string[] },
  { name: 'tq2_0-q8_0', type: 'TQ2_0', args: ['--token-embedding-type', 'q8_0'] },
];
/** Prompts in the corpus's register (the run trained on Moby-Dick) and one off it. */
const PROMPTS = ['Call me Ishmael. Some years ago', 'The whale', 'It was the best of times,'];

const out = path.resolve(ROOT, flags.out);
mkdirSync(out, { recursive: true });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'llama-compat-'));
try {
  const l = ensureLlamaCpp();
  ensureNodeLlamaCpp();
  const ours = path.join(tmp, 'ours.gguf');
  const ex = spawnSync(process.execPath, [path.join(ROOT, 'bin/bitnet.js'), 'export', flags.run!, '--type', 'tq2_0', '--out', ours], { stdio: 'inherit' });
  if (ex.status !== 0) fail(`bitnet export ${flags.run} failed`);
  const golden: unknown[] = [];
  for (const v of VARIANTS) {
    const file = path.join(tmp, `${v.name}.gguf`);
    const q = spawnSync(l.bin('llama-quantize'), ['--allow-requantize', ...v.args, ours, file, v.type], { encoding: 'utf8' });
    if (q.status !== 0) fail(`llama-quantize ${v.name}: ${q.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const cases = PROMPTS.map((prompt) => {
      const r = execFileSync(process.execPath, [path.join(ROOT, 'bench/peers/compat-check.mjs'), file, prompt, String(tokens)], { encoding: 'utf8', cwd: path.join(ROOT, 'bench/peers') });
      const j = JSON.parse(r.trim().split('\n').pop()!) as { tokens: number[]; continuation: string; continuation_ids: number[] };
      return { prompt, prompt_ids: j.tokens, continuation_ids: j.continuation_ids, continuation: j.continuation };
    });
    copyFileSync(file, path.join(out, `${v.name}.gguf.tmp`));
    renameSync(path.join(out, `${v.name}.gguf.tmp`), path.join(out, `${v.name}.gguf`));
    golden.push({ file: `${v.name}.gguf`, quantize: `llama-quantize --allow-requantize ${[...v.args, 'ours.gguf', `${v.name}.gguf`, v.type].join(' ')}`, cases });
    console.log(`${v.name}: ${cases.map((c) => JSON.stringify(c.continuation)).join(' / ')}`);
  }
  const doc = { llama_cpp: l.commit, made_by: `npx tsx scripts/llama-compat.ts --run ${flags.run} --tokens ${tokens}`, date: new Date().toISOString().slice(0, 10), variants: golden };
  writeFileSync(path.join(out, 'golden.json.tmp'), JSON.stringify(doc, null, 1) + '\n');
  renameSync(path.join(out, 'golden.json.tmp'), path.join(out, 'golden.json'));
  console.log(`written ${path.relative(ROOT, out)}/{${VARIANTS.map((v) => v.name).join(',')}}.gguf and golden.json`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
