/**
 * The loss plot of a study: seed-mean validation loss per arm against training tokens, with a
 * min–max band across seeds. A vega-lite spec, compiled to vega, rendered headless to SVG (renderer
 * "none", view.toSVG()) and rasterized to PNG by @resvg/resvg-js.
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { mean } from './stats.ts';

export interface CurvePoint {
  arm: string;
  tokens: number;
  mean: number;
  min: number;
  max: number;
  n: number;
}

/** One point per (arm, tokens) from every seed's validation losses at that point. */
export function lossCurves(series: readonly { arm: string; points: readonly { tokens: number; val_loss: number }[] }[]): CurvePoint[] {
  const by = new Map<string, { arm: string; tokens: number; values: number[] }>();
  for (const s of series)
    for (const p of s.points) {
      if (!Number.isFinite(p.val_loss)) continue;
      const key = `${s.arm}\u0000${p.tokens}`;
      const e = by.get(key) ?? { arm: s.arm, tokens: p.tokens, values: [] };
      e.values.push(p.val_loss);
      by.set(key, e);
    }
  return [...by.values()].map((e) => ({ arm: e.arm, tokens: e.tokens, mean: mean(e.values), min: Math.min(...e.values), max: Math.max(...e.values), n: e.values.length }));
}

export function lossPlotSpec(points: readonly CurvePoint[], title: string, armOrder: readonly string[]): TopLevelSpec {
  const color = { field: 'arm', type: 'nominal', title: 'arm', scale: { domain: [...armOrder] } } as const;
  const x = { field: 'tokens', type: 'quantitative', title: 'training tokens' } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 640,
    height: 380,
    background: 'white',
    config: { legend: { labelLimit: 400 } },
    data: { values: points.map((p) => ({ ...p })) },
    layer: [
      { mark: { type: 'area', opacity: 0.18 }, encoding: { x, y: { field: 'min', type: 'quantitative', title: 'validation loss (nats/token)', scale: { zero: false } }, y2: { field: 'max' }, color } },
      { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, color } },
    ],
  };
}

export async function renderLossPlot(points: readonly CurvePoint[], title: string, armOrder: readonly string[]): Promise<{ svg: string; png: Uint8Array }> {
  const vg = compile(lossPlotSpec(points, title, armOrder)).spec;
  const view = new vega.View(vega.parse(vg), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: 2 } }).render().asPng();
    return { svg, png };
  } finally {
    view.finalize();
  }
}
