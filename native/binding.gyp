{
  # The bitnet-ts N-API addon. Built by scripts/build-native.mjs (the npm install hook) with node-gyp
  # against the local Node headers. No global -mavx2: the AVX2/FMA/F16C kernels are functions marked
  # __attribute__((target(...))) and chosen at run time (src/cpu.h), so the addon also loads and runs,
  # on its portable scalar kernels, on a CPU without AVX2.
  "targets": [
    {
      "target_name": "bitnet_native",
      "sources": [
        "src/addon.cc",
        "src/cpu.cc",
        "src/pool.cc",
        "src/pool_stress.cc",
        "src/watchdog.cc",
        "src/ternary.cc",
        "src/fmatmul.cc",
        "src/quants.cc",
        "src/tq_blocks.cc",
        "src/synth.cc",
        "src/attention.cc",
        "src/attention_train.cc",
        "src/glu.cc",
        "src/norm.cc",
        "src/rope.cc",
        "src/xent.cc",
        "src/adamw.cc",
        "src/actquant.cc",
        "src/bitlinear.cc",
        "src/sgemm.cc",
        "src/sgemm_bf16.cc",
        "src/quantize.cc",
        "src/membench.cc"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-O3", "-fno-math-errno", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-std=c++17", "-O3"],
      "cflags!": ["-O2"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3"]
      }
    }
  ]
}
