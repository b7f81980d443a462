/**
 * `scripthut login BACKEND`: the OpenSSH master connection of a backend with `ssh.control_path`,
 * opened by the user (who answers the password / second-factor prompts in the terminal).
 */
import type { BackendConfig } from '@scripthut/config';
import { ScriptHutError } from '@scripthut/core';
import { expandControlPath, masterCheckArgs, masterLoginArgs, masterLoginCommand } from '@scripthut/ssh';

/** How to open and check the master connection of one backend. */
export interface MasterLogin {
  backend: string;
  /** `ssh` argv that opens the master in the background after the login prompts. */
  loginArgs: string[];
  /** `ssh` argv that asks the master whether it runs. */
  checkArgs: string[];
  /** The login command as a user would type it (quoted). */
  command: string;
  /** The socket, as ssh expands `ssh.control_path`. */
  socketPath: string;
}

/**
 * The login of `backend`; `extraOptions` (e.g. `-J bastion`) go to ssh before the destination.
 *
 * @throws ScriptHutError `validation_failed` when the backend has no `ssh.control_path`.
 * @example
 * ```ts
 * const login = masterLoginFor(backendConfig);
 * spawnSync('ssh', login.loginArgs, { stdio: 'inherit' });
 * ```
 */
export function masterLoginFor(backend: BackendConfig, extraOptions: readonly string[] = []): MasterLogin {
  if ((backend.type !== 'slurm' && backend.type !== 'pbs') || !backend.ssh.control_path)
    throw new ScriptHutError(
      'validation_failed',
      `backend "${backend.name}" does not use an OpenSSH master connection (set ssh.control_path on a slurm or pbs backend, e.g. control_path: ~/.ssh/cm-%r@%h:%p)`,
    );
  const target = {
    host: backend.ssh.host,
    port: backend.ssh.port,
    user: backend.ssh.user,
    controlPath: backend.ssh.control_path,
  };
  return {
    backend: backend.name,
    loginArgs: masterLoginArgs(target, extraOptions),
    checkArgs: masterCheckArgs(target),
    command: masterLoginCommand(target),
    socketPath: expandControlPath(target.controlPath, target),
  };
}
