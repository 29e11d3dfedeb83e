// Does llama.cpp (through node-llama-cpp, installed by `npm run bench:infer`) load one of our exported
// GGUF files, tokenize text as we do, and continue it? `node bench/peers/compat-check.mjs FILE.gguf "text"`
// prints llama.cpp's token ids and its greedy continuation as JSON, to compare with
// `bitnet generate FILE --prompt text --temperature 0` (llama.cpp quantizes activations per 256-block,
// not per token, so its logits differ slightly from ours and long continuations may part).
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const [file, text = 'Call me Ishmael.', n = '24'] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
const ids = model.tokenize(text);
const context = await model.createContext({ contextSize: 256, threads: 1 });
const seq = context.getSequence();
const out = [];
for await (const t of seq.evaluate(ids, { temperature: 0 })) {
  out.push(t);
  if (out.length >= Number(n)) break;
}
console.log(JSON.stringify({ file, tokens: Array.from(ids), continuation: model.detokenize(out), continuation_ids: out }));
await context.dispose();
await model.dispose();
