export type * from './types.js';
export { createRuntime, Runtime, type CreateRuntimeOptions } from './runtime.js';
export { EngineLock, readEngineLock, type LockInfo } from './lock.js';
export { prepareClone, resolveCommit, runGeneratorCommand, CLONE_MARKER, type GitCloneSpec, type PreparedClone } from './generator.js';
export { SourceCatalog, type DiscoveredSource } from './sources.js';
