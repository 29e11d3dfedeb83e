/**
 * Size totals of an open GGUF file: elements, bytes and bits per weight over all tensors and over the
 * ternary linears alone (TQ1_0/TQ2_0). Shared by `bitnet inspect` and `bitnet bench`.
 */
import { TERNARY_TYPES } from './constants.ts';
import type { GGUFTensorInfo } from './reader.ts';

export interface GGUFTotals {
  tensors: number;
  elements: number;
  bytes: number;
  /** bytes * 8 / elements; 0 when there are no elements. */
  bitsPerWeight: number;
}

function totals(tensors: readonly GGUFTensorInfo[]): GGUFTotals {
  let elements = 0;
  let bytes = 0;
  for (const t of tensors) {
    elements += t.nElements;
    bytes += t.byteLength;
  }
  return { tensors: tensors.length, elements, bytes, bitsPerWeight: elements > 0 ? (bytes * 8) / elements : 0 };
}

/** Totals over all tensors and over the ternary ones. */
export function ggufTotals(tensors: readonly GGUFTensorInfo[]): { all: GGUFTotals; ternary: GGUFTotals } {
  return { all: totals(tensors), ternary: totals(tensors.filter((t) => TERNARY_TYPES.has(t.type))) };
}
