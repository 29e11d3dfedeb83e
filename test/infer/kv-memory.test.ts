/**
 * The KV cache is allocated for the whole context but must cost memory only as it fills: one token
 * on the 125m shape (a 151 MB cache) may add a few MB of RSS, not the cache. With huge pages on the
 * cache (the weights' store) the first token made all of it resident: `bitnet generate` peaked at
 * 309 MB for a 72 MB file, 171 MB without.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { rmDir, tmpDir } from '../support/tiny.ts';

describe('infer/kv-memory: the KV cache is resident only where written', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = tmpDir('kv')));
  after(() => rmDir(dir));

  it('one token on the 125m shape adds well under a tenth of its 151 MB cache to RSS', function () {
    if (!existsSync('/proc/self/status')) this.skip(); // Linux only: RSS from /proc
    const file = path.join(dir, 's125.gguf');
    const s = spawnSync(process.execPath, ['bin/bitnet.js', 'synth', '--shape', '125m', '--type', 'tq2_0', '--out', file], { encoding: 'utf8' });
    expect(s.status, s.stderr).to.equal(0);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/kv-rss-child.ts', file], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { kvBytes: number; loadedMB: number; afterMB: number };
    expect(m.kvBytes / 2 ** 20).to.be.above(140);
    expect(m.afterMB - m.loadedMB, `RSS ${m.loadedMB.toFixed(1)} -> ${m.afterMB.toFixed(1)} MB`).to.be.below(m.kvBytes / 2 ** 20 / 10);
  });
});
