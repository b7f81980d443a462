import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SubmitOutcome } from '@scripthut/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLocalBackend, type LocalBackend, RENDER_JOB_ID } from '../src/index.js';
import { isProcessAlive } from '../src/proc.js';
import { makeRequest, sleep, tracked, waitForStatus } from './helpers.js';

let dir: string;
let spool: string;
let logs: string;
let backend: LocalBackend;
const started: number[] = [];

function jobIdOf(outcome: SubmitOutcome | undefined): string {
  if (!outcome?.ok) throw new Error(`submission failed: ${JSON.stringify(outcome)}`);
  const pid = (outcome.meta as { pid?: number } | undefined)?.pid;
  if (pid) started.push(pid);
  return outcome.jobId;
}

function pidOf(outcome: SubmitOutcome | undefined): number {
  const pid = outcome?.ok ? (outcome.meta as { pid?: number } | undefined)?.pid : undefined;
  if (!pid) throw new Error('no pid');
  return pid;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-local-'));
  spool = join(dir, 'spool');
  logs = join(dir, 'logs');
  backend = createLocalBackend({
    name: 'local',
    maxConcurrent: 4,
    spoolDir: spool,
    vanishGraceMs: 500,
    killGraceMs: 1_000,
  });
});

afterEach(async () => {
  // kill whatever a failed test left running (only our own process groups)
  const groups = started.splice(0);
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  // A dying job (its shell's EXIT trap, GNU time writing the usage file) can still create files in
  // the spool: wait until every group is gone before removing the directory.
  const alive = (pid: number) => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 200 && groups.some(alive); i++) await new Promise((r) => setTimeout(r, 25));
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('submit and status', () => {
  it('runs a batch: running, then completed or failed with the exit code, logs captured', async () => {
    const requests = [
      makeRequest(logs, 'ok', 'sleep 0.5; echo "hello from ok"; echo "warn" >&2'),
      makeRequest(logs, 'bad', 'sleep 0.5; echo out; exit 3'),
      makeRequest(logs, 'falsy', 'sleep 0.5; false'),
    ];
    const outcomes = await backend.submit(requests);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, true]);
    const ids = outcomes.map(jobIdOf);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(3);
    const jobs = ids.map((id, i) => tracked(id, requests[i]!));

    const first = await backend.status(jobs);
    expect(first.get(ids[0]!)?.state).toBe('running');
    expect(first.get(ids[1]!)?.state).toBe('running');

    const ok = await waitForStatus(backend, jobs[0]!, (s) => s.state !== 'running');
    const bad = await waitForStatus(backend, jobs[1]!, (s) => s.state !== 'running');
    expect(ok).toMatchObject({ state: 'completed', exitCode: 0, final: true });
    expect(bad).toMatchObject({ state: 'failed', exitCode: 3, final: true });
    expect(Date.parse(ok.finishedAt!)).not.toBeNaN();
    const falsy = await waitForStatus(backend, jobs[2]!, (s) => s.state !== 'running');
    expect(falsy).toMatchObject({ state: 'failed', exitCode: 1, final: true });
    expect(readFileSync(join(logs, 'falsy.out'), 'utf8')).toContain('Exit code: 1');

    const out = readFileSync(join(logs, 'ok.out'), 'utf8');
    expect(out).toContain('=== ScriptHut Task: Task ok ===');
    expect(out).toContain('hello from ok');
    expect(out).toContain('Exit code: 0');
    expect(readFileSync(join(logs, 'ok.err'), 'utf8')).toBe('warn\n');
    // `exit 3` inside the command leaves the script early: the EXIT trap still writes the marker
    expect(readFileSync(join(logs, 'bad.out'), 'utf8')).toContain('out');

    // spool layout
    const record = JSON.parse(readFileSync(join(spool, `${ids[0]}.json`), 'utf8'));
    expect(record).toMatchObject({ jobId: ids[0], tag: requests[0]!.tag, runId: 'run00001', taskId: 'ok' });
    expect(record.pid).toBeGreaterThan(0);
    expect(record.pgid).toBe(record.pid);
    expect(readFileSync(join(spool, `${ids[1]}.rc`), 'utf8').trim()).toBe('3');
    expect(readFileSync(join(spool, `${ids[0]}.sh`), 'utf8')).toContain(`${ids[0]}.rc`);
  });

  it('exports env, runs extra_init and cds into the working dir', async () => {
    const work = join(dir, 'work dir');
    mkdirSync(work);
    const req = makeRequest(logs, 'env', 'echo "V=$MY_VAR P=$(pwd) I=$FROM_INIT"', {
      workingDir: work,
      env: { MY_VAR: 'a b  c' },
      extraInit: 'export FROM_INIT=yes',
    });
    const [o] = await backend.submit([req]);
    const job = tracked(jobIdOf(o), req);
    expect(await waitForStatus(backend, job, (s) => s.final === true)).toMatchObject({ state: 'completed' });
    expect(readFileSync(join(logs, 'env.out'), 'utf8')).toContain(`V=a b  c P=${work} I=yes`);
  });

  it('expands ~ in log paths and uses output_file/error_file (relative to the working dir)', async () => {
    const sub = `scripthut-local-test-${process.pid}-${Date.now()}`;
    const req = makeRequest(
      logs,
      'tilde',
      'echo to-out; echo to-err >&2',
      {
        stdoutPath: `~/${sub}/deep/t.out`,
        workingDir: dir,
      },
      { errorFile: 'rel/t.err' },
    );
    try {
      const [o] = await backend.submit([req]);
      const job = tracked(jobIdOf(o), req);
      await waitForStatus(backend, job, (s) => s.final === true);
      expect(readFileSync(join(homedir(), sub, 'deep', 't.out'), 'utf8')).toContain('to-out');
      expect(readFileSync(join(dir, 'rel', 't.err'), 'utf8')).toBe('to-err\n');
    } finally {
      rmSync(join(homedir(), sub), { recursive: true, force: true });
    }
  });

  it('a working dir that does not exist fails the task with exit 97', async () => {
    const req = makeRequest(logs, 'nocd', 'echo should-not-run', { workingDir: join(dir, 'missing') });
    const [o] = await backend.submit([req]);
    const s = await waitForStatus(backend, tracked(jobIdOf(o), req), (x) => x.final === true);
    expect(s).toMatchObject({ state: 'failed', exitCode: 97 });
    expect(readFileSync(join(logs, 'nocd.err'), 'utf8')).toContain('cannot cd into working directory');
    expect(readFileSync(join(logs, 'nocd.out'), 'utf8')).not.toContain('should-not-run');
  });

  it('reports unknown jobs and vanished processes', async () => {
    const statuses = await backend.status([tracked('0123456789ab', makeRequest(logs, 'x', 'true'))]);
    expect(statuses.get('0123456789ab')?.state).toBe('unknown');
    const bogus = await backend.status([tracked('../../etc/passwd', makeRequest(logs, 'x', 'true'))]);
    expect(bogus.get('../../etc/passwd')?.state).toBe('unknown');

    // A job killed from outside (SIGKILL: no exit marker) is failed after the grace period.
    const req = makeRequest(logs, 'vanish', 'sleep 30');
    const [o] = await backend.submit([req]);
    const id = jobIdOf(o);
    const pid = pidOf(o);
    await waitForStatus(backend, tracked(id, req), (s) => s.state === 'running');
    process.kill(-pid, 'SIGKILL');
    const s = await waitForStatus(backend, tracked(id, req), (x) => x.final === true);
    expect(s.state).toBe('failed');
    expect(s.reason).toMatch(/process vanished/);
  });

  it('renderScript shows the script that submit writes (job id aside)', async () => {
    const req = makeRequest(logs, 'render', 'echo hi');
    const rendered = backend.renderScript(req);
    const [o] = await backend.submit([req]);
    const id = jobIdOf(o);
    const written = readFileSync(join(spool, `${id}.sh`), 'utf8');
    expect(written).toBe(rendered.split(RENDER_JOB_ID).join(id));
    expect((o as { script: string }).script).toBe(written);
    await waitForStatus(backend, tracked(id, req), (s) => s.final === true);
  });

  it('redacts secret env values in the returned script but not in the executed one', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion, not a JS template
    const req = makeRequest(logs, 'secret', 'echo "len=${#TOKEN}"', {
      env: { TOKEN: 's3cr3t-value' },
      secretEnvNames: ['TOKEN'],
    });
    const [o] = await backend.submit([req]);
    const id = jobIdOf(o);
    expect((o as { script: string }).script).not.toContain('s3cr3t-value');
    await waitForStatus(backend, tracked(id, req), (s) => s.final === true);
    expect(readFileSync(join(logs, 'secret.out'), 'utf8')).toContain('len=12');
  });
});

describe('cancel', () => {
  it('kills the whole process group, child processes included, and reports cancelled', async () => {
    const pidFile = join(dir, 'child.pid');
    const req = makeRequest(logs, 'long', `sleep 300 & echo $! > '${pidFile}'; wait`);
    const [o] = await backend.submit([req]);
    const id = jobIdOf(o);
    const job = tracked(id, req);
    await waitForStatus(backend, job, (s) => s.state === 'running');
    const deadline = Date.now() + 5_000;
    while (!existsSync(pidFile) && Date.now() < deadline) await sleep(20);
    const childPid = Number(readFileSync(pidFile, 'utf8').trim());
    expect(isProcessAlive(childPid)).toBe(true);

    await backend.cancel([job]);
    const s = await waitForStatus(backend, job, (x) => x.final === true);
    expect(s).toMatchObject({ state: 'cancelled', exitCode: 143 });
    const gone = Date.now() + 5_000;
    while (isProcessAlive(childPid) && Date.now() < gone) await sleep(20);
    expect(isProcessAlive(childPid)).toBe(false);
    expect(readFileSync(join(spool, `${id}.rc`), 'utf8').trim()).toBe('143');
    // cancel of a finished job changes nothing
    await backend.cancel([job]);
    expect((await backend.status([job])).get(id)?.state).toBe('cancelled');
  });

  it('SIGKILLs a group that ignores SIGTERM after the grace period', async () => {
    const req = makeRequest(logs, 'stubborn', `trap '' TERM; sleep 300 & wait; sleep 300`);
    const [o] = await backend.submit([req]);
    const id = jobIdOf(o);
    const pid = pidOf(o);
    const job = tracked(id, req);
    await waitForStatus(backend, job, (s) => s.state === 'running');
    await sleep(200); // let the trap be installed
    await backend.cancel([job]);
    await sleep(300);
    // the children inherited the ignored SIGTERM: the group is still there before the grace period
    let alive = true;
    const deadline = Date.now() + 5_000;
    while (alive && Date.now() < deadline) {
      await sleep(50);
      try {
        process.kill(-pid, 0);
        alive =
          isProcessAlive(pid) || readdirSync('/proc').some((p) => /^\d+$/.test(p) && groupOf(p) === pid);
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
    expect((await backend.status([job])).get(id)?.state).toBe('cancelled');
  });
});

function groupOf(pid: string): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return rest[0] === 'Z' ? null : Number(rest[2]);
  } catch {
    return null;
  }
}

describe('restart and recovery', () => {
  it('a job survives a control-plane restart: a new instance on the same spool sees it finish', async () => {
    const req = makeRequest(logs, 'survivor', 'sleep 1; echo survived; exit 5');
    const [o] = await backend.submit([req]);
    const id = jobIdOf(o);
    await backend.close();
    const again = createLocalBackend({ name: 'local', maxConcurrent: 4, spoolDir: spool });
    const job = tracked(id, req);
    expect((await again.status([job])).get(id)?.state).toBe('running');
    const s = await waitForStatus(again, job, (x) => x.final === true);
    expect(s).toMatchObject({ state: 'failed', exitCode: 5 });
    expect(readFileSync(join(logs, 'survivor.out'), 'utf8')).toContain('survived');
    await again.close();
  });

  it('findByTags scans the spool', async () => {
    const a = makeRequest(logs, 'a', 'true');
    const b = makeRequest(logs, 'b', 'true');
    const outcomes = await backend.submit([a, b]);
    const ids = outcomes.map(jobIdOf);
    const other = createLocalBackend({ name: 'local', maxConcurrent: 1, spoolDir: spool });
    const found = await other.findByTags([a.tag, b.tag, 'shnotthere']);
    expect(found.get(a.tag)).toBe(ids[0]);
    expect(found.get(b.tag)).toBe(ids[1]);
    expect(found.has('shnotthere')).toBe(false);
    expect((await other.findByTags([])).size).toBe(0);
    for (const [i, id] of ids.entries())
      await waitForStatus(backend, tracked(id, [a, b][i]!), (s) => s.final === true);
  });
});

describe('hostile input', () => {
  it('never executes text from env values, ids, names, paths or working dirs', async () => {
    const canary = join(dir, 'canary');
    const payloads = [
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `'; touch ${canary}; '`,
      `"; touch ${canary}; "`,
      `\n touch ${canary}\n`,
      `$'\\x41'; touch ${canary}`,
      `x\${IFS}$(touch\${IFS}${canary})`,
    ];
    const requests = payloads.map((p, i) =>
      makeRequest(
        logs,
        `task${i}${p}`,
        'printf "%s" "$HOSTILE" > /dev/null',
        {
          env: { HOSTILE: p, SCRIPTHUT_TASK_ID: p },
          stdoutPath: join(logs, `o${i}${p.replace(/\//g, '_')}.out`),
        },
        { name: `name ${p}` },
      ),
    );
    const outcomes = await backend.submit(requests);
    const jobs = outcomes.map((o, i) => tracked(jobIdOf(o), requests[i]!));
    for (const job of jobs) {
      const s = await waitForStatus(backend, job, (x) => x.final === true);
      expect(s.state).toBe('completed');
    }
    // also a hostile working dir (does not exist → exit 97, nothing executed)
    const wd = makeRequest(logs, 'wd', 'true', { workingDir: `${dir}/$(touch ${canary})` });
    const [o] = await backend.submit([wd]);
    expect((await waitForStatus(backend, tracked(jobIdOf(o), wd), (x) => x.final === true)).exitCode).toBe(
      97,
    );
    expect(existsSync(canary)).toBe(false);
  });
});

describe('logs and files', () => {
  it('readLog follows from an offset, tails, and reports missing files', async () => {
    const req = makeRequest(logs, 'log', 'for i in 1 2 3; do echo "line $i é"; sleep 0.2; done');
    const [o] = await backend.submit([req]);
    const id = jobIdOf(o);
    const logReq = {
      jobId: id,
      runId: 'run00001',
      taskId: 'log',
      path: null,
      stream: 'stdout' as const,
      meta: {},
    };
    let text = '';
    let offset = 0;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const chunk = await backend.readLog(logReq, { offset });
      text += chunk.content;
      offset = chunk.nextOffset;
      const st = (await backend.status([tracked(id, req)])).get(id);
      if (st?.final) {
        text += (await backend.readLog(logReq, { offset })).content;
        break;
      }
      await sleep(100);
    }
    const full = readFileSync(join(logs, 'log.out'), 'utf8');
    expect(text).toBe(full);
    expect(full).toContain('line 3 é');
    const tail = await backend.readLog(logReq, { tailBytes: 30 });
    expect(full.endsWith(tail.content)).toBe(true);
    expect(Buffer.byteLength(tail.content)).toBeLessThanOrEqual(30);
    expect(tail.nextOffset).toBe(statSync(join(logs, 'log.out')).size);
    const missing = await backend.readLog(
      { ...logReq, jobId: null, path: join(dir, 'nope.log') },
      { offset: 0 },
    );
    expect(missing).toMatchObject({ missing: true, content: '' });
    // an explicit path wins over the job's record
    const viaPath = await backend.readLog({ ...logReq, path: join(logs, 'log.err'), stream: 'stderr' }, {});
    expect(viaPath.content).toBe(readFileSync(join(logs, 'log.err'), 'utf8'));
  });

  it('readLog never splits a UTF-8 character at maxBytes', async () => {
    const file = join(dir, 'utf8.log');
    writeFileSync(file, 'aé€😀z');
    let offset = 0;
    let text = '';
    for (let i = 0; i < 20 && offset < Buffer.byteLength('aé€😀z'); i++) {
      const chunk = await backend.readLog(
        { jobId: null, runId: 'r', taskId: 't', path: file, stream: 'stdout', meta: {} },
        { offset, maxBytes: 4 },
      );
      expect(chunk.content).not.toContain('\uFFFD');
      text += chunk.content;
      offset = chunk.nextOffset;
    }
    expect(text).toBe('aé€😀z');
  });

  it('readFile reads relative to cwd, expands ~ and refuses files over 10 MB', async () => {
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'tasks.json'), '{"tasks":[]}');
    expect(await backend.readFile('src/tasks.json', dir)).toBe('{"tasks":[]}');
    expect(await backend.readFile(join(dir, 'src', 'tasks.json'), null)).toBe('{"tasks":[]}');
    const name = `scripthut-readfile-${process.pid}.json`;
    writeFileSync(join(homedir(), name), 'home');
    try {
      expect(await backend.readFile(`~/${name}`, null)).toBe('home');
      expect(await backend.readFile(name, '~')).toBe('home');
    } finally {
      rmSync(join(homedir(), name), { force: true });
    }
    writeFileSync(join(dir, 'big'), Buffer.alloc(10 * 1024 * 1024 + 1));
    await expect(backend.readFile('big', dir)).rejects.toThrow(/too large/);
    await expect(backend.readFile('missing.json', dir)).rejects.toMatchObject({ code: 'backend_permanent' });
  });
});

describe('cluster info, health, command runner', () => {
  it('counts CPUs of live jobs and reports the disk of the spool', async () => {
    const before = await backend.clusterInfo();
    expect(before.cpusTotal).toBe(cpus().length);
    expect(before.cpusIdle).toBe(cpus().length);
    expect(before.disk?.path).toBe(spool);
    expect(before.disk?.totalBytes).toBeGreaterThan(0);
    const req = makeRequest(logs, 'cpu', 'sleep 2', {}, { cpus: 1 });
    const [o] = await backend.submit([req]);
    const id = jobIdOf(o);
    await waitForStatus(backend, tracked(id, req), (s) => s.state === 'running');
    const during = await backend.clusterInfo();
    expect(during.cpusIdle).toBe(Math.max(0, cpus().length - 1));
    expect(during.partitions[0]).toMatchObject({ name: 'local', cpusTotal: cpus().length });
    await backend.cancel([tracked(id, req)]);
    expect(backend.health()).toMatchObject({ connected: true, lastError: null });
  });

  it('runs bash -c with cwd, stdin, env and a timeout', async () => {
    const runner = backend.commandRunner();
    expect(runner.remote).toBe(false);
    const cwd = join(dir, 'a dir');
    mkdirSync(cwd);
    const r = await runner.exec('pwd; cat; echo "$GREETING"; echo err >&2; exit 4', {
      cwd,
      stdin: 'from stdin\n',
      env: { GREETING: 'hi there' },
    });
    expect(r).toEqual({ stdout: `${cwd}\nfrom stdin\nhi there\n`, stderr: 'err\n', exitCode: 4 });
    // Without the timeout this would run 30 s and exit 0 (the test's own limit is 30 s).
    const slow = await runner.exec('sleep 30', { timeoutMs: 300 });
    expect(slow.exitCode).toBe(124);
    expect(slow.stderr).toMatch(/timed out/);
    const bad = await runner.exec('true', { cwd: join(dir, 'nope') });
    expect(bad.exitCode).not.toBe(0);
  });

  it('withTempFile writes a 0600 file and always removes it', async () => {
    const runner = backend.commandRunner();
    let seen = '';
    const content = await runner.withTempFile!('secret', async (path) => {
      seen = path;
      expect(statSync(path).mode & 0o777).toBe(0o600);
      return readFileSync(path, 'utf8');
    });
    expect(content).toBe('secret');
    expect(existsSync(seen)).toBe(false);
    await expect(
      runner.withTempFile!('x', async (path) => {
        seen = path;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(existsSync(seen)).toBe(false);
  });
});
