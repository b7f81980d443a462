/**
 * `@scripthut/backend-ecs` — Amazon ECS for ScriptHut: each task is one ECS task (RunTask) on
 * Fargate or the cluster's EC2 instances, from a fixed task definition or one registered per image;
 * status with batched DescribeTasks, lookup by tag through the backend's own `startedBy`, logs from
 * CloudWatch Logs, verdicts kept after ECS forgets stopped tasks.
 *
 * @packageDocumentation
 */
export { createEcsBackend, type EcsBackend, type EcsBackendOptions, type EcsLogger } from './backend.js';
export type { FinishedEcsTask, LogTarget, RateLimiter } from './context.js';
export {
  type BuiltOverrides,
  buildOverrides,
  CANCEL_REASON,
  ECS_OVERRIDES_LIMIT,
  fargateSize,
  groupOf,
  mapTask,
  startedByOf,
  TIMEOUT_EXIT_CODE,
  tagOfGroup,
  taskIdOf,
} from './mapping.js';
export { DEFAULT_ECS_LOG_GROUP, type EcsBackendConfig, ecsBackend, ecsConfigSchema } from './plugin.js';
export {
  REGISTERED_CONTAINER,
  REGISTERED_STREAM_PREFIX,
  type ResolvedDefinition,
  registeredFamily,
  TaskDefinitions,
} from './task-definitions.js';
