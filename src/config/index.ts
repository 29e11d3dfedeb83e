export * from './model.ts';
export * from './train.ts';
export * from './parse.ts';
export * from './study.ts';
