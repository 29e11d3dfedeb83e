// Child of test/infer/kv-memory.test.ts: loads FILE with the default KV cache (the whole context),
// then runs one token, and prints {kvBytes, loadedMB, afterMB} (RSS from /proc/self/status).
import { readFileSync } from 'node:fs';
import { loadEngine } from '../../src/infer/engine.ts';

const rssMB = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const e = loadEngine(process.argv[2]!, { weights: 'copy' });
const hp = e.weights.hp;
const loadedMB = rssMB();
e.model.forward(Int32Array.of(1));
const afterMB = rssMB();
console.log(JSON.stringify({ kvBytes: 2 * hp.n_layers * hp.context_length * hp.kv_dim * 4, loadedMB, afterMB }));
e.close();
