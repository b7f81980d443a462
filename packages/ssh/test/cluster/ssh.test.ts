/**
 * @scripthut/ssh against the real OpenSSH server of the local test cluster (scripts/cluster):
 * commands, coalesced packets, files and channels (authentication, host keys and reconnects:
 * ssh-auth.test.ts). Fault tests use their own sshd instances (other ports) so they never disturb
 * other suites.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { coalescingSocket } from './coalescing-socket.js';
import { closeAfterAll, conn, env, expectBackendError, host, port, sshdInstance } from './ssh-harness.js';

closeAfterAll();

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
