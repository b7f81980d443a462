export * from './engine.js';
export * from './events.js';
export { MAX_OUTPUT_ATTEMPTS, MISSING_RECHECK_MS, OUTPUT_BATCH, OutputCollector } from './outputs.js';
export * from './paths.js';
export * from './preview.js';
export * from './resume.js';
export { isTerminalJobState, TERMINAL_JOB_STATES } from './status-map.js';
export * from './tags.js';
export * from './transitions.js';
