/**
 * Building blocks of backend configuration schemas (`@scripthut/core/config-fields`), shared by
 * the configuration loader and the backend plugins so that every backend's fields read and fail the
 * same way (`expected an integer from 1 to 65535, got "22x"`). Messages of other issue kinds come
 * from the loader's error map.
 */
import { z } from 'zod';
import { controlPathProblem } from '../control-path.js';
import { imageReferenceProblem } from '../image-ref.js';

/** Short human rendering of a YAML value for messages: strings quoted, containers described. */
export function showConfigValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (empty value)';
  if (typeof value === 'string') {
    const s = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(s);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}
const show = showConfigValue;

/** Default parent directory of clones on a backend (a backend path, never expanded locally). */
export const DEFAULT_BACKEND_CLONE_DIR = '~/scripthut-repos';

/** Integer with bounds; the message always states the full allowed range. */
export function int(min: number, max?: number) {
  const wanted = max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  const error = (iss: { input?: unknown }) =>
    iss.input === undefined ? 'required field is missing' : `expected ${wanted}, got ${show(iss.input)}`;
  const base = z.int({ error }).min(min, { error });
  return max === undefined ? base : base.max(max, { error });
}

/** Non-empty string. */
export const text = () => z.string().min(1);
/** Optional string that may be omitted or left empty (`key:`) in YAML; defaults to null. */
export const optText = () => text().nullable().default(null);

const scalarString = z
  .union([z.string(), z.number(), z.boolean()], {
    error: (iss) => `expected a string (numbers and booleans are converted), got ${show(iss.input)}`,
  })
  .transform((v) => String(v));
/** map[string, string] whose scalar values are converted to strings (e.g. EC2 tags `CostCenter: 1234`). */
export const stringMap = () => z.record(z.string(), scalarString);

/** Optional container image reference (Docker reference grammar: never an option such as `--privileged`). */
export const imageRef = () =>
  text()
    .superRefine((v, ctx) => {
      const problem = imageReferenceProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: `image ${JSON.stringify(v)} ${problem}` });
    })
    .nullable()
    .default(null);

/** `max_concurrent` of a backend, default 100. */
export const maxConcurrent = () =>
  int(1).default(100).describe('Maximum total concurrent jobs across all runs on this backend (>= 1).');
/** `clone_dir` of a backend reached over SSH. */
export const cloneDir = () =>
  text()
    .default(DEFAULT_BACKEND_CLONE_DIR)
    .describe('Path ON THE BACKEND (not expanded locally) whose disk usage is shown in the UI.');
/** `aws.profile` of an AWS backend. */
export const awsProfile = () =>
  optText().describe('AWS CLI profile; omit to use the default credential chain.');

/**
 * The `aws:` section of an AWS backend: `profile` and `region`, plus the backend's own keys
 * (e.g. Batch's `job_queue`, ECS's `cluster_name`). Unknown keys are refused.
 */
export const awsSection = <S extends z.ZodRawShape>(extra: S) =>
  z.strictObject({
    profile: awsProfile(),
    region: text().describe('AWS region, e.g. us-east-1.'),
    ...extra,
  });

/** Optional string matching `re` (message names what was expected); null when unset. */
export const optMatching = (re: RegExp, what: string) =>
  z
    .string()
    .regex(re, { error: (iss) => `expected ${what}, got ${show(iss.input)}` })
    .nullable()
    .default(null);

/** A host or user name for ssh: no whitespace or control characters, never an option. */
export const sshName = (what: string) =>
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
/** Parsed `ssh` block (local paths are `~`-expanded by the loader). */
export type SshFields = z.output<typeof SshSchema>;

/** Scheduler partition names accepted by `partition_map` (never starting with `-`). */
export const PARTITION_NAME_RE = /^[A-Za-z0-9_.,:+@][A-Za-z0-9_.,:+@-]*$/;

/** `partition_map`: logical partition name → the backend's real one. */
export const PartitionMapSchema = z
  .record(
    z.string().regex(PARTITION_NAME_RE, { error: 'is not a valid partition name' }),
    z.string().regex(PARTITION_NAME_RE, {
      error: (iss) =>
        `expected a partition name (letters, digits, _.,:+@-; not starting with "-"), got ${show(iss.input)}`,
    }),
  )
  .describe('Logical partition (task `partition`) -> partition (queue) of this backend.')
  .meta({ id: 'PartitionMap' });

/** The `partition_map` field of a backend with partitions or queues (spread into its schema). */
export const partitionMap = () => ({ partition_map: PartitionMapSchema.default({}) });

/**
 * The first fields of a scheduler reached over SSH (Slurm, PBS), spread into its schema: `ssh`,
 * `account` (described with the scheduler's option, e.g. `Slurm account (--account).`),
 * `login_shell`, `max_concurrent`.
 */
export const schedulerSshFields = (accountDescription: string) => ({
  ssh: SshSchema,
  account: optText().describe(accountDescription),
  login_shell: z.boolean().default(false).describe('Job scripts use `#!/bin/bash -l`.'),
  max_concurrent: maxConcurrent(),
});

/**
 * The last fields of a scheduler reached over SSH, spread into its schema: `array` (`auto` | `off`,
 * default `auto`, described by the scheduler), `array_min_size` and `partition_map`.
 */
export const schedulerArrayFields = (arrayDescription: string) => ({
  array: z.enum(['auto', 'off']).default('auto').describe(arrayDescription),
  array_min_size: int(2)
    .default(2)
    .describe(
      'Smallest group of such tasks submitted as an array (>= 2); smaller groups go one job per task.',
    ),
  ...partitionMap(),
});
