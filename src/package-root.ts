/**
 * The package's root folder (the one holding package.json and native/binding.gyp), found from the running
 * file: src/... through tsx, or dist/*.mjs in the CLI bundle. For the files that ship beside the
 * code rather than inside it: the native addon, the Arrow decoder child. A leaf: every folder may import it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4 && !existsSync(path.join(dir, 'native', 'binding.gyp')); up++) dir = path.dirname(dir);
  return (root = dir);
}
