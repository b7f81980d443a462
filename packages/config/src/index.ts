/**
 * @scripthut/config — loads, validates and describes scripthut.yaml.
 *
 * @example
 * ```ts
 * import { loadConfig, formatIssue } from '@scripthut/config';
 * const loaded = await loadConfig({ path: process.argv[2] });
 * for (const w of loaded.warnings) console.warn(formatIssue(w));
 * ```
 */

export { assertBackendUsable, checkBackendFiles } from './backend-checks.js';
export { DEFAULT_CONFIG_YAML } from './default-config.js';
export { type ConfigDiff, diffConfigs } from './diff.js';
export {
  ENV_NAME_RE,
  EnvGroupsSchema,
  EnvRuleSchema,
  EnvRulesSchema,
  groupCycle,
  PARTITION_NAME_RE,
  PartitionMapSchema,
  partitionMapChain,
} from './env-rules.js';
export {
  batchBackend,
  ec2Backend,
  ecsBackend,
  INSTALLED_BACKENDS,
  installedBackendRegistry,
  localBackend,
  pbsBackend,
  slurmBackend,
} from './installed-backends.js';
export { configJsonSchema } from './json-schema.js';
export {
  type BackendOrigin,
  backendOrigin,
  CONFIG_FILE_NAMES,
  configInvalidError,
  defaultConfig,
  expandHome,
  findConfigFile,
  formatIssue,
  isLoopbackHost,
  isUrl,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  parseConfigText,
  type ValidateOptions,
  type ValidationResult,
  validateConfigText,
} from './load.js';
export { configErrorMap, unknownKeyMessage } from './messages.js';
export { loadBackendPlugins } from './plugins.js';
export { configSecretValues, REDACTED, redactConfig, redactConfigText } from './redact.js';
export {
  BACKEND_TYPES,
  backendEntrySchema,
  ConfigFileSchema,
  configFileSchemaFor,
  DEFAULT_CLONE_DIR,
  DEFAULT_DATA_DIR,
  DEFAULT_PRICE_SOURCE,
  DEFAULT_WORKFLOWS_GLOB,
  MIN_REMOTE_TOKEN_LENGTH,
  PRICE_TYPES,
} from './schema.js';
export { closest, didYouMean, formatPath, levenshtein } from './suggest.js';
export type * from './types.js';
