/**
 * Where the control plane of a CLI invocation lives: the config file (`--config`, else
 * `./scripthut.yaml` / `./scripthut.yml`, else the built-in demo config), the data directory
 * (`SCRIPTHUT_DATA_DIR`, else `settings.data_dir`) and the credential to talk to it. Loading the
 * config is all it takes: no store, no engine.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError, ExitCode } from './errors.js';
import type { GlobalArgs } from './parse.js';

export interface Target {
  /** Absolute path of the config file; null for the built-in demo config. */
  configPath: string | null;
  dataDir: string;
  settings: { server_host: string; server_port: number; auth_token: string | null };
}

/** Resolve the config file and data directory the way the runtime does. */
export async function locate(globals: GlobalArgs, env: NodeJS.ProcessEnv, cwd: string): Promise<Target> {
  const { loadConfig } = await import('@scripthut/config');
  const loaded = await loadConfig({ ...(globals.config ? { path: globals.config } : {}), cwd });
  const s = loaded.config.settings;
  return {
    configPath: loaded.source === 'file' ? loaded.path : null,
    dataDir: resolve(cwd, env.SCRIPTHUT_DATA_DIR || s.data_dir),
    settings: { server_host: s.server_host, server_port: s.server_port, auth_token: s.auth_token ?? null },
  };
}

/** True when the environment asks for in-process mode (`SCRIPTHUT_NO_DAEMON=1`). */
export function noDaemonFromEnv(env: NodeJS.ProcessEnv): boolean {
  const v = env.SCRIPTHUT_NO_DAEMON;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** The token in `--token-file FILE` (trailing newline removed), if given. */
export function tokenFromFile(globals: GlobalArgs, cwd: string): string | undefined {
  if (!globals.tokenFile) return undefined;
  const path = resolve(cwd, globals.tokenFile);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(
      `cannot read --token-file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      {
        exitCode: ExitCode.usage,
      },
    );
  }
  const token = text.trim();
  if (!token) throw new CliError(`--token-file ${path} is empty`, { exitCode: ExitCode.usage });
  return token;
}

/**
 * The token for a server named on the command line (`--server`, `SCRIPTHUT_SERVER`):
 * `--token-file`, else `SCRIPTHUT_TOKEN`.
 */
export function remoteToken(globals: GlobalArgs, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  return tokenFromFile(globals, cwd) ?? (env.SCRIPTHUT_TOKEN || undefined);
}

/**
 * The token of the local control plane of `target`, resolved as the server resolves it
 * (`settings.auth_token`, else `SCRIPTHUT_TOKEN`, else `<data_dir>/auth_token`), after an explicit
 * `--token-file`. Read from the file, never from a command line. Null while no token exists yet
 * (a daemon creates the file when it starts).
 */
export async function localToken(
  target: Target,
  globals: GlobalArgs,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<string | null> {
  const explicit =
    tokenFromFile(globals, cwd) ?? target.settings.auth_token ?? (env.SCRIPTHUT_TOKEN || undefined);
  if (explicit) return explicit;
  const { readAuthTokenFile } = await import('@scripthut/runtime');
  return readAuthTokenFile(target.dataDir);
}
