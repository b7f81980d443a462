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
import {
  CLUSTERS_RE,
  CONSTRAINT_RE,
  controlPathProblem,
  EXCLUSIVE_MODES,
  imageReferenceProblem,
  MAX_EXTRA_DIRECTIVES,
  POLICY_NAME_RE,
  parseSbatchDirective,
  RESERVED_ENV_PREFIX,
} from '@scripthut/core';
import { z } from 'zod';
import { EnvGroupsSchema, EnvRulesSchema, PartitionMapSchema } from './env-rules.js';
import { configErrorMap } from './messages.js';
import { show } from './suggest.js';

/** Default pricing data source: the instances.vantage.sh EC2 catalogue. */
export const DEFAULT_PRICE_SOURCE = 'https://instances.vantage.sh/instances.json';
/** Default parent directory of clones on a backend (a backend path, never expanded locally). */
export const DEFAULT_CLONE_DIR = '~/scripthut-repos';
/** Default glob used to discover workflow JSON files in sources. */
export const DEFAULT_WORKFLOWS_GLOB = '.hut/workflows/*.json';
/** Default `settings.data_dir` (before `~` expansion). */
export const DEFAULT_DATA_DIR = '~/.cache/scripthut';

/** Minimum length of an auth token when the server binds a non-loopback address (characters). */
export const MIN_REMOTE_TOKEN_LENGTH = 32;

/** Values accepted by `pricing.price_type`. */
export const PRICE_TYPES = ['ondemand', 'spot_avg', 'spot_min', 'spot_max'] as const;
/** Values accepted by `backends[].type`. */
export const BACKEND_TYPES = ['slurm', 'pbs', 'batch', 'ec2', 'ecs', 'local'] as const;

/** Integer with bounds; the message always states the full allowed range. */
function int(min: number, max?: number) {
  const wanted = max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  const error = (iss: { input?: unknown }) =>
    iss.input === undefined ? 'required field is missing' : `expected ${wanted}, got ${show(iss.input)}`;
  const base = z.int({ error }).min(min, { error });
  return max === undefined ? base : base.max(max, { error });
}

/** Non-empty string. */
const text = () => z.string().min(1);
/** Optional string that may be omitted or left empty (`key:`) in YAML; defaults to null. */
const optText = () => text().nullable().default(null);

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

/** map[string, string] whose scalar values are converted to strings (e.g. EC2 tags `CostCenter: 1234`). */
const stringMap = () => z.record(z.string(), scalarString);

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
/** Optional container image reference (Docker reference grammar: never an option such as `--privileged`). */
const imageRef = () =>
  text()
    .superRefine((v, ctx) => {
      const problem = imageReferenceProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: `image ${JSON.stringify(v)} ${problem}` });
    })
    .nullable()
    .default(null);

const name = () => text().describe('Unique identifier.');
const maxConcurrent = () =>
  int(1).default(100).describe('Maximum total concurrent jobs across all runs on this backend (>= 1).');
const cloneDir = () =>
  text()
    .default(DEFAULT_CLONE_DIR)
    .describe('Path ON THE BACKEND (not expanded locally) whose disk usage is shown in the UI.');

/** `array` and `array_min_size` of a scheduler backend: job arrays for homogeneous fan-outs. */
const arraySettings = () => ({
  array: z
    .enum(['auto', 'off'])
    .default('auto')
    .describe(
      'auto: ready tasks of a run that the scheduler cannot tell apart (partition, cpus, memory, time, gres, account, site policy) go out as ONE job array; off: one job per task.',
    ),
  array_min_size: int(2)
    .default(2)
    .describe(
      'Smallest group of such tasks submitted as an array (>= 2); smaller groups go one job per task.',
    ),
});

/** `env` and `env_groups` of a backend: env rules applied to every task that runs on it. */
const backendEnv = () => ({
  env: EnvRulesSchema.default([]).describe(
    'Env rules applied first to every task on this backend (before the server, document and task rules).',
  ),
  env_groups: EnvGroupsSchema.default({}).describe(
    'Named env rule lists for `include` (shadowed by later layers).',
  ),
});
/** `partition_map` of a backend with partitions or queues. */
const partitionMap = () => ({ partition_map: PartitionMapSchema.default({}) });

/** A host or user name for ssh: no whitespace or control characters, never an option. */
const sshName = (what: string) =>
  text().regex(/^[^-\s\u0000-\u001f\u007f][^\s\u0000-\u001f\u007f]*$/, {
    error: (iss) => `expected a ${what} without spaces, not starting with "-", got ${show(iss.input)}`,
  });

/** SSH connection settings shared by Slurm and PBS backends. */
export const SshSchema = z
  .strictObject({
    host: sshName('host name').describe('Hostname of the login node.'),
    port: int(1, 65535).default(22).describe('SSH port (1..65535).'),
    user: sshName('user name').describe('SSH username.'),
    key_path: text()
      .default('~/.ssh/id_rsa')
      .describe('Local path to the SSH private key (~ expanded). Not used with control_path.'),
    cert_path: optText().describe('Local path to an OpenSSH certificate for the key (~ expanded).'),
    known_hosts: optText().describe(
      'Local known_hosts file (~ expanded) the host key must be listed in. If null, the key is pinned on the first connection in <data_dir>/known_hosts and a changed key is refused.',
    ),
    control_path: optText()
      .superRefine((v, ctx) => {
        const problem = v === null ? null : controlPathProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe(
        'OpenSSH ControlMaster socket (~, environment variables and %r %h %p %C ... as in ssh_config). When set, commands go through the system ssh client and a master connection the user opened (ssh -M -S <path> -fN ...), e.g. after an MFA prompt; key_path, cert_path and known_hosts are not used.',
      ),
  })
  .describe('SSH connection settings.');

/** Optional string matching `re` (message names what was expected); null when unset. */
const optMatching = (re: RegExp, what: string) =>
  z
    .string()
    .regex(re, { error: (iss) => `expected ${what}, got ${show(iss.input)}` })
    .nullable()
    .default(null);

export const SlurmBackendSchema = z
  .strictObject({
    name: name(),
    type: z.literal('slurm'),
    ssh: SshSchema,
    account: optText().describe('Slurm account (--account).'),
    login_shell: z.boolean().default(false).describe('Job scripts use `#!/bin/bash -l`.'),
    max_concurrent: maxConcurrent(),
    clone_dir: cloneDir(),
    qos: optMatching(POLICY_NAME_RE, 'a QOS name').describe('Quality of service of every job (--qos).'),
    constraint: optMatching(CONSTRAINT_RE, 'node features such as "gpu" or "a100&ib"').describe(
      'Node features every job requires (--constraint), e.g. "gpu&a100".',
    ),
    reservation: optMatching(POLICY_NAME_RE, 'a reservation name').describe(
      'Advance reservation every job runs in (--reservation).',
    ),
    exclusive: z
      .union([z.boolean(), z.enum(EXCLUSIVE_MODES)], {
        error: (iss) => `expected true, false, "user", "mcs" or "topo", got ${show(iss.input)}`,
      })
      .nullable()
      .default(null)
      .describe(
        'Whole nodes for every job (--exclusive); "user", "mcs" or "topo" for the --exclusive=… forms.',
      ),
    clusters: optMatching(CLUSTERS_RE, 'cluster names separated by commas').describe(
      'Cluster(s) of a multi-cluster site (--clusters); status and cancel then use -M.',
    ),
    extra_directives: z
      .array(
        z.string().superRefine((d, ctx) => {
          const parsed = parseSbatchDirective(d);
          if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
        }),
      )
      .max(MAX_EXTRA_DIRECTIVES, { error: `at most ${MAX_EXTRA_DIRECTIVES} entries` })
      .default([])
      .describe('Further #SBATCH options for every job, one per entry: "--name" or "--name=value".'),
    ...arraySettings(),
    ...partitionMap(),
    ...backendEnv(),
  })
  .describe('Slurm cluster reached over SSH.');

export const PbsBackendSchema = z
  .strictObject({
    name: name(),
    type: z.literal('pbs'),
    ssh: SshSchema,
    account: optText().describe('PBS account (-A).'),
    login_shell: z.boolean().default(false).describe('Job scripts use `#!/bin/bash -l`.'),
    max_concurrent: maxConcurrent(),
    queue: optText().describe('Default PBS queue; overrides the partition of every task.'),
    clone_dir: cloneDir(),
    ...partitionMap(),
    ...backendEnv(),
  })
  .describe('PBS/Torque cluster reached over SSH.');

const awsProfile = () => optText().describe('AWS CLI profile; omit to use the default credential chain.');

export const BatchBackendSchema = z
  .strictObject({
    name: name(),
    type: z.literal('batch'),
    aws: z.strictObject({
      profile: awsProfile(),
      region: text().describe('AWS region, e.g. us-east-1.'),
      job_queue: text().describe('Default AWS Batch job queue.'),
    }),
    job_definition: optText().describe(
      'Pre-registered job definition (name, name:revision or ARN). Either job_definition or default_image must be set.',
    ),
    job_definition_mode: z
      .enum(['locked', 'revisions'])
      .default('locked')
      .describe(
        '"locked": submit against job_definition verbatim; "revisions": register new revisions per image.',
      ),
    default_image: imageRef().describe(
      'Default container image used when auto-registering a job definition.',
    ),
    job_role_arn: optText().describe('IAM role the container assumes (auto-registration only).'),
    execution_role_arn: optText().describe(
      'IAM role ECS uses to pull images and push logs (auto-registration only).',
    ),
    retry_attempts: int(1, 10)
      .default(1)
      .describe("retryStrategy.attempts (1..10), always sent (a job definition's own retries never apply)."),
    log_group: text()
      .default('/aws/batch/job')
      .describe("CloudWatch Logs group of the container logs (a job definition's own awslogs group wins)."),
    share_identifier: text()
      .regex(/^[A-Za-z0-9_]{1,255}\*?$/, {
        error: 'expected up to 255 letters, digits or "_" (optionally followed by "*")',
      })
      .nullable()
      .default(null)
      .describe(
        'Share identifier of jobs sent to a fair-share job queue (one with a scheduling policy, which refuses jobs without one); not sent to FIFO queues.',
      ),
    scheduling_priority: int(0, 9999)
      .nullable()
      .default(null)
      .describe(
        "schedulingPriorityOverride (0..9999) of jobs on fair-share queues; null: the job definition's own, else 0.",
      ),
    assign_public_ip: z
      .boolean()
      .default(false)
      .describe(
        'Fargate queues: job definitions ScriptHut registers get a public IP (needed to pull images in subnets without a NAT gateway).',
      ),
    max_concurrent: maxConcurrent(),
    ...partitionMap(),
    ...backendEnv(),
  })
  .describe('AWS Batch (API based, containers).');

export const Ec2BackendSchema = z
  .strictObject({
    name: name(),
    type: z.literal('ec2'),
    aws: z.strictObject({
      profile: awsProfile(),
      region: text().describe('AWS region.'),
    }),
    ami: text().describe(
      'AMI for every task instance: sshd, SSM Agent and ec2-instance-connect; docker is installed at boot when missing.',
    ),
    subnet_id: text().describe('Subnet where task instances launch.'),
    security_group_ids: z.array(text()).default([]).describe('Security group IDs (inbound 22 not required).'),
    instance_types: stringMap()
      .default({ default: 'c5.xlarge' })
      .describe('task.partition -> EC2 instance type; unknown partitions use "default".'),
    instance_profile_arn: optText().describe('IAM instance profile attached to each task instance.'),
    default_image: imageRef().describe('Default container image.'),
    ssh_user: text().default('ec2-user').describe('OS user scripthut logs in as.'),
    max_instances: int(1).default(20).describe('Hard cap on concurrent task instances (>= 1).'),
    max_concurrent: maxConcurrent(),
    idle_terminate_seconds: int(60)
      .default(1800)
      .describe('Safety slack past task.time_limit before self-termination (>= 60).'),
    startup_timeout_seconds: int(60)
      .default(600)
      .describe(
        'Fail a task whose instance is not running in time, or running but never reachable over SSM/SSH in time (>= 60).',
      ),
    tag_prefix: text().default('scripthut').describe('Tag namespace of scripthut-owned instances.'),
    extra_tags: stringMap().default({}).describe('Additional tags for every launched instance.'),
    ...partitionMap(),
    ...backendEnv(),
  })
  .describe('AWS EC2: one instance per task.');

export const EcsBackendSchema = z
  .strictObject({
    name: name(),
    type: z.literal('ecs'),
    aws: z.strictObject({
      profile: awsProfile(),
      region: text().describe('AWS region.'),
      cluster_name: text().describe('ECS cluster name.'),
    }),
    max_concurrent: maxConcurrent(),
  })
  .describe('AWS ECS (parsed, not implemented yet).');

export const LocalBackendSchema = z
  .strictObject({
    name: name(),
    type: z.literal('local'),
    max_concurrent: int(1)
      .optional()
      .describe('Maximum concurrent tasks (>= 1). Default: number of CPUs of the host.'),
    login_shell: z.boolean().default(false).describe('Job scripts use `#!/bin/bash -l`.'),
    clone_dir: optText().describe(
      'Directory whose disk usage is shown in the UI (not expanded by the config loader).',
    ),
    work_dir: optText().describe('Default working directory of tasks (not expanded by the config loader).'),
    inherit_env: z
      .array(text())
      .default([])
      .describe(
        "Variables of the ScriptHut process that tasks inherit although they look secret (names or * patterns, e.g. AWS_*). By default tasks do not inherit the server's secrets: SCRIPTHUT_TOKEN, AWS credentials, *_TOKEN/*_KEY/*_SECRET/*_PASSWORD and configured secret variables.",
      ),
    ...backendEnv(),
  })
  .describe('Runs tasks as subprocesses on the ScriptHut host.');

export const BackendSchema = z.discriminatedUnion('type', [
  SlurmBackendSchema,
  PbsBackendSchema,
  BatchBackendSchema,
  Ec2BackendSchema,
  EcsBackendSchema,
  LocalBackendSchema,
]);

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
  })
  .describe('Git repository source.');

export const PathSourceSchema = z
  .strictObject({
    name: name(),
    type: z.literal('path'),
    path: text().describe('Directory on the backend filesystem (not expanded locally).'),
    backend: text().describe('Backend where the path exists.'),
    workflows_glob: workflowsGlob(),
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
});

export const ProjectSchema = z.strictObject({
  name: name(),
  backend: text().describe('Backend where the project lives.'),
  path: text().describe('Path of the git repository on the backend (not expanded locally).'),
  max_concurrent: int(1).nullable().default(null).describe('Default max concurrent tasks per run (>= 1).'),
  description: z.string().default(''),
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
