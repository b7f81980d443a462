export {
  CLONE_MARKER,
  type GitCloneSpec,
  type PreparedClone,
  prepareClone,
  resolveCommit,
  runGeneratorCommand,
} from './generator.js';
export { EngineLock, type LockInfo, readEngineLock } from './lock.js';
export { type CreateRuntimeOptions, createRuntime, Runtime } from './runtime.js';
export { type DiscoveredSource, SourceCatalog } from './sources.js';
export type * from './types.js';
