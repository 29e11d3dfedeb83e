/**
 * Loads the optional N-API addon built by `npm ci` (native/, node-gyp). Everything that can use it
 * also runs without it; `nativeStatus()` says why it is missing so `bitnet info` can tell the user.
 *
 * This room (src/native) holds the TypeScript side of the addon: this loader, the engine's kernel
 * contract (engine-kernels.ts), training's (train-kernels.ts) and the watchdog (watchdog.ts). The
 * engine (src/infer) and training (src/train) both import it; it imports nothing of ours but errors.ts.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { InputError } from '../errors.ts';
import { packageRoot } from '../package-root.ts';
import type { EngineKernels, TernaryBlockType } from './engine-kernels.ts';
import type { TrainKernels } from './train-kernels.ts';

/** 'avx2' means AVX2 + FMA + F16C; 'avx512vnni' adds 256-bit VNNI to the ternary kernel. */
export type NativeIsa = 'scalar' | 'avx2' | 'avx512vnni';

/** The addon's functions. Each is documented in native/src/addon.cc; the TS reference lives beside its caller. */
export interface NativeAddon extends EngineKernels, TrainKernels {
  /** CPU features the addon detected at run time. */
  cpuFeatures(): { avx2: boolean; fma: boolean; f16c: boolean; avx512vnni: boolean; avx512bf16: boolean };
  /** The instruction set the kernels use: the best the CPU has unless setIsa lowered it. */
  isa(): NativeIsa;
  /** Lower (or restore, with 'auto') the kernels' instruction set; a RangeError if the CPU lacks it. Tests run all. */
  setIsa(isa: NativeIsa | 'auto'): void;
  /** Threads the addon's persistent pool uses, the calling thread included (set with setThreads). */
  threads(): number;
  setThreads(n: number): void;
  /** Memory read bandwidth in GB/s: all pool threads stream `buf` (make it much larger than the L3); best of `reps`. */
  readBandwidth(buf: Uint8Array, reps: number): number;
  /**
   * A zeroed buffer of `bytes` (< 2^31) that starts on a 2 MB boundary, with huge pages advised when
   * `hugePages`: the engine's weight memory (src/infer/store.ts). Freed when garbage-collected.
   */
  allocAligned(bytes: number, hugePages: boolean): ArrayBuffer;
  /**
   * `bitnet synth`'s random ternary tensor [rows, cols] packed into `out` (synthTernaryBytes long): the
   * codes of src/infer/synth-codes.ts (which is the reference, byte for byte), the TQ blocks' d as the
   * fp16 bits d16, I2_S's tensor scale d32.
   */
  synthTernary(layout: 'TQ1_0' | 'TQ2_0' | 'I2_S', rows: number, cols: number, seed: number, d16: number, d32: number, out: Uint8Array): void;
  /**
   * TQ1_0 / TQ2_0 blocks (nBlocks, rows of whole blocks) as the engine's packed layout (64 bytes a
   * block, src/infer/kernels/layout.ts) and each block's d: what layout.ts's tq2_0ToPacked and
   * tq1_0.ts's unpack + repackTernary give, on the pool. Returns -1, or for TQ2_0 the first block that
   * holds the unused code 3 (then packed is not to be used).
   */
  ternaryBlocksToPacked(type: TernaryBlockType, w: Uint8Array, nBlocks: number, packed: Uint8Array, d: Float32Array): number;
  /** synth's approximate normals of elements start.. of a table (src/infer/synth-codes.ts synthNormals is the reference), as floats or fp16 bits. */
  synthNormals(seed: number, start: number, scale: number, out: Float32Array | Uint16Array): void;
  /**
   * The file behind fd (length bytes) mapped read-only, as one ArrayBuffer per region ([offset, length]
   * pairs, each inside the file and under 4 GiB, Node 20's limit for an external ArrayBuffer): writing
   * into one faults. Unmapped when every view is collected (Linux only).
   */
  mapFile(fd: number, length: number, regions: Float64Array): ArrayBuffer[];
  /** Watch `what`: end the process (one stderr line, exit 124) if no beat and no pool progress come for limitMs (watchdog.ts). */
  watchdogArm(what: string, limitMs: number): void;
  /** Progress; with `what`, the phrase the watchdog would name from now on. */
  watchdogBeat(what?: string): void;
  watchdogDisarm(): void;
  /** Tests only: `jobs` pool runs cycling through (counts[i], grains[i]) with the publish window widened by delayNs. */
  poolStress(jobs: number, counts: Int32Array, grains: Int32Array, delayNs: number): PoolStressResult;
}

/** Anomalies over a poolStress run: all 0 for a correct pool. */
export interface PoolStressResult {
  jobs: number;
  missing: number;
  repeated: number;
  wrongJob: number;
  outOfRange: number;
}

// This file runs from src/native/ (through tsx) or inlined into dist/*.mjs (the CLI bundle).
const candidates = [path.join(packageRoot(), 'native/build/Release/bitnet_native.node')];

let loaded: { addon: NativeAddon | null; reason: string; file: string | null } | undefined;

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  if (process.env.BITNET_NO_NATIVE === '1') return (loaded = { addon: null, reason: 'disabled by BITNET_NO_NATIVE=1', file: null });
  const file = candidates.find((f) => existsSync(f));
  if (!file) return (loaded = { addon: null, reason: 'not built (npm ci runs node-gyp; see its output)', file: null });
  try {
    const addon = createRequire(import.meta.url)(file) as NativeAddon;
    // BITNET_THREADS caps the pool (parallel ablation workers share the cores out).
    const n = Number(process.env.BITNET_THREADS);
    if (Number.isInteger(n) && n >= 1) addon.setThreads(n);
    loaded = { addon, reason: 'loaded', file };
  } catch (e) {
    return (loaded = { addon: null, reason: `failed to load: ${(e as Error).message.split('\n')[0]}`, file });
  }
  pinIsa(loaded.addon!);
  return loaded;
}

const ISAS: readonly string[] = ['avx512vnni', 'avx2', 'scalar'];

/**
 * BITNET_ISA=avx512vnni|avx2|scalar pins the kernels' instruction set below the CPU's best (auto or
 * unset: the best). Float kernels sum in another order on another ISA, so training runs of one seed
 * differ between machines by about the spread between seeds: a study spread over machines pins the
 * ISA they all have. An ISA the CPU lacks, or an unknown name, is an InputError.
 */
function pinIsa(addon: NativeAddon): void {
  const want = process.env.BITNET_ISA;
  if (want === undefined || want === '' || want === 'auto') return;
  if (!ISAS.includes(want)) throw new InputError('BITNET_ISA', `"${want}" is not one of auto, ${ISAS.join(', ')}`);
  const best = addon.isa();
  try {
    addon.setIsa(want as NativeIsa);
  } catch {
    throw new InputError('BITNET_ISA', `${want}: this CPU lacks it (its best is ${best})`);
  }
}

/** The addon, or null when it is not built, not loadable or disabled. */
export function nativeAddon(): NativeAddon | null {
  return load().addon;
}

export function nativeStatus(): { loaded: boolean; reason: string; file: string | null } {
  const l = load();
  return { loaded: l.addon !== null, reason: l.reason, file: l.file };
}
