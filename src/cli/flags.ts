/**
 * Every command's flags are validated here, at parse time, before any file is opened: one policy for
 * every kind of flag. yargs parses each flag as a string and a `coerce` function checks it, so a bad value
 * ("abc", -1, NaN, 1e300, an unknown choice, a flag given twice) is an InputError: one line naming the
 * flag and the problem, exit 2 (src/cli/run.ts). yargs' own `choices` and `number` types are not used:
 * the first prints a multi-line block, the second turns "abc" into NaN before we could name it.
 */
import { InputError } from '../errors.ts';

interface NumberSpec {
  describe: string;
  default?: number;
  demand?: boolean;
  min?: number;
  max?: number;
  /** The value must be strictly above `min`. */
  minExclusive?: boolean;
}

/** A flag given twice arrives as an array: refused, since which one was meant is a guess. */
function single(flag: string, v: unknown): unknown {
  if (Array.isArray(v)) throw new InputError(flag, `given ${v.length} times; give it once`);
  return v;
}

function rangeText(kind: string, s: NumberSpec): string {
  const lo = s.min === undefined ? '' : `${s.minExclusive ? '>' : '>='} ${s.min}`;
  const hi = s.max === undefined ? '' : `<= ${s.max}`;
  return [kind, lo, lo && hi ? 'and' : '', hi].filter(Boolean).join(' ');
}

function parseNumber(flag: string, raw: unknown, integer: boolean, s: NumberSpec): number {
  const v = single(flag, raw);
  const text = typeof v === 'string' ? v : String(v);
  // Number('') is 0 and Number(' 1 ') is 1: a value must be written as a number, nothing around it.
  const n = typeof v === 'number' ? v : /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text.trim()) && text.trim() === text ? Number(text) : NaN;
  const ok =
    Number.isFinite(n) &&
    (!integer || Number.isSafeInteger(n)) &&
    (s.min === undefined || (s.minExclusive ? n > s.min : n >= s.min)) &&
    (s.max === undefined || n <= s.max);
  if (!ok) throw new InputError(flag, `must be ${rangeText(integer ? 'an integer' : 'a number', s)}, got "${text}"`);
  return n;
}

/**
 * The yargs option object, typed so that yargs infers the flag's value type from `coerce` and its
 * optionality from `default` / `demandOption` (a flag with neither may be undefined).
 */
export type FlagOption<T, S> = { type: 'string'; describe: string; coerce: (v: unknown) => T } & (S extends { default: unknown } ? { default: T } : unknown) &
  (S extends { demand: true } ? { demandOption: true } : unknown);

function numberOption<S extends NumberSpec>(name: string, integer: boolean, s: S): FlagOption<number, S> {
  const flag = `--${name}`;
  return {
    type: 'string',
    describe: `${s.describe} [${rangeText(integer ? 'integer' : 'number', s)}]`,
    ...(s.default !== undefined ? { default: s.default } : {}),
    ...(s.demand ? { demandOption: true } : {}),
    coerce: (v: unknown) => parseNumber(flag, v, integer, s),
  } as FlagOption<number, S>;
}

/** An integer flag (a safe integer within [min, max]). */
export function intOption<S extends NumberSpec>(name: string, s: S): FlagOption<number, S> {
  return numberOption(name, true, s);
}

/** A list of distinct integers (`--seeds 3 4`), each checked as intOption checks one. */
export function intListOption(name: string, s: NumberSpec): { type: 'string'; array: true; describe: string; coerce: (v: unknown) => number[] } {
  const flag = `--${name}`;
  return {
    type: 'string',
    array: true,
    describe: `${s.describe} [${rangeText('integers', s)}]`,
    coerce: (v: unknown) => {
      const list = (Array.isArray(v) ? v : [v]).map((x) => parseNumber(flag, x, true, s));
      if (new Set(list).size !== list.length) throw new InputError(flag, `a value is repeated in ${list.join(' ')}`);
      return list;
    },
  };
}

/** A finite number flag within its bounds. */
export function floatOption<S extends NumberSpec>(name: string, s: S): FlagOption<number, S> {
  return numberOption(name, false, s);
}

/** One of `choices` (compared as given: the lists are lower case). */
export function choiceOption<T extends string>(name: string, choices: readonly T[], s: { describe: string; default: NoInfer<T> }): FlagOption<T, { default: T }>;
export function choiceOption<T extends string>(name: string, choices: readonly T[], s: { describe: string }): FlagOption<T, object>;
export function choiceOption<T extends string>(name: string, choices: readonly T[], s: { describe: string; default?: T }): FlagOption<T, object> {
  const flag = `--${name}`;
  return {
    type: 'string',
    describe: `${s.describe} [${choices.join(' | ')}]`,
    ...(s.default !== undefined ? { default: s.default } : {}),
    coerce: (raw: unknown) => {
      const v = String(single(flag, raw));
      if (!(choices as readonly string[]).includes(v)) throw new InputError(flag, `"${v}" is not one of ${choices.join(', ')}`);
      return v as T;
    },
  } as FlagOption<T, object>;
}

/** A string flag (a path, a prompt): given once; `nonEmpty` refuses "" (paths). */
export function stringOption<S extends { describe: string; default?: string; demand?: boolean; nonEmpty?: boolean }>(name: string, s: S): FlagOption<string, S> {
  const flag = `--${name}`;
  return {
    type: 'string',
    describe: s.describe,
    ...(s.default !== undefined ? { default: s.default } : {}),
    ...(s.demand ? { demandOption: true } : {}),
    coerce: (raw: unknown) => {
      const v = String(single(flag, raw));
      if (s.nonEmpty && v === '') throw new InputError(flag, 'must not be empty');
      return v;
    },
  } as FlagOption<string, S>;
}

/** A positional path argument: a non-empty string. */
export function pathPositional(name: string, describe: string): { type: 'string'; demandOption: true; describe: string; coerce: (v: unknown) => string } {
  return {
    type: 'string',
    demandOption: true,
    describe,
    coerce: (raw: unknown) => {
      const v = String(single(name, raw));
      if (v === '') throw new InputError(name, 'must not be empty');
      return v;
    },
  };
}
