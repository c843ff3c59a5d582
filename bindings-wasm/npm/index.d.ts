export * from './grantline_core.js';
export * from './errors.js';
