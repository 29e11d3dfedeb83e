// Run-time CPU feature detection and the instruction set the kernels use (setIsa can lower it, for
// tests and comparisons; it can never raise it above what the CPU and OS support).
#include <atomic>

#include "kernels.h"

namespace bitnet {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c{};
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();  // libgcc also checks that the OS saves the AVX / AVX-512 state (XCR0)
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.f16c = __builtin_cpu_supports("f16c");
    c.avx512vnni = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512bw");
    c.avx512bf16 = c.avx512vnni && __builtin_cpu_supports("avx512bf16");
#endif
    return c;
  }();
  return f;
}

Isa best_isa() {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx2 && f.fma && f.f16c)) return Isa::Scalar;
  return f.avx512vnni ? Isa::Avx512Vnni : Isa::Avx2;
}

namespace {
std::atomic<int> chosen{-1};  // -1: best_isa()
}

Isa isa() {
  const int c = chosen.load(std::memory_order_relaxed);
  return c < 0 ? best_isa() : static_cast<Isa>(c);
}

bool set_isa(Isa want) {
  if (want > best_isa()) return false;
  chosen.store(static_cast<int>(want), std::memory_order_relaxed);
  return true;
}

void reset_isa() { chosen.store(-1, std::memory_order_relaxed); }

}  // namespace bitnet
