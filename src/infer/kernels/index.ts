/**
 * The engine's kernels, native when the addon is loaded and TypeScript otherwise, behind one set of
 * signatures (EngineKernels in src/native/engine-kernels.ts). The engine calls `kernels().ternaryMatmul(...)`; tests and
 * `--engine ts` pick a set explicitly with selectKernels.
 */
import { InputError } from '../../errors.ts';
import type { EngineKernels } from '../../native/engine-kernels.ts';
import { nativeAddon, nativeStatus } from '../../native/addon.ts';
import { fastTsKernels } from './fast-ts.ts';
import { referenceKernels } from './reference.ts';

export type { EngineKernels } from '../../native/engine-kernels.ts';
export { referenceKernels, ArgCheck, engineExp, KV_TILE, kvTiledLength } from './reference.ts';
export { BLOCK_BYTES, BLOCK_COLS, i2sToPacked, packedBytes, packedRowBytes, repackTernary, tq2_0ToPacked, unpackTernary } from './layout.ts';
export { quantRowBytes } from './quant.ts';

export interface Kernels extends EngineKernels {
  readonly name: 'native' | 'ts';
}

/** The addon-free kernels: the reference, with the ternary matmul by lookup tables (./fast-ts.ts). */
export const tsKernels: Kernels = { name: 'ts', ...referenceKernels, ...fastTsKernels };

let nativeSet: Kernels | null | undefined;

/** The native kernels, or null when the addon is not loaded (see nativeStatus() for why). */
export function nativeKernels(): Kernels | null {
  if (nativeSet !== undefined) return nativeSet;
  const a = nativeAddon();
  if (a === null) return (nativeSet = null);
  nativeSet = {
    name: 'native',
    ternaryMatmul: a.ternaryMatmul,
    // The native kernel handles groups of whole 32-column fields; other group sizes (never written by
    // our export) run on the TS kernel rather than fail.
    ternaryMatmulScaled: (packed, rows, cols, xq, sx, n, scale, groupSize, y) =>
      groupSize > 0 && groupSize % 32 !== 0
        ? referenceKernels.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, groupSize, y)
        : a.ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, groupSize, y),
    ternaryMatmulBlocks: a.ternaryMatmulBlocks,
    quantizeActivations: a.quantizeActivations,
    matmulF32: a.matmulF32,
    matmulF16: a.matmulF16,
    matmulQuant: a.matmulQuant,
    dequantRows: a.dequantRows,
    f16ToF32: a.f16ToF32,
    attention: a.attention,
    glu: a.glu,
    rmsNorm: a.rmsNorm,
    ropeStore: a.ropeStore,
    sgemm: a.sgemm,
    sgemmBatched: a.sgemmBatched,
  };
  return nativeSet;
}

/** 'auto': native if loaded, else TS. 'native' throws when the addon is not loaded. */
export function selectKernels(which: 'auto' | 'native' | 'ts' = 'auto'): Kernels {
  if (which === 'ts') return tsKernels;
  const n = nativeKernels();
  if (n) return n;
  if (which === 'native') throw new InputError('--engine native', `the native addon is not loaded: ${nativeStatus().reason}`);
  return tsKernels;
}

/** The default set: native when available. */
export function kernels(): Kernels {
  return selectKernels('auto');
}
