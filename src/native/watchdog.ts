/**
 * No silent hangs: while a long piece of work runs (training, an engine evaluation, a benchmark), a
 * native thread watches it. If neither a heartbeat from here nor any activity of the addon's thread pool
 * comes for BITNET_WATCHDOG_S seconds (default 300), the process prints one line naming what was stuck
 * and exits with code 124, so a study records the run as FAILED and retries it instead of waiting
 * forever. The watch lives in native code because a hung kernel blocks the JavaScript thread (no timer
 * could fire). Without the addon nothing runs in the pool and there is nothing to watch: a no-op.
 */
import { InputError } from '../errors.ts';
import { nativeAddon } from './addon.ts';

export const DEFAULT_WATCHDOG_S = 300;
export const WATCHDOG_EXIT_CODE = 124;

/** The limit from BITNET_WATCHDOG_S in ms; 0 turns the watchdog off. A bad value is an InputError. */
export function watchdogLimitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BITNET_WATCHDOG_S;
  if (raw === undefined || raw === '') return DEFAULT_WATCHDOG_S * 1000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s < 0 || s > 7 * 86400)
    throw new InputError('BITNET_WATCHDOG_S', `must be a number of seconds in [0, 604800] (0: off), got "${raw}"`);
  return Math.round(s * 1000);
}

export interface Watch {
  /** Progress; with `what`, the phrase an error would name from now on ("training step 12 of 300"). */
  beat(what?: string): void;
  /** Ends this watch (the enclosing one, if any, is watched again). */
  stop(): void;
}

const NOOP: Watch = { beat: () => {}, stop: () => {} };
const stack: string[] = [];

/** Starts watching `what` (nested watches: the innermost is watched, the outer resumes on stop). */
export function watch(what: string): Watch {
  const limit = watchdogLimitMs();
  const addon = nativeAddon();
  if (addon === null || limit === 0) return NOOP;
  stack.push(what);
  const depth = stack.length;
  addon.watchdogArm(what, limit);
  let stopped = false;
  return {
    beat(phrase?: string) {
      if (stopped) return;
      if (phrase === undefined) addon.watchdogBeat();
      else {
        stack[depth - 1] = phrase;
        addon.watchdogBeat(phrase);
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      stack.length = depth - 1;
      if (stack.length > 0) addon.watchdogArm(stack[stack.length - 1]!, limit);
      else addon.watchdogDisarm();
    },
  };
}
