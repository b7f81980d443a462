/**
 * The daemon with real processes and real SQLite: autostart from a fresh data dir, runs that keep
 * progressing after the command returned, exactly one daemon when commands race, reading next to
 * an in-process engine, an unresponsive or killed daemon, and a prompt stop while an SSH backend
 * is unreachable. Every daemon started here is stopped in afterAll, by pid.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEngineLockHeld, readEngineLock } from '@scripthut/runtime';
import { openSqliteStore } from '@scripthut/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonPids, stopDaemons, waitForExit } from '../daemons.js';
import { CLI_NODE_ARGS, type CliResult, cli, cliEnv, REPO, runProcess } from '../harness.js';
import { CONFIG_YAML, explain, json, schemas } from '../scenarios.js';

let tmp: string;
const dataDirs: string[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'scripthut-cli-daemon-'));
});
afterAll(async () => {
  for (const d of dataDirs) await stopDaemons(d);
  rmSync(tmp, { recursive: true, force: true });
});

/** A project dir with scripthut.yaml and its own data dir. */
function project(
  name: string,
  config = CONFIG_YAML,
): { cwd: string; dataDir: string; env: NodeJS.ProcessEnv } {
  const cwd = join(tmp, name);
  mkdirSync(cwd);
  writeFileSync(join(cwd, 'scripthut.yaml'), config);
  const dataDir = join(cwd, 'data');
  dataDirs.push(dataDir);
  return { cwd, dataDir, env: { SCRIPTHUT_DATA_DIR: dataDir } };
}

function runStatus(dataDir: string, runId: string) {
  const store = openSqliteStore(join(dataDir, 'scripthut.db'), { readonly: true });
  try {
    return { summary: store.summarizeRun(runId), tasks: store.allTasks(runId) };
  } finally {
    store.close();
  }
}

describe('from a fresh clone', () => {
  it('`pnpm scripthut workflow run demo` returns at once; the daemon finishes the run; `daemon stop` stops it', async () => {
    const dataDir = join(tmp, 'fresh-data');
    dataDirs.push(dataDir);
    const pnpm = (args: string[]) =>
      runProcess('pnpm', ['--silent', 'scripthut', ...args], {
        cwd: REPO,
        env: { SCRIPTHUT_DATA_DIR: dataDir },
        timeoutMs: 120_000,
      });
    const started = await pnpm(['workflow', 'run', 'demo', '--json']);
    const returnedAt = Date.now();
    expect(started.code, explain(started)).toBe(0);
    const created = json(started, schemas.runSummary);
    expect(created.status).toBe('pending'); // the creation summary: nothing waited for the run
    expect(started.stderr).toMatch(
      /started the ScriptHut daemon \(pid \d+\) at http:\/\/127\.0\.0\.1:\d+; log: /,
    );
    const [daemon] = daemonPids(dataDir);
    expect(daemon).toBeGreaterThan(0);

    const listed = await pnpm(['run', 'list', '--json']);
    expect(listed.code, explain(listed)).toBe(0);
    expect(json(listed, schemas.runList).items.map((i) => i.run.id)).toEqual([created.run.id]);

    // no further command: the daemon drives the run to the end (read straight from SQLite)
    await expect
      .poll(() => runStatus(dataDir, created.run.id).summary?.status, { timeout: 120_000, interval: 500 })
      .toBe('completed');
    const { tasks } = runStatus(dataDir, created.run.id);
    const lastFinish = Math.max(...tasks.map((t) => Date.parse(t.finishedAt ?? '')));
    expect(lastFinish).toBeGreaterThan(returnedAt); // it was still running when the command returned
    const viewed = await pnpm(['run', 'view', created.run.id, '--json']);
    expect(json(viewed, schemas.runView).status).toBe('completed');

    const stop = await pnpm(['daemon', 'stop']);
    expect(stop.code, explain(stop)).toBe(0);
    expect(stop.stdout).toMatch(
      new RegExp(`^Stopped the ScriptHut daemon \\(pid ${daemon}\\) in \\d+\\.\\d s\\.\\n$`),
    );
    expect(await waitForExit(daemon as number, 1000)).toBe(true);
    expect(isEngineLockHeld(dataDir)).toBe(false);
    expect(existsSync(join(dataDir, 'engine.lock'))).toBe(false);
    const status = await pnpm(['daemon', 'status', '--json']);
    expect(status.code).toBe(3);
    expect(JSON.parse(status.stdout)).toMatchObject({ running: false, pid: null, dataDir });
  }, 300_000);
});

describe('daemon lifecycle', () => {
  it('two commands started at once leave exactly one daemon, and both use it', async () => {
    const p = project('race');
    const [a, b] = await Promise.all([
      cli(['backend', 'list', '--json'], { cwd: p.cwd, env: p.env, timeoutMs: 120_000 }),
      cli(['backend', 'list', '--json'], { cwd: p.cwd, env: p.env, timeoutMs: 120_000 }),
    ]);
    for (const r of [a, b] as CliResult[]) {
      expect(r.code, explain(r)).toBe(0);
      expect(json(r, schemas.backends).map((x) => x.name)).toEqual(['local']);
    }
    const holder = readEngineLock(p.dataDir);
    expect(holder).toMatchObject({ role: 'daemon' });
    // the loser of the lock race (if both spawned one) exits by itself
    await expect.poll(() => daemonPids(p.dataDir), { timeout: 30_000 }).toEqual([holder?.pid]);
    // whoever reports starting a daemon names the one that runs
    for (const r of [a, b] as CliResult[]) {
      const m = /started the ScriptHut daemon \(pid (\d+)\)/.exec(r.stderr);
      if (m) expect(Number(m[1])).toBe(holder?.pid);
    }
    expect([a, b].filter((r) => r.stderr.includes('started the ScriptHut daemon'))).toHaveLength(1);

    const status = await cli(['daemon', 'status', '--json'], { cwd: p.cwd, env: p.env });
    expect(status.code, explain(status)).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      running: true,
      responding: true,
      role: 'daemon',
      pid: holder?.pid,
      url: holder?.serverUrl,
      dataDir: p.dataDir,
      config: join(p.cwd, 'scripthut.yaml'),
      log: join(p.dataDir, 'daemon.log'),
    });
    const stop = await cli(['daemon', 'stop', '--json'], { cwd: p.cwd, env: p.env });
    expect(JSON.parse(stop.stdout)).toMatchObject({ stopped: true, pid: holder?.pid });
    expect(daemonPids(p.dataDir)).toEqual([]);
    expect(isEngineLockHeld(p.dataDir)).toBe(false);
  }, 300_000);

  it('a daemon that does not answer: reads still work, changes say what to do; once killed, the next command takes over', async () => {
    const p = project('stuck');
    const start = await cli(['daemon', 'start'], { cwd: p.cwd, env: p.env, timeoutMs: 120_000 });
    expect(start.code, explain(start)).toBe(0);
    const first = readEngineLock(p.dataDir)!;
    process.kill(first.pid, 'SIGSTOP');
    try {
      const change = await cli(['run', 'cancel', 'deadbeef'], { cwd: p.cwd, env: p.env, timeoutMs: 120_000 });
      expect(change.code, explain(change)).toBe(3);
      expect(change.stderr).toContain(
        `error: the ScriptHut daemon (pid ${first.pid}) holds the engine lock of ${p.dataDir}, but its server at ${first.serverUrl} does not answer`,
      );
      expect(change.stderr).toContain(
        `hint: it may be stuck: \`scripthut daemon stop\` (or \`kill ${first.pid}\`)`,
      );
      const read = await cli(['run', 'list', '--json'], { cwd: p.cwd, env: p.env, timeoutMs: 120_000 });
      expect(read.code, explain(read)).toBe(0);
      expect(json(read, schemas.runList).total).toBe(0);
    } finally {
      process.kill(first.pid, 'SIGCONT');
    }
    process.kill(first.pid, 'SIGKILL'); // no cleanup at all: engine.lock still names it
    expect(await waitForExit(first.pid, 10_000)).toBe(true);
    const next = await cli(['backend', 'list'], { cwd: p.cwd, env: p.env, timeoutMs: 120_000 });
    expect(next.code, explain(next)).toBe(0);
    const second = readEngineLock(p.dataDir)!;
    expect(second.pid).not.toBe(first.pid);
    expect(next.stderr).toContain(`started the ScriptHut daemon (pid ${second.pid})`);
    expect((await cli(['daemon', 'stop'], { cwd: p.cwd, env: p.env })).code).toBe(0);
  }, 300_000);
});

describe('reading while a --no-daemon command drives the runs', () => {
  it('run list/view/logs, jobs and cost --run read the store; run cancel names the holder; no daemon starts', async () => {
    const p = project('readers');
    const watcher = spawn(
      process.execPath,
      [
        ...CLI_NODE_ARGS,
        'task',
        'run',
        '--backend',
        'local',
        '--id',
        'slow',
        '--no-daemon',
        '--watch',
        '--',
        'sh',
        '-c',
        // long enough to outlast every step below on a busy machine; the test cancels it at the end
        'echo started; sleep 900',
      ],
      { cwd: p.cwd, env: cliEnv(p.env), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let watcherErr = '';
    watcher.stderr.on('data', (d: Buffer) => {
      watcherErr += d.toString();
    });
    try {
      await expect.poll(() => readEngineLock(p.dataDir)?.role, { timeout: 60_000 }).toBe('cli');
      const holder = readEngineLock(p.dataDir)!;
      expect(holder.pid).toBe(watcher.pid);
      await expect
        .poll(() => /Started run ([0-9a-f]{8})/.exec(watcherErr)?.[1], { timeout: 60_000 })
        .toBeTruthy();
      const runId = /Started run ([0-9a-f]{8})/.exec(watcherErr)![1] as string;

      const list = await cli(['run', 'list', '--json'], { cwd: p.cwd, env: p.env });
      expect(list.code, explain(list)).toBe(0);
      expect(json(list, schemas.runList).items.map((i) => i.run.id)).toEqual([runId]);
      const view = await cli(['run', 'view', runId.slice(0, 6), '--json'], { cwd: p.cwd, env: p.env });
      expect(view.code, explain(view)).toBe(0);
      expect(json(view, schemas.runView).tasks.map((t) => t.spec.id)).toEqual(['slow']);
      await expect
        .poll(
          async () =>
            JSON.parse(
              (await cli(['run', 'logs', runId, 'slow', '--json'], { cwd: p.cwd, env: p.env })).stdout,
            ).content,
          { timeout: 60_000, interval: 1000 },
        )
        .toContain('\nstarted\n');
      const jobs = await cli(['jobs', '--json'], { cwd: p.cwd, env: p.env });
      expect(jobs.code, explain(jobs)).toBe(0);
      expect(json(jobs, schemas.jobs).map((j) => [j.kind, j.name])).toEqual([['task', 'slow']]);
      const cost = await cli(['cost', '--run', runId, '--json'], { cwd: p.cwd, env: p.env });
      expect(cost.code, explain(cost)).toBe(0);
      expect(json(cost, schemas.runCost)).toMatchObject({ runId, available: false });

      const cancel = await cli(['run', 'cancel', runId], { cwd: p.cwd, env: p.env });
      expect(cancel.code).toBe(1);
      expect(cancel.stderr).toContain(
        `error: a \`scripthut --no-daemon\` command (pid ${watcher.pid}) is driving runs in ${p.dataDir} and runs no server`,
      );
      expect(cancel.stderr).toContain('hint: wait for that command to finish');
      expect(daemonPids(p.dataDir)).toEqual([]);
    } finally {
      watcher.kill('SIGINT');
      await waitForExit(watcher.pid as number, 30_000);
    }
    // clean up the detached job: cancel it with an in-process engine
    const cancelled = await cli(
      [
        'run',
        'cancel',
        json(await cli(['run', 'list', '--json'], { cwd: p.cwd, env: p.env }), schemas.runList).items[0]!.run
          .id,
        '--no-daemon',
      ],
      { cwd: p.cwd, env: p.env },
    );
    expect(cancelled.code, explain(cancelled)).toBe(0);
  }, 300_000);
});

describe('prompt stop', () => {
  let silent: Server;
  const accepted: Socket[] = [];
  beforeAll(async () => {
    // a login node that accepts TCP and never speaks SSH: the engine's connect waits forever
    silent = createServer((s) => accepted.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(async () => {
    for (const s of accepted) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('`daemon stop` ends the daemon while its SSH backend is unreachable (the process exits)', async () => {
    const port = (silent.address() as { port: number }).port;
    const keyDir = mkdtempSync(join(tmp, 'key-'));
    const key = join(keyDir, 'id_ed25519');
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    writeFileSync(key, privateKey, { mode: 0o600 });
    const p = project(
      'unreachable',
      `backends:
  - name: hpc
    type: slurm
    ssh:
      host: 127.0.0.1
      port: ${port}
      user: nobody
      key_path: ${key}
settings:
  server_port: 47814
`,
    );
    const run = await cli(['task', 'run', 'true', '--backend', 'hpc', '--json'], {
      cwd: p.cwd,
      env: p.env,
      timeoutMs: 120_000,
    });
    expect(run.code, explain(run)).toBe(0);
    const daemon = readEngineLock(p.dataDir)!;
    // the engine is inside an SSH connect to the silent host
    await expect.poll(() => accepted.length, { timeout: 60_000 }).toBeGreaterThan(0);
    const t0 = Date.now();
    const stop = await cli(['daemon', 'stop', '--json'], { cwd: p.cwd, env: p.env, timeoutMs: 120_000 });
    expect(stop.code, explain(stop)).toBe(0);
    expect(await waitForExit(daemon.pid, 5000)).toBe(true);
    expect(isEngineLockHeld(p.dataDir)).toBe(false);
    const seconds = JSON.parse(stop.stdout).seconds as number;
    console.log(
      `daemon stop with an unreachable SSH backend: ${seconds} s (wall ${(Date.now() - t0) / 1000} s)`,
    );
    // the interrupted submission was kept for adoption, not failed
    const { tasks } = runStatus(p.dataDir, json(run, schemas.runSummary).run.id);
    expect(tasks.map((t) => t.state)).not.toContain('failed');
  }, 300_000);
});
