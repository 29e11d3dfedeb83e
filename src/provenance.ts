/**
 * Where a result was made: the machine (CPU model, cores, memory, OS, Node) and the commit of this
 * checkout. Benchmarks print it beside their figures; training records it per run segment
 * (src/train/hosts.ts), because float kernels sum in a different order on another ISA and a study's
 * numbers must say which machines made them. A leaf: every folder may import it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { packageRoot } from './package-root.ts';

export interface Machine {
  cpu: string;
  cores: number;
  mem_gib: number;
  os: string;
  node: string;
}

/**
 * "family 25 model 17" from /proc/cpuinfo (Linux x86), or '' where it is not there: virtual machines
 * often name their CPU only "AMD EPYC", which says nothing of its generation (Zen 1 to Zen 5).
 */
function familyModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const model = /^model\s*:\s*(\d+)/m.exec(info)?.[1];
    return family && model ? `family ${family} model ${model}` : '';
  } catch {
    return '';
  }
}

export function machineInfo(): Machine {
  const cpus = os.cpus();
  const name = cpus[0]?.model.trim() || 'unknown CPU';
  const fm = familyModel();
  return {
    cpu: fm ? `${name} (${fm})` : name,
    cores: cpus.length,
    mem_gib: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

/** One line: "AMD EPYC, 2 cores, 24 GiB, Linux 6.1, node v20.…". */
export function machine(): string {
  const m = machineInfo();
  return `${m.cpu}, ${m.cores} cores, ${m.mem_gib} GiB, ${m.os}, node ${m.node}`;
}

let cached: string | undefined;

/**
 * The short commit of the checkout the code runs from, "+dirty" when tracked files changed (or
 * untracked files sit in the code: src, native/src, bin); "unknown" outside a git checkout.
 */
export function commit(): string {
  if (cached !== undefined) return cached;
  const git = (...a: string[]) => execFileSync('git', a, { cwd: packageRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '' || git('status', '--porcelain', '--', 'src', 'native/src', 'bin') !== '';
    cached = dirty ? `${head}+dirty` : head;
  } catch {
    cached = 'unknown';
  }
  return cached;
}
