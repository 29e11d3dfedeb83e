/**
 * Running a GGUF in place: the file mapped read-only (the addon's mapFile), so that the page cache, not
 * a copy in the process, holds the weights. The kernels then read the embedding, the head and TQ1_0 /
 * TQ2_0 linears where they lie in the file (readWeights with a map, ternaryMatmulBlocks): load time is
 * parsing the header, and a model up to the size of the machine's memory runs (a 100b TQ1_0 file is
 * 21.6 GB; the engine's 2-bit repack of it would be 25.6 GB). The outputs are bit for bit those of a
 * copied model (EngineKernels.ternaryMatmulBlocks); only the speed differs: the repacked layout's
 * kernels are faster (fused q/k/v and gate/up, no TQ1_0 trit decoding), so 'auto' copies what fits.
 *
 * A mapped file must not shrink while the engine runs: reading a page past its new end is a SIGBUS, as
 * for every program that maps its model (llama.cpp's default).
 */
import os from 'node:os';
import { InputError } from '../errors.ts';
import { GGMLType, type GGUFFile } from '../format/gguf/index.ts';
import { nativeAddon } from '../native/addon.ts';

export const WEIGHTS_MODES = ['auto', 'map', 'copy'] as const;
/** 'map': read in place; 'copy': read into the engine's memory; 'auto': copy unless the copy would take more than half of the machine's memory. */
export type WeightsMode = (typeof WEIGHTS_MODES)[number];

/** Share of physical memory above which 'auto' maps rather than copies. */
const AUTO_MAP_SHARE = 0.5;

/** Bytes the engine would hold for the file's tensors when copied: TQ1_0 repacked to 2 bits per weight grows by 64/54. */
function copiedBytes(f: GGUFFile): number {
  let n = 0;
  for (const t of f.tensors) n += t.type === GGMLType.TQ1_0 ? (t.byteLength * 64) / 54 : t.byteLength;
  return n;
}

/** Whether `mode` maps this file (with the addon loaded; without it nothing maps and 'map' is an InputError naming --weights). */
export function wantsMap(f: GGUFFile, mode: WeightsMode, totalMemory = os.totalmem()): boolean {
  if (mode === 'copy') return false;
  if (nativeAddon() === null) {
    if (mode === 'map') throw new InputError('--weights', 'map needs the native addon (npm run build:native), which is not loaded');
    return false;
  }
  return mode === 'map' || copiedBytes(f) > AUTO_MAP_SHARE * totalMemory;
}

/** The tensors of a mapped file: read-only views of the mapping, one per tensor. */
export interface MappedTensors {
  readonly path: string;
  /** The tensor's bytes where they lie in the file. */
  view(name: string): Uint8Array;
}

const mappedBuffers = new WeakSet<ArrayBuffer>();

/** Whether the bytes are a view of a mapped file (tests: mapped weights are not copies). */
export function isMapped(bytes: Uint8Array): boolean {
  return mappedBuffers.has(bytes.buffer as ArrayBuffer);
}

/** Every tensor of the open file, mapped read-only (the views are only ever read). */
export function mapGGUF(f: GGUFFile): MappedTensors {
  const a = nativeAddon();
  if (a === null) throw new InputError('--weights', 'map needs the native addon, which is not loaded');
  const tensors = f.tensors.filter((t) => t.byteLength > 0);
  const regions = new Float64Array(tensors.flatMap((t) => [t.offset, t.byteLength]));
  let buffers: ArrayBuffer[];
  try {
    buffers = a.mapFile(f.descriptor, f.fileSize, regions);
  } catch (e) {
    if (e instanceof RangeError) throw new InputError(f.path, e.message.replace(/^mapFile: /, ''));
    throw e;
  }
  const views = new Map<string, Uint8Array>();
  tensors.forEach((t, i) => {
    mappedBuffers.add(buffers[i]!);
    views.set(t.name, new Uint8Array(buffers[i]!));
  });
  return {
    path: f.path,
    view(name) {
      const v = views.get(name);
      if (v === undefined) throw new InputError(f.path, `tensor ${name} is not in the mapping`);
      return v;
    },
  };
}
