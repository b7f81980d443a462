/**
 * Parsed configuration types. Field names stay snake_case, exactly as written in scripthut.yaml.
 * Optional fields without a documented default are `null` when unset.
 */
import type { SshSchema } from '@scripthut/core/config-fields';
import type { z } from 'zod';
import type { EnvGroups, EnvRule } from './env-rules.js';
import type {
  BatchBackendSchema,
  Ec2BackendSchema,
  EcsBackendSchema,
  EnvironmentSchema,
  GitSourceSchema,
  LocalBackendSchema,
  PathSourceSchema,
  PbsBackendSchema,
  PricingSchema,
  ProjectSchema,
  SettingsSchema,
  SlurmBackendSchema,
  WorkflowGitSchema,
  WorkflowSchema,
} from './schema.js';

/** `ssh` block of Slurm/PBS backends. Local paths are already `~`-expanded. */
export type SshConfig = z.output<typeof SshSchema>;
/** `type: slurm` backend. */
export type SlurmBackendConfig = z.output<typeof SlurmBackendSchema>;
/** `type: pbs` backend. */
export type PbsBackendConfig = z.output<typeof PbsBackendSchema>;
/** `type: batch` backend (AWS Batch). */
export type BatchBackendConfig = z.output<typeof BatchBackendSchema>;
/** `type: ec2` backend (one EC2 instance per task). */
export type Ec2BackendConfig = z.output<typeof Ec2BackendSchema>;
/** `type: ecs` backend (Amazon ECS, one task per ScriptHut task). */
export type EcsBackendConfig = z.output<typeof EcsBackendSchema>;
/** `type: local` backend: tasks run as subprocesses of the ScriptHut host. */
export type LocalBackendConfig = Omit<z.output<typeof LocalBackendSchema>, 'max_concurrent'> & {
  /** Defaults to the number of CPUs of the host. */
  max_concurrent: number;
};
/** Any backend, discriminated by `type`. */
export type BackendConfig =
  | SlurmBackendConfig
  | PbsBackendConfig
  | BatchBackendConfig
  | Ec2BackendConfig
  | EcsBackendConfig
  | LocalBackendConfig;
/** Backend type names. */
export type BackendType = BackendConfig['type'];

/** `type: git` source. `deploy_key` is `~`-expanded; `clone_dir` is a backend path (not expanded). */
export type GitSourceConfig = z.output<typeof GitSourceSchema>;
/** `type: path` source. `path` is a backend path (not expanded). */
export type PathSourceConfig = z.output<typeof PathSourceSchema>;
/** Any source, discriminated by `type`. */
export type SourceConfig = GitSourceConfig | PathSourceConfig;

/** Optional `git` block of a workflow. */
export type WorkflowGitConfig = z.output<typeof WorkflowGitSchema>;
/** A configured workflow (command printing task JSON). */
export type WorkflowConfig = z.output<typeof WorkflowSchema>;
/** A project (git repository on a backend holding sflow.json files). */
export type ProjectConfig = z.output<typeof ProjectSchema>;
export type { EnvGroups, EnvRule } from './env-rules.js';

/** A named environment (variables + extra_init), with `{ value, secret }` variables flattened. */
export type EnvironmentConfig = Omit<z.output<typeof EnvironmentSchema>, 'variables'> & {
  /** Name → value (the value of a `{ value, secret }` entry). */
  variables: Record<string, string>;
  /**
   * Names of `variables` whose values are secret: marked `secret: true`, or following the default
   * name rule (`*_TOKEN`, `*_KEY`, `*_SECRET`, `*_PASSWORD`…, see `isSecretEnvName` in
   * `@scripthut/core`) and not marked `secret: false`. Sorted.
   */
  secret_variables: string[];
};
/** `pricing` section. `price_source` is `~`-expanded when it is a path. */
export type PricingConfig = z.output<typeof PricingSchema>;
/** `settings` section with every default applied; `sources_cache_dir` is always set. */
export type SettingsConfig = Omit<z.output<typeof SettingsSchema>, 'sources_cache_dir'> & {
  sources_cache_dir: string;
};

/** The fully parsed, defaulted and `~`-expanded scripthut.yaml. */
export interface ScriptHutConfig {
  backends: BackendConfig[];
  sources: SourceConfig[];
  workflows: WorkflowConfig[];
  projects: ProjectConfig[];
  environments: EnvironmentConfig[];
  /** Server-level env rules (applied after a backend's rules, before the task document's). */
  env: EnvRule[];
  /** Server-level env groups (shadow a backend's groups of the same name). */
  env_groups: EnvGroups;
  /** `null` when the section is absent: cost estimation disabled. */
  pricing: PricingConfig | null;
  settings: SettingsConfig;
}
