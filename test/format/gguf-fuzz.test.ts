// Fuzz: thousands of mutations of a small valid GGUF (byte flips, truncations, insertions, deletions,
// huge u64s and random u32s over header fields). Every open + read of all tensors must either succeed
// or throw an InputError: any other exception (a RangeError from a bad offset, an allocation failure)
// fails the test, and a hang runs into the mocha timeout.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Rng } from '../../src/data/rng.ts';
import { isInputError } from '../../src/errors.ts';
import { openGGUF } from '../../src/format/index.ts';
import { tempDir, writeSmallGGUF } from './helpers.ts';

const ITERATIONS = 6000;
const HUGE_U64 = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n, 2n ** 32n, 2n ** 32n - 1n, 1n << 40n];

function mutate(src: Uint8Array, headerEnd: number, rng: Rng): Uint8Array {
  let b: Uint8Array = Uint8Array.from(src);
  // Most mutations aim at the header, where the structure is; some anywhere.
  const pos = (len: number): number => (rng.next() < 0.8 ? rng.int(Math.max(1, Math.min(headerEnd, len))) : rng.int(Math.max(1, len)));
  const steps = 1 + rng.int(3);
  for (let s = 0; s < steps; s++) {
    const kind = rng.int(6);
    if (kind === 0) {
      for (let k = 1 + rng.int(4); k > 0; k--) b[pos(b.length)] = rng.int(256);
    } else if (kind === 1) {
      b = b.subarray(0, rng.int(b.length + 1));
    } else if (kind === 2) {
      const at = pos(b.length);
      const ins = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
      b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
    } else if (kind === 3) {
      const at = pos(b.length);
      b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1 + rng.int(16))]);
    } else if (kind === 4 && b.length >= 8) {
      const at = Math.min(pos(b.length), b.length - 8);
      const v = rng.next() < 0.5 ? HUGE_U64[rng.int(HUGE_U64.length)]! : (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32());
      new DataView(b.buffer, b.byteOffset).setBigUint64(at, v, true);
    } else if (b.length >= 4) {
      const at = Math.min(pos(b.length), b.length - 4);
      new DataView(b.buffer, b.byteOffset).setUint32(at, rng.next() < 0.5 ? rng.int(64) : rng.nextU32(), true);
    }
  }
  return b;
}

describe('format/gguf: fuzz', function () {
  this.timeout(60_000);
  const dir = tempDir();

  it(`every one of ${ITERATIONS} mutated files loads or fails with an InputError`, async () => {
    const good = path.join(dir, 'good.gguf');
    await writeSmallGGUF(good);
    const src = fs.readFileSync(good);
    const g = openGGUF(good);
    const headerEnd = g.dataOffset;
    g.close();
    const file = path.join(dir, 'fuzz.gguf');
    const rng = new Rng(20260401);
    let loaded = 0;
    let rejected = 0;
    const t0 = Date.now();
    for (let i = 0; i < ITERATIONS; i++) {
      const mutated = mutate(src, headerEnd, rng);
      fs.writeFileSync(file, mutated);
      try {
        const f = openGGUF(file);
        try {
          for (const t of f.tensors) {
            const data = f.readTensor(t.name);
            if (data.length !== t.byteLength || t.offset + t.byteLength > mutated.length) {
              throw new Error(`iteration ${i}: tensor ${t.name} read ${data.length} bytes at ${t.offset}, file has ${mutated.length}`);
            }
          }
          loaded++;
        } finally {
          f.close();
        }
      } catch (e) {
        if (!isInputError(e)) {
          fs.writeFileSync(path.join(dir, 'failing.gguf'), mutated);
          throw new Error(`iteration ${i}: not an InputError: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        }
        expect(e.message.startsWith(`${file}: `)).to.equal(true);
        expect(e.message).to.not.include('\n');
        rejected++;
      }
    }
    // Both outcomes must occur, or the mutations were too tame (or too wild) to test anything.
    expect(loaded, 'mutated files that still load').to.be.greaterThan(ITERATIONS / 50);
    expect(rejected, 'mutated files rejected').to.be.greaterThan(ITERATIONS / 2);
    expect(Date.now() - t0, 'fuzz time (ms)').to.be.below(20_000);
  });
});
