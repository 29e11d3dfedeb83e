/**
 * scripts/keep-finished-runs.sh: it stages the records of finished runs (never checkpoints), and holds
 * back a finished run that an unfinished run of the study warm-starts from, since a clone with the
 * source's records but not its checkpoint would skip the source and then fail the warm start.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { rmDir, tmpDir } from '../support/tiny.ts';

const script = path.resolve('scripts/keep-finished-runs.sh');

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' });
}

/** A run directory with the files a finished (or, without DONE, unfinished) run holds. */
function run(root: string, rel: string, finished: boolean): void {
  const dir = path.join(root, rel);
  mkdirSync(path.join(dir, 'checkpoints', 'step-4'), { recursive: true });
  for (const f of ['run.json', 'config.json', 'hosts.json', 'metrics.arrow', 'train.log']) writeFileSync(path.join(dir, f), `${f}\n`);
  writeFileSync(path.join(dir, 'checkpoints', 'step-4', 'state.json'), '{}\n');
  if (finished) {
    writeFileSync(path.join(dir, 'engine.json'), '{}\n');
    writeFileSync(path.join(dir, 'DONE'), '\n');
  }
}

describe('scripts/keep-finished-runs.sh', () => {
  let repo: string;
  beforeEach(() => {
    repo = tmpDir('keep-runs');
    git(repo, 'init', '-q');
    const study = path.join(repo, 'experiments', 's');
    mkdirSync(path.join(study, 'runs'), { recursive: true });
    const arms = [
      { name: 'a', set: {} },
      { name: 'src', set: { 'model.weight_quant': 'fp' } },
      { name: 'warm', set: { 'train.init_from': { run: 'study:src', moments: 'reset' } } },
    ];
    writeFileSync(path.join(study, 'study.json'), JSON.stringify({ name: 's', arms, seeds: [1, 2] }));
    writeFileSync(path.join(study, 'runs', 'study.lock.json'), '{}\n');
  });
  afterEach(() => rmDir(repo));

  function keep(): { status: number | null; stdout: string; stderr: string; staged: string[] } {
    const r = spawnSync('sh', [script, 'experiments/s'], { cwd: repo, encoding: 'utf8' });
    const staged = git(repo, 'diff', '--cached', '--name-only').split('\n').filter((l) => l !== '');
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, staged };
  }

  it('stages finished runs without checkpoints, and holds back a warm-start source whose dependent is unfinished', () => {
    const runs = path.join(repo, 'experiments', 's', 'runs');
    run(runs, 'a/seed-1', true);
    run(runs, 'a/seed-2', false);
    run(runs, 'src/seed-1', true); // warm/seed-1 finished: keep
    run(runs, 'src/seed-2', true); // warm/seed-2 unfinished: hold back
    run(runs, 'warm/seed-1', true);
    run(runs, 'warm/seed-2', false);
    const r = keep();
    expect(r.status).to.equal(0);
    expect(r.stdout).to.contain('3 finished run(s) of experiments/s staged, 1 held back');
    expect(r.stderr).to.contain('runs/src/seed-2 held back: arm warm warm-starts from it');
    const dirs = [...new Set(r.staged.filter((f) => f.includes('/seed-')).map((f) => f.split('/').slice(3, 5).join('/')))].sort();
    expect(dirs).to.deep.equal(['a/seed-1', 'src/seed-1', 'warm/seed-1']);
    expect(r.staged.some((f) => f.includes('checkpoints'))).to.equal(false);
    expect(r.staged).to.include('experiments/s/runs/a/seed-1/DONE');
    expect(r.staged).to.include('experiments/s/runs/study.lock.json');
  });

  it('keeps the source once its dependent has finished', () => {
    const runs = path.join(repo, 'experiments', 's', 'runs');
    run(runs, 'src/seed-1', true);
    run(runs, 'warm/seed-1', true);
    const r = keep();
    expect(r.status).to.equal(0);
    expect(r.stdout).to.contain('2 finished run(s) of experiments/s staged');
    expect(r.stdout).to.not.contain('held back');
  });

  it('a directory without study.json is refused with exit 2', () => {
    const r = spawnSync('sh', [script, 'experiments/none'], { cwd: repo, encoding: 'utf8' });
    expect(r.status).to.equal(2);
    expect(r.stderr.trim()).to.equal('keep-finished-runs: experiments/none/study.json: no such study');
  });
});
