import type { ArrowColumn } from './arrow.ts';

export function decodeArrow(bytes: Uint8Array, opts: { stream?: boolean; maxBatches: number }): { numRows: number; metadata: [string, string][]; columns: ArrowColumn[] };
