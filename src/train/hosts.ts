/**
 * RUN_DIR/hosts.json: one entry per training segment (a fresh start, or each resume): from which step,
 * on which machine, with which kernels (backend, native ISA, threads) and at which commit. A run resumed
 * on another machine says so; a study report lists the machines its runs saw (src/ablate/report.ts),
 * because the same seed on another ISA sums floats in another order and ends ~0.01 nats apart.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readJsonFile } from '../config/parse.ts';
import { writeFileAtomic } from '../format/atomic.ts';
import { nativeAddon } from '../native/addon.ts';
import { commit, machineInfo, type Machine } from '../provenance.ts';

export const HOSTS_FILE = 'hosts.json';

export interface HostSegment extends Machine {
  /** ISO time the segment started. */
  at: string;
  /** The step it started from (0: a fresh run). */
  from_step: number;
  backend: string;
  /** The native kernels' instruction set, or "none" without them (tfjs kernels only). */
  native_isa: string;
  threads: number | null;
  commit: string;
}

export function hostSegment(fromStep: number, backend: string, native: boolean): HostSegment {
  const addon = native ? nativeAddon() : null;
  return {
    at: new Date().toISOString(),
    from_step: fromStep,
    ...machineInfo(),
    backend,
    native_isa: addon ? addon.isa() : 'none',
    threads: addon ? addon.threads() : null,
    commit: commit(),
  };
}

/** The segments so far ([] for a run trained before hosts.json existed, or a file that is not a list). */
export function readHosts(runDir: string): HostSegment[] {
  const file = path.join(runDir, HOSTS_FILE);
  if (!existsSync(file)) return [];
  const v = readJsonFile(file);
  return Array.isArray(v) ? (v as HostSegment[]) : [];
}

/** Appends `seg`, dropping segments that started at or after its step (a resume from an earlier checkpoint replaces them). */
export function appendHost(runDir: string, seg: HostSegment): void {
  const kept = readHosts(runDir).filter((s) => s.from_step < seg.from_step);
  writeFileAtomic(path.join(runDir, HOSTS_FILE), JSON.stringify([...kept, seg], null, 2) + '\n');
}

/** "AMD EPYC (family 25 model 17) (2 cores) · wasm + native avx2 · 1 thread · 20258c0": one segment in a line. */
export function describeHost(s: HostSegment): string {
  return `${s.cpu} (${s.cores} cores) · ${s.backend}${s.native_isa !== 'none' ? ` + native ${s.native_isa}` : ''} · ${s.threads ?? '?'} thread${s.threads === 1 ? '' : 's'} · ${s.commit}`;
}
