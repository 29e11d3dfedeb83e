// Types of build-bundle.mjs (plain JS: bin/bitnet.js imports it before any TypeScript loader exists).
export const bundlePath: string;
export function bundleIsFresh(): boolean;
export function buildBundle(): Promise<string>;
