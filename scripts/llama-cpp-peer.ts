/**
 * llama.cpp's own tools (llama-bench, llama-quantize, llama-completion), built on demand from the
 * llama.cpp source that node-llama-cpp ships (bench/peers/node_modules/node-llama-cpp/llama/
 * gitRelease.bundle): offline, with cmake, cached under bench/peers/llama.cpp (git-ignored), never part
 * of `npm ci`. The benchmarks compare against llama-bench because that is the number llama.cpp's users
 * quote; the compatibility goldens need llama-quantize and a greedy llama-completion.
 *
 * BITNET_LLAMA_CPP_DIR points at another llama.cpp checkout with a build/bin to use instead.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PEERS = path.join(ROOT, 'bench/peers');
const BUNDLE = path.join(PEERS, 'node_modules/node-llama-cpp/llama/gitRelease.bundle');
export const LLAMA_TOOLS = ['llama-bench', 'llama-quantize', 'llama-completion'] as const;
export type LlamaTool = (typeof LLAMA_TOOLS)[number];

export interface LlamaCpp {
  /** The source checkout. */
  dir: string;
  /** Path of a built tool. */
  bin(tool: LlamaTool): string;
  /** The source's commit (node-llama-cpp's release of llama.cpp). */
  commit: string;
  /** Seconds the build took when it was made (stored beside it), or null if not recorded. */
  buildSeconds: number | null;
  /** Whether this call built it. */
  builtNow: boolean;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

/** node-llama-cpp installed into bench/peers/ (its own package.json; not a dependency of bitnet-ts); returns its version. */
export function ensureNodeLlamaCpp(): string {
  const pkg = path.join(PEERS, 'node_modules/node-llama-cpp/package.json');
  if (!existsSync(pkg)) {
    log('installing node-llama-cpp (725 MB) into bench/peers/ ... (the benchmark peer; not a dependency of bitnet-ts)');
    const r = spawnSync('npm', ['install', '--prefix', PEERS, '--no-audit', '--no-fund'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error('npm install --prefix bench/peers failed');
  }
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}${cmd === 'cmake' ? ' (apt install cmake)' : ''}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

/** llama.cpp's tools, building them first if they are not there (minutes: the stamp says how many). */
export function ensureLlamaCpp(): LlamaCpp {
  const dir = process.env.BITNET_LLAMA_CPP_DIR ?? path.join(PEERS, 'llama.cpp');
  const bin = (tool: LlamaTool) => path.join(dir, 'build/bin', tool);
  const stamp = path.join(dir, 'build/bitnet-ts-build.json');
  let builtNow = false;
  if (!LLAMA_TOOLS.every((t) => existsSync(bin(t)))) {
    if (!existsSync(path.join(dir, 'CMakeLists.txt'))) {
      ensureNodeLlamaCpp();
      if (!existsSync(BUNDLE)) throw new Error(`no llama.cpp source: ${path.relative(ROOT, BUNDLE)} is missing (npm install --prefix bench/peers installs node-llama-cpp, which ships it)`);
      log(`llama.cpp: cloning node-llama-cpp's bundled source into ${path.relative(ROOT, dir)} ...`);
      mkdirSync(path.dirname(dir), { recursive: true });
      run('git', ['clone', '--quiet', BUNDLE, dir], ROOT);
    }
    log(`llama.cpp: building ${LLAMA_TOOLS.join(', ')} (cmake, Release, native ISA; several minutes on 2 cores) ...`);
    const t0 = performance.now();
    run('cmake', ['-S', '.', '-B', 'build', '-DCMAKE_BUILD_TYPE=Release', '-DGGML_NATIVE=ON', '-DLLAMA_CURL=OFF', '-DBUILD_SHARED_LIBS=OFF',
      '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_SERVER=OFF'], dir);
    run('cmake', ['--build', 'build', '--config', 'Release', '-j', String(os.availableParallelism()), '--target', ...LLAMA_TOOLS], dir);
    const seconds = (performance.now() - t0) / 1000;
    writeFileSync(stamp, JSON.stringify({ seconds, date: new Date().toISOString() }));
    log(`llama.cpp: built in ${seconds.toFixed(0)} s`);
    builtNow = true;
  }
  let buildSeconds: number | null = null;
  try {
    buildSeconds = (JSON.parse(readFileSync(stamp, 'utf8')) as { seconds: number }).seconds;
  } catch {
    buildSeconds = null;
  }
  // the squashed bundle's own commit says little: node-llama-cpp records the llama.cpp release it holds
  let commit = 'unknown';
  try {
    const hash = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const info = path.join(PEERS, 'node_modules/node-llama-cpp/llama/llama.cpp.info.json');
    const tag = existsSync(info) ? (JSON.parse(readFileSync(info, 'utf8')) as { tag?: string }).tag : undefined;
    commit = tag ? `${tag} (${hash})` : hash;
  } catch {
    /* not a git checkout: keep 'unknown' */
  }
  return { dir, bin, commit, buildSeconds, builtNow };
}

export interface LlamaBenchResult {
  pp_tokens_per_s: number;
  tg_tokens_per_s: number;
  /** llama-bench's own build string (commit, backend). */
  build: string;
}

/**
 * llama-bench on one file at one thread count: pp = `pp` prompt tokens in one batch, tg = `tg`
 * generated tokens, `reps` repetitions (its reported mean). CPU only, memory-mapped as by default.
 */
export function llamaBench(l: LlamaCpp, file: string, threads: number, pp: number, tg: number, reps = 1): LlamaBenchResult {
  const r = spawnSync(l.bin('llama-bench'), ['-m', file, '-t', String(threads), '-p', String(pp), '-n', String(tg), '-r', String(reps), '-ngl', '0', '-o', 'json'],
    { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 1800_000 });
  if (r.status !== 0) throw new Error(`llama-bench on ${file} failed (${r.signal ?? `exit ${r.status}`}): ${(r.stderr ?? '').trim().split('\n').slice(-4).join(' | ')}`);
  const rows = JSON.parse(r.stdout) as { n_prompt: number; n_gen: number; avg_ts: number; build_commit?: string; backends?: string }[];
  const ppRow = rows.find((x) => x.n_prompt > 0 && x.n_gen === 0);
  const tgRow = rows.find((x) => x.n_gen > 0 && x.n_prompt === 0);
  if (!ppRow || !tgRow) throw new Error(`llama-bench printed no pp/tg rows: ${r.stdout.slice(0, 200)}`);
  return { pp_tokens_per_s: ppRow.avg_ts, tg_tokens_per_s: tgRow.avg_ts, build: `${ppRow.build_commit ?? '?'} ${ppRow.backends ?? ''}`.trim() };
}
