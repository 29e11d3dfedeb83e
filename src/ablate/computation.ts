/**
 * What decides a study run's numbers, as one canonical string: two runs with equal keys computed the
 * same thing (given the same instruction set). Used to copy a run from another study (reuse.ts) and to
 * let a study grow without retraining what it already ran (expand.ts, checkAndWriteLock).
 */
import { RunConfig } from '../config/train.ts';

/**
 * The resolved config (apart from the data directory's name), the token count, the engine evaluation
 * and the data's fingerprint. A config recorded before a setting existed is read through the schema,
 * so it gains that setting's default, which is how it ran.
 */
export function computationKey(r: { config: RunConfig; tokens: number; engine: boolean; data: { fingerprint: string } }): string {
  const parsed = RunConfig.safeParse(r.config);
  const { data: _dir, ...config } = parsed.success ? parsed.data : r.config;
  return canonical({ config, tokens: r.tokens, engine: r.engine, fingerprint: r.data.fingerprint });
}

/** JSON with object keys sorted and undefined members left out. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
