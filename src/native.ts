/**
 * Loads the optional N-API addon built by `npm ci` (native/, node-gyp). Everything that can use it
 * also runs without it; `nativeStatus()` says why it is missing so `bitnet info` can tell the user.
 *
 * A leaf module: the engine (src/infer) and training (src/train) both import it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The kernels the addon exports; src/infer/kernels/ implements the same functions in TypeScript (the
 * reference) and picks one set or the other. Shapes are row-major; every length is checked by the addon
 * (a TypeError for a wrong array type, a RangeError for a wrong length) before any memory is touched.
 * The packed ternary layout is documented in src/infer/kernels/layout.ts.
 */
export interface KernelFns {
  /** out[i, r] = Σ_k xq[i, k]·t[r, k], exact: packed [rows, cols] ternary, xq [n, cols], out [n, rows]. */
  ternaryMatmul(packed: Uint8Array, rows: number, cols: number, xq: Int8Array, n: number, out: Int32Array): void;
  /**
   * The BitLinear: y[i, r] = acc·scale/sx[i] with scale.length 1 (per tensor) or rows (per row) when
   * groupSize is 0, else y[i, r] = (Σ_g acc_g·scale[r·G + g])/sx[i] with G = ceil(cols/groupSize) groups of
   * groupSize input columns (the native kernel needs groupSize % 128 == 0). The rescale is done in double.
   */
  ternaryMatmulScaled(
    packed: Uint8Array, rows: number, cols: number, xq: Int8Array, sx: Float32Array, n: number,
    scale: Float32Array, groupSize: number, y: Float32Array,
  ): void;
  /** Per-token int8 absmax: sx[i] = 127/max(max|x[i]|, 1e-5) (float32), xq = clamp(round-half-even(x·sx)). */
  quantizeActivations(x: Float32Array, n: number, cols: number, xq: Int8Array, sx: Float32Array): void;
  /** y[n, rows] = x[n, cols]·W[rows, cols]ᵀ. */
  matmulF32(x: Float32Array, n: number, cols: number, w: Float32Array, rows: number, y: Float32Array): void;
  /** The same with W as raw IEEE fp16 bits. */
  matmulF16(x: Float32Array, n: number, cols: number, w: Uint16Array, rows: number, y: Float32Array): void;
  /**
   * Causal multi-head attention with GQA over an f32 KV cache. q, out: [n, heads·headDim], query i at
   * position pos0 + i attending positions 0..pos0+i; vCache: [kvHeads][maxSeq][headDim]; kCache in
   * tiles of 32 positions, [kvHeads][ceil(maxSeq/32)][headDim][32] (key t, dim j at tile ⌊t/32⌋, row j,
   * lane t mod 32: a tile is read front to back, consecutive positions in consecutive floats); positions
   * up to pos0 + n − 1 filled; query head h reads kv head floor(h / (heads / kvHeads)). Scores
   * q·k/√headDim, softmax and the weighted sum of v in double, each sum in ascending order; out is rounded
   * to float once.
   */
  attention(
    q: Float32Array, n: number, pos0: number, kCache: Float32Array, vCache: Float32Array,
    heads: number, kvHeads: number, headDim: number, maxSeq: number, out: Float32Array,
  ): void;
  /**
   * The gated FFN activation in place: gate[i] = act(gate[i])·up[i], act = SiLU g/(1+e^−g) (the engine's exp, engineExp) when `silu`,
   * else ReLU² (g > 0 ? g·g : 0); in double, left to right, rounded to float once.
   */
  glu(gate: Float32Array, up: Float32Array, silu: boolean): void;
  /**
   * RoPE (rotate-half, in place) on q [n, heads·headDim] and k [n, kvHeads·headDim] at positions
   * pos0..pos0+n−1 from cos/sin [maxSeq, headDim/2] (x1·c − x2·s, x2·c + x1·s in double, stored as
   * float), then k and v into the caches in kernels.attention's layout.
   */
  ropeStore(
    q: Float32Array, k: Float32Array, v: Float32Array, n: number, pos0: number, heads: number, kvHeads: number, headDim: number,
    cos: Float32Array, sin: Float32Array, kCache: Float32Array, vCache: Float32Array, maxSeq: number,
  ): void;
  /**
   * RMSNorm of n rows of `cols`: out = float((x·r)·w), r = 1/√(ss/cols + eps), ss = Σx² in double as
   * 8 interleaved partial sums (j mod 8) combined ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7)), then the tail.
   */
  rmsNorm(x: Float32Array, w: Float32Array, n: number, cols: number, eps: number, out: Float32Array): void;
  /** dst[i] = the value of the fp16 bits src[i] (NaN stays NaN). */
  f16ToF32(src: Uint16Array, dst: Float32Array): void;
  /** C[m, n] = op(A)·op(B); A is [m, k] ([k, m] if transA), B is [k, n] ([n, k] if transB). */
  sgemm(m: number, n: number, k: number, a: Float32Array, transA: boolean, b: Float32Array, transB: boolean, c: Float32Array): void;
  /** `batch` sgemms, matrix i at offset i·stride in each array (stride 0 broadcasts A or B). */
  sgemmBatched(
    batch: number, m: number, n: number, k: number, a: Float32Array, strideA: number, transA: boolean,
    b: Float32Array, strideB: number, transB: boolean, c: Float32Array, strideC: number,
  ): void;
}

/** 'avx2' means AVX2 + FMA + F16C; 'avx512vnni' adds 256-bit VNNI to the ternary kernel. */
export type NativeIsa = 'scalar' | 'avx2' | 'avx512vnni';

/** The addon's functions. Each is documented in native/src/addon.cc; the TS reference lives beside its caller. */
export interface NativeAddon extends KernelFns {
  /** CPU features the addon detected at run time. */
  cpuFeatures(): { avx2: boolean; fma: boolean; f16c: boolean; avx512vnni: boolean };
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
   * Training's rotate-half RoPE on x [rows, T, headDim] into out, cos/sin [T, headDim/2], in float32 one
   * rounding per operation (the composite's arithmetic); inverse rotates back (the gradient).
   */
  /** Training's cross-entropy: loss[i] = logsumexp(x_i) − x_i[t_i] and grad = softmax(x) − onehot(t), per row of x [n, v]. */
  softmaxXent(logits: Float32Array, n: number, v: number, targets: Int32Array, loss: Float32Array, grad: Float32Array): void;
  /** AdamW in place on p, m, v with gradient g; hyper = [gradScale, lr, beta1, beta2, eps, 1−beta1^t, 1−beta2^t, 1−lr·wd or 1] (src/train/optimizer.ts). */
  adamwStep(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, hyper: Float32Array): void;
  /** Σ x² in double. */
  sumSquares(x: Float32Array): number;
  /** Training's activation fake-quant per row: y = clip(round(x·s), lo, hi)/s, s = qmax/max(max|x|, eps); range = [qmax, lo, hi, eps]. */
  actFakeQuant(x: Float32Array, n: number, cols: number, range: Float32Array, y: Float32Array): void;
  /** Training's weight fake-quant over contiguous granules of `granule` elements: ternary (absmean) or binary (sign around the mean) times the mean |w|. */
  weightFakeQuant(w: Float32Array, granule: number, binary: boolean, eps: number, out: Float32Array): void;
  /** Training's RMSNorm forward y = x·r·w, r[i] = 1/√(mean x_i² + eps) (row sums in double). */
  rmsNormTrain(x: Float32Array, w: Float32Array, n: number, cols: number, eps: number, y: Float32Array, r: Float32Array): void;
  /** Its backward: dx = r·(dy·w) − x·r³/cols·Σ(dy·w·x), dw = Σ_rows dy·x·r. */
  rmsNormTrainGrad(x: Float32Array, w: Float32Array, r: Float32Array, dy: Float32Array, n: number, cols: number, dx: Float32Array, dw: Float32Array): void;
  /** out[i] = table[ids[i]] (rows of cols floats). */
  gatherRows(table: Float32Array, rows: number, cols: number, ids: Int32Array, out: Float32Array): void;
  ropeApply(x: Float32Array, out: Float32Array, rows: number, T: number, headDim: number, cos: Float32Array, sin: Float32Array, inverse: boolean): void;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const candidates = [path.join(root, 'native/build/Release/bitnet_native.node')];

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
    return (loaded = { addon, reason: 'loaded', file });
  } catch (e) {
    return (loaded = { addon: null, reason: `failed to load: ${(e as Error).message.split('\n')[0]}`, file });
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
