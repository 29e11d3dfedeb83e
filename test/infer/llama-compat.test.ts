/**
 * Files made by llama.cpp's own tools run in our engine as they run in llama.cpp: the goldens in
 * test/fixtures/llama-compat (scripts/llama-compat.ts: our export of a trained model requantized by
 * `llama-quantize --allow-requantize` to TQ2_0 / TQ1_0 with a Q6_K or Q8_0 token embedding, and
 * llama.cpp's tokenization and greedy continuation of each prompt). Here, without llama.cpp: our
 * tokenizer gives llama.cpp's prompt ids, and our greedy continuation of those ids is llama.cpp's,
 * token for token, on both our kernel sets.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEngine, type EngineChoice } from '../../src/infer/engine.ts';
import { nativeAddon } from '../../src/native/addon.ts';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/llama-compat');

interface Golden {
  llama_cpp: string;
  variants: { file: string; quantize: string; cases: { prompt: string; prompt_ids: number[]; continuation_ids: number[] }[] }[];
}

function argmax(x: Float32Array): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[b]!) b = i;
  return b;
}

describe('llama.cpp compatibility: files requantized by llama-quantize, against llama.cpp\'s greedy text', () => {
  const golden = JSON.parse(readFileSync(path.join(DIR, 'golden.json'), 'utf8')) as Golden;
  const engines: EngineChoice[] = nativeAddon() ? ['native', 'ts'] : ['ts'];

  it('the goldens cover TQ2_0 and TQ1_0 with Q6_K and Q8_0 token embeddings', () => {
    const types = golden.variants.map((v) => v.quantize);
    expect(types.some((q) => q.endsWith(' TQ2_0') && !q.includes('q8_0'))).to.equal(true);
    expect(types.some((q) => q.endsWith(' TQ1_0'))).to.equal(true);
    expect(types.some((q) => q.includes('--token-embedding-type q8_0'))).to.equal(true);
    for (const v of golden.variants) expect(existsSync(path.join(DIR, v.file)), v.file).to.equal(true);
  });

  for (const v of golden.variants)
    for (const engine of engines)
      it(`${v.file} (${v.quantize.split(' ').pop()}), ${engine} kernels: llama.cpp's prompt ids and greedy continuation`, function () {
        this.timeout(60_000);
        const e = loadEngine(path.join(DIR, v.file), { engine, threads: 2 });
        try {
          for (const c of v.cases) {
            expect(Array.from(e.tokenizer.promptIds(c.prompt)), `tokens of ${JSON.stringify(c.prompt)}`).to.deep.equal(c.prompt_ids);
            e.model.reset();
            let logits = e.model.forward(Int32Array.from(c.prompt_ids));
            const got: number[] = [];
            for (let i = 0; i < c.continuation_ids.length; i++) {
              got.push(argmax(logits));
              logits = e.model.forward(Int32Array.of(got[i]!));
            }
            expect(got, `continuation of ${JSON.stringify(c.prompt)}`).to.deep.equal(c.continuation_ids);
          }
        } finally {
          e.close();
        }
      });
});
