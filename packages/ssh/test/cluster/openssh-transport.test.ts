/**
 * OpenSshTransport against the real sshd of the local test cluster, through an OpenSSH
 * ControlMaster that this file opens with the cluster key. The transport itself is given no key:
 * every command must go through the master socket.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BackendError } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenSshTransport, type OpenSshTransportOptions } from '../../src/index.js';

function env(name: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${name}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${name} is not set (the cluster global setup did not run)`);
  return v;
}

const host = env('SSH_HOST');
const port = Number(env('SSH_PORT'));
const user = env('SSH_USER');
// Short: a Unix socket path has at most 107 bytes.
const dir = mkdtempSync('/tmp/sh-ot-');
const controlPath = join(dir, 'cm-%r@%h:%p');
const socket = join(dir, `cm-${user}@${host}:${port}`);
const ID = randomBytes(4).toString('hex');
const REMOTE_DIR = `scripthut-test-openssh/${ID}`;
const open: OpenSshTransport[] = [];

/** `ssh -M … -fN` with the cluster key: what a user does once, answering the MFA prompt. */
function startMaster(): void {
  const r = spawnSync(
    'ssh',
    [
      '-F',
      '/dev/null',
      '-M',
      '-S',
      controlPath,
      '-o',
      'ControlPersist=yes',
      '-fN',
      '-i',
      env('SSH_KEY'),
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${env('SSH_KNOWN_HOSTS')}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-E',
      join(dir, 'master.log'),
      '-p',
      String(port),
      `${user}@${host}`,
    ],
    { stdio: 'ignore', timeout: 30_000 },
  );
  if (r.status !== 0) throw new Error(`could not start the master (exit ${r.status})`);
}

function stopMaster(): void {
  spawnSync(
    'ssh',
    ['-F', '/dev/null', '-S', controlPath, '-O', 'exit', '-p', String(port), `${user}@${host}`],
    {
      stdio: 'ignore',
      timeout: 10_000,
    },
  );
}

function transport(options: OpenSshTransportOptions = {}): OpenSshTransport {
  const t = new OpenSshTransport({ host, port, user, controlPath }, { backendName: 'hpc', ...options });
  open.push(t);
  return t;
}

async function failure(p: Promise<unknown>): Promise<BackendError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BackendError);
  return e as BackendError;
}

/** Polls `probe` every 200 ms until it returns true, at most `ms`. */
async function until(what: string, probe: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(() => {
  startMaster();
});

afterAll(async () => {
  const t = transport();
  await t.exec(`rm -rf ~/${REMOTE_DIR}`).catch(() => {});
  await Promise.all(open.map((c) => c.close()));
  stopMaster();
  rmSync(dir, { recursive: true, force: true });
});

describe('OpenSshTransport through a ControlMaster', () => {
  it('runs commands with stdin, exit codes, cwd and env (hostile values stay literal)', async () => {
    const t = transport();
    expect(existsSync(socket)).toBe(true);
    const r = await t.exec('tr a-z A-Z; echo "to stderr" >&2; exit 7', { stdin: 'hello ünïcode\n' });
    expect(r).toEqual({ stdout: 'HELLO üNïCODE\n', stderr: 'to stderr\n', exitCode: 7 });
    expect(t.health()).toEqual({
      connected: true,
      lastError: null,
      endpoint: `${user}@${host}:${port} (OpenSSH master ${socket})`,
    });
    // a command's own 255 is its exit status while the master is up
    expect((await t.exec('exit 255')).exitCode).toBe(255);
    // without stdin the command reads nothing (it must not eat the program)
    expect(await t.exec('cat; echo done')).toEqual({ stdout: 'done\n', stderr: '', exitCode: 0 });
    const hostile = `it's "$(touch /tmp/pwned-${ID})" \`id\` $HOME ; rm -rf /`;
    const e = await t.exec('printf "%s|%s" "$V" "$PWD"', { env: { V: hostile }, cwd: '/tmp' });
    expect(e.stdout).toBe(`${hostile}|/tmp`);
    expect(existsSync(`/tmp/pwned-${ID}`)).toBe(false);
    expect((await t.exec('pwd', { cwd: `~/${REMOTE_DIR}-missing` })).exitCode).not.toBe(0);
  });

  it('runs a large `bash -s` program from stdin (no command-line limit), nothing of it on a command line', async () => {
    const t = transport();
    const lines = Array.from({ length: 6000 }, (_, i) => `x${i}=${'v'.repeat(40)}`);
    const program = `${lines.join('\n')}\necho "$x5999" | wc -c\nps -o args= -u "$USER" | grep -c '[x]5998=' || true\n`;
    expect(program.length).toBeGreaterThan(200_000);
    const r = await t.exec('bash -s', { stdin: program, logAs: 'big program' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['41', '0']);
    expect(t.commandLog().at(-1)).toMatchObject({ command: 'big program', exitCode: 0 });
  });

  it('keeps at most maxSessions sessions at once', async () => {
    const t = transport({ maxSessions: 3 });
    const lock = `~/${REMOTE_DIR}/sessions`;
    await t.exec(`mkdir -p ${lock}`);
    const counts = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        t.exec(`mkdir ${lock}/s${i} && ls ${lock} | wc -l; sleep 0.4; rmdir ${lock}/s${i}`),
      ),
    );
    const seen = counts.map((c) => Number(c.stdout.trim()));
    expect(Math.max(...seen)).toBeLessThanOrEqual(3);
    expect(Math.max(...seen)).toBe(3);
  });

  it('uploads through stdin with mode 0600, and removes temporary files', async () => {
    const t = transport();
    await t.exec(`mkdir -p ~/${REMOTE_DIR}`);
    const content = Buffer.concat([randomBytes(50_000), Buffer.from('\nend\n')]);
    await t.upload(`~/${REMOTE_DIR}/up.bin`, content);
    const md5 = execFileSync('md5sum', { input: content }).toString().split(' ')[0];
    const st = await t.exec(`cd ~/${REMOTE_DIR} && stat -c %a up.bin && md5sum < up.bin`);
    expect(st.stdout.split('\n').slice(0, 2)).toEqual(['600', `${md5}  -`]);
    let seenPath = '';
    const mode = await t.withTempFile('secret\n', async (p) => {
      seenPath = p;
      return (await t.exec(`stat -c %a ${p} && cat ${p}`)).stdout;
    });
    expect(mode).toBe('600\nsecret\n');
    expect((await t.exec(`test -e ${seenPath}`)).exitCode).toBe(1);
  });

  it('ends the remote command on timeout (the process is gone, not just the client)', async () => {
    const t = transport();
    const name = `scripthut-sleep-${ID}`;
    const probe = transport();
    const running = async () => (await probe.exec(`pgrep -u "$USER" -f ${name} >/dev/null`)).exitCode === 0;
    const pending = failure(t.exec(`bash -c 'exec -a ${name} sleep 300'`, { timeoutMs: 3000 }));
    await until('the remote sleep to start', running);
    const err = await pending;
    expect(err.transient).toBe(true);
    expect(err.message).toMatch(/^command timed out after 3000 ms on hut@127\.0\.0\.1:2222: bash -c/);
    expect(err.details).toMatchObject({ started: true });
    await until('the remote sleep to be gone', async () => !(await running()), 20_000);
    // still usable
    expect((await t.exec('echo ok')).stdout).toBe('ok\n');
  });

  it('reports the missing master with the login command; every command fails transiently; resumes when it is back', async () => {
    const t = transport();
    expect((await t.exec('true')).exitCode).toBe(0);
    const name = `scripthut-inflight-${ID}`;
    const inflight = failure(t.exec(`bash -c 'exec -a ${name} sleep 20'`, { timeoutMs: 60_000 }));
    const probe = transport();
    await until(
      'the sleep to start',
      async () => (await probe.exec(`pgrep -u "$USER" -f ${name} >/dev/null`)).exitCode === 0,
    );
    stopMaster();
    const lost = await inflight;
    expect(lost.transient).toBe(true);
    expect(lost.message).toContain(`lost while running: bash -c 'exec -a ${name} sleep 20'`);
    expect(lost.details).toMatchObject({ started: true });
    const login = `ssh -M -S ${controlPath} -o ControlPersist=yes -fN -p ${port} ${user}@${host}`;
    for (let i = 0; i < 3; i++) {
      const err = await failure(t.exec('squeue --me', { timeoutMs: 10_000 }));
      expect(err.transient).toBe(true);
      expect(err.message).toContain(`Log in again with: ${login} (or: scripthut login hpc)`);
    }
    expect(t.health().connected).toBe(false);
    expect(t.health().lastError).toContain(login);
    startMaster();
    expect((await t.exec('echo back')).stdout).toBe('back\n');
    expect(t.health()).toMatchObject({ connected: true, lastError: null });
  });
});
