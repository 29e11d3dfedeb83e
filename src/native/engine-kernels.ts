/**
 * The engine's kernel contract: what the addon's engine kernels compute, which src/infer/kernels/
 * implements again in TypeScript (the reference and its fast twin) and tests the addon against.
 */
/** The GGUF block types of the quantized head / embedding kernels (matmulQuant, dequantRows); layouts in src/quant/ (ggml_codecs.ts). */
export type QuantType = 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K' | 'BF16';

/** The GGUF ternary block types ternaryMatmulBlocks reads in place (layouts: src/quant/tq1_0.ts, tq2_0.ts). */
export type TernaryBlockType = 'TQ1_0' | 'TQ2_0';

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
  /**
   * The BitLinear on a ternary tensor as the GGUF file stores it (a mapped file, read in place:
   * src/infer/mapped.ts): w is rows·cols/256 blocks of `type`, row-major, cols a multiple of 256.
   * y[i, r] = float((Σ_b I_b·d_b)/sx[i]), in double, b over the row's blocks in column order, with
   * I_b = Σ over block b of t·xq[i, k] (exact) and d_b the block's fp16 scale. For finite scales this is
   * bit for bit what ternaryMatmulScaled gives on the same weights repacked (every I_b·d_b and every
   * partial sum is exact in double), so a mapped model and a copied one produce the same logits.
   */
  ternaryMatmulBlocks(type: TernaryBlockType, w: Uint8Array, rows: number, cols: number, xq: Int8Array, sx: Float32Array, n: number, y: Float32Array): void;
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
  /**
   * y[n, rows] = x[n, cols]·W[rows, cols]ᵀ with W in GGUF block type `type`, rows of blocks one after
   * the other (a tensor's data as the file holds it: w.length = rows·cols/blockSize·blockBytes; cols a
   * multiple of the block size: 32 for Q8_0/Q4_0, 256 for Q4_K/Q6_K, 1 for BF16). The LM head of a
   * generated token is n = 1. The result is defined exactly, so every implementation (TS reference,
   * native scalar, AVX2, AVX-512, any thread count) gives the same bits:
   *
   * BF16: per output, 32 float32 partial sums s[k mod 32] over k < 32⌊cols/32⌋, each s += float(x·w)
   * (multiply, round, add, round: no FMA) in increasing k; combined lane-wise t[j] = (s[j] + s[16+j]) +
   * (s[8+j] + s[24+j]) (j = 0..7), then ((t0+t4)+(t2+t6)) + ((t1+t5)+(t3+t7)); then the tail k in order,
   * y = float(y + float(x·w)). Every operation rounds to float32.
   *
   * Q8_0, Q4_0, Q4_K, Q6_K (integer dot products, as llama.cpp's vec_dot with Q8_0 / Q8_K activations):
   *  1. Each token's x is cut into groups of G = 32 (Q8_0, Q4_0) or 256 (Q4_K, Q6_K) columns, one per
   *     weight block, and quantized per group exactly as quantizeActivations quantizes a row:
   *     s = 127/max(max|x|, 1e-5) (float32), xq = clamp(round-half-even(float(x·s)), −128, 127) (finite
   *     x never reaches −128); dx = float(1/s). x must be finite.
   *  2. Each weight block in integer form (src/quant IntBlock: value(e) = d·code(e) − dmin·min(e)):
   *     code = qs (Q8_0), nibble − 8 (Q4_0), sc_j·q (Q4_K), scale_s·q (Q6_K); min only for Q4_K.
   *  3. Per output, 8 float32 lanes acc[u] = 0 (and for Q4_K a float32 macc = 0). For each block b in
   *     column order, with I[u] = Σ code(e)·xq(e) over the block's elements e with ⌊(e mod 32)/4⌋ = u
   *     (exact integers), c = float(d·dx_b): acc[u] = float(acc[u] + float(c·I[u])); for Q4_K also
   *     M = Σ_j m_j·Σ_{e in sub-block j} xq(e), cm = float(dmin·dx_b), macc = float(macc + float(cm·M)).
   *  4. y = ((acc0+acc4)+(acc2+acc6)) + ((acc1+acc5)+(acc3+acc7)), each + rounded to float32; Q4_K:
   *     y = float(y − macc).
   * The only difference from Σ_k x·w with W dequantized is x's quantization: |error| ≤ Σ_b (dx_b/2)·
   * Σ_{k in b} |w_k| plus float rounding.
   */
  matmulQuant(type: QuantType, x: Float32Array, n: number, cols: number, w: Uint8Array, rows: number, y: Float32Array): void;
  /**
   * The embedding lookup: out[i, :] = row ids[i] of the [rows, cols] tensor W in `type` (layout as for
   * matmulQuant), dequantized bit for bit as src/quant's decoders (ggml's dequantize_row_*); ids must
   * be in [0, rows) (else a RangeError before anything is written); out: [ids.length, cols].
   */
  dequantRows(type: QuantType, w: Uint8Array, rows: number, cols: number, ids: Int32Array, out: Float32Array): void;
  /** dst[i] = the value of the fp16 bits src[i] (NaN stays NaN). */
  f16ToF32(src: Uint16Array, dst: Float32Array): void;
  /**
   * C[m, n] = op(A)·op(B); A is [m, k] ([k, m] if transA), B is [k, n] ([n, k] if transB). With bf16:
   * the product of A and B rounded to bfloat16 (nearest, ties to even) with float32 accumulation (training's
   * matmul_precision "bf16"; AVX-512 BF16 where the CPU has it and the ISA in use is avx512vnni).
   */
  sgemm(m: number, n: number, k: number, a: Float32Array, transA: boolean, b: Float32Array, transB: boolean, c: Float32Array, bf16?: boolean): void;
  /** `batch` sgemms, matrix i at offset i·stride in each array (stride 0 broadcasts A or B). */
  sgemmBatched(
    batch: number, m: number, n: number, k: number, a: Float32Array, strideA: number, transA: boolean,
    b: Float32Array, strideB: number, transB: boolean, c: Float32Array, strideC: number,
  ): void;
}

