/**
 * The backend plugins this build of ScriptHut installs, in the order messages list their types.
 * Adding a backend package to ScriptHut is one line here (and the package in package.json);
 * others can be added at run time with the `SCRIPTHUT_PLUGINS` environment variable or the `plugins` option of `loadConfig`/`createRuntime` (see `loadBackendPlugins`).
 */
import { batchBackend } from '@scripthut/backend-batch/plugin';
import { ec2Backend } from '@scripthut/backend-ec2/plugin';
import { ecsBackend } from '@scripthut/backend-ecs/plugin';
import { localBackend } from '@scripthut/backend-local/plugin';
import { pbsBackend } from '@scripthut/backend-pbs/plugin';
import { slurmBackend } from '@scripthut/backend-slurm/plugin';
import { BackendRegistry } from '@scripthut/core';

export { batchBackend, ec2Backend, ecsBackend, localBackend, pbsBackend, slurmBackend };

/** Installed backend plugins. */
export const INSTALLED_BACKENDS = [
  slurmBackend,
  pbsBackend,
  batchBackend,
  ec2Backend,
  ecsBackend,
  localBackend,
] as const;

/** A new registry holding the installed backend plugins. */
export function installedBackendRegistry(): BackendRegistry {
  return new BackendRegistry(INSTALLED_BACKENDS);
}
