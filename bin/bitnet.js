#!/usr/bin/env node
// The `bitnet` executable: runs the TypeScript CLI through tsx's loaders, so the package ships its
// sources as they are and needs no build step after `npm ci`. Both hooks are registered: tfjs-core's
// gradient registrations exist only as ESM-syntax files in a CommonJS package, which tsx's CommonJS
// hook loads (see src/train/ops.ts).
import { register as registerEsm } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';

registerCjs();
registerEsm();
await import('../src/cli/main.ts');
