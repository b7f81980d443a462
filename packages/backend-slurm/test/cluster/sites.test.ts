/**
 * The Slurm backend on the real cluster as real sites run it: logins that print banners and are not
 * bash (users `hutnoisy`, `hutcsh` from scripts/cluster/up.sh, whose rc files also set
 * SBATCH_PARTITION/SQUEUE_PARTITION/SLURM_TIME_FORMAT/… and an `squeue` function), a submission
 * whose answer is lost after sbatch created the job, site-policy directives, 20,000 ids in one
 * poll, and task fields that used to break the job-script wrapper.
 */
import { randomBytes } from 'node:crypto';
import {
  Engine,
  makeSubmitTag,
  parseTaskDocument,
  type RunStatus,
  type SitePolicy,
  type TaskRecord,
  type TrackedJob,
  tagOfJobName,
} from '@scripthut/core';
import { MemoryRunStore } from '@scripthut/core/testing';
import { SshConnection } from '@scripthut/ssh';
import { afterAll, describe, expect, it } from 'vitest';
import { createSlurmBackend } from '../../src/backend.js';
import { makeRequest } from '../requests.js';
import { clusterEnv, connect, RUN, sleep, tracked, waitFinal } from './helpers.js';

const open: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const c of open) await c.close().catch(() => undefined);
});

function connectAs(user: string, key: string): SshConnection {
  const c = new SshConnection({
    host: clusterEnv('SSH_HOST'),
    port: Number(clusterEnv('SSH_PORT')),
    user,
    keyPath: key,
    knownHostsPath: clusterEnv('SSH_KNOWN_HOSTS'),
  });
  open.push(c);
  return c;
}

function backendFor(ssh: SshConnection, user: string, policy: SitePolicy = {}) {
  return createSlurmBackend({
    name: 'site',
    ssh,
    maxConcurrent: 10,
    user,
    markerDir: '~/.cache/scripthut/markers-sites-test',
    policy,
  });
}

/** The observer: commands as `hut`, who sees everyone's accounting. */
const observer = connect();
open.push(observer);

async function waitRun(engine: Engine, runId: string, timeoutMs = 180_000): Promise<RunStatus> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const s = engine.summary(runId)?.status;
    if (s === 'completed' || s === 'failed' || s === 'cancelled') return s;
    await sleep(250);
  }
  throw new Error(`run ${runId} did not finish: ${JSON.stringify(engine.summary(runId)?.counts)}`);
}

/** Accounting rows `id|name|partition|timelimit` of these job ids (retries through accounting lag). */
async function accountingOf(user: string, ids: string[]): Promise<string[][]> {
  for (let i = 0; ; i++) {
    const r = await observer.exec(
      `sacct -n -P -X -u ${user} --format=JobIDRaw,JobName,Partition,Timelimit -j ${ids.join(',')} --starttime now-2hours`,
    );
    const rows = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('|'));
    if (rows.length >= ids.length || i >= 40) return rows;
    await sleep(500);
  }
}

const LOGIN_USERS = [
  { user: clusterEnv('NOISY_USER'), key: clusterEnv('NOISY_KEY'), home: clusterEnv('NOISY_HOME') },
  { user: clusterEnv('CSH_USER'), key: clusterEnv('CSH_KEY'), home: clusterEnv('CSH_HOME') },
];

for (const login of LOGIN_USERS) {
  describe(`a whole workflow as ${login.user} (noisy rc file, Slurm variables set, ${login.user === 'hutcsh' ? 'tcsh' : 'bash'} login)`, () => {
    it('generator task, generated task, dependency and a failing task end as they should, on the default partition', async () => {
      const ssh = connectAs(login.user, login.key);
      const work = `scripthut-test-work/${RUN}`;
      const setup = await ssh.exec(`mkdir -p ~/${work}`);
      expect(setup.exitCode).toBe(0);
      const store = new MemoryRunStore();
      const backend = backendFor(ssh, login.user);
      const engine = new Engine({
        store,
        backends: [backend],
        pollIntervalMs: 1000,
        clusterInfoIntervalMs: 0,
      });
      await engine.start();
      try {
        const more = JSON.stringify({
          tasks: [
            {
              id: 'gen.a',
              name: 'gen a',
              command: 'echo from-generated',
              memory: '50M',
              time_limit: '0:05:00',
            },
            {
              id: 'after',
              name: 'after',
              deps: ['gen.*'],
              command: 'echo after',
              memory: '50M',
              time_limit: '0:05:00',
            },
          ],
        });
        const { tasks } = parseTaskDocument(
          [
            {
              id: 'prep',
              name: 'prep',
              working_dir: `~/${work}`,
              command: `printf '%s' '${more}' > more.json; echo "partition=$SLURM_JOB_PARTITION run=$SCRIPTHUT_RUN_ID"`,
              generates_source: 'more.json',
              memory: '50M',
              time_limit: '0:05:00',
            },
            { id: 'fail', name: 'fail', command: 'exit 4', memory: '50M', time_limit: '0:05:00' },
          ],
          { knownEnvironments: [] },
        );
        const run = engine.createRun({
          workflowName: `sites-${login.user}`,
          backendName: 'site',
          origin: { kind: 'adhoc' },
          tasks,
          maxConcurrent: null,
          logDir: `~/scripthut-test-logs/${RUN}-${login.user}`,
        });
        expect(await waitRun(engine, run.id)).toBe('failed');
        const byId = new Map<string, TaskRecord>(store.allTasks(run.id).map((t) => [t.spec.id, t]));
        expect([...byId.keys()].sort()).toEqual(['after', 'fail', 'gen.a', 'prep']);
        expect(byId.get('prep')).toMatchObject({ state: 'completed', exitCode: 0 });
        expect(byId.get('gen.a')).toMatchObject({ state: 'completed', exitCode: 0 });
        expect(byId.get('after')).toMatchObject({ state: 'completed' });
        expect(byId.get('fail')).toMatchObject({ state: 'failed', exitCode: 4 });
        // Dates still parse although the user's SLURM_TIME_FORMAT is "relative": squeue -t all
        // still lists the finished job, with its real start time.
        const prep = byId.get('prep')!;
        const again = await backend.status([
          {
            jobId: prep.jobId!,
            runId: run.id,
            taskId: 'prep',
            tag: prep.submitTag!,
            stdoutPath: prep.stdoutPath,
            stderrPath: prep.stderrPath,
            submittedAt: prep.submittedAt,
            lastState: null,
            meta: prep.meta,
          },
        ]);
        expect(again.get(prep.jobId!)).toMatchObject({
          state: 'completed',
          startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        });
        const log = await engine.readTaskLog(run.id, 'prep', 'stdout', {});
        expect(log.content).toContain(`partition=normal run=${run.id}\n`);
        expect(log.content).not.toMatch(/Welcome|module: loading/);
        // SBATCH_PARTITION=long and SBATCH_TIMELIMIT=1 of the user's rc file changed nothing.
        const ids = [...byId.values()].map((t) => t.jobId!);
        const rows = await accountingOf(login.user, ids);
        expect(rows).toHaveLength(4);
        for (const [, , partition, limit] of rows) {
          expect(partition).toBe('normal');
          expect(limit).toBe('00:05:00');
        }
      } finally {
        await engine.stop();
        await ssh.exec(`rm -rf ~/${work} ~/scripthut-test-logs/${RUN}-${login.user}`).catch(() => undefined);
      }
    });
  });
}

describe('a lost submit answer with the job actually created', () => {
  const noisy = LOGIN_USERS[0]!;
  // A pass-through sbatch in ~/bin (first on the user's PATH). With a flag file it submits for
  // real, then kills the sshd session carrying the submission program: the answer is lost.
  const SHIM = `#!/bin/bash
drop_connection() {
  p=$PPID
  while [ "$p" -gt 1 ]; do
    if [ "$(cat /proc/$p/comm 2>/dev/null)" = sshd ]; then kill -9 "$p"; return; fi
    p=$(awk '{ print $4 }' /proc/$p/stat)
  done
}
if [ -e "$HOME/.scripthut-lose-answer" ]; then
  rm -f "$HOME/.scripthut-lose-answer"
  out=$(/usr/bin/sbatch "$@"); rc=$?
  drop_connection
  printf '%s\\n' "$out"; exit $rc
fi
if [ -e "$HOME/.scripthut-late-job" ]; then
  rm -f "$HOME/.scripthut-late-job"
  f=$(mktemp); cat >"$f"
  setsid bash -c 'while [ ! -e "$HOME/.scripthut-release" ]; do sleep 0.2; done; rm -f "$HOME/.scripthut-release"; /usr/bin/sbatch "$@" <"$0"; rm -f "$0"' "$f" "$@" </dev/null >/dev/null 2>&1 &
  drop_connection
  exit 0
fi
exec /usr/bin/sbatch "$@"
`;

  async function withShim<T>(ssh: SshConnection, fn: () => Promise<T>): Promise<T> {
    const r = await ssh.exec('cat > ~/bin/sbatch && chmod 0755 ~/bin/sbatch && command -v sbatch', {
      stdin: SHIM,
    });
    expect(r.stdout.trim()).toBe(`${noisy.home}/bin/sbatch`);
    try {
      return await fn();
    } finally {
      await ssh.exec(
        'rm -f ~/bin/sbatch ~/.scripthut-lose-answer ~/.scripthut-late-job ~/.scripthut-release',
      );
    }
  }

  it('through the engine: the job is found by its tag and adopted, one job', async () => {
    const ssh = connectAs(noisy.user, noisy.key);
    const store = new MemoryRunStore();
    const engine = new Engine({
      store,
      backends: [backendFor(ssh, noisy.user)],
      pollIntervalMs: 1000,
      clusterInfoIntervalMs: 0,
    });
    await withShim(ssh, async () => {
      await ssh.exec('touch ~/.scripthut-lose-answer');
      await engine.start();
      try {
        const { tasks } = parseTaskDocument(
          [{ id: 'one', name: 'one', command: 'echo one', memory: '50M', time_limit: '0:05:00' }],
          { knownEnvironments: [] },
        );
        const run = engine.createRun({
          workflowName: 'lost-answer',
          backendName: 'site',
          origin: { kind: 'adhoc' },
          tasks,
          maxConcurrent: null,
          logDir: `~/scripthut-test-logs/${RUN}-lost`,
        });
        expect(await waitRun(engine, run.id)).toBe('completed');
        const records = store.allTasks(run.id);
        const lost = await ssh.exec('test -e ~/.scripthut-lose-answer && echo still-there || echo used');
        expect(lost.stdout.trim()).toBe('used');
        // Exactly one job carries the task's tag (squeue -t all still lists finished jobs for
        // MinJobAge = 300 s, without accounting lag), and it is the one the task recorded.
        const tag = records[0]!.submitTag!;
        const q = await observer.exec(`squeue -h -t all -u ${noisy.user} -o '%i|%j'`);
        const jobs = q.stdout
          .split('\n')
          .map((l) => l.split('|'))
          .filter(([, n]) => tagOfJobName(n ?? '') === tag);
        expect(jobs).toHaveLength(1);
        expect(jobs[0]![0]).toBe(records[0]!.jobId);
        expect(records[0]!.meta).toMatchObject({ recovered: true });
      } finally {
        await engine.stop();
      }
    });
  });

  it('a job that appears only after the answer was lost: maybeSubmitted, found later, never submitted twice', async () => {
    const ssh = connectAs(noisy.user, noisy.key);
    const backend = backendFor(ssh, noisy.user);
    await withShim(ssh, async () => {
      await ssh.exec('touch ~/.scripthut-late-job');
      const tag = makeSubmitTag(randomBytes(4).toString('hex'), 0, 1);
      const req = makeRequest(tag, { command: 'echo late', memory: '50M' });
      const [o] = await backend.submit([req]);
      expect(o).toMatchObject({ ok: false, transient: true, maybeSubmitted: true });
      expect(backend.submitRetryWindowMs).toBe(180_000);
      expect(await backend.findByTags([tag])).toEqual(new Map());
      await ssh.exec('touch ~/.scripthut-release');
      let found = new Map<string, string>();
      for (let i = 0; i < 60 && !found.size; i++) {
        found = await backend.findByTags([tag]);
        if (!found.size) await sleep(500);
      }
      expect(found.get(tag)).toMatch(/^\d+$/);
      const r = await observer.exec(`squeue -h -t all -u ${noisy.user} -o '%j' | grep -c '^${tag}-' || true`);
      expect(r.stdout.trim()).toBe('1');
    });
  });
});

describe('site policy, sizes and hostile task fields (as hut)', () => {
  const ssh = connect();
  open.push(ssh);
  const LOGS = `~/scripthut-test-logs/${RUN}-sites`;
  let seq = 0;
  const tag = () => makeSubmitTag(RUN, 900 + seq++, 1);
  const req = (task: Parameters<typeof makeRequest>[1] = {}) => {
    const t = tag();
    return makeRequest(
      t,
      { id: t, name: `t ${t}`, memory: '50M', ...task },
      {
        logDir: LOGS,
        stdoutPath: `${LOGS}/${t}.out`,
        stderrPath: `${LOGS}/${t}.err`,
      },
    );
  };

  afterAll(async () => {
    await ssh.exec(`rm -rf "$HOME"/scripthut-test-logs/${RUN}-sites "$HOME"/-P`).catch(() => undefined);
  });

  it('a QOS and a node feature reach the job (scontrol show job)', async () => {
    const backend = backendFor(ssh, 'hut', { qos: clusterEnv('SLURM_TEST_QOS') });
    const r = req({ command: 'sleep 30', constraint: clusterEnv('SLURM_TEST_FEATURE') });
    const [o] = await backend.submit([r]);
    expect(o!.ok).toBe(true);
    const job = tracked(r, o!);
    const show = await observer.exec(`scontrol show job ${job.jobId}`);
    expect(show.stdout).toMatch(new RegExp(`QOS=${clusterEnv('SLURM_TEST_QOS')}\\b`));
    expect(show.stdout).toMatch(new RegExp(`Features=${clusterEnv('SLURM_TEST_FEATURE')}\\b`));
    await backend.cancel([job]);
  });

  it('20,000 ids in one status poll: one squeue, one sacct, the real jobs right', async () => {
    const backend = backendFor(ssh, 'hut');
    const reqs = [req({ command: 'sleep 60' }), req({ command: 'true' })];
    const outcomes = await backend.submit(reqs);
    const real = reqs.map((r, i) => tracked(r, outcomes[i]!));
    await waitFinal(backend, [real[1]!]);
    const fake: TrackedJob[] = Array.from({ length: 20_000 - real.length }, (_, i) => ({
      ...real[0]!,
      jobId: String(900_000_000 + i),
      tag: makeSubmitTag('feedf00d', i, 1),
      submittedAt: new Date().toISOString(),
    }));
    const before = ssh.commandLog().length;
    const res = await backend.status([...real, ...fake]);
    const execs = ssh.commandLog().slice(before);
    expect(execs).toHaveLength(2);
    expect(execs[0]!.command).toMatch(/squeue/);
    expect(execs[1]!.command).toMatch(/sacct/);
    expect(res.size).toBe(20_000);
    expect(res.get(real[0]!.jobId)?.state).toMatch(/pending|running/);
    expect(res.get(real[1]!.jobId)).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(res.get('900000000')?.state).toBe('unknown');
    await backend.cancel([real[0]!]);
  });

  it('a working_dir of -P and a task PATH/HOME of its own run correctly and report their exit code', async () => {
    await ssh.exec('mkdir -p -- "$HOME/-P"');
    const backend = backendFor(ssh, 'hut');
    const dash = req({ command: 'pwd; exit 3', workingDir: '-P' });
    const env = req({ command: 'echo "PATH=$PATH"; ls; exit 7' });
    env.env = { ...env.env, PATH: '/nonexistent', HOME: '/nonexistent' };
    const outcomes = await backend.submit([dash, env]);
    const jobs = [tracked(dash, outcomes[0]!), tracked(env, outcomes[1]!)];
    const final = await waitFinal(backend, jobs);
    expect(final.get(jobs[0]!.jobId)).toMatchObject({ state: 'failed', exitCode: 3, final: true });
    expect(final.get(jobs[1]!.jobId)).toMatchObject({ state: 'failed', exitCode: 7, final: true });
    const home = await backend.homeDir!();
    const out0 = await backend.readLog({ ...jobs[0]!, path: dash.stdoutPath, stream: 'stdout' }, {});
    expect(out0.content).toContain(`${home}/-P\n`);
    const out1 = await backend.readLog({ ...jobs[1]!, path: env.stdoutPath, stream: 'stdout' }, {});
    expect(out1.content).toContain('PATH=/nonexistent');
    expect(out1.content).toMatch(/Finished: \d{4}-/);
    expect(out1.content).toContain('Exit code: 7');
    const err1 = await backend.readLog({ ...jobs[1]!, path: env.stderrPath, stream: 'stderr' }, {});
    expect(err1.content).toMatch(/ls: command not found/);
    expect(err1.content).not.toMatch(/date|hostname|mkdir|mv:/);
    // The job wrote its own exit code (the marker), not only accounting.
    const m = await ssh.exec(
      `cat ~/.cache/scripthut/markers-sites-test/${env.tag}.rc 2>/dev/null || echo cleaned`,
    );
    expect(['7', 'cleaned']).toContain(m.stdout.trim());
  });

  it('a % in an output file name is written where ScriptHut reads it', async () => {
    const backend = backendFor(ssh, 'hut');
    const r = req({ command: 'echo percent-ok', outputFile: `${LOGS}/pct/out_100%_%j.log` });
    const [o] = await backend.submit([r]);
    const job = tracked(r, o!);
    await waitFinal(backend, [job]);
    const log = await backend.readLog({ ...job, path: r.task.outputFile, stream: 'stdout' }, {});
    expect(log.missing).toBeUndefined();
    expect(log.content).toContain('percent-ok');
    const ls = await ssh.exec(`ls ${LOGS.replace('~', '"$HOME"')}/pct`);
    expect(ls.stdout.trim()).toBe('out_100%_%j.log');
  });
});
