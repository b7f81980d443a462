/**
 * The connection of a backend reached over SSH, built from its validated `ssh` block: the user's
 * OpenSSH master (`control_path`, e.g. a cluster that asks for a second factor) or an ssh2
 * connection with host keys checked against `known_hosts` or pinned on first use.
 */
import { join } from 'node:path';
import type { BackendBuildContext } from '@scripthut/core';
import type { SshFields } from '@scripthut/core/config-fields';
import type { BackendSsh } from './backend-connection.js';
import { SshConnection } from './connection.js';
import { OpenSshTransport } from './openssh-transport.js';

/**
 * ScriptHut's own known_hosts file, `<data_dir>/known_hosts`: SSH host keys of backends without
 * `ssh.known_hosts` are pinned there on the first connection (trust on first use).
 */
export function pinnedKnownHostsPath(dataDir: string): string {
  return join(dataDir, 'known_hosts');
}

/**
 * The connection of backend `backendName` described by `ssh` (local paths already `~`-expanded).
 *
 * @example
 * ```ts
 * const connection = sshFromConfig(config.ssh, config.name, ctx); // in a plugin's create()
 * ```
 */
export function sshFromConfig(ssh: SshFields, backendName: string, ctx: BackendBuildContext): BackendSsh {
  const onWarning = (m: string) => ctx.warn(`backend ${backendName}: ${m}`);
  if (ssh.control_path)
    return new OpenSshTransport(
      { host: ssh.host, port: ssh.port, user: ssh.user, controlPath: ssh.control_path },
      { backendName, onWarning },
    );
  return new SshConnection(
    {
      host: ssh.host,
      port: ssh.port,
      user: ssh.user,
      keyPath: ssh.key_path,
      certPath: ssh.cert_path ?? null,
      knownHostsPath: ssh.known_hosts ?? null,
      // Without a configured known_hosts file, keys are pinned on first use (never unchecked).
      pinnedKnownHostsPath: ssh.known_hosts ? null : pinnedKnownHostsPath(ctx.dataDir),
    },
    { onWarning },
  );
}
