import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { isInputError } from '../../src/errors.ts';
import { GGMLType, writeGGUF, type GGUFValue } from '../../src/format/index.ts';

/** A fresh temporary directory, removed after the current mocha suite. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitnet-format-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `fn` and checks it throws an InputError whose message names `file` and matches `problem`. */
export function expectInputError(fn: () => unknown, file: string, problem: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(isInputError(err), `expected an InputError, got ${String(err)}`).to.equal(true);
  const msg = (err as Error).message;
  expect(msg.startsWith(`${file}: `), msg).to.equal(true);
  expect(msg, msg).to.match(problem);
  expect(msg).to.not.include('\n');
}

/** Deterministic bytes 0..255 repeating from `seed`. */
export function bytes(n: number, seed = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + 3) & 0xff;
  return b;
}

export const SMALL_KV: [string, GGUFValue][] = [
  ['general.architecture', { type: 'string', value: 'bitnet' }],
  ['bitnet.block_count', { type: 'u32', value: 2 }],
  ['bitnet.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
  ['tokenizer.ggml.tokens', { type: 'array', value: { elemType: 'string', items: ['<unk>', 'a', 'bc', 'déf'] } }],
  ['tokenizer.ggml.token_type', { type: 'array', value: { elemType: 'i32', items: [2, 1, 1, 1] } }],
];

/** A small valid GGUF: the KVs above and three tensors (F32 norm, F16 embedding, TQ2_0 linear). */
export async function writeSmallGGUF(file: string): Promise<Map<string, Uint8Array>> {
  const data = new Map<string, Uint8Array>([
    ['output_norm.weight', bytes(8 * 4, 1)],
    ['token_embd.weight', bytes(8 * 4 * 2, 2)],
    ['blk.0.attn_q.weight', bytes(66 * 2, 3)],
  ]);
  await writeGGUF(file, {
    kv: SMALL_KV,
    tensors: [
      { name: 'output_norm.weight', ne: [8], type: GGMLType.F32, data: data.get('output_norm.weight')! },
      { name: 'token_embd.weight', ne: [8, 4], type: GGMLType.F16, data: data.get('token_embd.weight')! },
      { name: 'blk.0.attn_q.weight', ne: [256, 2], type: GGMLType.TQ2_0, data: data.get('blk.0.attn_q.weight')! },
    ],
  });
  return data;
}

/** Awaits `p` and checks that it rejects with an Error whose message matches `re`. */
export async function expectReject(p: Promise<unknown>, re: RegExp): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected a rejection matching ${re}`).to.be.instanceOf(Error);
  expect((err as Error).message).to.match(re);
}
