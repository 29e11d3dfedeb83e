/**
 * Training's kernel contract: the addon's kernels that src/train/native-kernels.ts registers into the
 * tfjs wasm backend (and the optimizer calls directly), each tested there against the tfjs composite
 * or the float64 formula.
 */
export interface TrainKernels {
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
  /** The row scales s of actFakeQuant alone (the same code): s[i] = qmax/max(max|x_i|, eps). */
  actScales(x: Float32Array, n: number, cols: number, qmax: number, eps: number, s: Float32Array): void;
  /** The granule scales of weightFakeQuant alone (the same code): beta[q] = mean |w| over granule q, summed in double. */
  weightScales(w: Float32Array, granule: number, beta: Float32Array): void;
  /**
   * Training's BitLinear forward y [n, rows] = xq [n, cols] · wq [rows, cols]ᵀ as the engine computes it,
   * from the codes of the fake-quant operands: q = round(xq·sx[i]) (exact, an int8 or int4 code) and
   * t = sign(wq). y[i, r] = float((Σ_s double(Σ_{k in s} q·t)·scale_s)/sx[i]), in double, s over segments
   * of `group` columns in order (group 0: one segment), scale_s = scale[0] when scale.length is 1, else
   * scale[r] (group 0) or scale[r·cols/group + s]. The same integers and double operations as the engine's
   * ternaryMatmulScaled, so the outputs are the same floats. A row whose codes are not all in [-128, 127]
   * (NaN, or not a fake-quant row) gives NaN, as the float product would. cols ≤ 2^22; group a multiple of
   * 4 dividing cols.
   */
  bitLinearForward(
    xq: Float32Array, sx: Float32Array, n: number, cols: number, wq: Float32Array, rows: number,
    scale: Float32Array, group: number, y: Float32Array,
  ): void;
  /**
   * Training's causal attention, token-major: out[b, t, h] = Σ_{s≤t} p_s·v[b, s, g] with
   * p = softmax_s(scale·q[b, t, h]·k[b, s, g]), g = ⌊h/(H/kvHeads)⌋; q, out [B, T, H, hd], k, v
   * [B, T, kvHeads, hd], and lse[b, h, t] = the log-sum-exp of the row's scaled scores (what the backward
   * recomputes p from). Float32.
   */
  attentionTrain(
    q: Float32Array, k: Float32Array, v: Float32Array, B: number, H: number, kvHeads: number, T: number, headDim: number,
    scale: number, out: Float32Array, lse: Float32Array,
  ): void;
  /** Its backward from dout [B, T, H, hd]: dq [B, T, H, hd], dk, dv [B, T, kvHeads, hd] (each kv head summed over its query heads). */
  attentionTrainGrad(
    q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array, dout: Float32Array,
    B: number, H: number, kvHeads: number, T: number, headDim: number, scale: number, dq: Float32Array, dk: Float32Array, dv: Float32Array,
  ): void;
  /**
   * Training's RMSNorm forward y = x·r·w, r[i] = 1/√(mean x_i² + eps): the engine's rmsNorm rows (the same
   * floats: double sums in its partial-sum order, y = float((x·r)·w) in double), r returned as a float.
   */
  rmsNormTrain(x: Float32Array, w: Float32Array, n: number, cols: number, eps: number, y: Float32Array, r: Float32Array): void;
  /** Its backward: dx = r·(dy·w) − x·r³/cols·Σ(dy·w·x), dw = Σ_rows dy·x·r. */
  rmsNormTrainGrad(x: Float32Array, w: Float32Array, r: Float32Array, dy: Float32Array, n: number, cols: number, dx: Float32Array, dw: Float32Array): void;
  /**
   * rmsNormTrain fused with actFakeQuant of its output, without writing y: r as rmsNormTrain's, xq and the
   * row scales sx as actFakeQuant's and actScales' on y (the same float operations, so the same bits);
   * range = [qmax, lo, hi, qeps]. The backward is rmsNormTrainGrad with dy = dxq (straight through).
   */
  rmsNormActQuant(
    x: Float32Array, w: Float32Array, n: number, cols: number, eps: number, range: Float32Array,
    xq: Float32Array, sx: Float32Array, r: Float32Array,
  ): void;
  /** The gated activation out = act(gate)·up, the engine's glu (silu or relu², in double, the engine's exp), not in place. */
  gluTrain(gate: Float32Array, up: Float32Array, silu: boolean, out: Float32Array): void;
  /**
   * Its gradient in double: silu, with e = exp(−g), a = g/(1+e), s = 1/(1+e): dgate = dy·u·(s + a·(1−s)),
   * dup = dy·a; relu²: dgate = dy·u·2g, dup = dy·g² where g > 0, else 0.
   */
  gluTrainGrad(gate: Float32Array, up: Float32Array, dy: Float32Array, silu: boolean, dgate: Float32Array, dup: Float32Array): void;
  /** out[i] = table[ids[i]] (rows of cols floats). */
  gatherRows(table: Float32Array, rows: number, cols: number, ids: Int32Array, out: Float32Array): void;
  /**
   * Training's rotate-half RoPE on x [rows, T, heads, headDim] (heads 1 when left out) into out, cos/sin
   * [T, headDim/2], position t for every head of token t, with the engine's arithmetic (double operands,
   * one rounding to float: src/infer/kernels ropeStore); inverse rotates back (the gradient).
   */
  ropeApply(x: Float32Array, out: Float32Array, rows: number, T: number, headDim: number, cos: Float32Array, sin: Float32Array, inverse: boolean, heads?: number): void;
}
