export * from './engine.js';
export * from './events.js';
export * from './paths.js';
export * from './preview.js';
export * from './tags.js';
export * from './transitions.js';
