// Child of test/infer/heap.test.ts: with argv[3] "engine", loads the GGUF argv[2] first; then makes
// 300 K strings that stay alive (a LLaMA-3-sized vocabulary) and prints V8's new space, in MB of
// physical memory, as JSON.
import v8 from 'node:v8';
import { loadEngine } from '../../src/infer/engine.ts';

if (process.argv[3] === 'engine') loadEngine(process.argv[2]!, { weights: 'copy' }).close();
const kept: string[] = [];
for (let i = 0; i < 300_000; i++) kept.push(`token ${i} ${'x'.repeat(i % 13)}`);
const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!;
console.log(JSON.stringify({ newSpaceMB: space.physical_space_size / 1e6, kept: kept.length }));
