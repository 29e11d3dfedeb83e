/**
 * `npm run fuzz`: the soak of every reader (test/fuzz/targets.ts) and of the CLI flags
 * (test/cli/fuzz.test.ts), beyond the seeded subset `npm test` runs.
 *
 *   npm run fuzz [-- --iterations 10000 --seed 1 --cli-runs 40 --only gguf]
 *
 * Each reader target runs in its own child process, so a crash (a signal from native code) or a hang
 * (the native watchdog ends a target that makes no progress) is reported with the target's name, not
 * lost. Prints per target: mutations, loaded, rejected (one-line InputError), findings, seconds. A
 * finding's input is kept under fuzz-findings/ for a regression test. Exit 1 on any finding.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { watch } from '../src/native/watchdog.ts';
import { fuzzTarget, fuzzTargets, type FuzzResult } from '../test/fuzz/targets.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const iterations = Number(arg('iterations', '10000'));
const seed = Number(arg('seed', String(Date.now() % 1e9)));
const cliRuns = Number(arg('cli-runs', '40'));
const only = arg('only', '');
const child = arg('child', '');
for (const [flag, v, min] of [['--iterations', iterations, 1], ['--seed', seed, 0], ['--cli-runs', cliRuns, 0]] as const)
  if (!Number.isSafeInteger(v) || v < min) {
    process.stderr.write(`fuzz: ${flag}: must be an integer >= ${min}\n`);
    process.exit(2);
  }

if (child !== '') {
  // One target in this process: its result as the last stdout line.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bitnet-fuzz-'));
  try {
    const t = (await fuzzTargets(dir)).find((x) => x.name === child);
    if (!t) throw new Error(`no target ${child}`);
    process.env.BITNET_WATCHDOG_S ??= '120';
    const w = watch(`fuzz of ${t.name}`);
    const r = fuzzTarget(t, iterations, seed, (i) => w.beat(`fuzz of ${t.name}, mutation ${i}`));
    w.stop();
    if (r.finding) {
      mkdirSync('fuzz-findings', { recursive: true });
      const file = path.join('fuzz-findings', `${t.name.replace(/[^a-z0-9]+/gi, '-')}-seed${seed}-${r.finding.iteration}.bin`);
      writeFileSync(file, r.finding.input);
      r.finding.error += `\n(input kept in ${file})`;
    }
    console.log(JSON.stringify({ ...r, finding: r.finding ? { iteration: r.finding.iteration, error: r.finding.error } : null }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
const names = (await (async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bitnet-fuzz-'));
  try {
    return (await fuzzTargets(dir)).map((t) => t.name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})()).filter((n) => only === '' || n.includes(only));

console.log(`fuzz: ${iterations} mutations per reader, seed ${seed}; CLI ${cliRuns} cases per command; ${os.cpus()[0]?.model}, node ${process.version}`);
let findings = 0;
for (const name of names) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', name, '--iterations', String(iterations), '--seed', String(seed)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let res: (FuzzResult & { finding: { iteration: number; error: string } | null }) | null = null;
  try {
    res = JSON.parse(last);
  } catch {
    res = null;
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  if (res === null) {
    findings++;
    console.log(`${name}: CRASH (exit ${r.status}${r.signal ? `, signal ${r.signal}` : ''}) after ${secs} s: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    continue;
  }
  if (res.finding) findings++;
  console.log(`${name}: ${res.iterations} mutations, ${res.loaded} loaded, ${res.rejected} rejected with a one-line InputError, ${res.finding ? 1 : 0} finding(s), ${res.seconds.toFixed(0)} s`);
  if (res.finding) console.log(`  finding at mutation ${res.finding.iteration}: ${res.finding.error.split('\n').slice(0, 6).join('\n  ')}`);
}
if (only === '' && cliRuns > 0) {
  const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', 'test/cli/fuzz.test.ts'], { encoding: 'utf8', env: { ...process.env, BITNET_FUZZ_RUNS: String(cliRuns), BITNET_FUZZ_SEED: String(seed) }, maxBuffer: 1 << 26 });
  const ok = r.status === 0;
  if (!ok) findings++;
  console.log(`cli: ${cliRuns} cases per command (12 commands): ${ok ? 'every case exit 0 or 2 with at most one stderr line' : `FAILED:\n${r.stdout.split('\n').filter((l) => l.includes('->')).slice(0, 20).join('\n')}`}`);
}
console.log(`${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
