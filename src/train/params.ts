/**
 * The model's parameters by GGUF name: the architecture's tensor table (src/format/gguf/bitnet.ts, the
 * one home of names, shapes and order), with how each is initialized and regularized. The checkpoint,
 * the export and the engine all use these names, so nothing is renamed between the halves.
 */
import type { ModelConfig } from '../config/model.ts';
import { Rng, mixSeed } from '../data/rng.ts';
import { tensorTable, type TensorRole, type TensorSpec } from '../format/gguf/bitnet.ts';

export type ParamKind = TensorRole;

export interface ParamSpec {
  name: string;
  /** PyTorch order: [out, in] for matrices. GGUF's ne is the reverse. */
  shape: number[];
  kind: ParamKind;
}

export function paramSpecs(c: ModelConfig): ParamSpec[] {
  return tensorTable(c, { subln: c.subln === 'on', tied: c.tie_embeddings }).map((t: TensorSpec) => ({ name: t.name, shape: t.shape, kind: t.role }));
}

/** The quantized linears (every BitLinear weight), by name. */
export function linearNames(c: ModelConfig): string[] {
  return paramSpecs(c).filter((s) => s.kind === 'linear').map((s) => s.name);
}

/**
 * Initial values: N(0, init_std²) for matrices, with the residual projections (attn_output, ffn_down)
 * scaled by 1/sqrt(2·n_layers) as in GPT-2 so the residual stream does not grow with depth; norms at 1.
 * Each tensor draws from its own stream keyed by (seed, index), so adding a tensor does not shift the others.
 */
export function initParams(c: ModelConfig): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  paramSpecs(c).forEach((s, idx) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (s.kind === 'norm') v.fill(1);
    else {
      const residual = s.name.endsWith('attn_output.weight') || s.name.endsWith('ffn_down.weight');
      new Rng(mixSeed(c.seed, idx)).fillNormal(v, residual ? c.init_std / Math.sqrt(2 * c.n_layers) : c.init_std);
    }
    out.set(s.name, v);
  });
  return out;
}
