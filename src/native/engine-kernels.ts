/**
 * The engine's kernel contract: what the addon's engine kernels compute, which src/infer/kernels/
 * implements again in TypeScript (the reference and its fast twin) and tests the addon against.
 */
/**
 * The kernels the addon exports; src/infer/kernels/ implements the same functions in TypeScript (the
 * reference) and picks one set or the other. Shapes are row-major; every length is checked by the addon
 * (a TypeError for a wrong array type, a RangeError for a wrong length) before any memory is touched.
 * The packed ternary layout is documented in src/infer/kernels/layout.ts.
 */
export interface EngineKernels {
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

