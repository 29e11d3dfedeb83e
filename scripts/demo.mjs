// `npm run demo`: the whole product in a few minutes on a laptop-class CPU:
// prepare the bundled corpus → train the tiny ternary model → export GGUF → generate → evaluate.
// Each step is the plain CLI command, printed before it runs, so the demo doubles as a tutorial.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

const steps = process.env.BITNET_DEMO_STEPS ?? '300';
const run = 'runs/demo-b158';

function bitnet(...args) {
  console.log(`\n$ bitnet ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['bin/bitnet.js', ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`demo: "bitnet ${args[0]}" failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

const t0 = Date.now();
bitnet('info');
if (!existsSync('data/moby-dick/stats.json')) bitnet('prepare');
else console.log('\n(data/moby-dick is already prepared; `bitnet prepare` rebuilds it)');
rmSync(run, { recursive: true, force: true });
bitnet('train', '--config', 'experiments/configs/tiny-b158.json', '--out', run, '--steps', steps);
bitnet('export', run, '--out', `${run}/model.gguf`);
bitnet('generate', `${run}/model.gguf`, '--prompt', 'Call me Ishmael. ', '--max-tokens', '120', '--temperature', '0.8', '--top-k', '40', '--seed', '7');
bitnet('eval', `${run}/model.gguf`, '--data', 'data/moby-dick');
bitnet('bench', `${run}/model.gguf`, '--prompt-tokens', '64', '--gen-tokens', '64');
console.log(`\ndemo finished in ${((Date.now() - t0) / 1000).toFixed(0)} s; the run is in ${run}/ (metrics.arrow, checkpoints/, model.gguf)`);
