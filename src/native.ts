/**
 * Loads the optional N-API addon built by `npm ci` (native/, node-gyp). Everything that can use it
 * also runs without it; `nativeStatus()` says why it is missing so `bitnet info` can tell the user.
 *
 * A leaf module: the engine (src/infer) and training (src/train) both import it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's functions. Each is documented in native/src/addon.cc; the TS reference lives beside its caller. */
export interface NativeAddon {
  /** CPU features the addon detected at run time. */
  cpuFeatures(): { avx2: boolean; fma: boolean; f16c: boolean };
  /** Worker threads the addon's pool uses (set with setThreads). */
  threads(): number;
  setThreads(n: number): void;
  [fn: string]: unknown;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const candidates = [path.join(root, 'native/build/Release/bitnet_native.node')];

let loaded: { addon: NativeAddon | null; reason: string; file: string | null } | undefined;

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  if (process.env.BITNET_NO_NATIVE === '1') return (loaded = { addon: null, reason: 'disabled by BITNET_NO_NATIVE=1', file: null });
  const file = candidates.find((f) => existsSync(f));
  if (!file) return (loaded = { addon: null, reason: 'not built (npm ci runs node-gyp; see its output)', file: null });
  try {
    const addon = createRequire(import.meta.url)(file) as NativeAddon;
    return (loaded = { addon, reason: 'loaded', file });
  } catch (e) {
    return (loaded = { addon: null, reason: `failed to load: ${(e as Error).message.split('\n')[0]}`, file });
  }
}

/** The addon, or null when it is not built, not loadable or disabled. */
export function nativeAddon(): NativeAddon | null {
  return load().addon;
}

export function nativeStatus(): { loaded: boolean; reason: string; file: string | null } {
  const l = load();
  return { loaded: l.addon !== null, reason: l.reason, file: l.file };
}
