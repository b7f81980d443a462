/**
 * Shared setup of the ssh cluster test files: the local test cluster's sshd target (from the
 * cluster global setup's SCRIPTHUT_TEST_* variables), connections closed after each file, a
 * temporary directory for known_hosts files, and the sshd-instance script for fault tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError } from '@scripthut/core';
import { afterAll, expect } from 'vitest';
import { SshConnection, type SshConnectionOptions, type SshTarget } from '../../src/index.js';

export function env(name: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${name}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${name} is not set (the cluster global setup did not run)`);
  return v;
}

export const host = env('SSH_HOST');
export const port = Number(env('SSH_PORT'));
export const scripts = env('SCRIPTS_DIR');
export const base: SshTarget = {
  host,
  port,
  user: env('SSH_USER'),
  keyPath: env('SSH_KEY'),
  knownHostsPath: env('SSH_KNOWN_HOSTS'),
};
export const hostKeyLine = readFileSync(env('SSH_HOST_KEY_PUB'), 'utf8')
  .trim()
  .split(/\s+/)
  .slice(0, 2)
  .join(' ');
export const tmp = mkdtempSync(join(tmpdir(), 'scripthut-ssh-test-'));
export const open: SshConnection[] = [];

export function conn(target: Partial<SshTarget> = {}, options: SshConnectionOptions = {}): SshConnection {
  const c = new SshConnection({ ...base, ...target }, options);
  open.push(c);
  return c;
}

export function knownHosts(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

export function sshdInstance(...args: string[]): void {
  execFileSync(join(scripts, 'sshd-instance.sh'), args, { stdio: 'pipe' });
}

export async function expectBackendError(p: Promise<unknown>): Promise<BackendError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  return err as BackendError;
}

/** Close this file's connections and remove its temporary directory after the file's tests. */
export function closeAfterAll(): void {
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
    rmSync(tmp, { recursive: true, force: true });
  });
}
