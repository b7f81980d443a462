/**
 * OpenSshTransport without a master connection: the real `ssh` client finds no socket, so every
 * command must fail at once, transiently, with the login command (no network is involved).
 * Sessions through a live master are tested in test/cluster/openssh-transport.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError } from '@scripthut/core';
import { afterAll, describe, expect, it } from 'vitest';
import { backendExec, OpenSshTransport } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'scripthut-openssh-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const target = { host: 'login.hpc.edu', port: 2200, user: 'me', controlPath: join(dir, 'cm-%r@%h:%p') };

async function failure(p: Promise<unknown>): Promise<BackendError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BackendError);
  return e as BackendError;
}

describe('OpenSshTransport without a master', () => {
  it('fails every command transiently with the exact login command, and says so in health()', async () => {
    const t = new OpenSshTransport(target, { backendName: 'hpc' });
    expect(t.socketPath).toBe(join(dir, 'cm-me@login.hpc.edu:2200'));
    expect(t.health()).toEqual({
      connected: false,
      lastError: null,
      endpoint: `me@login.hpc.edu:2200 (OpenSSH master ${t.socketPath})`,
    });
    const err = await failure(t.exec('squeue --me', { timeoutMs: 20_000 }));
    expect(err.transient).toBe(true);
    expect(err.details).toMatchObject({ started: false });
    // the path needs no quotes (shellQuote quotes only when needed)
    const login = `ssh -M -S ${dir}/cm-%r@%h:%p -o ControlPersist=yes -fN -p 2200 me@login.hpc.edu`;
    expect(err.message).toContain(
      `OpenSSH master connection of backend hpc to me@login.hpc.edu:2200 is not running`,
    );
    expect(err.message).toContain(`control socket ${t.socketPath}: `);
    expect(err.message).toContain(`Log in again with: ${login} (or: scripthut login hpc)`);
    // ssh's own reason is kept (no such socket)
    expect(err.message).toMatch(/No such file or directory/);
    expect(t.health()).toEqual({ connected: false, lastError: err.message, endpoint: t.health().endpoint });
    expect(t.loginCommand()).toBe(login);
    // the command log has the failed command, never stdin
    const entry = t.commandLog().at(-1)!;
    expect(entry).toMatchObject({ command: 'squeue --me', exitCode: null });
    expect(entry.stderr).toContain('Log in again with');
    // the backends' wrapper keeps it transient and unchanged
    const wrapped = await failure(
      backendExec(t, 'hpc')('bash -s', { stdin: 'echo secret-value', logAs: 'poll' }),
    );
    expect(wrapped.transient).toBe(true);
    expect(wrapped.message).toBe(t.health().lastError);
    expect(t.commandLog().at(-1)!.command).toBe('poll');
    expect(JSON.stringify(t.commandLog())).not.toContain('secret-value');
  });

  it('fails permanently when the ssh client cannot be run', async () => {
    const t = new OpenSshTransport(target, { sshCommand: join(dir, 'no-such-ssh') });
    const err = await failure(t.exec('true'));
    expect(err.transient).toBe(false);
    expect(err.message).toMatch(
      /^cannot run .*no-such-ssh \(is the OpenSSH client installed\?\): spawn .*ENOENT/,
    );
    expect(t.health()).toMatchObject({ connected: false, lastError: err.message });
  });

  it('refuses a bad or too long control path when built', () => {
    const bad = () => new OpenSshTransport({ ...target, controlPath: '/tmp/cm-%x' });
    expect(bad).toThrow(BackendError);
    expect(bad).toThrow(/unknown token "%x"/);
    const long = () => new OpenSshTransport({ ...target, controlPath: `/tmp/${'d'.repeat(120)}/%C` });
    expect(long).toThrow(/at most 107/);
  });

  it('fails permanently after close()', async () => {
    const t = new OpenSshTransport(target);
    await t.close();
    const err = await failure(t.exec('true'));
    expect(err.transient).toBe(false);
    expect(err.message).toMatch(/is closed/);
  });
});
