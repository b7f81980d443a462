/**
 * OpenSSH ControlMaster socket paths (`ssh.control_path`): validation, the expansion of `~`,
 * `${VAR}` and `%` tokens the way `ssh` expands `ControlPath` (see ssh_config(5), TOKENS), and the
 * command a user runs to open the master connection (answering an MFA prompt once).
 */
import { createHash } from 'node:crypto';
import { homedir, hostname, userInfo } from 'node:os';
import { controlPathProblem, shellQuote } from '@scripthut/core';

/** Longest socket path a Unix domain socket can bind on Linux (`sun_path` is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The connection a control path is expanded for, and the local facts `ssh` uses. */
export interface ControlPathContext {
  /** Remote host as configured (`%h`, `%n`, `%k`). */
  host: string;
  /** Remote port (`%p`). */
  port: number;
  /** Remote user (`%r`). */
  user: string;
  /** Local home directory (`~`, `%d`). Default `os.homedir()`. */
  homeDir?: string;
  /** Local host name with domain (`%l`; `%L` is the part before the first dot). Default `os.hostname()`. */
  localHostname?: string;
  /** Local user name (`%u`). Default `os.userInfo().username`. */
  localUser?: string;
  /** Local user id (`%i`). Default `process.getuid()`. */
  uid?: number;
  /** Environment for `${NAME}` references. Default `process.env`. */
  env?: Record<string, string | undefined>;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * `%C`: the hex SHA-1 of `%l%h%p%r`, as OpenSSH computes it (ssh_config(5): "Hash of %l%h%p%r").
 *
 * @example
 * ```ts
 * controlPathHash('vm', '127.0.0.1', 2222, 'hut') // '8ecc6204…' (the value `ssh -G` shows)
 * ```
 */
export function controlPathHash(localHostname: string, host: string, port: number, user: string): string {
  return createHash('sha1').update(`${localHostname}${host}${port}${user}`).digest('hex');
}

/**
 * Expands `path` the way `ssh` expands `ControlPath` for this connection: a leading `~` or `~/`
 * (local home directory), `${NAME}` environment references, then the `%` tokens of
 * `CONTROL_PATH_TOKENS` (`@scripthut/core`). `%h` is the host exactly as configured (a `HostName` alias in
 * `~/.ssh/config` is not applied).
 *
 * @throws Error naming the problem when `controlPathProblem` (`@scripthut/core`) rejects the path or a
 *   referenced environment variable is not set.
 * @example
 * ```ts
 * expandControlPath('~/.ssh/cm-%r@%h:%p', { host: 'login.hpc.edu', port: 22, user: 'me', homeDir: '/home/me' })
 * // '/home/me/.ssh/cm-me@login.hpc.edu:22'
 * ```
 */
export function expandControlPath(path: string, ctx: ControlPathContext): string {
  const problem = controlPathProblem(path);
  if (problem) throw new Error(`invalid control path ${JSON.stringify(path)}: ${problem}`);
  const home = ctx.homeDir ?? homedir();
  const env = ctx.env ?? process.env;
  let out = path;
  if (out === '~') out = home;
  else if (out.startsWith('~/')) out = `${home}${out.slice(1)}`;
  out = out.replace(ENV_REF, (_m, name: string) => {
    const value = env[name];
    if (value === undefined)
      throw new Error(
        `invalid control path ${JSON.stringify(path)}: environment variable ${name} is not set`,
      );
    return value;
  });
  const local = ctx.localHostname ?? hostname();
  const values: Record<string, () => string> = {
    '%': () => '%',
    C: () => controlPathHash(local, ctx.host, ctx.port, ctx.user),
    d: () => home,
    h: () => ctx.host,
    i: () => String(ctx.uid ?? process.getuid?.() ?? 0),
    k: () => ctx.host,
    L: () => local.split('.')[0] ?? local,
    l: () => local,
    n: () => ctx.host,
    p: () => String(ctx.port),
    r: () => ctx.user,
    u: () => ctx.localUser ?? userInfo().username,
  };
  return out.replace(/%(.)/g, (_m, t: string) => values[t]!());
}

/** What {@link masterLoginCommand} needs: the destination and the control path as configured. */
export interface MasterLoginTarget {
  host: string;
  port: number;
  user: string;
  /** `ssh.control_path` as written in the config (ssh expands it itself). */
  controlPath: string;
}

/**
 * The shell command that opens the master connection in the background (asking for the password
 * and second factor in the terminal once), with every value quoted.
 *
 * @example
 * ```ts
 * masterLoginCommand({ host: 'login.hpc.edu', port: 22, user: 'me', controlPath: '~/.ssh/cm-%r@%h:%p' })
 * // "ssh -M -S '~/.ssh/cm-%r@%h:%p' -o ControlPersist=yes -fN -p 22 me@login.hpc.edu"
 * ```
 */
export function masterLoginCommand(t: MasterLoginTarget): string {
  return ['ssh', ...masterLoginArgs(t)].map(shellQuote).join(' ');
}

/**
 * The argv (after `ssh`) of {@link masterLoginCommand}; `extraOptions` (e.g. `-J bastion`, `-i key`)
 * go before the destination.
 */
export function masterLoginArgs(t: MasterLoginTarget, extraOptions: readonly string[] = []): string[] {
  const destination = t.user.includes('@') ? ['-l', t.user, t.host] : [`${t.user}@${t.host}`];
  return [
    ...['-M', '-S', t.controlPath, '-o', 'ControlPersist=yes', '-fN', '-p', String(t.port)],
    ...extraOptions,
    ...destination,
  ];
}

/** The argv (after `ssh`) that asks the master whether it runs (`ssh -O check`, local only). */
export function masterCheckArgs(t: MasterLoginTarget): string[] {
  return ['-S', t.controlPath, '-O', 'check', '-p', String(t.port), '-l', t.user, '--', t.host];
}
