export * from './arrays.js';
export * from './engine.js';
export * from './events.js';
export * from './paths.js';
export * from './preview.js';
export { isTerminalJobState, TERMINAL_JOB_STATES } from './status-map.js';
export * from './tags.js';
export * from './transitions.js';
