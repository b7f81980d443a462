/**
 * The zod schemas of scripthut.yaml. They describe the YAML *input* (snake_case, as written by
 * users) and produce the parsed output with documented defaults applied. The same schemas generate
 * the shipped JSON Schema (`schema/scripthut.schema.json`).
 *
 * A few things are deliberately NOT done here but in `load.ts`, because they depend on the host:
 * `~` expansion of local paths, the CPU-count default of local backends' `max_concurrent`, the
 * derived `settings.sources_cache_dir`, and cross-field checks (duplicate names, backend references).
 */
import { isIP } from 'node:net';
import { type BackendPlugin, type BackendRegistry, RESERVED_ENV_PREFIX } from '@scripthut/core';
import {
  cloneDir,
  DEFAULT_BACKEND_CLONE_DIR,
  int,
  optText,
  stringMap,
  text,
} from '@scripthut/core/config-fields';
import { z } from 'zod';
import { EnvGroupsSchema, EnvRulesSchema } from './env-rules.js';
import {
  batchBackend,
  ec2Backend,
  ecsBackend,
  INSTALLED_BACKENDS,
  localBackend,
  pbsBackend,
  slurmBackend,
} from './installed-backends.js';
import { configErrorMap } from './messages.js';
import { show } from './suggest.js';

/** Default pricing data source: the instances.vantage.sh EC2 catalogue. */
export const DEFAULT_PRICE_SOURCE = 'https://instances.vantage.sh/instances.json';
/** Default parent directory of clones on a backend (a backend path, never expanded locally). */
export const DEFAULT_CLONE_DIR = DEFAULT_BACKEND_CLONE_DIR;
/** Default glob used to discover workflow JSON files in sources. */
export const DEFAULT_WORKFLOWS_GLOB = '.hut/workflows/*.json';
/** Default `settings.data_dir` (before `~` expansion). */
export const DEFAULT_DATA_DIR = '~/.cache/scripthut';

/** Minimum length of an auth token when the server binds a non-loopback address (characters). */
export const MIN_REMOTE_TOKEN_LENGTH = 32;

/** Values accepted by `pricing.price_type`. */
export const PRICE_TYPES = ['ondemand', 'spot_avg', 'spot_min', 'spot_max'] as const;
/** Values accepted by `backends[].type` (the installed backend plugins). */
export const BACKEND_TYPES = INSTALLED_BACKENDS.map((p) => p.type);

/** Environment variable names; scalar values (numbers, booleans) are converted to strings. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const scalarString = z
  .union([z.string(), z.number(), z.boolean()], {
    error: (iss) => `expected a string (numbers and booleans are converted), got ${show(iss.input)}`,
  })
  .transform((v) => String(v));
/**
 * Variables of a named environment: a scalar value, or `{ value, secret }` to mark a variable
 * secret (`secret: true`) or not secret despite its name (`secret: false`, see `isSecretEnvName`).
 */
const VARIABLE_ENTRY = z
  .strictObject({
    value: scalarString,
    secret: z
      .boolean()
      .optional()
      .describe(
        'true: the value is redacted wherever it is shown (API, CLI, UI, scripts). Default: true for names like *_TOKEN, *_KEY, *_SECRET, *_PASSWORD, false otherwise.',
      ),
  })
  .describe('A variable with options.');

/** The message of a variable value that is neither a scalar nor a valid `{ value, secret }` entry. */
function variableValueError(input: unknown): string {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    if (!('value' in input)) return 'value: required field is missing';
    const r = VARIABLE_ENTRY.safeParse(input, { error: configErrorMap });
    if (!r.success)
      return r.error.issues
        .map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message.replace(/\n/g, '; ')}`)
        .join('; ');
  }
  return `expected a string (numbers and booleans are converted) or { value: "...", secret: true }, got ${show(input)}`;
}

const environmentVariables = () =>
  z.record(
    z
      .string()
      .regex(ENV_NAME, {
        error:
          'is not a valid environment variable name (letters, digits and "_", not starting with a digit)',
      })
      .refine((n) => !n.startsWith(RESERVED_ENV_PREFIX), {
        error: `${RESERVED_ENV_PREFIX}* names are reserved for ScriptHut's job script`,
      }),
    z.union([scalarString, VARIABLE_ENTRY], { error: (iss) => variableValueError(iss.input) }),
  );

/** A DNS name or an IP address (IPv6 with or without brackets); no scheme, port or path. */
function isHostName(value: string): boolean {
  const v = value.replace(/^\[(.*)\]$/, '$1');
  if (isIP(v)) return true;
  return (
    v.length <= 253 &&
    /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/.test(
      v,
    )
  );
}
const name = () => text().describe('Unique identifier.');
/** `env` and `env_groups` of a backend: env rules applied to every task that runs on it. */
const backendEnv = () => ({
  env: EnvRulesSchema.default([]).describe(
    'Env rules applied first to every task on this backend (before the server, document and task rules).',
  ),
  env_groups: EnvGroupsSchema.default({}).describe(
    'Named env rule lists for `include` (shadowed by later layers).',
  ),
});
/** The `backends[]` entry of a plugin: `name` and `type`, the plugin's own fields, the env rules. */
export function backendEntrySchema<const T extends string, S extends z.ZodRawShape>(
  plugin: BackendPlugin<T, S>,
) {
  return z
    .strictObject({
      name: name(),
      type: z.literal(plugin.type),
      ...plugin.configSchema.shape,
      ...backendEnv(),
    })
    .describe(plugin.description);
}

export const SlurmBackendSchema = backendEntrySchema(slurmBackend);
export const PbsBackendSchema = backendEntrySchema(pbsBackend);
export const BatchBackendSchema = backendEntrySchema(batchBackend);
export const Ec2BackendSchema = backendEntrySchema(ec2Backend);
export const EcsBackendSchema = backendEntrySchema(ecsBackend);
export const LocalBackendSchema = backendEntrySchema(localBackend);

/** The union of the installed backend types ({@link INSTALLED_BACKENDS}, in that order). */
export const BackendSchema = z.discriminatedUnion('type', [
  SlurmBackendSchema,
  PbsBackendSchema,
  BatchBackendSchema,
  Ec2BackendSchema,
  EcsBackendSchema,
  LocalBackendSchema,
]);

/**
 * `array` of a workflow, source or project: `auto` or `off` overrides the backend's `array` for
 * the runs it starts (recorded with each run); unset (null): the backend's setting.
 */
export const workflowArray = () =>
  z
    .enum(['auto', 'off'])
    .nullable()
    .default(null)
    .describe(
      "Job arrays for this workflow's runs: auto or off overrides the backend's `array`; null = the backend's setting (see docs/arrays.md).",
    );

const workflowsGlob = () =>
  text().default(DEFAULT_WORKFLOWS_GLOB).describe('Glob of workflow JSON files (supports **).');

export const GitSourceSchema = z
  .strictObject({
    name: name(),
    type: z.literal('git'),
    url: text().describe('Git repository URL.'),
    branch: text().default('main').describe('Branch to track.'),
    deploy_key: optText().describe('Local path of a deploy key (~ expanded).'),
    backend: text().describe('Backend that runs discovered workflow tasks.'),
    workflows_glob: workflowsGlob(),
    clone_dir: cloneDir(),
    postclone: optText().describe('Shell command run in the clone after cloning.'),
    array: workflowArray(),
  })
  .describe('Git repository source.');

export const PathSourceSchema = z
  .strictObject({
    name: name(),
    type: z.literal('path'),
    path: text().describe('Directory on the backend filesystem (not expanded locally).'),
    backend: text().describe('Backend where the path exists.'),
    workflows_glob: workflowsGlob(),
    array: workflowArray(),
  })
  .describe('Directory on a backend.');

export const SourceSchema = z.discriminatedUnion('type', [GitSourceSchema, PathSourceSchema]);

export const WorkflowGitSchema = z
  .strictObject({
    repo: text().describe('Git repository URL.'),
    branch: text().default('main').describe('Branch to clone.'),
    deploy_key: optText().describe(
      'Local path of a deploy key, uploaded temporarily for the clone (~ expanded).',
    ),
    clone_dir: cloneDir(),
    postclone: optText().describe('Shell command run in the clone after cloning.'),
  })
  .describe('Repository cloned on the backend before the command runs.');

export const WorkflowSchema = z.strictObject({
  name: name(),
  backend: text().describe('Name of a backend.'),
  command: text().describe('Shell command that prints task JSON on stdout.'),
  max_concurrent: int(1)
    .nullable()
    .default(null)
    .describe('Max concurrent tasks per run (>= 1); null = backend limit.'),
  description: z.string().default('').describe('Shown in the UI.'),
  git: WorkflowGitSchema.nullable().default(null),
  array: workflowArray(),
});

export const ProjectSchema = z.strictObject({
  name: name(),
  backend: text().describe('Backend where the project lives.'),
  path: text().describe('Path of the git repository on the backend (not expanded locally).'),
  max_concurrent: int(1).nullable().default(null).describe('Default max concurrent tasks per run (>= 1).'),
  description: z.string().default(''),
  array: workflowArray(),
});

export const EnvironmentSchema = z.strictObject({
  name: name(),
  variables: environmentVariables()
    .default({})
    .describe(
      'Variables exported before the task command: NAME: value, or NAME: { value, secret } (secret values are redacted wherever they are shown).',
    ),
  extra_init: z.string().default('').describe('Raw bash lines run after the exports.'),
});

export const PricingSchema = z
  .strictObject({
    region: text().default('us-east-1').describe('AWS region of the price lookup.'),
    price_type: z.enum(PRICE_TYPES).default('ondemand'),
    partitions: stringMap().default({}).describe('Scheduler partition -> EC2 instance type.'),
    price_source: text()
      .default(DEFAULT_PRICE_SOURCE)
      .describe(
        'Local path (~ expanded) or http(s) URL of an instances.json in the instances.vantage.sh format.',
      ),
    cache_hours: z
      .number({ error: (iss) => `expected a positive number of hours, got ${show(iss.input)}` })
      .positive({ error: (iss) => `expected a positive number of hours, got ${show(iss.input)}` })
      .default(24)
      .describe('How long downloaded price data is reused.'),
  })
  .describe('EC2-equivalent cost estimation.');

export const SettingsSchema = z
  .strictObject({
    poll_interval: int(5).default(60).describe('Seconds between job status polls (>= 5).'),
    server_host: text().default('127.0.0.1').describe('Address the web server binds to.'),
    server_port: int(1, 65535).default(8000).describe('Port the web server binds to.'),
    data_dir: text().default(DEFAULT_DATA_DIR).describe('Base directory of stored data (~ expanded).'),
    sources_cache_dir: text()
      .optional()
      .describe('Cache of cloned sources (~ expanded). Default: <data_dir>/sources.'),
    filter_user: optText().describe('Default user of the "My Jobs" filter.'),
    retention_days: int(0)
      .default(30)
      .describe(
        'Finished runs older than this many days are deleted (store rows and local log copies; the usage ledger keeps their CPU-hours). 0 keeps runs forever.',
      ),
    auth_token: optText().describe(
      'Secret bearer token for the API and UI. Default: SCRIPTHUT_TOKEN, else a random token kept in <data_dir>/auth_token. At least 32 characters on a non-loopback server_host.',
    ),
    allowed_hosts: z
      .array(
        z.string().refine(isHostName, {
          error: (iss) =>
            `expected a host name or IP address without scheme, port or path, got ${show(iss.input)}`,
        }),
      )
      .default([])
      .describe(
        'Extra names the server answers to in the Host header (besides loopback names and server_host), e.g. the name of a reverse proxy.',
      ),
    tls_cert: optText().describe('PEM certificate (chain) file: serve https (~ expanded). Needs tls_key.'),
    tls_key: optText().describe('PEM private key file of tls_cert (~ expanded).'),
    notify_url: text()
      .refine((v) => /^https?:\/\/[^\s]+$/i.test(v), {
        error: (iss) => `expected an http(s) URL, got ${show(iss.input)}`,
      })
      .describe(
        'Webhook: a JSON document {runId, workflow, status, counts, durationMs...} is POSTed here once per finished run (retried with backoff). Treated as a secret (never shown or logged).',
      )
      .optional(),
  })
  .describe('Global settings.');

/** The whole file. Sections may be omitted or left empty. */
export const ConfigFileSchema = z
  .strictObject({
    backends: z.array(BackendSchema).nullish(),
    sources: z.array(SourceSchema).nullish(),
    workflows: z.array(WorkflowSchema).nullish(),
    projects: z.array(ProjectSchema).nullish(),
    environments: z.array(EnvironmentSchema).nullish(),
    env: EnvRulesSchema.nullish().describe(
      "Server-level env rules, applied to every task after its backend's rules.",
    ),
    env_groups: EnvGroupsSchema.nullish(),
    pricing: PricingSchema.nullish(),
    settings: SettingsSchema.nullish(),
  })
  .describe('ScriptHut configuration (scripthut.yaml).');

const fileSchemas = new WeakMap<BackendRegistry, typeof ConfigFileSchema>();

/**
 * The file's schema for the backend types of `registry` (e.g. the installed ones plus those of
 * `SCRIPTHUT_PLUGINS`). Entries of types beyond the installed ones are typed as the installed union
 * by TypeScript: their plugin reads them.
 */
export function configFileSchemaFor(registry: BackendRegistry): typeof ConfigFileSchema {
  let schema = fileSchemas.get(registry);
  if (!schema) {
    const [first, ...rest] = registry.plugins().map((p) => backendEntrySchema(p));
    if (!first) throw new Error('a backend registry without plugins cannot validate a configuration');
    schema = ConfigFileSchema.extend({
      backends: z.array(z.discriminatedUnion('type', [first, ...rest])).nullish(),
    }) as unknown as typeof ConfigFileSchema;
    fileSchemas.set(registry, schema);
  }
  return schema;
}

/** Names of the top-level sections. */
export const SECTIONS = [
  'backends',
  'sources',
  'workflows',
  'projects',
  'environments',
  'env',
  'env_groups',
  'pricing',
  'settings',
] as const;
