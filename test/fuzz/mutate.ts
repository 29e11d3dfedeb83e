/**
 * Mutators for the reader fuzz (test/fuzz/targets.ts): byte-level (flips, truncations, insertions,
 * deletions, huge u64s and random u32s, aimed mostly at a file's structured head) and, for JSON files,
 * structure-aware (a node deleted, retyped, made huge, negative, empty or very long, an unknown key
 * added) so that mutations get past the JSON parser into the schema checks.
 */
import { Rng } from '../../src/data/rng.ts';

const HUGE_U64 = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n, 2n ** 32n, 2n ** 32n - 1n, 1n << 40n];

/** 1-3 byte-level mutations; 80 % of positions fall in [0, hotEnd) (the header). */
export function mutateBytes(src: Uint8Array, hotEnd: number, rng: Rng): Uint8Array {
  let b: Uint8Array = Uint8Array.from(src);
  const pos = (len: number): number => (rng.next() < 0.8 ? rng.int(Math.max(1, Math.min(hotEnd, len))) : rng.int(Math.max(1, len)));
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

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every (container, key) pair in the document, the root's parent included. */
function slots(root: { v: Json }): Array<[Record<string, Json> | Json[], string | number]> {
  const out: Array<[Record<string, Json> | Json[], string | number]> = [[root as unknown as Record<string, Json>, 'v']];
  const walk = (node: Json) => {
    if (Array.isArray(node)) node.forEach((x, i) => (out.push([node, i]), walk(x)));
    else if (node !== null && typeof node === 'object') for (const k of Object.keys(node)) out.push([node, k]), walk(node[k]!);
  };
  walk(root.v);
  return out;
}

function replacement(old: Json, rng: Rng): Json {
  const pick = rng.int(12);
  if (typeof old === 'number' && pick < 5) return [-old, old * 1e300, old + 0.5, -1, 2 ** 53 + 1][pick]!;
  if (typeof old === 'string' && pick < 3) return ['', 'x'.repeat(10_000), '\u0000\uD800é∑'][pick]!;
  return [null, true, 0, -1, 1e308, 'str', [], {}, [1, 2, 3], { unknown_key: 1 }, 'NaN', 2 ** 31][pick]!;
}

/** 1-3 structure-aware JSON mutations; if the text is not JSON, byte mutations. */
export function mutateJson(text: string, rng: Rng): Uint8Array {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch {
    return mutateBytes(new TextEncoder().encode(text), text.length, rng);
  }
  if (rng.next() < 0.15) return mutateBytes(new TextEncoder().encode(text), text.length, rng);
  const root = { v: doc };
  for (let k = 1 + rng.int(3); k > 0; k--) {
    const all = slots(root);
    const [container, key] = all[rng.int(all.length)]!;
    const op = rng.int(4);
    if (op === 0 && !Array.isArray(container) && container !== (root as unknown)) delete container[key as string];
    else if (op === 0 && Array.isArray(container)) container.splice(key as number, 1);
    else if (op === 1 && !Array.isArray(container)) (container as Record<string, Json>)[`unknown_${rng.int(100)}`] = replacement(null, rng);
    else (container as Record<string, Json>)[key as string] = replacement((container as Record<string, Json>)[key as string]!, rng);
  }
  return new TextEncoder().encode(JSON.stringify(root.v) ?? 'null');
}
