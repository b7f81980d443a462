export * from './engine.js';
export * from './events.js';
export * from './preview.js';
export * from './tags.js';
