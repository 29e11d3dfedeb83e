/**
 * Round half to even, the rounding of tfjs `round` (cpu and wasm), PyTorch and C's `nearbyint` in the
 * default mode. `Math.round` rounds halves up (2.5 → 3, −0.5 → −0) and would make training and the
 * engine disagree on exactly the values that sit on a half, so quantization uses this instead.
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const frac = x - f; // exact for every finite double: the fraction needs no more bits than x has
  if (frac < 0.5) return f;
  if (frac > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The ε under every quantizer's scale (β = max(mean|W|, ε), s = Q / max(max|x|, ε)), as a float32
 * because that is what a tfjs scalar holds: comparing against the double 1e-5 would disagree with the
 * graph for a scale between the two.
 */
export const EPS = Math.fround(1e-5);
