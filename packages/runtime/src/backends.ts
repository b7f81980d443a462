/**
 * Builds `Backend` instances from the backend sections of the config. Each backend package is
 * imported lazily so that, for example, the AWS SDK is loaded only when an AWS backend is configured.
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { BackendConfig } from '@scripthut/config';
import { type Backend, ScriptHutError } from '@scripthut/core';

export interface BuiltBackend {
  config: BackendConfig;
  backend: Backend | null;
  /** Why the backend could not be built (shown in the UI, runs on it fail with this). */
  error: string | null;
}

/**
 * ScriptHut's own known_hosts file, `<data_dir>/known_hosts`: SSH host keys of backends without
 * `ssh.known_hosts` are pinned there on the first connection (trust on first use).
 */
export function pinnedKnownHostsPath(dataDir: string): string {
  return join(dataDir, 'known_hosts');
}

export interface BackendBuildContext {
  dataDir: string;
  warn: (message: string) => void;
  /** Every variable name configured as secret (withheld from what local tasks inherit). */
  secretEnvNames?: readonly string[];
}

// biome-ignore lint/suspicious/noExplicitAny: backend packages are loaded dynamically
type AnyModule = any;

/**
 * Commands through the user's OpenSSH master connection (`ssh.control_path`, e.g. a cluster that
 * asks for a second factor): no key is read, the master has logged in.
 */
function openSshTransport(
  ssh: AnyModule,
  config: Extract<BackendConfig, { type: 'slurm' | 'pbs' }>,
  ctx: BackendBuildContext,
): unknown {
  return new ssh.OpenSshTransport(
    {
      host: config.ssh.host,
      port: config.ssh.port,
      user: config.ssh.user,
      controlPath: config.ssh.control_path,
    },
    { backendName: config.name, onWarning: (m: string) => ctx.warn(`backend ${config.name}: ${m}`) },
  );
}

async function buildOne(config: BackendConfig, ctx: BackendBuildContext): Promise<Backend> {
  switch (config.type) {
    case 'local': {
      const mod: AnyModule = await import('@scripthut/backend-local');
      return mod.createLocalBackend({
        name: config.name,
        maxConcurrent: config.max_concurrent ?? cpus().length,
        spoolDir: join(ctx.dataDir, 'local-jobs', config.name),
        loginShell: config.login_shell ?? false,
        secretEnvNames: ctx.secretEnvNames ?? [],
        inheritEnv: config.inherit_env ?? [],
      });
    }
    case 'slurm':
    case 'pbs': {
      const ssh: AnyModule = await import('@scripthut/ssh');
      const connection = config.ssh.control_path
        ? openSshTransport(ssh, config, ctx)
        : new ssh.SshConnection(
            {
              host: config.ssh.host,
              port: config.ssh.port,
              user: config.ssh.user,
              keyPath: config.ssh.key_path,
              certPath: config.ssh.cert_path ?? null,
              knownHostsPath: config.ssh.known_hosts ?? null,
              // Without a configured known_hosts file, keys are pinned on first use (never unchecked).
              pinnedKnownHostsPath: config.ssh.known_hosts ? null : pinnedKnownHostsPath(ctx.dataDir),
            },
            { onWarning: (m: string) => ctx.warn(`backend ${config.name}: ${m}`) },
          );
      if (config.type === 'slurm') {
        const mod: AnyModule = await import('@scripthut/backend-slurm');
        return mod.createSlurmBackend({
          name: config.name,
          ssh: connection,
          account: config.account ?? null,
          loginShell: config.login_shell,
          maxConcurrent: config.max_concurrent,
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
      }
      const mod: AnyModule = await import('@scripthut/backend-pbs');
      return mod.createPbsBackend({
        name: config.name,
        ssh: connection,
        account: config.account ?? null,
        loginShell: config.login_shell,
        maxConcurrent: config.max_concurrent,
        queue: config.queue ?? null,
        cloneDir: config.clone_dir,
        user: config.ssh.user,
      });
    }
    case 'batch': {
      const mod: AnyModule = await import('@scripthut/backend-batch');
      return mod.createBatchBackend({ name: config.name, config, dataDir: ctx.dataDir });
    }
    case 'ec2': {
      const mod: AnyModule = await import('@scripthut/backend-ec2');
      return mod.createEc2Backend({ name: config.name, config, dataDir: ctx.dataDir });
    }
    case 'ecs':
      throw new ScriptHutError('not_implemented', `ecs backend "${config.name}" is not implemented yet`);
    default:
      throw new ScriptHutError('config_invalid', `unknown backend type ${(config as { type: string }).type}`);
  }
}

/** Build every configured backend; a backend that cannot be built is kept with its error. */
export async function buildBackends(
  configs: BackendConfig[],
  ctx: BackendBuildContext,
): Promise<BuiltBackend[]> {
  const out: BuiltBackend[] = [];
  for (const config of configs) {
    try {
      out.push({ config, backend: await buildOne(config, ctx), error: null });
    } catch (e) {
      const message = (e as Error).message;
      ctx.warn(`backend ${config.name} is unavailable: ${message}`);
      out.push({ config, backend: null, error: message });
    }
  }
  return out;
}
