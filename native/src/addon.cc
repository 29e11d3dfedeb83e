// The N-API surface of the addon (plain C API, NAPI_VERSION 8). Each function validates every argument
// before any kernel touches memory: a wrong type throws a TypeError, a wrong size or length a RangeError,
// naming the function and the argument. The TypeScript side (types and reference implementations) is
// src/native/ (engine-kernels.ts, train-kernels.ts, addon.ts) and src/infer/kernels/.
//
//   cpuFeatures() -> {avx2, fma, f16c, avx512vnni, avx512bf16}     isa() -> name      setIsa('auto'|'avx512vnni'|'avx2'|'scalar')
//   threads() -> number                                setThreads(n)
//   ternaryMatmul(packed, rows, cols, xq, n, out)
//   ternaryMatmulScaled(packed, rows, cols, xq, sx, n, scale, groupSize, y)
//   quantizeActivations(x, n, cols, xq, sx)
//   matmulF32(x, n, cols, w, rows, y)                  matmulF16(x, n, cols, wBits, rows, y)
//   matmulQuant(type, x, n, cols, w, rows, y)         dequantRows(type, w, rows, cols, ids, out)
//   ternaryMatmulBlocks(type, w, rows, cols, xq, sx, n, y)   (type 'TQ1_0' | 'TQ2_0': the file's blocks in place)
//   ternaryBlocksToPacked(type, w, nBlocks, packed, d) -> -1 | first block with code 3 (TQ2_0)
//   synthTernary(layout, rows, cols, seed, d16, d32, out)   synthNormals(seed, start, scale, out: Float32Array | Uint16Array)     (layout 'TQ1_0' | 'TQ2_0' | 'I2_S')
//   mapFile(fd, length, regions) -> ArrayBuffer[] (the file mapped read-only, a view per region; unmapped when all are collected)
//   f16ToF32(src, dst)
//   attention(q, n, pos0, kCache, vCache, heads, kvHeads, headDim, maxSeq, out)
//   glu(gate, up, silu)
//   rmsNorm(x, w, n, cols, eps, out)
//   ropeApply(x, out, rows, T, headDim, cos, sin, inverse[, heads])
//   ropeStore(q, k, v, n, pos0, heads, kvHeads, headDim, cos, sin, kCache, vCache, maxSeq)
//   softmaxXent(logits, n, v, targets, loss, grad)
//   adamwStep(p, m, v, g, [gscale, lr, beta1, beta2, eps, bc1, bc2, decay])   sumSquares(x) -> number
//   actFakeQuant(x, n, cols, [qmax, lo, hi, eps], y)   gatherRows(table, rows, cols, ids, out)
//   weightFakeQuant(w, granule, binary, eps, out)
//   actScales(x, n, cols, qmax, eps, s)   weightScales(w, granule, beta)
//   bitLinearForward(xq, sx, n, cols, wq, rows, scale, group, y)
//   attentionTrain(q, k, v, B, H, kvHeads, T, headDim, scale, out, lse)
//   attentionTrainGrad(q, k, v, out, lse, dout, B, H, kvHeads, T, headDim, scale, dq, dk, dv)
//   rmsNormTrain(x, w, n, cols, eps, y, r)   rmsNormTrainGrad(x, w, r, dy, n, cols, dx, dw)
//   rmsNormActQuant(x, w, n, cols, eps, [qmax, lo, hi, qeps], xq, sx, r)
//   gluTrain(gate, up, silu, out)   gluTrainGrad(gate, up, dy, silu, dgate, dup)
//   sgemm(m, n, k, a, transA, b, transB, c[, bf16])
//   sgemmBatched(batch, m, n, k, a, strideA, transA, b, strideB, transB, c, strideC)
//   readBandwidth(buf, reps) -> GB/s
//   allocAligned(bytes, hugePages) -> ArrayBuffer (zeroed; 64-byte aligned, or 2 MB aligned with huge pages advised)
//   watchdogArm(what, limitMs)   watchdogBeat([what])   watchdogDisarm()
//   poolStress(jobs, counts, grains, delayNs) -> {jobs, missing, repeated, wrongJob, outOfRange}   (tests only)
#include <node_api.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <cstdlib>
#include <cstring>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "kernels.h"
#include "pool.h"
#include "pool_stress.h"
#include "watchdog.h"

using namespace bitnet;

namespace {

constexpr double kMaxDim = 2147483647.0;  // every size argument fits in int32; products are checked (size_product)

struct Args {
  napi_env env;
  const char* fn;
  size_t argc = 16;
  napi_value v[16];
};

bool fail_type(Args& a, const std::string& msg) {
  napi_throw_type_error(a.env, nullptr, (std::string(a.fn) + ": " + msg).c_str());
  return false;
}
bool fail_range(Args& a, const std::string& msg) {
  napi_throw_range_error(a.env, nullptr, (std::string(a.fn) + ": " + msg).c_str());
  return false;
}

bool get_args(napi_env env, napi_callback_info info, const char* fn, size_t want, Args& a) {
  a.env = env;
  a.fn = fn;
  if (napi_get_cb_info(env, info, &a.argc, a.v, nullptr, nullptr) != napi_ok) return fail_type(a, "bad call");
  if (a.argc < want) return fail_type(a, "expected " + std::to_string(want) + " arguments, got " + std::to_string(a.argc));
  return true;
}

bool get_dim(Args& a, size_t i, const char* name, int64_t* out) {
  napi_valuetype t;
  napi_typeof(a.env, a.v[i], &t);
  if (t != napi_number) return fail_type(a, std::string(name) + " must be a number");
  double d;
  napi_get_value_double(a.env, a.v[i], &d);
  if (!(d >= 0 && d <= kMaxDim) || std::floor(d) != d)
    return fail_range(a, std::string(name) + " must be an integer in [0, 2^31), got " + std::to_string(d));
  *out = static_cast<int64_t>(d);
  return true;
}

bool get_number(Args& a, size_t i, const char* name, double* out) {
  napi_valuetype t;
  napi_typeof(a.env, a.v[i], &t);
  if (t != napi_number) return fail_type(a, std::string(name) + " must be a number");
  napi_get_value_double(a.env, a.v[i], out);
  return true;
}

bool get_bool(Args& a, size_t i, const char* name, bool* out) {
  napi_valuetype t;
  napi_typeof(a.env, a.v[i], &t);
  if (t != napi_boolean) return fail_type(a, std::string(name) + " must be a boolean");
  napi_get_value_bool(a.env, a.v[i], out);
  return true;
}

const char* type_name(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    default: return "typed array";
  }
}

template <class T>
bool get_array(Args& a, size_t i, const char* name, napi_typedarray_type want, T** data, int64_t* len) {
  bool is = false;
  napi_is_typedarray(a.env, a.v[i], &is);
  napi_typedarray_type type;
  size_t length = 0;
  void* ptr = nullptr;
  if (is) napi_get_typedarray_info(a.env, a.v[i], &type, &length, &ptr, nullptr, nullptr);
  if (!is || type != want) return fail_type(a, std::string(name) + " must be a " + type_name(want));
  *data = static_cast<T*>(ptr);
  *len = static_cast<int64_t>(length);
  return true;
}

// |sum| <= 128 * cols must fit the int32 outputs and accumulators exactly.
bool check_ternary_cols(Args& a, int64_t cols) {
  if (cols <= (int64_t(1) << 24)) return true;
  return fail_range(a, "cols must be at most 2^24 (exact int32 sums), got " + std::to_string(cols));
}

// The product of sizes, each already checked to be in [0, 2^31): two always fit in int64, three or more
// may not (kvHeads * tiled(maxSeq) * headDim with adversarial sizes), so every product is multiplied with
// an overflow check before it is compared with a buffer length.
bool size_product(Args& a, const char* name, std::initializer_list<int64_t> factors, const char* formula, int64_t* out) {
  int64_t p = 1;
  for (int64_t f : factors)
    if (__builtin_mul_overflow(p, f, &p))
      return fail_range(a, std::string(name) + ": " + formula + " overflows 64 bits");
  *out = p;
  return true;
}

// `have` must equal the product of `factors` (the sizes named by `formula`).
bool check_len(Args& a, const char* name, int64_t have, std::initializer_list<int64_t> factors, const char* formula) {
  int64_t want = 0;
  if (!size_product(a, name, factors, formula, &want)) return false;
  if (have == want) return true;
  return fail_range(a, std::string(name) + " has length " + std::to_string(have) + ", expected " + formula + " = " +
                           std::to_string(want));
}


// One of `names` (a string argument), as its index.
bool get_enum(Args& a, size_t i, const char* name, std::initializer_list<const char*> names, int* out) {
  napi_valuetype t;
  napi_typeof(a.env, a.v[i], &t);
  if (t != napi_string) return fail_type(a, std::string(name) + " must be a string");
  char buf[16] = {};
  size_t len = 0;
  napi_get_value_string_utf8(a.env, a.v[i], buf, sizeof(buf), &len);
  const std::string s(buf, len);
  std::string all;
  int k = 0;
  for (const char* n : names) {
    if (s == n) {
      *out = k;
      return true;
    }
    all += (k++ ? ", " : "") + std::string(n);
  }
  return fail_range(a, std::string(name) + " must be one of " + all + ", got '" + s + "'");
}

// A byte count or file offset up to 2^53 (get_dim stops at 2^31).
bool get_size(Args& a, size_t i, const char* name, int64_t* out) {
  double d;
  if (!get_number(a, i, name, &d)) return false;
  if (!(d >= 0 && d <= 9007199254740991.0) || std::floor(d) != d)
    return fail_range(a, std::string(name) + " must be an integer in [0, 2^53), got " + std::to_string(d));
  *out = static_cast<int64_t>(d);
  return true;
}

// A GGUF block type name, exactly as src/native/engine-kernels.ts QuantType spells it.
bool get_quant_type(Args& a, size_t i, const char* name, QuantType* out) {
  int k = 0;  // the names in QuantType's order
  if (!get_enum(a, i, name, {"Q8_0", "Q4_0", "Q4_K", "Q6_K", "BF16"}, &k)) return false;
  *out = static_cast<QuantType>(k);
  return true;
}

// cols must be whole blocks of the type: each row of W is a run of blocks.
bool check_quant_cols(Args& a, QuantType t, int64_t cols) {
  if (cols % quant_block(t) == 0) return true;
  return fail_range(a, "cols must be a multiple of the block size " + std::to_string(quant_block(t)) + ", got " + std::to_string(cols));
}

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value make_bool(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

// ---- functions ----

napi_value CpuFeaturesJs(napi_env env, napi_callback_info) {
  const CpuFeatures& f = cpu_features();
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "avx2", make_bool(env, f.avx2));
  napi_set_named_property(env, o, "fma", make_bool(env, f.fma));
  napi_set_named_property(env, o, "f16c", make_bool(env, f.f16c));
  napi_set_named_property(env, o, "avx512vnni", make_bool(env, f.avx512vnni));
  napi_set_named_property(env, o, "avx512bf16", make_bool(env, f.avx512bf16));
  return o;
}

const char* const kIsaNames[] = {"scalar", "avx2", "avx512vnni"};

napi_value IsaJs(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_string_utf8(env, kIsaNames[static_cast<int>(isa())], NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value SetIsaJs(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, "setIsa", 1, a)) return nullptr;
  napi_valuetype t;
  napi_typeof(env, a.v[0], &t);
  if (t != napi_string) {
    fail_type(a, "isa must be a string");
    return nullptr;
  }
  char name[32] = {};
  size_t len = 0;
  napi_get_value_string_utf8(env, a.v[0], name, sizeof(name), &len);
  const std::string s(name, len);
  if (s == "auto") {
    reset_isa();
    return undefined(env);
  }
  for (int i = 0; i < 3; i++)
    if (s == kIsaNames[i]) {
      if (!set_isa(static_cast<Isa>(i))) {
        fail_range(a, s + " is not supported by this CPU");
        return nullptr;
      }
      return undefined(env);
    }
  fail_range(a, "isa must be 'auto', 'avx512vnni', 'avx2' or 'scalar', got '" + s + "'");
  return nullptr;
}

napi_value ThreadsJs(napi_env env, napi_callback_info) {
  napi_value v;
  napi_create_int32(env, pool_threads(), &v);
  return v;
}

napi_value SetThreadsJs(napi_env env, napi_callback_info info) {
  Args a;
  int64_t n = 0;
  if (!get_args(env, info, "setThreads", 1, a) || !get_dim(a, 0, "n", &n)) return nullptr;
  if (n < 1 || n > 256) {
    fail_range(a, "n must be in [1, 256]");
    return nullptr;
  }
  pool_set_threads(static_cast<int>(n));
  return undefined(env);
}

napi_value TernaryMatmulJs(napi_env env, napi_callback_info info) {
  Args a;
  const uint8_t* packed = nullptr;
  const int8_t* xq = nullptr;
  int32_t* out = nullptr;
  int64_t rows = 0, cols = 0, n = 0, lp = 0, lx = 0, lo = 0;
  if (!get_args(env, info, "ternaryMatmul", 6, a) ||
      !get_array(a, 0, "packed", napi_uint8_array, const_cast<uint8_t**>(&packed), &lp) ||
      !get_dim(a, 1, "rows", &rows) || !get_dim(a, 2, "cols", &cols) || !check_ternary_cols(a, cols) ||
      !get_array(a, 3, "xq", napi_int8_array, const_cast<int8_t**>(&xq), &lx) || !get_dim(a, 4, "n", &n) ||
      !get_array(a, 5, "out", napi_int32_array, &out, &lo) ||
      !check_len(a, "packed", lp, {rows, ternary_row_bytes(cols)}, "rows*ceil(cols/128)*32") ||
      !check_len(a, "xq", lx, {n, cols}, "n*cols") || !check_len(a, "out", lo, {n, rows}, "n*rows"))
    return nullptr;
  ternary_matmul(packed, rows, cols, xq, n, out);
  return undefined(env);
}

napi_value TernaryMatmulScaledJs(napi_env env, napi_callback_info info) {
  Args a;
  const uint8_t* packed = nullptr;
  const int8_t* xq = nullptr;
  const float *sx = nullptr, *scale = nullptr;
  float* y = nullptr;
  int64_t rows = 0, cols = 0, n = 0, group = 0, lp = 0, lx = 0, ls = 0, lsc = 0, ly = 0;
  if (!get_args(env, info, "ternaryMatmulScaled", 9, a) ||
      !get_array(a, 0, "packed", napi_uint8_array, const_cast<uint8_t**>(&packed), &lp) ||
      !get_dim(a, 1, "rows", &rows) || !get_dim(a, 2, "cols", &cols) || !check_ternary_cols(a, cols) ||
      !get_array(a, 3, "xq", napi_int8_array, const_cast<int8_t**>(&xq), &lx) ||
      !get_array(a, 4, "sx", napi_float32_array, const_cast<float**>(&sx), &ls) || !get_dim(a, 5, "n", &n) ||
      !get_array(a, 6, "scale", napi_float32_array, const_cast<float**>(&scale), &lsc) ||
      !get_dim(a, 7, "groupSize", &group) || !get_array(a, 8, "y", napi_float32_array, &y, &ly) ||
      !check_len(a, "packed", lp, {rows, ternary_row_bytes(cols)}, "rows*ceil(cols/128)*32") ||
      !check_len(a, "xq", lx, {n, cols}, "n*cols") || !check_len(a, "sx", ls, {n}, "n") ||
      !check_len(a, "y", ly, {n, rows}, "n*rows"))
    return nullptr;
  int mode;
  if (group > 0) {
    if (group % 32 != 0) {
      fail_range(a, "groupSize must be a multiple of 32 in the native kernel, got " + std::to_string(group));
      return nullptr;
    }
    if (!check_len(a, "scale", lsc, {rows, ((cols + group - 1) / group)}, "rows*ceil(cols/groupSize)")) return nullptr;
    mode = 2;
  } else if (lsc == 1) {
    mode = 0;
  } else if (lsc == rows) {
    mode = 1;
  } else {
    fail_range(a, "scale has length " + std::to_string(lsc) + ", expected 1 (per tensor) or rows = " +
                      std::to_string(rows) + " (per row) when groupSize is 0");
    return nullptr;
  }
  ternary_matmul_scaled(packed, rows, cols, xq, sx, n, scale, mode, group, y);
  return undefined(env);
}

napi_value MatmulQuantJs(napi_env env, napi_callback_info info) {
  Args a;
  QuantType t = QuantType::Q8_0;
  const float* x = nullptr;
  const uint8_t* w = nullptr;
  float* y = nullptr;
  int64_t n = 0, cols = 0, rows = 0, lx = 0, lw = 0, ly = 0;
  if (!get_args(env, info, "matmulQuant", 7, a) || !get_quant_type(a, 0, "type", &t) ||
      !get_array(a, 1, "x", napi_float32_array, const_cast<float**>(&x), &lx) || !get_dim(a, 2, "n", &n) ||
      !get_dim(a, 3, "cols", &cols) || !get_array(a, 4, "w", napi_uint8_array, const_cast<uint8_t**>(&w), &lw) ||
      !get_dim(a, 5, "rows", &rows) || !get_array(a, 6, "y", napi_float32_array, &y, &ly) || !check_quant_cols(a, t, cols) ||
      !check_len(a, "x", lx, {n, cols}, "n*cols") ||
      !check_len(a, "w", lw, {rows, cols / quant_block(t), quant_block_bytes(t)}, "rows*cols/blockSize*blockBytes") ||
      !check_len(a, "y", ly, {n, rows}, "n*rows"))
    return nullptr;
  matmul_quant(t, x, n, cols, w, rows, y);
  return undefined(env);
}

napi_value DequantRowsJs(napi_env env, napi_callback_info info) {
  Args a;
  QuantType t = QuantType::Q8_0;
  const uint8_t* w = nullptr;
  const int32_t* ids = nullptr;
  float* out = nullptr;
  int64_t rows = 0, cols = 0, lw = 0, li = 0, lo = 0;
  if (!get_args(env, info, "dequantRows", 6, a) || !get_quant_type(a, 0, "type", &t) ||
      !get_array(a, 1, "w", napi_uint8_array, const_cast<uint8_t**>(&w), &lw) || !get_dim(a, 2, "rows", &rows) ||
      !get_dim(a, 3, "cols", &cols) || !get_array(a, 4, "ids", napi_int32_array, const_cast<int32_t**>(&ids), &li) ||
      !get_array(a, 5, "out", napi_float32_array, &out, &lo) || !check_quant_cols(a, t, cols) ||
      !check_len(a, "w", lw, {rows, cols / quant_block(t), quant_block_bytes(t)}, "rows*cols/blockSize*blockBytes") ||
      !check_len(a, "out", lo, {li, cols}, "ids.length*cols"))
    return nullptr;
  for (int64_t i = 0; i < li; i++)
    if (ids[i] < 0 || ids[i] >= rows) {
      fail_range(a, "ids[" + std::to_string(i) + "] = " + std::to_string(ids[i]) + " is outside [0, rows)");
      return nullptr;
    }
  dequant_rows(t, w, cols, ids, li, out);
  return undefined(env);
}

napi_value TernaryMatmulBlocksJs(napi_env env, napi_callback_info info) {
  Args a;
  int type = 0;
  const uint8_t* w = nullptr;
  const int8_t* xq = nullptr;
  const float* sx = nullptr;
  float* y = nullptr;
  int64_t rows = 0, cols = 0, n = 0, lw = 0, lx = 0, ls = 0, ly = 0;
  if (!get_args(env, info, "ternaryMatmulBlocks", 8, a) || !get_enum(a, 0, "type", {"TQ1_0", "TQ2_0"}, &type) ||
      !get_array(a, 1, "w", napi_uint8_array, const_cast<uint8_t**>(&w), &lw) || !get_dim(a, 2, "rows", &rows) ||
      !get_dim(a, 3, "cols", &cols) || !get_array(a, 4, "xq", napi_int8_array, const_cast<int8_t**>(&xq), &lx) ||
      !get_array(a, 5, "sx", napi_float32_array, const_cast<float**>(&sx), &ls) || !get_dim(a, 6, "n", &n) ||
      !get_array(a, 7, "y", napi_float32_array, &y, &ly) || !check_ternary_cols(a, cols))
    return nullptr;
  if (cols % 256 != 0) {
    fail_range(a, "cols must be a multiple of 256 (whole blocks per row), got " + std::to_string(cols));
    return nullptr;
  }
  const TernaryBlocks t = static_cast<TernaryBlocks>(type);
  if (!check_len(a, "w", lw, {rows, cols / 256, ternary_blocks_bytes(t)}, "rows*cols/256*blockBytes") ||
      !check_len(a, "xq", lx, {n, cols}, "n*cols") || !check_len(a, "sx", ls, {n}, "n") ||
      !check_len(a, "y", ly, {n, rows}, "n*rows"))
    return nullptr;
  ternary_matmul_blocks(t, w, rows, cols, xq, sx, n, y);
  return undefined(env);
}

napi_value TernaryBlocksToPackedJs(napi_env env, napi_callback_info info) {
  Args a;
  int type = 0;
  const uint8_t* w = nullptr;
  uint8_t* packed = nullptr;
  float* d = nullptr;
  int64_t nb = 0, lw = 0, lp = 0, ld = 0;
  if (!get_args(env, info, "ternaryBlocksToPacked", 5, a) || !get_enum(a, 0, "type", {"TQ1_0", "TQ2_0"}, &type) ||
      !get_array(a, 1, "w", napi_uint8_array, const_cast<uint8_t**>(&w), &lw) || !get_size(a, 2, "nBlocks", &nb) ||
      !get_array(a, 3, "packed", napi_uint8_array, &packed, &lp) || !get_array(a, 4, "d", napi_float32_array, &d, &ld))
    return nullptr;
  const TernaryBlocks t = static_cast<TernaryBlocks>(type);
  if (!check_len(a, "w", lw, {nb, ternary_blocks_bytes(t)}, "nBlocks*blockBytes") ||
      !check_len(a, "packed", lp, {nb, 64}, "nBlocks*64") || !check_len(a, "d", ld, {nb}, "nBlocks"))
    return nullptr;
  napi_value r;
  napi_create_double(env, static_cast<double>(ternary_blocks_to_packed(t, w, nb, packed, d)), &r);
  return r;
}

napi_value SynthTernaryJs(napi_env env, napi_callback_info info) {
  Args a;
  int layout = 0;
  int64_t rows = 0, cols = 0, seed = 0, d16 = 0, lo = 0;
  double d32 = 0;
  uint8_t* out = nullptr;
  if (!get_args(env, info, "synthTernary", 7, a) || !get_enum(a, 0, "layout", {"TQ1_0", "TQ2_0", "I2_S"}, &layout) ||
      !get_dim(a, 1, "rows", &rows) || !get_dim(a, 2, "cols", &cols) || !get_size(a, 3, "seed", &seed) ||
      !get_size(a, 4, "d16", &d16) || !get_number(a, 5, "d32", &d32) ||
      !get_array(a, 6, "out", napi_uint8_array, &out, &lo))
    return nullptr;
  const SynthLayout l = static_cast<SynthLayout>(layout);
  const int64_t per = l == SynthLayout::I2_S ? 128 : 256;
  if (seed > 0xffffffffLL || d16 > 0xffff) {
    fail_range(a, "seed must fit 32 bits and d16 16 bits");
    return nullptr;
  }
  if (cols % per != 0) {
    fail_range(a, "cols must be a multiple of " + std::to_string(per) + ", got " + std::to_string(cols));
    return nullptr;
  }
  int64_t cells = 0;
  if (!size_product(a, "rows*cols", {rows, cols}, "rows*cols", &cells)) return nullptr;
  const int64_t want = synth_ternary_bytes(l, rows, cols);
  if (lo != want) {
    fail_range(a, "out has length " + std::to_string(lo) + ", expected " + std::to_string(want));
    return nullptr;
  }
  synth_ternary(l, rows, cols, static_cast<uint32_t>(seed), static_cast<uint16_t>(d16), static_cast<float>(d32), out);
  return undefined(env);
}

napi_value SynthNormalsJs(napi_env env, napi_callback_info info) {
  Args a;
  int64_t seed = 0, start = 0;
  double scale = 0;
  if (!get_args(env, info, "synthNormals", 4, a) || !get_size(a, 0, "seed", &seed) || !get_size(a, 1, "start", &start) ||
      !get_number(a, 2, "scale", &scale))
    return nullptr;
  if (seed > 0xffffffffLL) {
    fail_range(a, "seed must fit 32 bits");
    return nullptr;
  }
  bool is = false;
  napi_is_typedarray(env, a.v[3], &is);
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* ptr = nullptr;
  if (is) napi_get_typedarray_info(env, a.v[3], &type, &length, &ptr, nullptr, nullptr);
  if (!is || (type != napi_float32_array && type != napi_uint16_array)) {
    fail_type(a, "out must be a Float32Array or a Uint16Array (fp16 bits)");
    return nullptr;
  }
  synth_normals(static_cast<uint32_t>(seed), static_cast<uint64_t>(start), static_cast<int64_t>(length), scale,
                type == napi_float32_array ? static_cast<float*>(ptr) : nullptr,
                type == napi_uint16_array ? static_cast<uint16_t*>(ptr) : nullptr);
  return undefined(env);
}

#if defined(__linux__)
// One mapping shared by the views of it; unmapped when the last view is collected.
struct FileMap {
  void* base;
  size_t len;
  std::atomic<int64_t> refs;
};

void release_view(napi_env, void*, void* hint) {
  FileMap* m = static_cast<FileMap*>(hint);
  if (m->refs.fetch_sub(1) == 1) {
    munmap(m->base, m->len);
    delete m;
  }
}
#endif

// The file behind `fd` (length bytes), mapped read-only and private, as one ArrayBuffer per region
// (regions: [offset, length, offset, length, ...], each inside the file and under 4 GiB, which is as
// large as Node 20 lets an external ArrayBuffer be): the engine's kernels read a GGUF's tensors where
// they lie (src/infer/mapped.ts), and the page cache, not the process, holds them. Writing into a view
// faults: only read-only views are made of them.
napi_value MapFileJs(napi_env env, napi_callback_info info) {
  Args a;
  int64_t fd = 0, length = 0, lr = 0;
  const double* regions = nullptr;
  if (!get_args(env, info, "mapFile", 3, a) || !get_dim(a, 0, "fd", &fd) || !get_size(a, 1, "length", &length) ||
      !get_array(a, 2, "regions", napi_float64_array, const_cast<double**>(&regions), &lr))
    return nullptr;
  if (lr % 2 != 0) {
    fail_range(a, "regions must hold offset, length pairs");
    return nullptr;
  }
  const int64_t n = lr / 2;
  for (int64_t i = 0; i < n; i++) {
    const double off = regions[2 * i], len = regions[2 * i + 1];
    if (!(off >= 0 && len > 0 && std::floor(off) == off && std::floor(len) == len && len < 4294967296.0 && off + len <= static_cast<double>(length))) {
      fail_range(a, "region " + std::to_string(i) + " (" + std::to_string(off) + ", " + std::to_string(len) +
                        ") is not a non-empty range under 4 GiB inside the " + std::to_string(length) + " bytes");
      return nullptr;
    }
  }
#if defined(__linux__)
  if (length == 0 || n == 0) {
    fail_range(a, "nothing to map");
    return nullptr;
  }
  void* p = mmap(nullptr, static_cast<size_t>(length), PROT_READ, MAP_PRIVATE, static_cast<int>(fd), 0);
  if (p == MAP_FAILED) {
    fail_range(a, std::string("cannot map the file: ") + std::strerror(errno));
    return nullptr;
  }
  FileMap* m = new FileMap{p, static_cast<size_t>(length), {n}};
  napi_value out;
  napi_create_array_with_length(env, static_cast<size_t>(n), &out);
  for (int64_t i = 0; i < n; i++) {
    napi_value ab;
    uint8_t* at = static_cast<uint8_t*>(p) + static_cast<int64_t>(regions[2 * i]);
    if (napi_create_external_arraybuffer(env, at, static_cast<size_t>(regions[2 * i + 1]), release_view, m, &ab) != napi_ok) {
      // the views made so far keep their references; drop the ones never made
      if (m->refs.fetch_sub(n - i) == n - i) {
        munmap(p, m->len);
        delete m;
      }
      fail_range(a, "cannot wrap region " + std::to_string(i) + " of the mapping in an ArrayBuffer");
      return nullptr;
    }
    napi_set_element(env, out, static_cast<uint32_t>(i), ab);
  }
  return out;
#else
  fail_range(a, "mapping files is implemented on Linux only");
  return nullptr;
#endif
}

napi_value QuantizeActivationsJs(napi_env env, napi_callback_info info) {
  Args a;
  const float* x = nullptr;
  int8_t* xq = nullptr;
  float* sx = nullptr;
  int64_t n = 0, cols = 0, lx = 0, lq = 0, ls = 0;
  if (!get_args(env, info, "quantizeActivations", 5, a) ||
      !get_array(a, 0, "x", napi_float32_array, const_cast<float**>(&x), &lx) || !get_dim(a, 1, "n", &n) ||
      !get_dim(a, 2, "cols", &cols) || !get_array(a, 3, "xq", napi_int8_array, &xq, &lq) ||
      !get_array(a, 4, "sx", napi_float32_array, &sx, &ls) || !check_len(a, "x", lx, {n, cols}, "n*cols") ||
      !check_len(a, "xq", lq, {n, cols}, "n*cols") || !check_len(a, "sx", ls, {n}, "n"))
    return nullptr;
  quantize_rows(x, n, cols, xq, sx);
  return undefined(env);
}

template <bool Half>
napi_value MatmulFloatJs(napi_env env, napi_callback_info info) {
  Args a;
  const float* x = nullptr;
  const void* w = nullptr;
  float* y = nullptr;
  int64_t n = 0, cols = 0, rows = 0, lx = 0, lw = 0, ly = 0;
  const char* fn = Half ? "matmulF16" : "matmulF32";
  if (!get_args(env, info, fn, 6, a) || !get_array(a, 0, "x", napi_float32_array, const_cast<float**>(&x), &lx) ||
      !get_dim(a, 1, "n", &n) || !get_dim(a, 2, "cols", &cols) ||
      !get_array(a, 3, "w", Half ? napi_uint16_array : napi_float32_array, const_cast<void**>(&w), &lw) ||
      !get_dim(a, 4, "rows", &rows) || !get_array(a, 5, "y", napi_float32_array, &y, &ly) ||
      !check_len(a, "x", lx, {n, cols}, "n*cols") || !check_len(a, "w", lw, {rows, cols}, "rows*cols") ||
      !check_len(a, "y", ly, {n, rows}, "n*rows"))
    return nullptr;
  if (Half) matmul_f16(x, n, cols, static_cast<const uint16_t*>(w), rows, y);
  else matmul_f32(x, n, cols, static_cast<const float*>(w), rows, y);
  return undefined(env);
}

napi_value F16ToF32Js(napi_env env, napi_callback_info info) {
  Args a;
  const uint16_t* src = nullptr;
  float* dst = nullptr;
  int64_t ls = 0, ld = 0;
  if (!get_args(env, info, "f16ToF32", 2, a) ||
      !get_array(a, 0, "src", napi_uint16_array, const_cast<uint16_t**>(&src), &ls) ||
      !get_array(a, 1, "dst", napi_float32_array, &dst, &ld) || !check_len(a, "dst", ld, {ls}, "src.length"))
    return nullptr;
  f16_to_f32(src, dst, ls);
  return undefined(env);
}

napi_value AttentionJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *q = nullptr, *kc = nullptr, *vc = nullptr;
  float* out = nullptr;
  int64_t n = 0, pos0 = 0, heads = 0, kvh = 0, hd = 0, ms = 0, lq = 0, lk = 0, lv = 0, lo = 0;
  if (!get_args(env, info, "attention", 10, a) ||
      !get_array(a, 0, "q", napi_float32_array, const_cast<float**>(&q), &lq) || !get_dim(a, 1, "n", &n) ||
      !get_dim(a, 2, "pos0", &pos0) || !get_array(a, 3, "kCache", napi_float32_array, const_cast<float**>(&kc), &lk) ||
      !get_array(a, 4, "vCache", napi_float32_array, const_cast<float**>(&vc), &lv) ||
      !get_dim(a, 5, "heads", &heads) || !get_dim(a, 6, "kvHeads", &kvh) || !get_dim(a, 7, "headDim", &hd) ||
      !get_dim(a, 8, "maxSeq", &ms) || !get_array(a, 9, "out", napi_float32_array, &out, &lo))
    return nullptr;
  if (kvh == 0 || heads % kvh != 0) {
    fail_range(a, "heads must be a multiple of kvHeads >= 1, got " + std::to_string(heads) + " and " + std::to_string(kvh));
    return nullptr;
  }
  if (pos0 + n > ms) {
    fail_range(a, "pos0 + n must be at most maxSeq, got " + std::to_string(pos0 + n) + " > " + std::to_string(ms));
    return nullptr;
  }
  if (!check_len(a, "q", lq, {n, heads, hd}, "n*heads*headDim") ||
      !check_len(a, "kCache", lk, {kvh, kv_tiled_len(ms), hd}, "kvHeads*ceil(maxSeq/32)*32*headDim") ||
      !check_len(a, "vCache", lv, {kvh, ms, hd}, "kvHeads*maxSeq*headDim") ||
      !check_len(a, "out", lo, {n, heads, hd}, "n*heads*headDim"))
    return nullptr;
  attention(q, n, pos0, kc, vc, heads, kvh, hd, ms, out);
  return undefined(env);
}

napi_value GluJs(napi_env env, napi_callback_info info) {
  Args a;
  float* gate = nullptr;
  const float* up = nullptr;
  int64_t lg = 0, lu = 0;
  bool silu = false;
  if (!get_args(env, info, "glu", 3, a) || !get_array(a, 0, "gate", napi_float32_array, &gate, &lg) ||
      !get_array(a, 1, "up", napi_float32_array, const_cast<float**>(&up), &lu) || !get_bool(a, 2, "silu", &silu) ||
      !check_len(a, "up", lu, {lg}, "gate.length"))
    return nullptr;
  glu(gate, up, lg, silu);
  return undefined(env);
}

napi_value RmsNormJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *x = nullptr, *w = nullptr;
  float* out = nullptr;
  int64_t n = 0, cols = 0, lx = 0, lw = 0, lo = 0;
  double eps = 0;
  if (!get_args(env, info, "rmsNorm", 6, a) || !get_array(a, 0, "x", napi_float32_array, const_cast<float**>(&x), &lx) ||
      !get_array(a, 1, "w", napi_float32_array, const_cast<float**>(&w), &lw) || !get_dim(a, 2, "n", &n) ||
      !get_dim(a, 3, "cols", &cols) || !get_number(a, 4, "eps", &eps) ||
      !get_array(a, 5, "out", napi_float32_array, &out, &lo) || !check_len(a, "x", lx, {n, cols}, "n*cols") ||
      !check_len(a, "w", lw, {cols}, "cols") || !check_len(a, "out", lo, {n, cols}, "n*cols"))
    return nullptr;
  if (!(eps > 0 && std::isfinite(eps))) {
    fail_range(a, "eps must be a positive finite number, got " + std::to_string(eps));
    return nullptr;
  }
  rms_norm(x, w, n, cols, eps, out);
  return undefined(env);
}

napi_value RopeApplyJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *x = nullptr, *c = nullptr, *s = nullptr;
  float* out = nullptr;
  int64_t rows = 0, T = 0, hd = 0, lx = 0, lo = 0, lc = 0, ls = 0;
  bool inverse = false;
  if (!get_args(env, info, "ropeApply", 8, a) || !get_array(a, 0, "x", napi_float32_array, const_cast<float**>(&x), &lx) ||
      !get_array(a, 1, "out", napi_float32_array, &out, &lo) || !get_dim(a, 2, "rows", &rows) || !get_dim(a, 3, "T", &T) ||
      !get_dim(a, 4, "headDim", &hd) || !get_array(a, 5, "cos", napi_float32_array, const_cast<float**>(&c), &lc) ||
      !get_array(a, 6, "sin", napi_float32_array, const_cast<float**>(&s), &ls) || !get_bool(a, 7, "inverse", &inverse))
    return nullptr;
  int64_t heads = 1;  // optional: x is [rows, T, heads, headDim]
  if (a.argc > 8 && !get_dim(a, 8, "heads", &heads)) return nullptr;
  if (hd % 2 != 0) {
    fail_range(a, "headDim must be even, got " + std::to_string(hd));
    return nullptr;
  }
  if (heads == 1) {
    if (!check_len(a, "x", lx, {rows, T, hd}, "rows*T*headDim") || !check_len(a, "out", lo, {rows, T, hd}, "rows*T*headDim"))
      return nullptr;
  } else if (!check_len(a, "x", lx, {rows, T, heads, hd}, "rows*T*heads*headDim") ||
             !check_len(a, "out", lo, {rows, T, heads, hd}, "rows*T*heads*headDim")) {
    return nullptr;
  }
  if (!check_len(a, "cos", lc, {T, (hd / 2)}, "T*headDim/2") || !check_len(a, "sin", ls, {T, (hd / 2)}, "T*headDim/2"))
    return nullptr;
  rope_apply(x, out, rows, T, heads, hd, c, s, inverse);
  return undefined(env);
}

// Training attention's shape arguments B, H, Hkv, T, headDim, scale at a.v[i ..], checked (H a multiple of Hkv).
struct AttnDims {
  int64_t B = 0, H = 0, Hkv = 0, T = 0, hd = 0;
  double scale = 0;
};
bool get_attn_dims(Args& a, size_t i, AttnDims& d) {
  if (!get_dim(a, i, "B", &d.B) || !get_dim(a, i + 1, "H", &d.H) || !get_dim(a, i + 2, "kvHeads", &d.Hkv) ||
      !get_dim(a, i + 3, "T", &d.T) || !get_dim(a, i + 4, "headDim", &d.hd) || !get_number(a, i + 5, "scale", &d.scale))
    return false;
  if (d.Hkv == 0 || d.H % d.Hkv != 0) return fail_range(a, "H must be a positive multiple of kvHeads, got H " + std::to_string(d.H) + ", kvHeads " + std::to_string(d.Hkv));
  return true;
}

// attentionTrain(q, k, v, B, H, kvHeads, T, headDim, scale, out, lse)
napi_value AttentionTrainJs(napi_env env, napi_callback_info info) {
  Args a;
  AttnDims d;
  const float *q = nullptr, *k = nullptr, *v = nullptr;
  float *out = nullptr, *lse = nullptr;
  int64_t lq = 0, lk = 0, lv = 0, lo = 0, ll = 0;
  if (!get_args(env, info, "attentionTrain", 11, a) || !get_array(a, 0, "q", napi_float32_array, const_cast<float**>(&q), &lq) ||
      !get_array(a, 1, "k", napi_float32_array, const_cast<float**>(&k), &lk) ||
      !get_array(a, 2, "v", napi_float32_array, const_cast<float**>(&v), &lv) || !get_attn_dims(a, 3, d) ||
      !get_array(a, 9, "out", napi_float32_array, &out, &lo) || !get_array(a, 10, "lse", napi_float32_array, &lse, &ll) ||
      !check_len(a, "q", lq, {d.B, d.H, d.T, d.hd}, "B*H*T*headDim") || !check_len(a, "k", lk, {d.B, d.Hkv, d.T, d.hd}, "B*kvHeads*T*headDim") ||
      !check_len(a, "v", lv, {d.B, d.Hkv, d.T, d.hd}, "B*kvHeads*T*headDim") || !check_len(a, "out", lo, {d.B, d.H, d.T, d.hd}, "B*H*T*headDim") ||
      !check_len(a, "lse", ll, {d.B, d.H, d.T}, "B*H*T"))
    return nullptr;
  attention_train_fwd(q, k, v, d.B, d.H, d.Hkv, d.T, d.hd, static_cast<float>(d.scale), out, lse);
  return undefined(env);
}

// attentionTrainGrad(q, k, v, out, lse, dout, B, H, kvHeads, T, headDim, scale, dq, dk, dv)
napi_value AttentionTrainGradJs(napi_env env, napi_callback_info info) {
  Args a;
  AttnDims d;
  const float *q = nullptr, *k = nullptr, *v = nullptr, *out = nullptr, *lse = nullptr, *dout = nullptr;
  float *dq = nullptr, *dk = nullptr, *dv = nullptr;
  int64_t lq = 0, lk = 0, lv = 0, lo = 0, ll = 0, ld = 0, ldq = 0, ldk = 0, ldv = 0;
  if (!get_args(env, info, "attentionTrainGrad", 15, a) || !get_array(a, 0, "q", napi_float32_array, const_cast<float**>(&q), &lq) ||
      !get_array(a, 1, "k", napi_float32_array, const_cast<float**>(&k), &lk) ||
      !get_array(a, 2, "v", napi_float32_array, const_cast<float**>(&v), &lv) ||
      !get_array(a, 3, "out", napi_float32_array, const_cast<float**>(&out), &lo) ||
      !get_array(a, 4, "lse", napi_float32_array, const_cast<float**>(&lse), &ll) ||
      !get_array(a, 5, "dout", napi_float32_array, const_cast<float**>(&dout), &ld) || !get_attn_dims(a, 6, d) ||
      !get_array(a, 12, "dq", napi_float32_array, &dq, &ldq) || !get_array(a, 13, "dk", napi_float32_array, &dk, &ldk) ||
      !get_array(a, 14, "dv", napi_float32_array, &dv, &ldv) ||
      !check_len(a, "q", lq, {d.B, d.H, d.T, d.hd}, "B*H*T*headDim") || !check_len(a, "k", lk, {d.B, d.Hkv, d.T, d.hd}, "B*kvHeads*T*headDim") ||
      !check_len(a, "v", lv, {d.B, d.Hkv, d.T, d.hd}, "B*kvHeads*T*headDim") || !check_len(a, "out", lo, {d.B, d.H, d.T, d.hd}, "B*H*T*headDim") ||
      !check_len(a, "lse", ll, {d.B, d.H, d.T}, "B*H*T") || !check_len(a, "dout", ld, {d.B, d.H, d.T, d.hd}, "B*H*T*headDim") ||
      !check_len(a, "dq", ldq, {d.B, d.H, d.T, d.hd}, "B*H*T*headDim") || !check_len(a, "dk", ldk, {d.B, d.Hkv, d.T, d.hd}, "B*kvHeads*T*headDim") ||
      !check_len(a, "dv", ldv, {d.B, d.Hkv, d.T, d.hd}, "B*kvHeads*T*headDim"))
    return nullptr;
  attention_train_bwd(q, k, v, out, lse, dout, d.B, d.H, d.Hkv, d.T, d.hd, static_cast<float>(d.scale), dq, dk, dv);
  return undefined(env);
}

napi_value RopeStoreJs(napi_env env, napi_callback_info info) {
  Args a;
  float *q = nullptr, *k = nullptr, *kc = nullptr, *vc = nullptr;
  const float *v = nullptr, *c = nullptr, *s = nullptr;
  int64_t n = 0, pos0 = 0, heads = 0, kvh = 0, hd = 0, ms = 0, lq = 0, lk = 0, lv = 0, lc = 0, ls = 0, lkc = 0, lvc = 0;
  if (!get_args(env, info, "ropeStore", 13, a) || !get_array(a, 0, "q", napi_float32_array, &q, &lq) ||
      !get_array(a, 1, "k", napi_float32_array, &k, &lk) || !get_array(a, 2, "v", napi_float32_array, const_cast<float**>(&v), &lv) ||
      !get_dim(a, 3, "n", &n) || !get_dim(a, 4, "pos0", &pos0) || !get_dim(a, 5, "heads", &heads) ||
      !get_dim(a, 6, "kvHeads", &kvh) || !get_dim(a, 7, "headDim", &hd) ||
      !get_array(a, 8, "cos", napi_float32_array, const_cast<float**>(&c), &lc) ||
      !get_array(a, 9, "sin", napi_float32_array, const_cast<float**>(&s), &ls) ||
      !get_array(a, 10, "kCache", napi_float32_array, &kc, &lkc) || !get_array(a, 11, "vCache", napi_float32_array, &vc, &lvc) ||
      !get_dim(a, 12, "maxSeq", &ms))
    return nullptr;
  if (hd % 2 != 0) {
    fail_range(a, "headDim must be even, got " + std::to_string(hd));
    return nullptr;
  }
  if (pos0 + n > ms) {
    fail_range(a, "pos0 + n must be at most maxSeq, got " + std::to_string(pos0 + n) + " > " + std::to_string(ms));
    return nullptr;
  }
  if (!check_len(a, "q", lq, {n, heads, hd}, "n*heads*headDim") || !check_len(a, "k", lk, {n, kvh, hd}, "n*kvHeads*headDim") ||
      !check_len(a, "v", lv, {n, kvh, hd}, "n*kvHeads*headDim") || !check_len(a, "cos", lc, {ms, (hd / 2)}, "maxSeq*headDim/2") ||
      !check_len(a, "sin", ls, {ms, (hd / 2)}, "maxSeq*headDim/2") ||
      !check_len(a, "kCache", lkc, {kvh, kv_tiled_len(ms), hd}, "kvHeads*ceil(maxSeq/32)*32*headDim") ||
      !check_len(a, "vCache", lvc, {kvh, ms, hd}, "kvHeads*maxSeq*headDim"))
    return nullptr;
  rope_store(q, k, v, n, pos0, heads, kvh, hd, c, s, kc, vc, ms);
  return undefined(env);
}

napi_value SoftmaxXentJs(napi_env env, napi_callback_info info) {
  Args a;
  const float* x = nullptr;
  const int32_t* t = nullptr;
  float *loss = nullptr, *grad = nullptr;
  int64_t n = 0, v = 0, lx = 0, lt = 0, ll = 0, lg = 0;
  if (!get_args(env, info, "softmaxXent", 6, a) || !get_array(a, 0, "logits", napi_float32_array, const_cast<float**>(&x), &lx) ||
      !get_dim(a, 1, "n", &n) || !get_dim(a, 2, "v", &v) ||
      !get_array(a, 3, "targets", napi_int32_array, const_cast<int32_t**>(&t), &lt) ||
      !get_array(a, 4, "loss", napi_float32_array, &loss, &ll) || !get_array(a, 5, "grad", napi_float32_array, &grad, &lg) ||
      !check_len(a, "logits", lx, {n, v}, "n*v") || !check_len(a, "targets", lt, {n}, "n") || !check_len(a, "loss", ll, {n}, "n") ||
      !check_len(a, "grad", lg, {n, v}, "n*v"))
    return nullptr;
  for (int64_t i = 0; i < n; i++)
    if (t[i] < 0 || t[i] >= v) {
      fail_range(a, "targets[" + std::to_string(i) + "] = " + std::to_string(t[i]) + " is outside [0, v)");
      return nullptr;
    }
  softmax_xent(x, n, v, t, loss, grad);
  return undefined(env);
}

napi_value AdamwStepJs(napi_env env, napi_callback_info info) {
  Args a;
  float *p = nullptr, *m = nullptr, *v = nullptr;
  const float* g = nullptr;
  const float* h = nullptr;
  int64_t lp = 0, lm = 0, lv = 0, lg = 0, lh = 0;
  if (!get_args(env, info, "adamwStep", 5, a) || !get_array(a, 0, "p", napi_float32_array, &p, &lp) ||
      !get_array(a, 1, "m", napi_float32_array, &m, &lm) || !get_array(a, 2, "v", napi_float32_array, &v, &lv) ||
      !get_array(a, 3, "g", napi_float32_array, const_cast<float**>(&g), &lg) ||
      !get_array(a, 4, "hyper", napi_float32_array, const_cast<float**>(&h), &lh) || !check_len(a, "m", lm, {lp}, "p.length") ||
      !check_len(a, "v", lv, {lp}, "p.length") || !check_len(a, "g", lg, {lp}, "p.length") ||
      !check_len(a, "hyper", lh, {8}, "[gscale, lr, beta1, beta2, eps, bc1, bc2, decay]"))
    return nullptr;
  adamw_step(p, m, v, g, lp, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
  return undefined(env);
}

napi_value ActFakeQuantJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *x = nullptr, *h = nullptr;
  float* y = nullptr;
  int64_t n = 0, cols = 0, lx = 0, lh = 0, ly = 0;
  if (!get_args(env, info, "actFakeQuant", 5, a) || !get_array(a, 0, "x", napi_float32_array, const_cast<float**>(&x), &lx) ||
      !get_dim(a, 1, "n", &n) || !get_dim(a, 2, "cols", &cols) ||
      !get_array(a, 3, "range", napi_float32_array, const_cast<float**>(&h), &lh) || !get_array(a, 4, "y", napi_float32_array, &y, &ly) ||
      !check_len(a, "x", lx, {n, cols}, "n*cols") || !check_len(a, "range", lh, {4}, "[qmax, lo, hi, eps]") ||
      !check_len(a, "y", ly, {n, cols}, "n*cols"))
    return nullptr;
  act_fake_quant(x, n, cols, h[0], h[1], h[2], h[3], y);
  return undefined(env);
}

napi_value GatherRowsJs(napi_env env, napi_callback_info info) {
  Args a;
  const float* t = nullptr;
  const int32_t* ids = nullptr;
  float* out = nullptr;
  int64_t rows = 0, cols = 0, lt = 0, li = 0, lo = 0;
  if (!get_args(env, info, "gatherRows", 5, a) || !get_array(a, 0, "table", napi_float32_array, const_cast<float**>(&t), &lt) ||
      !get_dim(a, 1, "rows", &rows) || !get_dim(a, 2, "cols", &cols) ||
      !get_array(a, 3, "ids", napi_int32_array, const_cast<int32_t**>(&ids), &li) || !get_array(a, 4, "out", napi_float32_array, &out, &lo) ||
      !check_len(a, "table", lt, {rows, cols}, "rows*cols") || !check_len(a, "out", lo, {li, cols}, "ids.length*cols"))
    return nullptr;
  for (int64_t i = 0; i < li; i++)
    if (ids[i] < 0 || ids[i] >= rows) {
      fail_range(a, "ids[" + std::to_string(i) + "] = " + std::to_string(ids[i]) + " is outside [0, rows)");
      return nullptr;
    }
  gather_rows(t, rows, cols, ids, li, out);
  return undefined(env);
}

// A weight granule must split w into whole granules.
bool check_granule(Args& a, int64_t g, int64_t lw) {
  if (g != 0 && lw % g == 0) return true;
  fail_range(a, "granule must divide w.length, got " + std::to_string(g) + " for " + std::to_string(lw));
  return false;
}

napi_value WeightFakeQuantJs(napi_env env, napi_callback_info info) {
  Args a;
  const float* w = nullptr;
  float* out = nullptr;
  int64_t g = 0, lw = 0, lo = 0;
  bool binary = false;
  double eps = 0;
  if (!get_args(env, info, "weightFakeQuant", 5, a) || !get_array(a, 0, "w", napi_float32_array, const_cast<float**>(&w), &lw) ||
      !get_dim(a, 1, "granule", &g) || !get_bool(a, 2, "binary", &binary) || !get_number(a, 3, "eps", &eps) ||
      !get_array(a, 4, "out", napi_float32_array, &out, &lo) || !check_len(a, "out", lo, {lw}, "w.length"))
    return nullptr;
  if (!check_granule(a, g, lw)) return nullptr;
  weight_fake_quant(w, lw, g, binary, static_cast<float>(eps), out);
  return undefined(env);
}

// The scales alone, by the same code as the fake-quant: the row scales of actFakeQuant, the granule means |w|.
napi_value ActScalesJs(napi_env env, napi_callback_info info) {
  Args a;
  const float* x = nullptr;
  float* s = nullptr;
  int64_t n = 0, cols = 0, lx = 0, ls = 0;
  double qmax = 0, eps = 0;
  if (!get_args(env, info, "actScales", 6, a) || !get_array(a, 0, "x", napi_float32_array, const_cast<float**>(&x), &lx) ||
      !get_dim(a, 1, "n", &n) || !get_dim(a, 2, "cols", &cols) || !get_number(a, 3, "qmax", &qmax) ||
      !get_number(a, 4, "eps", &eps) || !get_array(a, 5, "s", napi_float32_array, &s, &ls) ||
      !check_len(a, "x", lx, {n, cols}, "n*cols") || !check_len(a, "s", ls, {n}, "n"))
    return nullptr;
  act_fake_quant(x, n, cols, static_cast<float>(qmax), 0, 0, static_cast<float>(eps), nullptr, s);
  return undefined(env);
}

napi_value WeightScalesJs(napi_env env, napi_callback_info info) {
  Args a;
  const float* w = nullptr;
  float* beta = nullptr;
  int64_t g = 0, lw = 0, lb = 0;
  if (!get_args(env, info, "weightScales", 3, a) || !get_array(a, 0, "w", napi_float32_array, const_cast<float**>(&w), &lw) ||
      !get_dim(a, 1, "granule", &g) || !get_array(a, 2, "beta", napi_float32_array, &beta, &lb))
    return nullptr;
  if (!check_granule(a, g, lw)) return nullptr;
  if (!check_len(a, "beta", lb, {lw / g}, "w.length/granule")) return nullptr;
  weight_fake_quant(w, lw, g, false, 0, nullptr, beta);
  return undefined(env);
}

napi_value BitLinearForwardJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *xq = nullptr, *sx = nullptr, *wq = nullptr, *sc = nullptr;
  float* y = nullptr;
  int64_t n = 0, cols = 0, rows = 0, group = 0, lx = 0, ls = 0, lw = 0, lsc = 0, ly = 0;
  if (!get_args(env, info, "bitLinearForward", 9, a) || !get_array(a, 0, "xq", napi_float32_array, const_cast<float**>(&xq), &lx) ||
      !get_array(a, 1, "sx", napi_float32_array, const_cast<float**>(&sx), &ls) || !get_dim(a, 2, "n", &n) ||
      !get_dim(a, 3, "cols", &cols) || !get_array(a, 4, "wq", napi_float32_array, const_cast<float**>(&wq), &lw) ||
      !get_dim(a, 5, "rows", &rows) || !get_array(a, 6, "scale", napi_float32_array, const_cast<float**>(&sc), &lsc) ||
      !get_dim(a, 7, "group", &group) || !get_array(a, 8, "y", napi_float32_array, &y, &ly) ||
      !check_len(a, "xq", lx, {n, cols}, "n*cols") || !check_len(a, "sx", ls, {n}, "n") ||
      !check_len(a, "wq", lw, {rows, cols}, "rows*cols") || !check_len(a, "y", ly, {n, rows}, "n*rows"))
    return nullptr;
  if (cols == 0 || cols > (int64_t(1) << 22)) {  // |sum| <= cols * 2 * 128 stays inside int32
    fail_range(a, "cols must be in [1, 2^22], got " + std::to_string(cols));
    return nullptr;
  }
  if (group != 0 && (group % 4 != 0 || cols % group != 0)) {
    fail_range(a, "group must be 0 or a multiple of 4 dividing cols, got " + std::to_string(group) + " for cols " + std::to_string(cols));
    return nullptr;
  }
  const int64_t want = group == 0 ? rows : rows * (cols / group);
  if (lsc != 1 && lsc != want) {
    fail_range(a, "scale.length must be 1 or " + std::to_string(want) + ", got " + std::to_string(lsc));
    return nullptr;
  }
  bitlinear_forward(xq, sx, n, cols, wq, rows, sc, lsc, group, y);
  return undefined(env);
}

napi_value RmsNormTrainJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *x = nullptr, *w = nullptr;
  float *y = nullptr, *r = nullptr;
  int64_t n = 0, cols = 0, lx = 0, lw = 0, ly = 0, lr = 0;
  double eps = 0;
  if (!get_args(env, info, "rmsNormTrain", 7, a) || !get_array(a, 0, "x", napi_float32_array, const_cast<float**>(&x), &lx) ||
      !get_array(a, 1, "w", napi_float32_array, const_cast<float**>(&w), &lw) || !get_dim(a, 2, "n", &n) ||
      !get_dim(a, 3, "cols", &cols) || !get_number(a, 4, "eps", &eps) || !get_array(a, 5, "y", napi_float32_array, &y, &ly) ||
      !get_array(a, 6, "r", napi_float32_array, &r, &lr) || !check_len(a, "x", lx, {n, cols}, "n*cols") ||
      !check_len(a, "w", lw, {cols}, "cols") || !check_len(a, "y", ly, {n, cols}, "n*cols") || !check_len(a, "r", lr, {n}, "n"))
    return nullptr;
  rms_norm_train_fwd(x, w, n, cols, eps, y, r);
  return undefined(env);
}

napi_value RmsNormActQuantJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *x = nullptr, *w = nullptr, *h = nullptr;
  float *xq = nullptr, *sx = nullptr, *r = nullptr;
  int64_t n = 0, cols = 0, lx = 0, lw = 0, lh = 0, lq = 0, ls = 0, lr = 0;
  double eps = 0;
  if (!get_args(env, info, "rmsNormActQuant", 9, a) || !get_array(a, 0, "x", napi_float32_array, const_cast<float**>(&x), &lx) ||
      !get_array(a, 1, "w", napi_float32_array, const_cast<float**>(&w), &lw) || !get_dim(a, 2, "n", &n) ||
      !get_dim(a, 3, "cols", &cols) || !get_number(a, 4, "eps", &eps) ||
      !get_array(a, 5, "range", napi_float32_array, const_cast<float**>(&h), &lh) ||
      !get_array(a, 6, "xq", napi_float32_array, &xq, &lq) || !get_array(a, 7, "sx", napi_float32_array, &sx, &ls) ||
      !get_array(a, 8, "r", napi_float32_array, &r, &lr) || !check_len(a, "x", lx, {n, cols}, "n*cols") ||
      !check_len(a, "w", lw, {cols}, "cols") || !check_len(a, "range", lh, {4}, "[qmax, lo, hi, qeps]") ||
      !check_len(a, "xq", lq, {n, cols}, "n*cols") || !check_len(a, "sx", ls, {n}, "n") || !check_len(a, "r", lr, {n}, "n"))
    return nullptr;
  rms_norm_act_quant_fwd(x, w, n, cols, eps, h[0], h[1], h[2], h[3], xq, sx, r);
  return undefined(env);
}

napi_value GluTrainJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *gate = nullptr, *up = nullptr;
  float* out = nullptr;
  int64_t lg = 0, lu = 0, lo = 0;
  bool silu = false;
  if (!get_args(env, info, "gluTrain", 4, a) || !get_array(a, 0, "gate", napi_float32_array, const_cast<float**>(&gate), &lg) ||
      !get_array(a, 1, "up", napi_float32_array, const_cast<float**>(&up), &lu) || !get_bool(a, 2, "silu", &silu) ||
      !get_array(a, 3, "out", napi_float32_array, &out, &lo) || !check_len(a, "up", lu, {lg}, "gate.length") ||
      !check_len(a, "out", lo, {lg}, "gate.length"))
    return nullptr;
  glu(gate, up, out, lg, silu);
  return undefined(env);
}

napi_value GluTrainGradJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *gate = nullptr, *up = nullptr, *dy = nullptr;
  float *dgate = nullptr, *dup = nullptr;
  int64_t lg = 0, lu = 0, ld = 0, ldg = 0, ldu = 0;
  bool silu = false;
  if (!get_args(env, info, "gluTrainGrad", 6, a) || !get_array(a, 0, "gate", napi_float32_array, const_cast<float**>(&gate), &lg) ||
      !get_array(a, 1, "up", napi_float32_array, const_cast<float**>(&up), &lu) ||
      !get_array(a, 2, "dy", napi_float32_array, const_cast<float**>(&dy), &ld) || !get_bool(a, 3, "silu", &silu) ||
      !get_array(a, 4, "dgate", napi_float32_array, &dgate, &ldg) || !get_array(a, 5, "dup", napi_float32_array, &dup, &ldu) ||
      !check_len(a, "up", lu, {lg}, "gate.length") || !check_len(a, "dy", ld, {lg}, "gate.length") ||
      !check_len(a, "dgate", ldg, {lg}, "gate.length") || !check_len(a, "dup", ldu, {lg}, "gate.length"))
    return nullptr;
  glu_grad(gate, up, dy, lg, silu, dgate, dup);
  return undefined(env);
}

napi_value RmsNormTrainGradJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *x = nullptr, *w = nullptr, *r = nullptr, *dy = nullptr;
  float *dx = nullptr, *dw = nullptr;
  int64_t n = 0, cols = 0, lx = 0, lw = 0, lr = 0, ld = 0, ldx = 0, ldw = 0;
  if (!get_args(env, info, "rmsNormTrainGrad", 8, a) || !get_array(a, 0, "x", napi_float32_array, const_cast<float**>(&x), &lx) ||
      !get_array(a, 1, "w", napi_float32_array, const_cast<float**>(&w), &lw) ||
      !get_array(a, 2, "r", napi_float32_array, const_cast<float**>(&r), &lr) ||
      !get_array(a, 3, "dy", napi_float32_array, const_cast<float**>(&dy), &ld) || !get_dim(a, 4, "n", &n) ||
      !get_dim(a, 5, "cols", &cols) || !get_array(a, 6, "dx", napi_float32_array, &dx, &ldx) ||
      !get_array(a, 7, "dw", napi_float32_array, &dw, &ldw) || !check_len(a, "x", lx, {n, cols}, "n*cols") ||
      !check_len(a, "w", lw, {cols}, "cols") || !check_len(a, "r", lr, {n}, "n") || !check_len(a, "dy", ld, {n, cols}, "n*cols") ||
      !check_len(a, "dx", ldx, {n, cols}, "n*cols") || !check_len(a, "dw", ldw, {cols}, "cols"))
    return nullptr;
  rms_norm_train_bwd(x, w, r, dy, n, cols, dx, dw);
  return undefined(env);
}

napi_value SumSquaresJs(napi_env env, napi_callback_info info) {
  Args a;
  const float* x = nullptr;
  int64_t lx = 0;
  if (!get_args(env, info, "sumSquares", 1, a) || !get_array(a, 0, "x", napi_float32_array, const_cast<float**>(&x), &lx))
    return nullptr;
  napi_value r;
  napi_create_double(env, sum_squares(x, lx), &r);
  return r;
}

// Checks that a batch of matrices of `size` elements at `stride` fits in `len`.
bool check_batch(Args& a, const char* name, int64_t len, int64_t batch, int64_t stride, std::initializer_list<int64_t> shape) {
  int64_t size = 0, span = 0, need = 0;
  if (!size_product(a, name, shape, "rows*cols", &size) || !size_product(a, name, {batch == 0 ? 0 : batch - 1, stride}, "(batch-1)*stride", &span))
    return false;
  if (__builtin_add_overflow(span, size, &need)) return fail_range(a, std::string(name) + ": (batch-1)*stride + rows*cols overflows 64 bits");
  if (batch == 0) need = 0;
  if (len >= need) return true;
  return fail_range(a, std::string(name) + " has length " + std::to_string(len) + ", needs (batch-1)*stride + rows*cols = " +
                           std::to_string(need));
}

napi_value SgemmJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *pa = nullptr, *pb = nullptr;
  float* pc = nullptr;
  int64_t m = 0, n = 0, k = 0, la = 0, lb = 0, lc = 0;
  bool ta = false, tb = false;
  if (!get_args(env, info, "sgemm", 8, a) || !get_dim(a, 0, "m", &m) || !get_dim(a, 1, "n", &n) ||
      !get_dim(a, 2, "k", &k) || !get_array(a, 3, "a", napi_float32_array, const_cast<float**>(&pa), &la) ||
      !get_bool(a, 4, "transA", &ta) || !get_array(a, 5, "b", napi_float32_array, const_cast<float**>(&pb), &lb) ||
      !get_bool(a, 6, "transB", &tb) || !get_array(a, 7, "c", napi_float32_array, &pc, &lc) ||
      !check_len(a, "a", la, {m, k}, "m*k") || !check_len(a, "b", lb, {k, n}, "k*n") ||
      !check_len(a, "c", lc, {m, n}, "m*n"))
    return nullptr;
  bool bf16 = false;  // optional: bf16 inputs, float32 accumulation (sgemm_bf16.cc)
  if (a.argc > 8 && !get_bool(a, 8, "bf16", &bf16)) return nullptr;
  if (bf16) sgemm_bf16(m, n, k, pa, ta, pb, tb, pc);
  else sgemm_batched(1, m, n, k, pa, 0, ta, pb, 0, tb, pc, 0);
  return undefined(env);
}

napi_value SgemmBatchedJs(napi_env env, napi_callback_info info) {
  Args a;
  const float *pa = nullptr, *pb = nullptr;
  float* pc = nullptr;
  int64_t batch = 0, m = 0, n = 0, k = 0, sa = 0, sb = 0, sc = 0, la = 0, lb = 0, lc = 0;
  bool ta = false, tb = false;
  if (!get_args(env, info, "sgemmBatched", 12, a) || !get_dim(a, 0, "batch", &batch) || !get_dim(a, 1, "m", &m) ||
      !get_dim(a, 2, "n", &n) || !get_dim(a, 3, "k", &k) ||
      !get_array(a, 4, "a", napi_float32_array, const_cast<float**>(&pa), &la) || !get_dim(a, 5, "strideA", &sa) ||
      !get_bool(a, 6, "transA", &ta) || !get_array(a, 7, "b", napi_float32_array, const_cast<float**>(&pb), &lb) ||
      !get_dim(a, 8, "strideB", &sb) || !get_bool(a, 9, "transB", &tb) ||
      !get_array(a, 10, "c", napi_float32_array, &pc, &lc) || !get_dim(a, 11, "strideC", &sc) ||
      !check_batch(a, "a", la, batch, sa, {m, k}) || !check_batch(a, "b", lb, batch, sb, {k, n}) ||
      !check_batch(a, "c", lc, batch, sc, {m, n}))
    return nullptr;
  if (batch > 1 && sc < m * n) {
    fail_range(a, "strideC must be at least m*n (outputs must not overlap), got " + std::to_string(sc));
    return nullptr;
  }
  sgemm_batched(batch, m, n, k, pa, sa, ta, pb, sb, tb, pc, sc);
  return undefined(env);
}

napi_value ReadBandwidthJs(napi_env env, napi_callback_info info) {
  Args a;
  const uint8_t* buf = nullptr;
  int64_t len = 0, reps = 0;
  if (!get_args(env, info, "readBandwidth", 2, a) ||
      !get_array(a, 0, "buf", napi_uint8_array, const_cast<uint8_t**>(&buf), &len) || !get_dim(a, 1, "reps", &reps))
    return nullptr;
  napi_value v;
  napi_create_double(env, read_bandwidth(buf, len, static_cast<int>(std::min<int64_t>(reps, 1000))), &v);
  return v;
}

// Weight memory for the engine. A V8 ArrayBuffer of this size comes from calloc/mmap and starts 16
// bytes past a page boundary, so every 64-byte load of the kernels straddles two cache lines (measured:
// 16 vs 27 GB/s for a 125m-shaped GEMV set). Here the buffer starts on a 2 MB boundary, and with
// hugePages MADV_HUGEPAGE is advised (the kernel's THP mode is usually "madvise"): fewer TLB misses on
// the weight stream (measured: +15-20% at 700m shape). On Linux the memory is a private anonymous
// mapping: zero, and pages never touched cost no RSS.
constexpr size_t kHugePage = size_t(2) << 20;

struct Mapping {
  void* base;
  size_t len;
};

void unmap(Mapping* m) {
#if defined(__linux__)
  munmap(m->base, m->len);
#else
  std::free(m->base);
#endif
  delete m;
}

void free_aligned(napi_env env, void* data, void* hint) {
  Mapping* m = static_cast<Mapping*>(hint);
  int64_t ignored;
  napi_adjust_external_memory(env, -static_cast<int64_t>(m->len), &ignored);
  unmap(m);
}

napi_value AllocAlignedJs(napi_env env, napi_callback_info info) {
  Args a;
  int64_t bytes = 0;
  bool huge = false;
  if (!get_args(env, info, "allocAligned", 2, a) || !get_dim(a, 0, "bytes", &bytes) || !get_bool(a, 1, "hugePages", &huge))
    return nullptr;
  const size_t size = std::max<size_t>(1, static_cast<size_t>(bytes));
  Mapping* m = new Mapping{nullptr, 0};
  uint8_t* p = nullptr;
#if defined(__linux__)
  m->len = size + kHugePage;
  void* base = mmap(nullptr, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base != MAP_FAILED) {
    m->base = base;
    p = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) & ~(uintptr_t(kHugePage) - 1));
#if defined(MADV_HUGEPAGE)
    if (huge) madvise(p, (size + kHugePage - 1) & ~(kHugePage - 1), MADV_HUGEPAGE);  // advice: without it, still correct
#endif
  }
#else
  m->len = size;
  if (posix_memalign(&m->base, 64, size) == 0) {
    p = static_cast<uint8_t*>(m->base);
    std::memset(p, 0, size);
  }
#endif
  napi_value ab;
  if (p == nullptr || napi_create_external_arraybuffer(env, p, static_cast<size_t>(bytes), free_aligned, m, &ab) != napi_ok) {
    if (p != nullptr) unmap(m);
    else delete m;
    fail_range(a, "cannot allocate " + std::to_string(bytes) + " bytes");
    return nullptr;
  }
  int64_t ignored;
  napi_adjust_external_memory(env, static_cast<int64_t>(m->len), &ignored);
  return ab;
}

// Test only (test/native/pool-stress.test.ts): `jobs` pool runs cycling through the (counts[i], grains[i])
// shapes with the pool's publish window widened by delayNs; returns the anomaly counts of pool_stress.
napi_value PoolStressJs(napi_env env, napi_callback_info info) {
  Args a;
  const int32_t *counts = nullptr, *grains = nullptr;
  int64_t jobs = 0, lc = 0, lg = 0, delay = 0;
  if (!get_args(env, info, "poolStress", 4, a) || !get_dim(a, 0, "jobs", &jobs) ||
      !get_array(a, 1, "counts", napi_int32_array, const_cast<int32_t**>(&counts), &lc) ||
      !get_array(a, 2, "grains", napi_int32_array, const_cast<int32_t**>(&grains), &lg) ||
      !check_len(a, "grains", lg, {lc}, "counts.length") || !get_dim(a, 3, "delayNs", &delay))
    return nullptr;
  if (lc == 0) {
    fail_range(a, "counts must not be empty");
    return nullptr;
  }
  std::vector<StressSpec> specs;
  for (int64_t i = 0; i < lc; i++) {
    if (counts[i] < 1 || counts[i] > (1 << 24) || grains[i] < 1) {
      fail_range(a, "counts[i] must be in [1, 2^24] and grains[i] >= 1");
      return nullptr;
    }
    specs.push_back(StressSpec{counts[i], grains[i]});
  }
  pool_set_test_delay(delay);
  const StressResult r = pool_stress(jobs, specs.data(), static_cast<int>(specs.size()));
  pool_set_test_delay(0);
  napi_value o;
  napi_create_object(env, &o);
  const std::pair<const char*, int64_t> fields[] = {{"jobs", r.jobs}, {"missing", r.missing}, {"repeated", r.repeated},
                                                    {"wrongJob", r.wrong_job}, {"outOfRange", r.out_of_range}};
  for (const auto& f : fields) {
    napi_value v;
    napi_create_double(env, static_cast<double>(f.second), &v);
    napi_set_named_property(env, o, f.first, v);
  }
  return o;
}

bool get_string(Args& a, size_t i, const char* name, std::string* out) {
  napi_valuetype t;
  napi_typeof(a.env, a.v[i], &t);
  if (t != napi_string) return fail_type(a, std::string(name) + " must be a string");
  size_t len = 0;
  napi_get_value_string_utf8(a.env, a.v[i], nullptr, 0, &len);
  out->assign(len, '\0');
  napi_get_value_string_utf8(a.env, a.v[i], out->data(), len + 1, &len);
  return true;
}

// watchdogArm(what, limitMs): end the process with a one-line error if neither a beat nor the pool makes
// progress for limitMs (native/src/watchdog.h); watchdogBeat([what]); watchdogDisarm().
napi_value WatchdogArmJs(napi_env env, napi_callback_info info) {
  Args a;
  std::string what;
  int64_t ms = 0;
  if (!get_args(env, info, "watchdogArm", 2, a) || !get_string(a, 0, "what", &what) || !get_dim(a, 1, "limitMs", &ms))
    return nullptr;
  if (ms < 1) {
    fail_range(a, "limitMs must be at least 1");
    return nullptr;
  }
  watchdog_arm(what, ms);
  return undefined(env);
}

napi_value WatchdogBeatJs(napi_env env, napi_callback_info info) {
  Args a;
  if (!get_args(env, info, "watchdogBeat", 0, a)) return nullptr;
  if (a.argc == 0) {
    watchdog_beat();
    return undefined(env);
  }
  std::string what;
  if (!get_string(a, 0, "what", &what)) return nullptr;
  watchdog_beat(what);
  return undefined(env);
}

napi_value WatchdogDisarmJs(napi_env env, napi_callback_info) {
  watchdog_disarm();
  return undefined(env);
}

std::atomic<int> live_envs{0};

void on_env_cleanup(void*) {
  if (live_envs.fetch_sub(1) == 1) pool_shutdown();
}

}  // namespace

NAPI_MODULE_INIT() {
  live_envs.fetch_add(1);
  // Test only: BITNET_TEST_STALL_POOL_RUN=N makes the N-th pool run never return (the watchdog tests).
  if (const char* stall = std::getenv("BITNET_TEST_STALL_POOL_RUN")) pool_set_test_stall(std::atoll(stall));
  napi_add_env_cleanup_hook(env, on_env_cleanup, nullptr);
  const napi_property_descriptor props[] = {
      {"cpuFeatures", nullptr, CpuFeaturesJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"isa", nullptr, IsaJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setIsa", nullptr, SetIsaJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"threads", nullptr, ThreadsJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"setThreads", nullptr, SetThreadsJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"ternaryMatmul", nullptr, TernaryMatmulJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"ternaryMatmulScaled", nullptr, TernaryMatmulScaledJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"quantizeActivations", nullptr, QuantizeActivationsJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"matmulF32", nullptr, MatmulFloatJs<false>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"matmulF16", nullptr, MatmulFloatJs<true>, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"matmulQuant", nullptr, MatmulQuantJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"dequantRows", nullptr, DequantRowsJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"ternaryMatmulBlocks", nullptr, TernaryMatmulBlocksJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"ternaryBlocksToPacked", nullptr, TernaryBlocksToPackedJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"synthNormals", nullptr, SynthNormalsJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"synthTernary", nullptr, SynthTernaryJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"mapFile", nullptr, MapFileJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"attention", nullptr, AttentionJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"glu", nullptr, GluJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rmsNorm", nullptr, RmsNormJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"ropeApply", nullptr, RopeApplyJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"ropeStore", nullptr, RopeStoreJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"softmaxXent", nullptr, SoftmaxXentJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"adamwStep", nullptr, AdamwStepJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sumSquares", nullptr, SumSquaresJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"actFakeQuant", nullptr, ActFakeQuantJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"gatherRows", nullptr, GatherRowsJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"weightFakeQuant", nullptr, WeightFakeQuantJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"actScales", nullptr, ActScalesJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"weightScales", nullptr, WeightScalesJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"attentionTrain", nullptr, AttentionTrainJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"attentionTrainGrad", nullptr, AttentionTrainGradJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"bitLinearForward", nullptr, BitLinearForwardJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rmsNormTrain", nullptr, RmsNormTrainJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rmsNormTrainGrad", nullptr, RmsNormTrainGradJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"rmsNormActQuant", nullptr, RmsNormActQuantJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"gluTrain", nullptr, GluTrainJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"gluTrainGrad", nullptr, GluTrainGradJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"f16ToF32", nullptr, F16ToF32Js, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sgemm", nullptr, SgemmJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sgemmBatched", nullptr, SgemmBatchedJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"readBandwidth", nullptr, ReadBandwidthJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"allocAligned", nullptr, AllocAlignedJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"poolStress", nullptr, PoolStressJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"watchdogArm", nullptr, WatchdogArmJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"watchdogBeat", nullptr, WatchdogBeatJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"watchdogDisarm", nullptr, WatchdogDisarmJs, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
