/**
 * @scripthut/ssh against the real OpenSSH server of the local test cluster (scripts/cluster).
 * Fault tests use their own sshd instances (other ports) so they never disturb other suites.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshConnection, type SshConnectionOptions, type SshTarget } from '../../src/index.js';
import { coalescingSocket } from './coalescing-socket.js';

function env(name: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${name}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${name} is not set (the cluster global setup did not run)`);
  return v;
}

const host = env('SSH_HOST');
const port = Number(env('SSH_PORT'));
const scripts = env('SCRIPTS_DIR');
const base: SshTarget = {
  host,
  port,
  user: env('SSH_USER'),
  keyPath: env('SSH_KEY'),
  knownHostsPath: env('SSH_KNOWN_HOSTS'),
};
const hostKeyLine = readFileSync(env('SSH_HOST_KEY_PUB'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
const tmp = mkdtempSync(join(tmpdir(), 'scripthut-ssh-test-'));
const open: SshConnection[] = [];

function conn(target: Partial<SshTarget> = {}, options: SshConnectionOptions = {}): SshConnection {
  const c = new SshConnection({ ...base, ...target }, options);
  open.push(c);
  return c;
}

function knownHosts(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

function sshdInstance(...args: string[]): void {
  execFileSync(join(scripts, 'sshd-instance.sh'), args, { stdio: 'pipe' });
}

async function expectBackendError(p: Promise<unknown>): Promise<BackendError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  return err as BackendError;
}

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  rmSync(tmp, { recursive: true, force: true });
});

describe('exec', () => {
  it('passes stdin, streams output and returns exit codes', async () => {
    const c = conn();
    const streamed: string[] = [];
    const streamedErr: string[] = [];
    const res = await c.exec('tr a-z A-Z; echo "to stderr" >&2; exit 7', {
      stdin: 'hello ünïcode\n',
      onStdout: (s) => streamed.push(s),
      onStderr: (s) => streamedErr.push(s),
    });
    expect(res).toEqual({ stdout: 'HELLO üNïCODE\n', stderr: 'to stderr\n', exitCode: 7 });
    expect(streamed.join('')).toBe(res.stdout);
    expect(streamedErr.join('')).toBe('to stderr\n');
    expect((await c.exec('true')).exitCode).toBe(0);
    expect((await c.exec('exit 255')).exitCode).toBe(255);
    expect(c.health()).toEqual({ connected: true, lastError: null, endpoint: `hut@${host}:${port}` });
  });

  it('streams output before the command ends', async () => {
    // The command waits for a flag that the test creates only after it has seen "first": the
    // command can only finish if its first line was streamed while it was still running.
    const c = conn();
    const flag = `/tmp/scripthut-stream-${process.pid}-${Date.now()}`;
    const seen: string[] = [];
    let flagged: Promise<unknown> | null = null;
    const res = await c.exec(
      `echo first; i=0; while [ ! -e ${flag} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; echo second; rm -f ${flag}`,
      {
        onStdout: (chunk) => {
          seen.push(chunk);
          if (!flagged && seen.join('').includes('first\n')) flagged = conn().exec(`touch ${flag}`);
        },
      },
    );
    await flagged;
    expect(seen[0]).toBe('first\n');
    expect(res.stdout).toBe('first\nsecond\n');
    expect((await c.exec(`test -e ${flag} && echo left || echo clean`)).stdout).toBe('clean\n');
  });

  it('applies cwd and env with quoting (hostile values stay literal)', async () => {
    const c = conn();
    const dir = `/tmp/scripthut ssh 'test' $(echo x)`;
    await c.exec(`mkdir -p ${"'/tmp/scripthut ssh '\\''test'\\'' $(echo x)'"}`);
    const res = await c.exec('pwd; printf "%s|" "$A" "$B"', {
      cwd: dir,
      env: { A: 'it\'s $(whoami) `id` "q"', B: 'line1\nline2' },
    });
    expect(res.stdout).toBe(`${dir}\nit's $(whoami) \`id\` "q"|line1\nline2|`);
    const home = await c.exec('pwd', { cwd: '~' });
    expect(home.stdout.trim()).toBe(env('HUT_HOME'));
    const missing = await c.exec('echo should-not-run', { cwd: '/nonexistent/dir' });
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stdout).toBe('');
    await c.exec(`rm -rf ${"'/tmp/scripthut ssh '\\''test'\\'' $(echo x)'"}`);
  });

  it('sees ~/bin first on PATH (PBS simulator location)', async () => {
    const res = await conn().exec('echo "$PATH"');
    expect(res.stdout.trim().split(':')[0]).toBe(env('HUT_BIN'));
  });

  it('times out: kills the channel, throws a transient BackendError naming the command, stays usable', async () => {
    const c = conn();
    const pidFile = `/tmp/scripthut-timeout-${process.pid}-${Date.now()}.pid`;
    const command = `echo $$ > ${pidFile}; exec sleep 120`;
    const err = await expectBackendError(c.exec(command, { timeoutMs: 600 }));
    expect(err.transient).toBe(true);
    expect(err.command).toBe(command);
    expect(err.message).toContain('timed out after 600 ms');
    expect((await c.exec('echo still-here')).stdout).toBe('still-here\n');
    // The remote command was killed, not left running until its natural end in 120 s.
    const gone = await c.exec(
      `p=$(cat ${pidFile}); rm -f ${pidFile}; i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; kill -0 "$p" 2>/dev/null && echo alive || echo gone`,
    );
    expect(gone.stdout.trim()).toBe('gone');
    const log = c.commandLog();
    expect(log.find((e) => e.command === command)).toMatchObject({ exitCode: null });
  }, 60_000);

  it('keeps a bounded command log with logAs redaction and never records env values', async () => {
    const c = conn({}, { commandLogSize: 3 });
    await c.exec('echo one');
    await c.exec('echo two', { env: { SECRET_TOKEN: 'hunter2' } });
    await c.exec('echo hunter2 | wc -c', { logAs: 'count secret' });
    await c.exec(`head -c 5000 /dev/zero | tr '\\0' x`);
    const log = c.commandLog();
    expect(log.map((e) => e.command)).toEqual([
      '[env SECRET_TOKEN] echo two',
      'count secret',
      `head -c 5000 /dev/zero | tr '\\0' x`,
    ]);
    expect(JSON.stringify(log)).not.toContain('hunter2');
    expect(log[2]!.stdout.length).toBeLessThan(2200);
    expect(log[2]!.exitCode).toBe(0);
  });
});

describe('packets that arrive together', () => {
  // Regression for "connection … lost while running: echo ok" on busy machines: when the exec
  // request's success, the output, EOF, exit-status and close arrive in one TCP read, ssh2 emits
  // the exit status synchronously; it must still be seen. The socket below makes every read hold
  // everything the server sent, so the old code (listeners attached after an await) failed here
  // every time.
  it('sees the exit status of commands whose whole answer arrives in one read', async () => {
    const c = conn({}, { connectSocket: () => coalescingSocket(host, port, 100) });
    for (const code of [0, 3, 0, 255]) {
      const res = await c.exec(`echo ok; exit ${code}`);
      expect(res).toEqual({ stdout: 'ok\n', stderr: '', exitCode: code });
    }
    const killed = await c.exec('kill -TERM $$');
    expect(killed.exitCode).toBe(128 + 15);
  });
});

describe('files', () => {
  it('uploads with mode 0600 by default, atomically replacing, binary-safe', async () => {
    const c = conn();
    const path = `/tmp/scripthut-upload-${process.pid} 'q'.bin`;
    const content = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256));
    await c.upload(path, content);
    const q = `'${path.replace(/'/g, `'\\''`)}'`;
    const st = await c.exec(`stat -c %a ${q}; wc -c < ${q}; md5sum < ${q}`);
    const md5 = execFileSync('md5sum', { input: content }).toString().split(' ')[0];
    expect(st.stdout.split('\n').slice(0, 3)).toEqual(['600', '70000', `${md5}  -`]);
    await c.upload(path, 'second', 0o640);
    expect((await c.exec(`stat -c %a ${q}; cat ${q}`)).stdout).toBe('640\nsecond');
    await c.exec(`rm -f ${q}`);
    expect(c.commandLog().some((e) => e.command.startsWith(`upload ${path} (70000 bytes, mode 0600)`))).toBe(
      true,
    );
  });

  it('fails an upload into a missing directory with a BackendError', async () => {
    const err = await expectBackendError(conn().upload('/nonexistent-dir/x', 'data'));
    expect(err.transient).toBe(false);
  });

  it('withTempFile: 0600 file during fn, removed afterwards even when fn throws', async () => {
    const c = conn();
    let seen = '';
    const value = await c.withTempFile('script body\n', async (p) => {
      seen = p;
      const r = await c.exec(`stat -c %a ${p}; cat ${p}`);
      expect(r.stdout).toBe('600\nscript body\n');
      return 42;
    });
    expect(value).toBe(42);
    expect((await c.exec(`test -e ${seen} && echo exists || echo gone`)).stdout.trim()).toBe('gone');

    let thrownPath = '';
    await expect(
      c.withTempFile('x', async (p) => {
        thrownPath = p;
        expect((await c.exec(`test -e ${p} && echo exists`)).stdout.trim()).toBe('exists');
        throw new Error('fn failed');
      }),
    ).rejects.toThrow('fn failed');
    expect(thrownPath).not.toBe('');
    expect((await c.exec(`test -e ${thrownPath} && echo exists || echo gone`)).stdout.trim()).toBe('gone');
  });
});

/** Max number of overlapping [start, end] intervals. */
function maxOverlap(intervals: Array<[number, number]>): number {
  const events = intervals.flatMap(([s, e]) => [[s, 1] as const, [e, -1] as const]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of events) {
    cur += d;
    max = Math.max(max, cur);
  }
  return max;
}

const TIMED = 'echo "$(date +%s.%N) $(sleep 0.3; date +%s.%N)"';
const parseInterval = (s: string): [number, number] => {
  const [a, b] = s.trim().split(' ').map(Number);
  return [a!, b!];
};

describe('channels', () => {
  it('never runs more than maxChannels commands at once (measured remotely)', async () => {
    const c = conn({}, { maxChannels: 4 });
    await c.connect();
    const results = await Promise.all(Array.from({ length: 30 }, () => c.exec(TIMED)));
    const overlap = maxOverlap(results.map((r) => parseInterval(r.stdout)));
    expect(overlap).toBeLessThanOrEqual(4);
    expect(overlap).toBeGreaterThanOrEqual(3); // it did run in parallel
  });

  it('retries channels refused by the server (MaxSessions 3) instead of failing', async () => {
    const p = 2232;
    sshdInstance('start', String(p), '3');
    try {
      const c = conn({ port: p, knownHostsPath: null }, { maxChannels: 8 });
      const results = await Promise.all(Array.from({ length: 16 }, () => c.exec(TIMED)));
      expect(results.every((r) => r.exitCode === 0)).toBe(true);
      expect(maxOverlap(results.map((r) => parseInterval(r.stdout)))).toBeLessThanOrEqual(3);
      expect(c.health().connected).toBe(true);
    } finally {
      sshdInstance('stop', String(p));
    }
  });
});

describe('authentication', () => {
  it('logs in with an OpenSSH certificate whose key is not in authorized_keys', async () => {
    const c = conn({ keyPath: env('SSH_CERT_KEY'), certPath: env('SSH_CERT') });
    expect((await c.exec('whoami')).stdout).toBe('hut\n');
  });

  // The certificate names the principals hut and root. (Logging in as root is not tried: root's
  // dotfiles belong to the machine, and on this image they run `pyenv rehash`, which waits 60 s on
  // a lock a killed shell left behind.)
  it('refuses the certificate for a user it does not name', async () => {
    const other = conn({ user: 'hutnoisy', keyPath: env('SSH_CERT_KEY'), certPath: env('SSH_CERT') });
    const err = await expectBackendError(other.exec('whoami'));
    expect(err.transient).toBe(false);
    expect(err.message).toContain('SSH authentication failed for hutnoisy@');
  });

  it('fails permanently with the same key but no certificate', async () => {
    const err = await expectBackendError(conn({ keyPath: env('SSH_CERT_KEY') }).exec('whoami'));
    expect(err.transient).toBe(false);
    expect(err.message).toContain('SSH authentication failed for hut@');
  });

  it('rejects a certificate issued for another key', async () => {
    const err = await expectBackendError(
      conn({ keyPath: env('SSH_KEY'), certPath: env('SSH_CERT') }).exec('true'),
    );
    expect(err.transient).toBe(false);
    expect(err.message).toContain('not issued for this private key');
  });
});

describe('known_hosts', () => {
  it('refuses a wrong host key with a clear permanent error', async () => {
    const wrong = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
    const file = knownHosts('wrong', `# test\n[${host}]:${port} ${wrong}\n`);
    const err = await expectBackendError(conn({ knownHostsPath: file }).exec('true'));
    expect(err.transient).toBe(false);
    expect(err.message).toContain(
      `host key for [${host}]:${port} does not match known_hosts ${file} line 2 — refusing to connect`,
    );
  });

  it('refuses a host missing from known_hosts', async () => {
    const file = knownHosts('other', `other.example.org ${hostKeyLine}\n`);
    const err = await expectBackendError(conn({ knownHostsPath: file }).exec('true'));
    expect(err.transient).toBe(false);
    expect(err.message).toContain(`host [${host}]:${port} is not in known_hosts ${file}`);
  });

  it('accepts the right key, also from a hashed entry', async () => {
    expect((await conn().exec('echo ok')).stdout).toBe('ok\n');
    const file = knownHosts('hashed', `[${host}]:${port} ${hostKeyLine}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    expect((await conn({ knownHostsPath: file }).exec('echo ok')).stdout).toBe('ok\n');
  });

  it('without any known_hosts file: connects and warns exactly once', async () => {
    const warnings: string[] = [];
    const c = conn({ knownHostsPath: null }, { onWarning: (m) => warnings.push(m) });
    await c.exec('true');
    await c.exec('true');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('NOT verified');
  });
});

describe('host keys pinned on first use (ScriptHut-owned known_hosts)', () => {
  // An sshd of our own, so that its host key can be changed without touching the shared one.
  const p = 2471;
  const name = `[${host}]:${p}`;
  const newKey = join(tmp, 'replacement_host_key');
  const fingerprintOf = (pub: string) =>
    execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub]).toString().split(' ')[1]!;
  const oldFingerprint = fingerprintOf(env('SSH_HOST_KEY_PUB'));
  let newFingerprint = '';
  beforeAll(() => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', newKey]);
    newFingerprint = fingerprintOf(`${newKey}.pub`);
    sshdInstance('start', String(p));
  });
  afterAll(() => sshdInstance('stop', String(p)));

  const pinned = (file: string, warnings: string[]) =>
    conn(
      { port: p, knownHostsPath: null, pinnedKnownHostsPath: file },
      { onWarning: (m) => warnings.push(m) },
    );

  it('pins the key on the first connection (0600, OpenSSH format), warns once with the fingerprint', async () => {
    const file = join(tmp, 'data', 'known_hosts');
    const warnings: string[] = [];
    const c = pinned(file, warnings);
    expect((await c.exec('echo ok')).stdout).toBe('ok\n');
    await c.exec('true');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      `first connection to ${name}: pinned its host key ssh-ed25519 ${oldFingerprint} in ${file}`,
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // OpenSSH itself accepts the file: ssh with StrictHostKeyChecking=yes logs in using it
    const out = execFileSync('ssh', [
      '-F',
      '/dev/null',
      '-p',
      String(p),
      '-i',
      env('SSH_KEY'),
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${file}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      `${env('SSH_USER')}@${host}`,
      'echo via-openssh',
    ]).toString();
    expect(out).toBe('via-openssh\n');
    // a later connection (e.g. after a restart of ScriptHut) trusts the pin silently
    const again: string[] = [];
    expect((await pinned(file, again).exec('echo again')).stdout).toBe('again\n');
    expect(again).toEqual([]);
    expect(readFileSync(file, 'utf8').match(/^\[/gm)).toHaveLength(1);
  });

  it('refuses a changed key permanently, saying how to accept it; the command works', async () => {
    const file = join(tmp, 'data2', 'known_hosts');
    const first: string[] = [];
    const before = pinned(file, first);
    await before.exec('true');
    expect(first).toHaveLength(1);
    sshdInstance('stop', String(p));
    sshdInstance('start', String(p), '', newKey);
    try {
      // a new connection, and the old one reconnecting after the restart, are both refused
      for (const c of [pinned(file, []), before]) {
        const err = await expectBackendError(c.exec('true', { timeoutMs: 20_000 }));
        expect(err.transient).toBe(false);
        expect(err.message).toContain(`host key of ${name} has CHANGED — refusing to connect`);
        expect(err.message).toContain(`ssh-ed25519 ${oldFingerprint}`);
        expect(err.message).toContain(`ssh-ed25519 ${newFingerprint}`);
        expect(err.message).toContain(`${file} line 3`);
        expect(err.message).toContain(`remove the old key with: ssh-keygen -R '${name}' -f ${file} `);
      }
      const command = /remove the old key with: (ssh-keygen .*?) \(the next connection/.exec(
        (await expectBackendError(pinned(file, []).exec('true'))).message,
      )![1]!;
      execFileSync('bash', ['-c', command], { stdio: 'pipe' });
      const warnings: string[] = [];
      expect((await pinned(file, warnings).exec('echo accepted')).stdout).toBe('accepted\n');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`pinned its host key ssh-ed25519 ${newFingerprint}`);
    } finally {
      sshdInstance('stop', String(p));
      sshdInstance('start', String(p));
    }
  });

  it('never pins without a successful login (failed authentication leaves no pin)', async () => {
    const file = join(tmp, 'data3', 'known_hosts');
    const c = conn({
      port: p,
      knownHostsPath: null,
      pinnedKnownHostsPath: file,
      keyPath: env('SSH_CERT_KEY'),
    });
    const err = await expectBackendError(c.exec('true'));
    expect(err.message).toContain('SSH authentication failed');
    expect(existsSync(file)).toBe(false);
  });
});

describe('reconnect', () => {
  const p = 2233;
  const restart = (...args: string[]) =>
    execFileSync(join(scripts, 'restart-sshd.sh'), [String(p), ...args], { stdio: 'pipe' });
  beforeAll(() => sshdInstance('start', String(p)));
  afterAll(() => sshdInstance('stop', String(p)));

  it('reconnects on the next exec after sshd was restarted (sessions killed)', async () => {
    const c = conn({ port: p, knownHostsPath: null }, { backoff: { initialMs: 100, maxMs: 1000 } });
    const before = await c.exec('echo $PPID');
    restart();
    // wait until the client notices the dead connection
    for (let i = 0; i < 50 && c.health().connected; i++) await new Promise((r) => setTimeout(r, 100));
    expect(c.health().connected).toBe(false);
    const after = await c.exec('echo $PPID');
    expect(after.exitCode).toBe(0);
    expect(after.stdout).not.toBe(before.stdout); // a new session process
    expect(c.health().connected).toBe(true);
  });

  it('commands issued while the server is down wait for the reconnect', async () => {
    // A connection that has never connected: while sshd is down it cannot succeed by reusing an
    // old session (restart-sshd.sh may miss a session process under load), so success proves
    // that the command waited for the server and connected after it came back.
    const c = conn({ port: p, knownHostsPath: null }, { backoff: { initialMs: 100, maxMs: 500 } });
    const child = import('node:child_process').then(({ spawn }) =>
      spawn(join(scripts, 'restart-sshd.sh'), [String(p), '--down-for', '2'], { stdio: 'ignore' }),
    );
    const proc = await child;
    // wait until the listener is gone (the script keeps it down for 2 s)
    const refused = () =>
      new Promise<boolean>((resolve) => {
        const s = connect(p, host);
        s.once('connect', () => {
          s.destroy();
          resolve(false);
        });
        s.once('error', () => resolve(true));
      });
    for (let i = 0; i < 100 && !(await refused()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await refused()).toBe(true);
    // Watch for the listener to come back while the command is waiting: the command can only
    // succeed after that moment (it waited for the reconnect instead of failing).
    let backAt = 0;
    const watcher = (async () => {
      while (await refused()) await new Promise((r) => setTimeout(r, 20));
      backAt = Date.now();
    })();
    const res = await c.exec('echo back', { timeoutMs: 20_000 });
    const doneAt = Date.now();
    await watcher;
    expect(res.stdout).toBe('back\n');
    expect(backAt).toBeGreaterThan(0);
    expect(doneAt).toBeGreaterThanOrEqual(backAt - 100); // allow for the watcher's polling step
    await new Promise((r) => (proc.exitCode === null ? proc.once('exit', r) : r(null)));
  });

  it('gives up after the command timeout while the server stays down (transient)', async () => {
    const c = conn({ port: 2299, knownHostsPath: null }, { backoff: { initialMs: 50, maxMs: 200 } });
    const err = await expectBackendError(c.exec('true', { timeoutMs: 1500 }));
    expect(err.transient).toBe(true);
    // It waited for its whole timeout (not the first refusal) before giving up.
    expect(err.message).toMatch(/gave up waiting for the connection/);
    expect(c.health().connected).toBe(false);
    expect(c.health().lastError).toContain('ECONNREFUSED');
  });

  it('after close(), exec fails at once, as transient (a closed connection says nothing about the command)', async () => {
    const c = conn();
    await c.exec('true');
    await c.close();
    const err = await expectBackendError(c.exec('true'));
    expect(err.message).toMatch(/was closed \(ScriptHut is shutting down\)$/);
    // transient: a submission the engine issues while the runtime closes is adopted by its tag on
    // the next start instead of failing its task
    expect(err.transient).toBe(true);
    expect(c.health().connected).toBe(false);
  });
});
