/**
 * PTY channels (`openShell`) on the real sshd of the local test cluster: size and TERM, resize, UTF-8
 * bytes, exit status, the terminal limit within the channel bound, and the command log.
 */
import { BackendError } from '@scripthut/core';
import { afterAll, describe, expect, it } from 'vitest';
import { type ShellChannel, SshConnection } from '../../src/index.js';

function env(name: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${name}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${name} is not set (the cluster global setup did not run)`);
  return v;
}

const ssh = new SshConnection(
  {
    host: env('SSH_HOST'),
    port: Number(env('SSH_PORT')),
    user: env('SSH_USER'),
    keyPath: env('SSH_KEY'),
    knownHostsPath: env('SSH_KNOWN_HOSTS'),
  },
  { maxChannels: 3, maxShells: 2 },
);
afterAll(() => ssh.close());

/** Collects a channel's output; `waitFor` polls it (bounded) for a pattern. */
function collect(ch: ShellChannel) {
  const chunks: Buffer[] = [];
  ch.onData((b) => chunks.push(b));
  const text = () => Buffer.concat(chunks).toString('utf8');
  return {
    text,
    async waitFor(re: RegExp): Promise<RegExpExecArray> {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const m = re.exec(text());
        if (m) return m;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(text().slice(-500))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

describe('openShell on the real sshd', () => {
  it('opens a login shell with the size and TERM asked, follows a resize, passes UTF-8 bytes, reports the exit code', async () => {
    const ch = await ssh.openShell({ cols: 101, rows: 33 });
    const out = collect(ch);
    ch.write('echo "size=$(stty size) term=$TERM"\n');
    await out.waitFor(/size=33 101 term=xterm-256color/);
    ch.resize(77, 22);
    ch.write('echo "now=$(stty size)"; printf \'u=%s\\n\' "$(printf \'\\xe2\\x98\\x83\')"\n');
    await out.waitFor(/now=22 77/);
    await out.waitFor(/u=☃/);
    ch.write('exit 5\n');
    expect(await ch.ended).toEqual({ exitCode: 5, signal: null });
    const log = ssh.commandLog().map((e) => [e.command, e.exitCode]);
    expect(log).toContainEqual(['terminal: login shell (started)', null]);
    expect(log).toContainEqual(['terminal: login shell (ended)', 5]);
    expect(JSON.stringify(ssh.commandLog())).not.toContain('stty');
  });

  it('runs a command on a PTY, and refuses a terminal beyond maxShells while commands still run', async () => {
    const a = await ssh.openShell({ cols: 80, rows: 24, command: 'tty; exec cat' });
    const b = await ssh.openShell({ cols: 80, rows: 24, command: 'exec cat' });
    expect(await collect(a).waitFor(/\/dev\/pts\/\d+/)).toBeTruthy();
    const refused = await ssh.openShell({ cols: 80, rows: 24 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(BackendError);
    expect((refused as BackendError).message).toMatch(/too many terminals open .* \(at most 2\)/);
    // two terminals hold two of the three channels: commands still get the third
    expect((await ssh.exec('echo ok')).stdout).toBe('ok\n');
    expect(ssh.openShells).toBe(2);
    a.close();
    b.close();
    await Promise.all([a.ended, b.ended]);
    expect(ssh.openShells).toBe(0);
    const c = await ssh.openShell({ cols: 80, rows: 24 });
    c.close();
    await c.ended;
  });

  it('rejects a bad size before opening anything', async () => {
    await expect(ssh.openShell({ cols: 0, rows: 24 })).rejects.toThrow(/cols must be an integer/);
    expect(ssh.openShells).toBe(0);
  });
});
