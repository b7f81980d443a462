/**
 * What every scheduler-over-SSH backend (Slurm, PBS) has alike beyond submission and status: where
 * its exit markers live, and the {@link Backend} members that only need the connection — logs,
 * files, outputs, the command runner, health, the command log, the home directory and `close`.
 */
import type { Backend, ExecResult } from '@scripthut/core';
import type { BackendExecOptions, BackendSsh } from './backend-connection.js';
import { readRemoteFile, readRemoteLog } from './remote-files.js';
import { listRemoteOutputs, readRemoteOutputFile } from './remote-outputs.js';

/** Where job scripts leave `<tag>.rc` exit-code markers unless the backend is told otherwise. */
export const DEFAULT_MARKER_DIR = '~/.cache/scripthut/markers';

/** The marker file of `tag` in `markerDir` (`<markerDir>/<tag>.rc`). */
export function markerPathIn(markerDir: string, tag: string): string {
  return `${markerDir.replace(/\/+$/, '')}/${tag}.rc`;
}

/** The options every scheduler-over-SSH backend takes (each adds its own). */
export interface SchedulerBackendOptions {
  /** Backend name from the configuration. */
  name: string;
  /** Connection to the login node. The backend owns it: `close()` closes it. */
  ssh: BackendSsh;
  /** The account every job is charged to (null/absent: none). */
  account?: string | null;
  /** Job scripts start with `#!/bin/bash -l`. */
  loginShell?: boolean;
  /** Max concurrent jobs across all runs on this backend. */
  maxConcurrent: number;
  /** Directory whose disk usage `clusterInfo` reports. Default `~/scripthut-repos`. */
  cloneDir?: string;
  /** Login user (default filter of `externalJobs`); otherwise the SSH login user. */
  user?: string;
  /** Where job scripts leave `<tag>.rc` exit-code markers. Default {@link DEFAULT_MARKER_DIR}. */
  markerDir?: string;
  /** Max tasks per submission round trip. Default 100. */
  submitChunkSize?: number;
  /** Preferred poll interval (ms). */
  pollIntervalMs?: number;
  /**
   * Offer job arrays ({@link Backend.arrays}; default false when the backend is created directly;
   * the plugin sets true): the engine may then submit tasks the scheduler cannot tell apart as one
   * array job when the backend's `array` (default `auto`) or the run's workflow says so. false (and
   * always on Torque): every task is its own job.
   */
  arrays?: boolean;
}

/** What {@link sshBackendMembers} needs. */
export interface SshBackendBase {
  /** Backend name from the configuration (named in errors). */
  name: string;
  /** The connection; the backend owns it (`close()` closes it). */
  ssh: BackendSsh;
  /** Runs a command on the login node (the backend's own wrapper of `ssh.exec`). */
  run: (command: string, options?: BackendExecOptions) => Promise<ExecResult>;
  resolvePath: (path: string) => string;
  homeDir: () => Promise<string>;
}

/** The members of a scheduler-over-SSH backend that only need its connection. */
export type SshBackendMembers = Required<
  Pick<
    Backend,
    | 'readLog'
    | 'readFile'
    | 'listOutputs'
    | 'readOutputFile'
    | 'commandRunner'
    | 'health'
    | 'commandLog'
    | 'homeDir'
    | 'close'
  >
>;

/**
 * The {@link Backend} members a scheduler over SSH implements by reading files over its connection
 * (one round trip each; paths resolved against the remote home).
 *
 * @example
 * ```ts
 * return { name, type: 'slurm', submit, status, cancel, ...sshBackendMembers({ name, ssh, run, resolvePath, homeDir }) };
 * ```
 */
export function sshBackendMembers(base: SshBackendBase): SshBackendMembers {
  const { name, ssh, run, resolvePath, homeDir } = base;
  return {
    readLog: (request, opts) => readRemoteLog(run, request.path, opts),
    readFile: (path, cwd) => readRemoteFile(run, path, cwd, name),
    listOutputs: async (requests) => {
      await homeDir();
      return listRemoteOutputs(run, requests, resolvePath, name);
    },
    readOutputFile: async (dir, relPath, maxBytes) => {
      await homeDir();
      return readRemoteOutputFile(run, resolvePath(dir), relPath, maxBytes, name);
    },
    commandRunner: () => ssh,
    health: () => ssh.health(),
    commandLog: () => ssh.commandLog(),
    homeDir,
    close: () => ssh.close(),
  };
}
