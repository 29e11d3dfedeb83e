import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../errors.ts';

/** Formats the first zod issue as "key.path: message", the one line the CLI prints. */
export function firstIssue(err: z.ZodError): string {
  const issue = err.issues[0]!;
  const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  let msg = issue.message;
  if (issue.code === 'unrecognized_keys') msg = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${where}: ${msg}`;
}

/** Validates `value` against `schema`; a failure becomes an InputError naming `source` and the key. */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, source: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new InputError(source, firstIssue(r.error));
  return r.data;
}

/** Reads and parses a JSON file, with one-line errors for a missing file or bad JSON. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(file, `invalid JSON (${(e as Error).message})`);
  }
}

/**
 * Applies `--set a.b=value` overrides to a plain JSON object before validation. The value is parsed as
 * JSON when it can be (numbers, booleans, objects), else taken as a string; the schema then rejects
 * unknown keys and wrong types, so a typo in a key is an error and not a silent no-op.
 */
export function applyOverrides(base: unknown, sets: readonly string[]): unknown {
  const root = structuredClone(base ?? {}) as Record<string, unknown>;
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new InputError('--set', `expected key=value, got "${s}"`);
    const path = s.slice(0, eq).split('.');
    const raw = s.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let obj = root;
    for (const k of path.slice(0, -1)) {
      const next = obj[k];
      if (next === undefined) obj[k] = {};
      else if (typeof next !== 'object' || next === null || Array.isArray(next)) throw new InputError('--set', `"${k}" in "${s}" is not an object`);
      obj = obj[k] as Record<string, unknown>;
    }
    obj[path[path.length - 1]!] = value;
  }
  return root;
}
