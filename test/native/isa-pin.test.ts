/**
 * BITNET_ISA pins the native kernels' instruction set (src/native/addon.ts pinIsa): `bitnet info`
 * reports the pinned one; an unknown name, or an ISA this CPU lacks, is one stderr line and exit 2.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { nativeAddon } from '../../src/native/addon.ts';

const BIN = path.resolve('bin/bitnet.js');
const info = (isa: string) => spawnSync(process.execPath, [BIN, 'info'], { encoding: 'utf8', env: { ...process.env, BITNET_ISA: isa } });

describe('native addon: BITNET_ISA pins the kernels\' instruction set', function () {
  this.timeout(60_000);
  if (process.env.BITNET_NO_NATIVE === '1') return;

  it('scalar and avx2 (where the CPU has it) are what `bitnet info` reports; auto is the best', () => {
    const best = nativeAddon()!.isa();
    for (const isa of ['scalar', ...(best === 'scalar' ? [] : ['avx2']), 'auto']) {
      const r = info(isa);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^native kernels: ${isa === 'auto' ? best : isa} `, 'm'));
    }
  });

  it('an unknown name, or an ISA the CPU lacks, is one line naming BITNET_ISA, exit 2', () => {
    const bad = info('sse9');
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.equal('bitnet: BITNET_ISA: "sse9" is not one of auto, avx512vnni, avx2, scalar\n');
    const best = nativeAddon()!.isa();
    if (best !== 'avx512vnni') {
      const r = info('avx512vnni');
      expect(r.status).to.equal(2);
      expect(r.stderr).to.equal(`bitnet: BITNET_ISA: avx512vnni: this CPU lacks it (its best is ${best})\n`);
    }
  });
});
