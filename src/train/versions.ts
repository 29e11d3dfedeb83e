import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package-root.ts';

export function versionOf(spec: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(import.meta.resolve(`${spec}/package.json`)), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/** This package's own version (package.json at the package root). */
export function ownVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Library versions recorded in checkpoints, so a result can be traced to the code that made it. */
export function versions(backend: string): Record<string, string> {
  return {
    bitnet_ts: ownVersion(),
    node: process.version,
    tfjs: versionOf('@tensorflow/tfjs-core'),
    backend,
  };
}
