import { expect } from 'chai';
import { ModelConfig, paramCount, parseWeightScale, RunConfig, applyOverrides, parseWith } from '../../src/config/index.ts';
import { InputError } from '../../src/errors.ts';

describe('config/model', () => {
  it('fills typed defaults', () => {
    const c = ModelConfig.parse({});
    expect(c.d_model).to.equal(256);
    expect(c.weight_quant).to.equal('ternary');
  });

  it('rejects unknown keys, wrong types and d_model not divisible by n_heads, naming the key', () => {
    expect(() => parseWith(ModelConfig, { d_modle: 3 }, 'cfg.json')).to.throw(InputError, /cfg\.json: .*unknown key "d_modle"/);
    expect(() => parseWith(ModelConfig, { d_model: 'big' }, 'cfg.json')).to.throw(InputError, /d_model/);
    expect(() => parseWith(ModelConfig, { d_model: 250, n_heads: 4 }, 'cfg.json')).to.throw(InputError, /not divisible by n_heads/);
    expect(() => parseWith(ModelConfig, { weight_scale: 'group:0' }, 'cfg.json')).to.throw(InputError, /weight_scale/);
  });

  it('parses the scale granularity', () => {
    expect(parseWeightScale('row')).to.deep.equal({ kind: 'row' });
    expect(parseWeightScale('group:64')).to.deep.equal({ kind: 'group', size: 64 });
  });

  it('counts parameters of the tiny shape', () => {
    const c = ModelConfig.parse({ vocab_size: 256, d_model: 256, n_layers: 4, d_ff: 1024 });
    // 4 x (4·256² attn + 3·256·1024 ffn + norms) + embeddings
    expect(paramCount(c)).to.equal(4 * (4 * 65536 + 3 * 262144 + 256 * 3 + 1024) + 256 * 256 + 256);
  });
});

describe('config/overrides', () => {
  it('applies --set with JSON values and rejects typos through the schema', () => {
    const v = applyOverrides({ model: { d_model: 256 } }, ['model.d_model=512', 'train.steps=7', 'model.activation=relu2']);
    const c = RunConfig.parse(v);
    expect(c.model.d_model).to.equal(512);
    expect(c.train.steps).to.equal(7);
    expect(c.model.activation).to.equal('relu2');
    expect(() => parseWith(RunConfig, applyOverrides({}, ['model.dmodel=3']), '--set')).to.throw(/unknown key "dmodel"/);
    expect(() => applyOverrides({}, ['nokey'])).to.throw(/key=value/);
  });
});
