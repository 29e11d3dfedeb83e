/**
 * Atomic writes: files and directories are built under a temporary name beside their final path and
 * renamed into place at the end, so a kill mid-write never leaves a half file or half directory at the
 * final path (at worst a stray `*.tmp-*` sibling). rename(2) within one directory is atomic on POSIX.
 *
 * - `writeFileAtomic(path, data)`: small files written in one call (JSON, state).
 * - `createAtomicFile(path)`: a file written piece by piece through its fd (GGUF, safetensors), then
 *   `commit()` (fsync + rename) or `abort()` (remove the temp file).
 * - `withTempDir(dir, fn)`: a directory (a checkpoint, a prepared dataset) filled by `fn`, then swapped in.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFully } from './io.ts';

/** A sibling of `finalPath` that no other writer uses: `<name>.tmp-<pid>-<random>`. */
export function tempSiblingPath(finalPath: string, tag = 'tmp'): string {
  return `${finalPath}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A file open for writing under a temporary name; nothing exists at `finalPath` until `commit()`. */
export interface AtomicFile {
  readonly fd: number;
  readonly tempPath: string;
  readonly finalPath: string;
  /** Flushes to disk, closes and renames onto `finalPath` (replacing any file there). */
  commit(): void;
  /** Closes and removes the temporary file; safe to call more than once, and after `commit()` a no-op. */
  abort(): void;
}

/** Opens a temporary sibling of `finalPath` for writing (the parent directory must exist). */
export function createAtomicFile(finalPath: string): AtomicFile {
  const tempPath = tempSiblingPath(finalPath);
  const fd = fs.openSync(tempPath, 'wx');
  let open = true;
  let done = false;
  const close = (): void => {
    if (open) {
      open = false;
      fs.closeSync(fd);
    }
  };
  return {
    fd,
    tempPath,
    finalPath,
    commit() {
      if (done) throw new Error(`atomic file ${finalPath}: already committed or aborted`);
      fs.fsyncSync(fd);
      close();
      fs.renameSync(tempPath, finalPath);
      done = true;
      fsyncDir(path.dirname(finalPath));
    },
    abort() {
      if (done) return;
      done = true;
      try {
        close();
      } finally {
        fs.rmSync(tempPath, { force: true });
      }
    },
  };
}

/** Writes `data` to `filePath` through a temporary sibling and a rename. */
export function writeFileAtomic(filePath: string, data: string | Uint8Array): void {
  const f = createAtomicFile(filePath);
  try {
    writeFully(f.fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    f.commit();
  } catch (e) {
    f.abort();
    throw e;
  }
}

/**
 * Builds a directory under a temporary sibling name, then moves it to `finalDir`. `fn` receives the
 * temporary path and fills it; if `fn` throws, the temporary directory is removed and `finalDir` is
 * untouched. An existing `finalDir` is replaced: it is renamed away, the new one renamed in, then the
 * old one removed (a kill between the two renames leaves the old copy at `<finalDir>.old-*`, never a
 * half-written `finalDir`). Parent directories are created. Returns what `fn` returns.
 */
export async function withTempDir<T>(finalDir: string, fn: (tmpDir: string) => Promise<T> | T): Promise<T> {
  const parent = path.dirname(path.resolve(finalDir));
  fs.mkdirSync(parent, { recursive: true });
  const tmpDir = tempSiblingPath(finalDir);
  fs.mkdirSync(tmpDir);
  let result: T;
  try {
    result = await fn(tmpDir);
  } catch (e) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw e;
  }
  let old: string | undefined;
  if (fs.existsSync(finalDir)) {
    old = tempSiblingPath(finalDir, 'old');
    fs.renameSync(finalDir, old);
  }
  try {
    fs.renameSync(tmpDir, finalDir);
  } catch (e) {
    if (old !== undefined) fs.renameSync(old, finalDir);
    fs.rmSync(tmpDir, { recursive: true, force: true });
    throw e;
  }
  fsyncDir(parent);
  if (old !== undefined) fs.rmSync(old, { recursive: true, force: true });
  return result;
}
