/**
 * The Slurm backend as a plugin (`type: slurm`): its configuration fields and how a validated
 * entry becomes a backend. Kept apart from the backend so that validating a configuration loads
 * neither ssh2 nor the backend.
 */
import {
  CLUSTERS_RE,
  CONSTRAINT_RE,
  defineBackend,
  EXCLUSIVE_MODES,
  MAX_EXTRA_DIRECTIVES,
  POLICY_NAME_RE,
  parseSbatchDirective,
} from '@scripthut/core';
import {
  cloneDir,
  optMatching,
  schedulerArrayFields,
  schedulerSshFields,
  showConfigValue,
} from '@scripthut/core/config-fields';
import { z } from 'zod';

/** `type: slurm`: a Slurm cluster reached over SSH. */
export const slurmBackend = defineBackend({
  type: 'slurm',
  description: 'Slurm cluster reached over SSH.',
  configSchema: z.strictObject({
    ...schedulerSshFields('Slurm account (--account).'),
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
        error: (iss) => `expected true, false, "user", "mcs" or "topo", got ${showConfigValue(iss.input)}`,
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
    ...schedulerArrayFields(
      'auto (default): ready tasks of a run that the scheduler cannot tell apart (partition, cpus, memory, time, gres, account, site policy) go out as ONE job array; off: one job per task. A workflow, source or project may set its own `array`.',
    ),
  }),
  async create(config, ctx) {
    const [{ sshFromConfig }, { createSlurmBackend }] = await Promise.all([
      import('@scripthut/ssh'),
      import('./backend.js'),
    ]);
    return createSlurmBackend({
      name: config.name,
      ssh: sshFromConfig(config.ssh, config.name, ctx),
      account: config.account,
      loginShell: config.login_shell,
      maxConcurrent: config.max_concurrent,
      // Always capable: the engine applies `array` (or the workflow's own) per run.
      arrays: true,
      cloneDir: config.clone_dir,
      user: config.ssh.user,
      policy: {
        qos: config.qos,
        constraint: config.constraint,
        reservation: config.reservation,
        exclusive: config.exclusive,
        clusters: config.clusters,
        extraDirectives: config.extra_directives,
      },
    });
  },
});
