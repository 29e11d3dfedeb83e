export * from './model.ts';
export * from './train.ts';
export * from './parse.ts';
