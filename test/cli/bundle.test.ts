/**
 * bin/bitnet.js runs every command from the esbuild bundle (dist/cli.mjs; a study run's process is
 * dist/worker.mjs), with tsx only as the fallback. The bundle must be the same program: the same
 * greedy text from the engine, the same loss at every training step, and never tsx's loader.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readMetrics } from '../../src/train/metrics.ts';
import { loadPrepared } from '../../src/data/load.ts';
import { rmDir, tinyConfig, tinyData, tmpDir } from '../support/tiny.ts';

const BIN = path.resolve('bin/bitnet.js');

function bitnet(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 256 * 2 ** 20, env: { ...process.env, ...env } });
  expect(r.status, `bitnet ${args.join(' ')}: ${r.stderr}`).to.equal(0);
  return r;
}
const BUNDLED = { NODE_DEBUG: 'esm' };
const TSX = { BITNET_NO_BUNDLE: '1' };

describe('cli/bundle: dist/cli.mjs is the same program as src/ through tsx', function () {
  this.timeout(240_000);
  let dir: string;
  before(() => (dir = tmpDir('bundle')));
  after(() => rmDir(dir));

  it('the engine: the same greedy text, from dist/cli.mjs and never tsx', async () => {
    const model = path.join(dir, 'b.gguf');
    bitnet(['synth', '--shape', '256,1,512,4,4,300', '--type', 'tq2_0', '--out', model]);
    const { bundleIsFresh, bundlePath } = await import('../../scripts/build-bundle.mjs');
    expect(bundleIsFresh(), `${bundlePath} is built and newer than every source`).to.equal(true);
    const args = ['generate', model, '--prompt', 'hi', '--max-tokens', '6', '--temperature', '0'];
    const viaBundle = bitnet(args, BUNDLED);
    const viaTsx = bitnet(args, TSX);
    expect(viaBundle.stdout).to.equal(viaTsx.stdout);
    expect(viaBundle.stderr, 'the bundle path loads dist/cli.mjs').to.contain('cli.mjs');
    expect(viaBundle.stderr, 'and never tsx').to.not.match(/tsx[/\\]dist/);
  });

  it('yargs is bundled, and --version and --help read the same from any directory', () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const elsewhere = (args: string[], env: Record<string, string>) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
    const viaBundle = elsewhere(['--version'], BUNDLED);
    expect(viaBundle.stdout.trim()).to.equal(version);
    expect(viaBundle.stderr, 'yargs comes from the bundle, not node_modules').to.not.match(/node_modules[/\\]yargs[/\\]/);
    expect(elsewhere(['--version'], TSX).stdout.trim()).to.equal(version);
    expect(elsewhere(['bench', '--help'], BUNDLED).stdout).to.equal(elsewhere(['bench', '--help'], TSX).stdout);
  });

  it('training: the same loss at every step and the same validation loss, with the gradients registered in the bundle', async () => {
    const data = await tinyData(dir);
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify(tinyConfig(loadPrepared(data).tokenizer.vocabSize, { train: { steps: 4, eval_every: 4, ckpt_every: 4 } })));
    const run = (name: string, env: Record<string, string>) => {
      const out = path.join(dir, name);
      const r = bitnet(['train', '--config', config, '--data', data, '--out', out], env);
      return { r, rows: readMetrics(path.join(out, 'metrics.arrow')) };
    };
    const b = run('bundled', BUNDLED);
    const t = run('tsx', TSX);
    expect(b.r.stderr).to.not.match(/tsx[/\\]dist/);
    expect(b.rows.map((x) => x.step)).to.deep.equal([1, 2, 3, 4]);
    expect(b.rows.map((x) => x.loss)).to.deep.equal(t.rows.map((x) => x.loss));
    expect(b.rows.map((x) => x.grad_norm)).to.deep.equal(t.rows.map((x) => x.grad_norm));
    expect(b.rows.at(-1)!.val_loss).to.equal(t.rows.at(-1)!.val_loss);
    expect(b.rows[3]!.loss).to.be.below(b.rows[0]!.loss);
  });
});
