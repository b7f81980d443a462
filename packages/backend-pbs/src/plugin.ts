/**
 * The PBS backend as a plugin (`type: pbs`): its configuration fields and how a validated entry
 * becomes a backend. Kept apart from the backend so that validating a configuration loads neither
 * ssh2 nor the backend.
 */
import { defineBackend } from '@scripthut/core';
import { cloneDir, optText, schedulerArrayFields, schedulerSshFields } from '@scripthut/core/config-fields';
import { z } from 'zod';

/** `type: pbs`: a PBS Pro / OpenPBS / Torque cluster reached over SSH. */
export const pbsBackend = defineBackend({
  type: 'pbs',
  description: 'PBS/Torque cluster reached over SSH.',
  configSchema: z.strictObject({
    ...schedulerSshFields('PBS account (-A).'),
    queue: optText().describe('Default PBS queue; overrides the partition of every task.'),
    clone_dir: cloneDir(),
    ...schedulerArrayFields(
      'auto (default): ready tasks of a run that the scheduler cannot tell apart (queue, cpus, memory, walltime, gpus, account) go out as ONE job array (PBS Pro qsub -J, Torque qsub -t); off: one job per task. A workflow, source or project may set its own `array`.',
    ),
  }),
  async create(config, ctx) {
    const [{ sshFromConfig }, { createPbsBackend }] = await Promise.all([
      import('@scripthut/ssh'),
      import('./backend.js'),
    ]);
    return createPbsBackend({
      name: config.name,
      ssh: sshFromConfig(config.ssh, config.name, ctx),
      account: config.account,
      loginShell: config.login_shell,
      maxConcurrent: config.max_concurrent,
      queue: config.queue,
      cloneDir: config.clone_dir,
      // Always capable: the engine applies `array` (or the workflow's own) per run.
      arrays: true,
      user: config.ssh.user,
    });
  },
});
