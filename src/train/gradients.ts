/**
 * Registers tfjs-core's gradient functions, which its Node bundle leaves out (the @tensorflow/tfjs
 * union package registers them, but it drags in layers, converter, data and webgl: ~240 MB).
 * They ship only as ESM-syntax files inside a CommonJS package, so they are loaded through `require`,
 * which tsx's CommonJS hook transforms (bin/bitnet.js's fallback and mocha both register it); the CLI
 * bundle replaces this module with a static import of the file (scripts/build-bundle.mjs). The
 * functions register into tfjs's global registry, shared with the engine we use.
 */
import { createRequire } from 'node:module';

createRequire(import.meta.url)('@tensorflow/tfjs-core/dist/register_all_gradients.js');
