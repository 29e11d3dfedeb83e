import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { inspectCommand } from '../../src/cli/commands/inspect.ts';
import { GGMLType, writeGGUF } from '../../src/format/index.ts';
import { expectInputError, tempDir } from './helpers.ts';

/** Runs the command's handler in-process and returns what it printed. */
async function inspect(file: string, json = false): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => lines.push(a.join(' '));
  try {
    await inspectCommand.handler({ file, json, _: [], $0: 'bitnet' });
  } finally {
    console.log = log;
  }
  return `${lines.join('\n')}\n`;
}

function bitnet(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/bitnet.js', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cli: bitnet inspect', function () {
  this.timeout(30_000);
  const dir = tempDir();
  const file = path.join(dir, 'model.gguf');

  before(async () => {
    await writeGGUF(file, {
      kv: [
        ['general.architecture', { type: 'string', value: 'bitnet' }],
        ['bitnet.block_count', { type: 'u32', value: 1 }],
        ['tokenizer.ggml.tokens', { type: 'array', value: { elemType: 'string', items: Array.from({ length: 4096 }, (_, i) => `t${i}`) } }],
        ['bitnet_ts.seed', { type: 'u64', value: 2n ** 60n }],
      ],
      tensors: [
        { name: 'token_embd.weight', ne: [256, 4], type: GGMLType.F16, data: new Uint8Array(256 * 4 * 2) },
        { name: 'blk.0.attn_q.weight', ne: [256, 256], type: GGMLType.TQ2_0, data: new Uint8Array(256 * 66) },
        { name: 'blk.0.ffn_up.weight', ne: [256, 512], type: GGMLType.TQ1_0, data: new Uint8Array(512 * 54) },
      ],
    });
  });

  it('prints metadata with long arrays summarized, the tensor table and bits per weight', async () => {
    const out = await inspect(file);
    expect(out).to.include(`${file}: GGUF v3, alignment 32, 4 metadata keys, 3 tensors`);
    expect(out).to.match(/tokenizer\.ggml\.tokens\s+string\[\]\s+\[4096 strings: "t0", "t1", "t2", \.\.\.\]/);
    expect(out).to.match(/bitnet_ts\.seed\s+u64\s+1152921504606846976/);
    expect(out).to.include('ne0 = row length');
    expect(out).to.match(/blk\.0\.attn_q\.weight\s+TQ2_0\s+\[256, 256\]\s+16896/);
    expect(out).to.match(/blk\.0\.ffn_up\.weight\s+TQ1_0\s+\[256, 512\]\s+27648/);
    // all: (2048 + 16896 + 27648) bytes * 8 / (1024 + 65536 + 131072) weights
    expect(out).to.include(`all tensors: 3 tensors, 197,632 weights, 46,592 bytes, ${((46592 * 8) / 197632).toFixed(4)} bits per weight`);
    expect(out).to.include(`ternary linears (TQ1_0/TQ2_0): 2 tensors, 196,608 weights, 44,544 bytes, ${((44544 * 8) / 196608).toFixed(4)} bits per weight`);
  });

  it('prints one JSON object with --json', async () => {
    const j = JSON.parse(await inspect(file, true));
    expect(j.version).to.equal(3);
    expect(j.metadata['tokenizer.ggml.tokens'].value).to.deep.equal({ elem_type: 'string', count: 4096, head: ['t0', 't1', 't2'] });
    expect(j.metadata['bitnet_ts.seed'].value).to.equal('1152921504606846976');
    expect(j.tensors[1]).to.deep.include({ name: 'blk.0.attn_q.weight', type: 'TQ2_0', ne: [256, 256], bytes: 16896 });
    expect(j.totals.ternary.bits_per_weight).to.be.closeTo((44544 * 8) / 196608, 1e-12);
  });

  it('fails on a bad file with one line and exit code 2', async () => {
    const bad = path.join(dir, 'bad.gguf');
    fs.writeFileSync(bad, fs.readFileSync(file).subarray(0, 200));
    let err: unknown;
    await inspect(bad).catch((e: unknown) => { err = e; });
    expectInputError(() => { throw err; }, bad, /array "tokenizer\.ggml\.tokens" 4096 .* larger than/);
    // end to end: the CLI turns that InputError into one line on stderr and exit code 2
    const r = bitnet('inspect', bad);
    expect(r.status).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr.trimEnd().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(new RegExp(`^bitnet: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: element count`));
  });
});
