// The kernels behind the addon's functions. Every argument here has already been validated by
// addon.cc (types, lengths, sizes): these functions trust their pointers and sizes.
//
// Each kernel has a portable scalar body and, where it pays, an AVX2 (+FMA, +F16C) body in a function
// compiled for that target only (BITNET_AVX2 below), and the ternary kernel an AVX-512 VNNI body
// (BITNET_VNNI, 256-bit vpdpbusd); isa() picks one at run time, so no instruction ever runs on a CPU
// that lacks it.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>

#define BITNET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define BITNET_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))

namespace bitnet {

struct CpuFeatures {
  bool avx2, fma, f16c, avx512vnni, avx512bf16;
};
const CpuFeatures& cpu_features();
enum class Isa { Scalar = 0, Avx2 = 1, Avx512Vnni = 2 };  // Avx2 means AVX2 + FMA + F16C
Isa best_isa();            // the best the CPU supports
Isa isa();                 // the one in use
bool set_isa(Isa want);    // false (and no change) if the CPU lacks it
void reset_isa();          // back to best_isa()
inline bool simd() { return isa() >= Isa::Avx2; }

// ---- ternary (packed layout: see src/infer/kernels/layout.ts and ternary.cc) ----
constexpr int64_t kBlockCols = 128;  // columns per packed block
constexpr int64_t kBlockBytes = 32;  // bytes per packed block (2 bits per column)

inline int64_t ternary_row_bytes(int64_t cols) { return (cols + kBlockCols - 1) / kBlockCols * kBlockBytes; }

// out[i*rows + r] = sum_k xq[i*cols + k] * t[r][k], exact.
void ternary_matmul(const uint8_t* packed, int64_t rows, int64_t cols, const int8_t* xq, int64_t n,
                    int32_t* out);
// y[i*rows + r] = sum over segments g of acc_g * scale[...] / sx[i], in double, stored as float.
// scale_mode 0: one scale; 1: scale[r]; 2: scale[r*ngroups + g] with groups of group_size columns
// (group_size a multiple of 32: whole 2-bit fields of a block).
void ternary_matmul_scaled(const uint8_t* packed, int64_t rows, int64_t cols, const int8_t* xq,
                           const float* sx, int64_t n, const float* scale, int scale_mode,
                           int64_t group_size, float* y);

// ---- ternary GGUF blocks read in place (tq_blocks.cc; contract: src/native/engine-kernels.ts
//      ternaryMatmulBlocks): y[i, r] = float(sum_b I_b * d_b / sx[i]) in double, cols a multiple of 256 ----
enum class TernaryBlocks { TQ1_0 = 0, TQ2_0 = 1 };
int64_t ternary_blocks_bytes(TernaryBlocks t);  // bytes per 256-weight block
void ternary_matmul_blocks(TernaryBlocks type, const uint8_t* w, int64_t rows, int64_t cols, const int8_t* xq,
                           const float* sx, int64_t n, float* y);
// The blocks as the engine's packed layout (64 bytes per block: the two 128-column blocks) and their d;
// returns -1, or for TQ2_0 the first block holding the unused code 3 (the packed bytes are then unusable).
int64_t ternary_blocks_to_packed(TernaryBlocks type, const uint8_t* w, int64_t nblocks, uint8_t* packed, float* d);

// ---- synth's random ternary tensors packed at disk speed (synth.cc; twin: src/infer/synth-codes.ts) ----
enum class SynthLayout { TQ1_0 = 0, TQ2_0 = 1, I2_S = 2 };
int64_t synth_ternary_bytes(SynthLayout l, int64_t rows, int64_t cols);
void synth_ternary(SynthLayout l, int64_t rows, int64_t cols, uint32_t seed, uint16_t d16, float d32, uint8_t* out);
// approximate normals (an Irwin-Hall sum of hashed uniforms, times scale) of elements start.. into f32, or as fp16 bits into f16
void synth_normals(uint32_t seed, uint64_t start, int64_t count, double scale, float* f32, uint16_t* f16);

// ---- float matmul: y[n, rows] = x[n, cols] . W[rows, cols]^T ----
void matmul_f32(const float* x, int64_t n, int64_t cols, const float* w, int64_t rows, float* y);
void matmul_f16(const float* x, int64_t n, int64_t cols, const uint16_t* w, int64_t rows, float* y);
void f16_to_f32(const uint16_t* src, float* dst, int64_t count);

// ---- GGUF block types for heads and embeddings (quants.cc; layouts in src/quant, contract in
//      src/native/engine-kernels.ts matmulQuant / dequantRows) ----
enum class QuantType { Q8_0 = 0, Q4_0 = 1, Q4_K = 2, Q6_K = 3, BF16 = 4 };
constexpr int64_t quant_block(QuantType t) {  // elements per block
  return t == QuantType::BF16 ? 1 : (t == QuantType::Q8_0 || t == QuantType::Q4_0) ? 32 : 256;
}
constexpr int64_t quant_block_bytes(QuantType t) {
  return t == QuantType::Q8_0 ? 34 : t == QuantType::Q4_0 ? 18 : t == QuantType::Q4_K ? 144 : t == QuantType::Q6_K ? 210 : 2;
}
// y[n, rows] = x[n, cols] . W[rows, cols]^T, W as rows of blocks (cols a multiple of quant_block)
void matmul_quant(QuantType t, const float* x, int64_t n, int64_t cols, const uint8_t* w, int64_t rows, float* y);
// out[i, :] = row ids[i] of W dequantized (ids already checked to be in [0, rows))
void dequant_rows(QuantType t, const uint8_t* w, int64_t cols, const int32_t* ids, int64_t n, float* out);

// ---- sgemm: C[b] = op(A[b]) . op(B[b]), row-major; op(A) is m x k, op(B) is k x n ----
void sgemm_batched(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, int64_t stride_a,
                   bool trans_a, const float* b, int64_t stride_b, bool trans_b, float* c,
                   int64_t stride_c);

// ---- training's bf16 matmul (sgemm_bf16.cc): C = bf16(op(A)) . bf16(op(B)), float32 accumulation ----
void sgemm_bf16(int64_t m, int64_t n, int64_t k, const float* a, bool trans_a, const float* b, bool trans_b, float* c);
bool bf16_hardware();  // whether sgemm_bf16 runs AVX-512 BF16 (the CPU has it and the ISA in use is avx512vnni)

// ---- causal GQA attention over the f32 KV cache (attention.cc; same order as the TS reference) ----
// q, out: [n, heads*hd]; vc: [kv_heads][max_seq][hd]; kc: [kv_heads][kv_tiled_len(max_seq) / 32][hd][32]
// (position t of dim j at tile t/32, row j, lane t%32); query i attends positions 0..pos0+i;
// query head h reads kv head h / (heads / kv_heads).
constexpr int64_t kKvTile = 32;
inline int64_t kv_tiled_len(int64_t max_seq) { return (max_seq + kKvTile - 1) / kKvTile * kKvTile; }
// the engine's RoPE on q, k (in place, double arithmetic) and the K/V cache store (rope.cc)
void rope_store(float* q, float* k, const float* v, int64_t n, int64_t pos0, int64_t heads, int64_t kv_heads, int64_t hd,
                const float* cos, const float* sin, float* kc, float* vc, int64_t max_seq);
void attention(const float* q, int64_t n, int64_t pos0, const float* kc, const float* vc, int64_t heads,
               int64_t kv_heads, int64_t hd, int64_t max_seq, float* out);

// ---- training's causal attention (attention_train.cc; contract: src/native/train-kernels.ts attentionTrain):
//      token-major: q, out, dout [B, T, H, hd], k, v [B, T, Hkv, hd]; lse [B, H, T] ----
void attention_train_fwd(const float* q, const float* k, const float* v, int64_t B, int64_t H, int64_t Hkv, int64_t T,
                         int64_t hd, float scale, float* out, float* lse);
void attention_train_bwd(const float* q, const float* k, const float* v, const float* out, const float* lse, const float* dout,
                         int64_t B, int64_t H, int64_t Hkv, int64_t T, int64_t hd, float scale, float* dq, float* dk,
                         float* dv);

// ---- gated FFN activation (glu.cc): out = act(gate) * up, silu or relu^2, in double (out may be gate) ----
void glu(const float* gate, const float* up, float* out, int64_t len, bool silu);
inline void glu(float* gate, const float* up, int64_t len, bool silu) { glu(gate, up, gate, len, silu); }
// its gradient (training): dgate = dy * up * act'(gate), dup = dy * act(gate), in double
void glu_grad(const float* gate, const float* up, const float* dy, int64_t len, bool silu, float* dgate, float* dup);

// ---- RMSNorm per row (norm.cc; the TS reference's partial-sum order): out = float((x * r) * w) ----
void rms_norm(const float* x, const float* w, int64_t n, int64_t cols, double eps, float* out);
// training's RMSNorm forward (the engine's rows; r: the per-row 1/rms as a float) and backward (norm.cc)
// one row of it, returns r = 1/sqrt(ss/cols + eps) in double
double rms_norm_row(const float* x, const float* w, int64_t cols, double eps, float* out);
void rms_norm_train_fwd(const float* x, const float* w, int64_t n, int64_t cols, double eps, float* y, float* r);
void rms_norm_train_bwd(const float* x, const float* w, const float* r, const float* dy, int64_t n, int64_t cols,
                        float* dx, float* dw);
// the forward fused with the activation fake-quant of its output (xq, sx as act_fake_quant's; no y kept)
void rms_norm_act_quant_fwd(const float* x, const float* w, int64_t n, int64_t cols, double eps, float qmax, float lo,
                            float hi, float qeps, float* xq, float* sx, float* r);

// ---- training's RoPE (rope.cc): [rows, T, heads, hd] float32, cos/sin [T, hd/2]; inverse = the gradient ----
void rope_apply(const float* x, float* out, int64_t rows, int64_t T, int64_t heads, int64_t hd, const float* cos,
                const float* sin, bool inverse);

// ---- training's softmax cross-entropy (xent.cc): loss [n], grad [n, v] = softmax - onehot ----
void softmax_xent(const float* x, int64_t n, int64_t v, const int32_t* t, float* loss, float* grad);

// ---- training's AdamW in place (adamw.cc) and the global norm's sum of squares ----
void adamw_step(float* p, float* m, float* v, const float* g, int64_t n, float gscale, float lr, float b1, float b2,
                float eps, float bc1, float bc2, float decay);
double sum_squares(const float* x, int64_t n);

// ---- training's activation fake-quant forward and embedding gather (actquant.cc) ----
// (y null: only s, the row scales, when s is not null)
void act_fake_quant(const float* x, int64_t n, int64_t cols, float qmax, float lo, float hi, float eps, float* y,
                    float* s = nullptr);
// one row of it: writes yi (unless null) and returns the row's scale s
float act_quant_row(const float* xi, int64_t cols, float qmax, float lo, float hi, float eps, float* yi);
// training's BitLinear forward on the codes of its fake-quant operands (bitlinear.cc; contract:
// src/native/train-kernels.ts bitLinearForward): y[n, rows] from xq [n, cols], sx [n], wq [rows, cols];
// scale: 1 value, `rows` (group 0) or rows * (cols / group) (group > 0, a multiple of 4 dividing cols)
void bitlinear_forward(const float* xq, const float* sx, int64_t n, int64_t cols, const float* wq, int64_t rows,
                       const float* scale, int64_t nscale, int64_t group, float* y);
void gather_rows(const float* table, int64_t rows, int64_t cols, const int32_t* ids, int64_t n, float* out);
// (out null: only beta, the granule scales mean |w|, when beta is not null)
void weight_fake_quant(const float* w, int64_t size, int64_t g, bool binary, float eps, float* out,
                       float* beta = nullptr);

// ---- int8 per-token activation quantization ----
// max |x_k| over n floats, NaN skipped (quantize.cc; the activation quantizers' row maximum)
float abs_max(const float* x, int64_t n);
void quantize_rows(const float* x, int64_t n, int64_t cols, int8_t* xq, float* sx);

// ---- memory read bandwidth in GB/s (best of reps), all pool threads ----
double read_bandwidth(const uint8_t* buf, int64_t len, int reps);

}  // namespace bitnet
