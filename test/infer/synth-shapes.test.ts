// The named synth shapes: ours (125m, 700m, 2b4t) and bitnet.cpp's benchmark shapes up to 100B
// (utils/generate-dummy-bitnet-model.py), each a model our writer and llama.cpp's blocks can hold.
import { expect } from 'chai';
import { tensorTable } from '../../src/format/index.ts';
import { parseShape, SYNTH_SHAPES } from '../../src/infer/synth.ts';

/** Weights of the shape's tensor table (tied embedding counted once). */
function params(name: string): number {
  return tensorTable(SYNTH_SHAPES[name]!, { subln: true, tied: true }).reduce((a, t) => a + t.shape.reduce((p, q) => p * q, 1), 0);
}

describe('infer/synth: named shapes', () => {
  it('every named shape parses for TQ2_0, TQ1_0 and I2_S linears', () => {
    for (const name of Object.keys(SYNTH_SHAPES)) for (const type of ['tq2_0', 'tq1_0', 'i2_s'] as const) expect(parseShape(name, type), `${name} ${type}`).to.deep.equal(SYNTH_SHAPES[name]);
  });

  it("bitnet.cpp's shapes have the parameter counts their names say (within 3 %)", () => {
    const named: [string, number][] = [['350m', 0.35e9], ['1b', 1e9], ['1.5b', 1.5e9], ['2.7b', 2.7e9], ['3.8b', 3.8e9], ['7b', 7e9], ['13b', 13e9], ['30b', 30e9], ['70b', 70e9], ['100b', 100e9]];
    for (const [name, n] of named) expect(Math.abs(params(name) / n - 1), `${name}: ${params(name)}`).to.be.below(0.03);
  });
});
