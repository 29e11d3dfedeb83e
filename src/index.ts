/** The library entry: the public API of bitnet-ts. */
export * from './config/index.ts';
export { InputError } from './errors.ts';
