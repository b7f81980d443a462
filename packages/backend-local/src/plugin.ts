/**
 * The local backend as a plugin (`type: local`): its configuration fields and how a validated
 * entry becomes a backend.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { defineBackend } from '@scripthut/core';
import { int, optText, text } from '@scripthut/core/config-fields';
import { z } from 'zod';

/** `type: local`: tasks run as subprocesses of the ScriptHut host. */
export const localBackend = defineBackend({
  type: 'local',
  description: 'Runs tasks as subprocesses on the ScriptHut host.',
  configSchema: z.strictObject({
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
  }),
  async create(config, ctx) {
    const { createLocalBackend } = await import('./local-backend.js');
    return createLocalBackend({
      name: config.name,
      maxConcurrent: config.max_concurrent ?? Math.max(1, cpus().length),
      spoolDir: join(ctx.dataDir, 'local-jobs', config.name),
      loginShell: config.login_shell,
      secretEnvNames: ctx.secretEnvNames,
      inheritEnv: config.inherit_env,
    });
  },
});
