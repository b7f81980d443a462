/**
 * The control plane's credential. Every server bind requires one, loopback included: other users of
 * a login node can reach 127.0.0.1, and so can web pages (DNS rebinding). Unless the configuration
 * names a token (`settings.auth_token`, or `SCRIPTHUT_TOKEN` in the environment), a random one is
 * created on first use and kept in `<data_dir>/auth_token` with mode 0600, where the CLI of the same
 * user finds it: nobody types it, and it never appears on a command line.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fstatSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ScriptHutError } from '@scripthut/core';

/** Name of the token file inside the data directory. */
export const AUTH_TOKEN_FILE = 'auth_token';

/** Minimum length of a token used on a non-loopback bind (characters; the config loader enforces it too). */
export { MIN_REMOTE_TOKEN_LENGTH } from '@scripthut/config';

/** Where the generated token of a data directory lives. */
export function authTokenPath(dataDir: string): string {
  return join(dataDir, AUTH_TOKEN_FILE);
}

/** A new random token: 32 bytes (256 bits), base64url. */
export function newAuthToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Reads the data directory's token file; null when it does not exist. A file that other users can
 * read is refused (its token may be known to them): the error says how to fix it.
 */
export function readAuthTokenFile(dataDir: string): string | null {
  const path = authTokenPath(dataDir);
  let text: string;
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) {
      throw new ScriptHutError(
        'config_invalid',
        `${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}): ` +
          `delete it (a new token is created at the next start) or run: chmod 600 ${path}`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const token = text.trim();
  return token === '' ? null : token;
}

/**
 * The token of a data directory, created (0600, exclusively, so two processes starting at once end
 * with the same token) when missing.
 */
export function loadOrCreateAuthToken(dataDir: string): string {
  const existing = readAuthTokenFile(dataDir);
  if (existing) return existing;
  const path = authTokenPath(dataDir);
  const token = newAuthToken();
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      // Another process created it a moment ago; it may still be writing: wait briefly for content.
      for (let i = 0; i < 50; i++) {
        const t = readAuthTokenFile(dataDir);
        if (t) return t;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
      throw new ScriptHutError('store_error', `${path} exists but is empty; delete it and start again`);
    }
    throw new ScriptHutError('store_error', `cannot create ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    if ((fstatSync(fd).mode & 0o077) !== 0) chmodSync(path, 0o600);
    writeSync(fd, `${token}\n`);
  } finally {
    closeSync(fd);
  }
  return token;
}

/** Where a resolved token came from (shown at start, never the token itself). */
export type AuthTokenOrigin = 'settings' | 'environment' | 'data_dir';

/**
 * The token the server requires: `settings.auth_token`, else `SCRIPTHUT_TOKEN`, else the data
 * directory's generated token.
 */
export function resolveAuthToken(
  dataDir: string,
  configured: string | null | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { token: string; origin: AuthTokenOrigin } {
  if (configured) return { token: configured, origin: 'settings' };
  if (env.SCRIPTHUT_TOKEN) return { token: env.SCRIPTHUT_TOKEN, origin: 'environment' };
  return { token: loadOrCreateAuthToken(dataDir), origin: 'data_dir' };
}
