/**
 * The model's parameters by GGUF name (llama.cpp "bitnet" arch), with their shapes in PyTorch order
 * (out, in) and how they are initialized and regularized. The checkpoint, the export and the engine
 * all use these names, so nothing is renamed between the halves.
 */
import type { ModelConfig } from '../config/model.ts';
import { headDim } from '../config/model.ts';
import { Rng, mixSeed } from '../data/rng.ts';

export type ParamKind = 'embedding' | 'norm' | 'linear' | 'head';

export interface ParamSpec {
  name: string;
  /** PyTorch order: [out, in] for matrices. GGUF's ne is the reverse. */
  shape: number[];
  kind: ParamKind;
}

/** The names of the quantized linears of block i, in the order of the forward pass. */
export const LINEARS = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;
export type LinearName = (typeof LINEARS)[number];

export function linearShape(c: ModelConfig, l: LinearName): [number, number] {
  const kv = c.n_kv_heads * headDim(c);
  switch (l) {
    case 'attn_q':
    case 'attn_output':
      return [c.d_model, c.d_model];
    case 'attn_k':
    case 'attn_v':
      return [kv, c.d_model];
    case 'ffn_gate':
    case 'ffn_up':
      return [c.d_ff, c.d_model];
    case 'ffn_down':
      return [c.d_model, c.d_ff];
  }
}

export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: 'token_embd.weight', shape: [c.vocab_size, c.d_model], kind: 'embedding' }];
  for (let i = 0; i < c.n_layers; i++) {
    const b = `blk.${i}`;
    specs.push({ name: `${b}.attn_norm.weight`, shape: [c.d_model], kind: 'norm' });
    for (const l of LINEARS.slice(0, 3)) specs.push({ name: `${b}.${l}.weight`, shape: linearShape(c, l), kind: 'linear' });
    if (c.subln === 'on') specs.push({ name: `${b}.attn_sub_norm.weight`, shape: [c.d_model], kind: 'norm' });
    specs.push({ name: `${b}.attn_output.weight`, shape: linearShape(c, 'attn_output'), kind: 'linear' });
    specs.push({ name: `${b}.ffn_norm.weight`, shape: [c.d_model], kind: 'norm' });
    for (const l of ['ffn_gate', 'ffn_up'] as const) specs.push({ name: `${b}.${l}.weight`, shape: linearShape(c, l), kind: 'linear' });
    if (c.subln === 'on') specs.push({ name: `${b}.ffn_sub_norm.weight`, shape: [c.d_ff], kind: 'norm' });
    specs.push({ name: `${b}.ffn_down.weight`, shape: linearShape(c, 'ffn_down'), kind: 'linear' });
  }
  specs.push({ name: 'output_norm.weight', shape: [c.d_model], kind: 'norm' });
  if (!c.tie_embeddings) specs.push({ name: 'output.weight', shape: [c.vocab_size, c.d_model], kind: 'head' });
  return specs;
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
