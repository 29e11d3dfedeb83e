#!/usr/bin/env node
// The `bitnet` executable: runs the TypeScript CLI through tsx's loader, so the package ships its
// sources as they are and needs no build step after `npm ci`.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
