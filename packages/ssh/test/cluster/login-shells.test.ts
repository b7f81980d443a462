/**
 * SshConnection against logins that are not like `hut`'s: `hutnoisy` (bash whose ~/.bashrc prints
 * banners on stdout and stderr and exports an `squeue` function) and `hutcsh` (tcsh login shell with
 * a noisy ~/.cshrc), both created by scripts/cluster/up.sh with their own keys.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readRemoteFile, remoteHome, SshConnection } from '../../src/index.js';

function env(name: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${name}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${name} is not set (the cluster global setup did not run)`);
  return v;
}

const open: SshConnection[] = [];
afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
});

const USERS = [
  { label: 'noisy ~/.bashrc', user: env('NOISY_USER'), key: env('NOISY_KEY'), home: env('NOISY_HOME') },
  { label: 'tcsh login shell', user: env('CSH_USER'), key: env('CSH_KEY'), home: env('CSH_HOME') },
];

for (const u of USERS) {
  describe(`${u.user} (${u.label})`, () => {
    const conn = () => {
      const c = new SshConnection({
        host: env('SSH_HOST'),
        port: Number(env('SSH_PORT')),
        user: u.user,
        keyPath: u.key,
        knownHostsPath: env('SSH_KNOWN_HOSTS'),
      });
      open.push(c);
      return c;
    };

    it('the raw login really is noisy (the premise of these tests)', async () => {
      const { execFileSync } = await import('node:child_process');
      const raw = execFileSync(
        'ssh',
        [
          '-F',
          'none',
          '-o',
          'BatchMode=yes',
          '-o',
          'IdentitiesOnly=yes',
          '-i',
          u.key,
          '-o',
          `UserKnownHostsFile=${env('SSH_KNOWN_HOSTS')}`,
          '-p',
          env('SSH_PORT'),
          `${u.user}@${env('SSH_HOST')}`,
          'echo hello',
        ],
        { encoding: 'utf8' },
      );
      expect(raw).toMatch(/Welcome/);
      expect(raw).not.toBe('hello\n');
    });

    it('exec returns exactly the command’s output and exit code, in bash', async () => {
      const c = conn();
      const streamed: string[] = [];
      const r = await c.exec('echo "$BASH_VERSION" | cut -c1; echo err >&2; [[ 1 == 1 ]] && exit 5', {
        onStdout: (s) => streamed.push(s),
      });
      expect(r).toEqual({ stdout: '5\n', stderr: 'err\n', exitCode: 5 });
      expect(streamed.join('')).toBe('5\n');
      const prog = await c.exec('bash -s', { stdin: "cat <<'X'\na 'b' $c\nX\nprintf 'x%.0s' 1 2 3\n" });
      expect(prog.stdout).toBe("a 'b' $c\nxxx");
      expect((await c.exec('cat', { stdin: Buffer.from([0, 255, 10]) })).stdout).toBe(
        Buffer.from([0, 255, 10]).toString('utf8'),
      );
      expect((await c.exec('pwd', { cwd: '~' })).stdout).toBe(`${u.home}\n`);
    });

    it('home lookup, uploads and file reads are clean', async () => {
      const c = conn();
      const run = (command: string, options?: { stdin?: string; timeoutMs?: number }) =>
        c.exec(command, options);
      expect(await remoteHome(run, u.user).homeDir()).toBe(u.home);
      const text = '{"tasks": []}\n\nü\n';
      await c.upload(`${u.home}/scripthut-login-test.json`, text);
      expect(await readRemoteFile(run, 'scripthut-login-test.json', '~', u.user)).toBe(text);
      await c.exec('rm -f ~/scripthut-login-test.json');
      const viaTemp = await c.withTempFile('data\n', async (path) => (await c.exec(`cat ${path}`)).stdout);
      expect(viaTemp).toBe('data\n');
    });
  });
}
