import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { createAtomicFile, withTempDir, writeFileAtomic } from '../../src/format/index.ts';
import { expectReject, tempDir } from './helpers.ts';

describe('format/atomic', () => {
  const dir = tempDir();
  const entries = (prefix: string): string[] => fs.readdirSync(dir).filter((n) => n.startsWith(prefix)).sort();

  it('writeFileAtomic writes strings and bytes, replaces, and leaves no temp file', () => {
    const file = path.join(dir, 'state.json');
    writeFileAtomic(file, '{"step":1}');
    expect(fs.readFileSync(file, 'utf8')).to.equal('{"step":1}');
    writeFileAtomic(file, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(file)]).to.deep.equal([1, 2, 3]);
    expect(entries('state.json')).to.deep.equal(['state.json']);
  });

  it('createAtomicFile shows nothing at the final path until commit, and abort removes the temp file', () => {
    const file = path.join(dir, 'big.bin');
    const f = createAtomicFile(file);
    fs.writeSync(f.fd, Buffer.from('part'));
    expect(fs.existsSync(file)).to.equal(false);
    expect(path.dirname(f.tempPath)).to.equal(dir);
    f.commit();
    expect(fs.readFileSync(file, 'utf8')).to.equal('part');
    f.abort(); // no-op after commit
    expect(fs.readFileSync(file, 'utf8')).to.equal('part');

    const g = createAtomicFile(file);
    fs.writeSync(g.fd, Buffer.from('half'));
    g.abort();
    g.abort();
    expect(fs.readFileSync(file, 'utf8')).to.equal('part');
    expect(entries('big.bin')).to.deep.equal(['big.bin']);
    expect(() => g.commit()).to.throw(/already committed or aborted/);
  });

  it('withTempDir builds a directory under a temporary name and swaps it in', async () => {
    const final = path.join(dir, 'ckpt', 'step-10');
    const seen = await withTempDir(final, (tmp) => {
      expect(fs.existsSync(final)).to.equal(false);
      fs.writeFileSync(path.join(tmp, 'a.txt'), 'one');
      return tmp;
    });
    expect(seen).to.not.equal(final);
    expect(fs.existsSync(seen)).to.equal(false);
    expect(fs.readFileSync(path.join(final, 'a.txt'), 'utf8')).to.equal('one');

    // replacing: the old content is gone, only the new remains, no siblings left behind
    await withTempDir(final, async (tmp) => {
      fs.writeFileSync(path.join(tmp, 'b.txt'), 'two');
    });
    expect(fs.readdirSync(final)).to.deep.equal(['b.txt']);
    expect(fs.readdirSync(path.join(dir, 'ckpt'))).to.deep.equal(['step-10']);
  });

  it('withTempDir keeps the old directory and removes the temporary one when the builder fails', async () => {
    const final = path.join(dir, 'data');
    await withTempDir(final, (tmp) => fs.writeFileSync(path.join(tmp, 'x'), 'old'));
    await expectReject(withTempDir(final, (tmp) => {
      fs.writeFileSync(path.join(tmp, 'x'), 'new');
      throw new Error('builder failed');
    }), /builder failed/);
    expect(fs.readFileSync(path.join(final, 'x'), 'utf8')).to.equal('old');
    expect(entries('data')).to.deep.equal(['data']);
  });
});
