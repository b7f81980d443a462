export * from './errors.js';
export * from './domain.js';
export * from './backend.js';
export * from './store.js';
export * from './shell.js';
export * from './script.js';
