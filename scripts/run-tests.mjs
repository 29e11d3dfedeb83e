// `npm test`: type-check, then mocha over the TypeScript tests, then one plain closing line
// `N passed, N failed` (CI reads that line; mocha's own summary is not read there).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const bin = (name) => path.join('node_modules', '.bin', name);
const extra = process.argv.slice(2);

const tsc = spawnSync(bin('tsc'), ['--noEmit', '-p', '.'], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.log('type-check failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
console.log('type-check: ok');

const countsFile = path.join(os.tmpdir(), `bitnet-test-counts-${process.pid}.json`);
const files = extra.length > 0 ? extra : ['test/**/*.test.ts'];
const mocha = spawnSync(
  bin('mocha'),
  ['--import=tsx', '--reporter', './test/support/reporter.cjs', '--timeout', '120000', ...files],
  { stdio: 'inherit', env: { ...process.env, BITNET_TEST_COUNTS: countsFile } },
);
let counts = { passed: 0, failed: 1 };
try {
  counts = JSON.parse(readFileSync(countsFile, 'utf8'));
  rmSync(countsFile);
} catch {
  console.log('mocha did not report its counts (crashed before the end?)');
}
const failed = counts.failed + (mocha.status !== 0 && counts.failed === 0 ? 1 : 0);
console.log(`${counts.passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
