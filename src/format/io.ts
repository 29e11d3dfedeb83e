/**
 * Small file helpers shared inside src/format (not re-exported): whole-range reads and writes on a
 * descriptor, and opening a file for validated parsing.
 */
import fs from 'node:fs';
import { InputError } from '../errors.ts';

/** Writes all of `bytes` at the descriptor's current position. */
export function writeFully(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Fills `out` from the file at `position`. A file that ends early (it shrank after validation) is an
 * InputError naming `file` and `what`.
 */
export function readFully<T extends Uint8Array>(fd: number, out: T, position: number, file: string, what: string): T {
  let got = 0;
  while (got < out.length) {
    const r = fs.readSync(fd, out, got, out.length - got, position + got);
    if (r === 0) throw new InputError(file, `file shrank while reading ${what} at offset ${position + got}`);
    got += r;
  }
  return out;
}

/**
 * Opens `path` read-only and hands the descriptor and size to `parse`; the descriptor stays open in
 * what `parse` returns, and is closed if it throws. A missing or unreadable path, or one that is not
 * a regular file, is an InputError.
 */
export function openParsed<T>(path: string, parse: (fd: number, size: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new InputError(path, `cannot open: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new InputError(path, 'not a regular file');
    return parse(fd, st.size);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}
