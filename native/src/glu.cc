// The gated FFN activation, gate[i] = act(gate[i]) * up[i], with the TypeScript reference's arithmetic
// (src/infer/kernels/reference.ts, `glu`): in double, left to right, rounded to float once.
//   silu:  (g / (1 + exp(-g))) * u        relu2:  g > 0 ? (g * g) * u : 0
// exp is libm's where the reference uses V8's (both within an ulp of double), so a result can differ in
// the last float bit in rare cases; everything else is exact. Scalar (a vector exp would not be the
// same function); chunks of elements run on the pool threads.
#include <cmath>

#include "kernels.h"
#include "pool.h"

namespace bitnet {

void glu(float* gate, const float* up, int64_t len, bool silu) {
  constexpr int64_t kGrain = 1024;
  pool_for(len, kGrain, [&](int64_t b, int64_t e) {
    if (silu) {
      for (int64_t i = b; i < e; i++) {
        const double g = gate[i];
        gate[i] = static_cast<float>((g / (1.0 + std::exp(-g))) * static_cast<double>(up[i]));
      }
    } else {
      for (int64_t i = b; i < e; i++) {
        const double g = gate[i];
        gate[i] = g > 0 ? static_cast<float>((g * g) * static_cast<double>(up[i])) : 0.0f;
      }
    }
  });
}

}  // namespace bitnet
