/**
 * An inference process keeps V8's young generation small (src/infer/heap.ts): without that, the
 * strings a vocabulary leaves alive make V8 grow it to two 16 MB semi-spaces, resident for good
 * (~30 MB of the 2B4T shape's peak RSS). The control arm shows the same allocations growing it.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { rmDir, tmpDir } from '../support/tiny.ts';

describe('infer/heap: the young generation stays small once an engine is loaded', function () {
  this.timeout(120_000);
  let dir: string;
  let file: string;
  before(() => {
    dir = tmpDir('heap');
    file = path.join(dir, 'tiny.gguf');
    const s = spawnSync(process.execPath, ['bin/bitnet.js', 'synth', '--shape', '256,2,512,4,4,4096', '--out', file], { encoding: 'utf8' });
    expect(s.status, s.stderr).to.equal(0);
  });
  after(() => rmDir(dir));

  const newSpaceMB = (mode: string): number => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/young-gen-child.ts', file, mode], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { newSpaceMB: number }).newSpaceMB;
  };

  it('300 K surviving strings grow it past 16 MB in a plain process, not after loadEngine', () => {
    const plain = newSpaceMB('none');
    const engine = newSpaceMB('engine');
    expect(plain, 'control: the allocations grow a default young generation').to.be.above(16);
    expect(engine, `new space after loadEngine (plain process: ${plain.toFixed(1)} MB)`).to.be.below(12);
  });
});
