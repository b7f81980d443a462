/** What an SSH batch backend (Slurm, PBS) needs from its connection, and its error wrapping. */
import {
  BackendError,
  type BackendHealth,
  type CommandLogEntry,
  type CommandRunner,
  type ExecResult,
} from '@scripthut/core';
import { truncateOutput } from './remote-files.js';

/** Options accepted by the SSH connection's `exec` (a superset of {@link CommandRunner}'s). */
export interface BackendExecOptions {
  stdin?: string;
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Short text recorded in the command log instead of the command (the program is on stdin). */
  logAs?: string;
}

/**
 * What an SSH batch backend needs from its connection. `SshConnection` satisfies it; unit tests
 * pass a fake.
 */
export interface BackendSsh extends CommandRunner {
  exec(command: string, options?: BackendExecOptions): Promise<ExecResult>;
  health(): BackendHealth;
  commandLog(): CommandLogEntry[];
  close(): Promise<void>;
}

/**
 * `ssh.exec` for backend `name`: a failure that is not already a {@link BackendError} (the
 * connection itself failed) becomes a transient one naming the backend and the command (its
 * `logAs` text when given). A non-zero exit code is returned, not thrown.
 */
export function backendExec(
  ssh: Pick<BackendSsh, 'exec'>,
  name: string,
): (command: string, options?: BackendExecOptions) => Promise<ExecResult> {
  return async (command, opts = {}) => {
    try {
      return await ssh.exec(command, opts);
    } catch (e) {
      if (e instanceof BackendError) throw e;
      throw new BackendError(
        `SSH command failed on backend ${name}: ${e instanceof Error ? e.message : String(e)}`,
        { transient: true, cause: e, command: opts.logAs ?? truncateOutput(command, 200) },
      );
    }
  };
}

/**
 * What is known about a remote command that failed with `err`: whether it may have started (and so
 * done part of its work) and the stdout it had printed. Only an error that says the command never
 * started (`details.started === false`, e.g. the channel could not be opened) counts as not started.
 */
export function interruptedCommand(err: unknown): { started: boolean; stdout: string } {
  const details = (err as { details?: Record<string, unknown> } | null)?.details;
  return {
    started: details?.started !== false,
    stdout: typeof details?.stdout === 'string' ? details.stdout : '',
  };
}
