/**
 * `scripthut login BACKEND` against the local sshd: it opens the OpenSSH master of a backend with
 * ssh.control_path (extra ssh options after `--` give it the test key; a user answers the MFA
 * prompt instead), says so when it is already running, and the master is usable afterwards.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../harness.js';

function env(key: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${key}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${key} is not set: the cluster global setup did not run`);
  return v;
}

const host = env('SSH_HOST');
const port = env('SSH_PORT');
const user = env('SSH_USER');
const dir = mkdtempSync('/tmp/sh-login-');
const socket = join(dir, `cm-${user}@${host}:${port}`);
const sshOptions = [
  ...['-F', '/dev/null', '-i', env('SSH_KEY'), '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes'],
  ...['-o', `UserKnownHostsFile=${env('SSH_KNOWN_HOSTS')}`, '-o', 'StrictHostKeyChecking=yes'],
];

afterAll(() => {
  spawnSync('ssh', ['-S', socket, '-O', 'exit', '-p', port, `${user}@${host}`], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
});

describe('scripthut login', () => {
  it('opens the master connection, then finds it running', async () => {
    writeFileSync(
      join(dir, 'scripthut.yaml'),
      `backends:\n  - name: mfa\n    type: slurm\n    ssh: { host: ${host}, port: ${port}, user: ${user}, control_path: "${dir}/cm-%r@%h:%p" }\n`,
    );
    expect(existsSync(socket)).toBe(false);
    const first = await cli(['login', 'mfa', '--', ...sshOptions], { cwd: dir, timeoutMs: 60_000 });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(
      `Opening the master connection of backend mfa: ssh -M -S ${dir}/cm-%r@%h:%p -o ControlPersist=yes -fN -p ${port} ${user}@${host}`,
    );
    expect(first.stdout).toContain(`master connection of backend mfa is running (${socket})`);
    // the master serves commands without any key
    const r = spawnSync(
      'ssh',
      ['-S', socket, '-o', 'BatchMode=yes', '-p', port, `${user}@${host}`, 'whoami'],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stdout.trim()).toBe(user);
    const again = await cli(['login', 'mfa', '--json'], { cwd: dir, timeoutMs: 60_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ backend: 'mfa', socket, running: true, started: false });
  });
});
