/**
 * The EC2 backend against the fake EC2 API, where every instance is REAL: its user-data runs over
 * SSH on the local test sshd (see harness.ts), and the backend probes, archives and terminates it
 * over real SSH through a test tunnel factory.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobStatus, SubmitRequest, TrackedJob } from '@scripthut/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEc2Backend, type Ec2Backend, type Ec2BackendOptions } from '../../src/index.js';
import { FakeAws } from '../fake-aws.js';
import { config, request, tracked } from '../helpers.js';
import { Ec2Harness } from './harness.js';

let harness: Ec2Harness;
let fake: FakeAws;
let restore: () => void;
let clients: ReturnType<FakeAws['install']>['clients'];
let dataDir: string;
const backends: Ec2Backend[] = [];

beforeAll(async () => {
  harness = new Ec2Harness();
  await harness.setup();
});
afterAll(async () => {
  await harness.cleanup();
});
beforeEach(() => {
  fake = new FakeAws();
  harness.attach(fake);
  harness.safetySeconds = null;
  const installed = fake.install();
  restore = installed.restore;
  clients = installed.clients;
  dataDir = mkdtempSync(join(tmpdir(), 'ec2-data-'));
});
afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
  for (const id of [...harness.pgids.keys()]) await harness.kill(id);
  restore();
  rmSync(dataDir, { recursive: true, force: true });
});

function make(over: Partial<Ec2BackendOptions> = {}, cfg: Parameters<typeof config>[0] = {}): Ec2Backend {
  const b = createEc2Backend({
    name: 'aws-ec2',
    config: config({ ssh_user: harness.env.user, ...cfg }),
    dataDir,
    clients: { ec2: clients.ec2, instanceConnect: clients.instanceConnect },
    tunnelFactory: harness.tunnelFactory(),
    instancePathPrefix: (id) => harness.dirOf(id),
    sshKeyPath: harness.env.key,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    logger: {},
    ...over,
  });
  backends.push(b);
  return b;
}

async function submitOk(b: Ec2Backend, req: SubmitRequest): Promise<TrackedJob> {
  const [o] = await b.submit([req]);
  if (!o?.ok) throw new Error(`submit failed: ${JSON.stringify(o)}`);
  return tracked(o.jobId, req);
}

/** Polls status() until every job is final (or the deadline passes). */
async function settle(
  b: Ec2Backend,
  jobs: TrackedJob[],
  timeoutMs = 60_000,
): Promise<Map<string, JobStatus>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await b.status(jobs);
    if (jobs.every((j) => st.get(j.jobId)?.final)) return st;
    if (Date.now() > deadline) throw new Error(`not settled: ${JSON.stringify([...st.values()])}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('EC2 backend over real SSH', () => {
  it('runs tasks, reads the sentinel, archives the log and terminates the instance', async () => {
    const b = make();
    const hostile = `it's "$(touch /tmp/pwned-ec2)" \`id\` ; $HOME \\ \n second line`;
    const ok = request(
      { id: 'ok', name: 'OK', command: 'echo "value=[$HOSTILE]"; echo "to stderr" >&2; printf "héllo\\n"' },
      { env: { HOSTILE: hostile, SCRIPTHUT_TASK_ID: 'ok' } },
    );
    const bad = request({ id: 'bad', name: 'Bad', command: 'echo failing; exit 3' });
    const jobs = [await submitOk(b, ok), await submitOk(b, bad)];
    expect(b.activeInstances().sort()).toEqual(jobs.map((j) => j.jobId).sort());

    const st = await settle(b, jobs);
    expect(st.get(jobs[0]!.jobId)).toMatchObject({ state: 'completed', exitCode: 0, final: true });
    expect(st.get(jobs[1]!.jobId)).toMatchObject({ state: 'failed', exitCode: 3, final: true });

    const log = readFileSync(join(dataDir, 'ec2-logs', 'ab12cd34', 'ok.log'), 'utf8');
    expect(log).toContain(`value=[${hostile}]`);
    expect(log).toContain('to stderr');
    expect(log).toContain('héllo');
    expect(log).toContain('=== ScriptHut Task: OK ===');
    expect(existsSync('/tmp/pwned-ec2')).toBe(false);
    expect(readFileSync(join(dataDir, 'ec2-logs', 'ab12cd34', 'bad.log'), 'utf8')).toContain('failing');

    for (const j of jobs)
      expect(['shutting-down', 'terminated']).toContain(fake.instances.get(j.jobId)!.State!.Name);
    expect(fake.calls.TerminateInstances).toBeGreaterThanOrEqual(1);
    expect(b.activeInstances()).toEqual([]);
    // Ephemeral ed25519 keys pushed through Instance Connect for the right user and AZ.
    expect(fake.pushedKeys.length).toBeGreaterThanOrEqual(2);
    for (const k of fake.pushedKeys) {
      expect(k.SSHPublicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/=]+ /);
      expect(k.InstanceOSUser).toBe(harness.env.user);
      expect(k.AvailabilityZone).toBe('us-east-2b');
    }
    // The image was "pulled" and "run" by the docker shim.
    expect(await harness.read(`${harness.dirOf(jobs[0]!.jobId)}/image`)).toBe('ghcr.io/org/image:latest\n');
    // A later poll answers from the recorded verdict.
    const again = await b.status(jobs);
    expect(again.get(jobs[0]!.jobId)).toMatchObject({ state: 'completed', final: true });
    // Archived log is served by readLog.
    const chunk = await b.readLog(
      { jobId: jobs[0]!.jobId, runId: 'ab12cd34', taskId: 'ok', path: null, stream: 'stdout', meta: {} },
      {},
    );
    expect(chunk.content).toBe(log);
    expect(chunk.nextOffset).toBe(Buffer.byteLength(log));
  });

  it('does one DescribeInstances per poll and tails the live log while running', async () => {
    const b = make();
    const req = request({ id: 'slow', command: 'echo first-line; sleep 4; echo last-line' });
    const job = await submitOk(b, req);
    await fake.start(job.jobId);
    let live = '';
    const deadline = Date.now() + 20_000;
    while (!live.includes('first-line') && Date.now() < deadline) {
      const before = fake.describeInputs.length;
      const st = await b.status([job]);
      expect(fake.describeInputs.length - before).toBe(1);
      expect(st.get(job.jobId)?.state).toBe('running');
      const chunk = await b.readLog(
        { jobId: job.jobId, runId: req.runId, taskId: req.taskId, path: null, stream: 'stdout', meta: {} },
        { offset: 0 },
      );
      live = chunk.content;
      if (!live.includes('first-line')) await new Promise((r) => setTimeout(r, 300));
    }
    expect(live).toContain('first-line');
    expect(live).not.toContain('last-line');
    const st = await settle(b, [job]);
    expect(st.get(job.jobId)).toMatchObject({ state: 'completed', exitCode: 0 });
    const err = await b.readLog(
      { jobId: job.jobId, runId: req.runId, taskId: req.taskId, path: null, stream: 'stderr', meta: {} },
      {},
    );
    expect(err.note).toMatch(/merged/);
  });

  it('enforces the task time limit with timeout (safety layer 2)', async () => {
    const b = make();
    const req = request({
      id: 'slowpoke',
      command: 'echo started; sleep 60',
      timeLimit: '0:00:02',
      timeLimitSeconds: 2,
    });
    const job = await submitOk(b, req);
    const st = await settle(b, [job], 40_000);
    expect(st.get(job.jobId)).toMatchObject({ state: 'timeout', exitCode: 124, final: true });
    expect(readFileSync(join(dataDir, 'ec2-logs', req.runId, 'slowpoke.log'), 'utf8')).toContain('started');
  });

  it('fails and terminates an instance that never reaches running (startup_timeout_seconds)', async () => {
    const b = make({}, { startup_timeout_seconds: 1 });
    const job = await submitOk(b, request({ id: 'stuck' }));
    fake.hold(job.jobId);
    const first = await b.status([job]);
    expect(first.get(job.jobId)).toMatchObject({ state: 'pending' });
    await new Promise((r) => setTimeout(r, 1300));
    const st = await b.status([job]);
    expect(st.get(job.jobId)).toMatchObject({ state: 'failed', final: true });
    expect(st.get(job.jobId)?.reason).toBe(`instance ${job.jobId} did not reach running within 1 s`);
    expect(fake.instances.get(job.jobId)!.State!.Name).toBe('shutting-down');
    expect(b.activeInstances()).toEqual([]);
  });

  it('makes tasks beyond max_instances wait (transient), then launches them when a slot frees', async () => {
    const b = make({}, { max_instances: 2, max_concurrent: 10 });
    expect(b.maxConcurrent).toBe(2);
    const reqs = [1, 2, 3].map((i) => request({ id: `t${i}`, command: `echo task ${i}` }));
    const outcomes = await b.submit(reqs);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false]);
    const third = outcomes[2]!;
    expect(third).toMatchObject({ ok: false, transient: true });
    expect(!third.ok && third.error).toMatch(/max_instances \(2\) reached/);
    expect(fake.runInputs).toHaveLength(2);
    const jobs = outcomes.slice(0, 2).map((o, i) => tracked((o as { jobId: string }).jobId, reqs[i]!));
    await settle(b, jobs);
    const [retry] = await b.submit([reqs[2]!]);
    expect(retry).toMatchObject({ ok: true });
    const st = await settle(b, [tracked((retry as { jobId: string }).jobId, reqs[2]!)]);
    expect([...st.values()][0]).toMatchObject({ state: 'completed' });
  });

  it('adopts tagged instances after a restart and finishes them with only the instance id', async () => {
    const first = make();
    const req = request({ id: 'survivor', command: 'sleep 2; echo survived' });
    const [o] = await first.submit([req]);
    expect(o?.ok).toBe(true);
    await first.close(); // ScriptHut "crashes": nothing recorded the job id
    const second = make();
    const found = await second.findByTags([req.tag, 'shdeadbeef0000']);
    expect(found.get(req.tag)).toBe((o as { jobId: string }).jobId);
    expect(found.has('shdeadbeef0000')).toBe(false);
    expect(second.activeInstances()).toEqual([(o as { jobId: string }).jobId]);
    const job: TrackedJob = { ...tracked(found.get(req.tag)!, req), meta: {}, submittedAt: null };
    const st = await settle(second, [job]);
    expect(st.get(job.jobId)).toMatchObject({ state: 'completed', exitCode: 0 });
    expect(readFileSync(join(dataDir, 'ec2-logs', req.runId, 'survivor.log'), 'utf8')).toContain('survived');
    // A third process after the instance is gone still knows the verdict from the archive.
    const third = make();
    const again = await third.status([job]);
    expect(again.get(job.jobId)).toMatchObject({ state: 'completed', exitCode: 0, final: true });
  });

  it('arms the self-shutdown timer (safety layer 1); an instance that vanishes fails as node_fail', async () => {
    harness.safetySeconds = 1;
    const b = make();
    const req = request({ id: 'forever', command: 'sleep 60' });
    const job = await submitOk(b, req);
    await fake.start(job.jobId);
    const calls = `${harness.dirOf(job.jobId)}/shutdown.calls`;
    const deadline = Date.now() + 15_000;
    let recorded: string | null = null;
    while (!recorded && Date.now() < deadline) {
      recorded = await harness.read(calls);
      if (!recorded) await new Promise((r) => setTimeout(r, 300));
    }
    expect(recorded).toBe('shutdown -h now\n');
    const ud = harness.userData.get(job.jobId)!;
    expect(ud).toMatch(/^SCRIPTHUT_SAFETY_SECONDS=5400$/m); // 3600 + 1800
    await fake.selfShutdown(job.jobId);
    const st = await b.status([job]);
    expect(st.get(job.jobId)).toMatchObject({ state: 'node_fail', final: true });
    expect(st.get(job.jobId)?.reason).toMatch(/Instance initiated shutdown/);
  });

  it('keeps a task running while the tunnel keeps dying, then completes it', async () => {
    const b = make({ probeTimeoutMs: 2500 });
    const job = await submitOk(b, request({ id: 'flaky', command: 'echo fine' }));
    await fake.start(job.jobId);
    harness.failTunnels = 1_000;
    const st1 = await b.status([job]);
    expect(st1.get(job.jobId)).toMatchObject({ state: 'running' });
    expect(st1.get(job.jobId)?.reason).toMatch(/probe failed, will retry/);
    const st2 = await b.status([job]);
    expect(st2.get(job.jobId)).toMatchObject({ state: 'running' });
    harness.failTunnels = 0;
    const st = await settle(b, [job]);
    expect(st.get(job.jobId)).toMatchObject({ state: 'completed' });
    expect(harness.tunnelsOpened.filter((t) => t.instanceId === job.jobId).length).toBeGreaterThanOrEqual(3);
  });

  it('on the stock Amazon Linux 2023 AMI (docker only in its repository) installs docker, logs in to ECR and runs', async () => {
    fake.amis.set('ami-al2023', 'docker-in-repo');
    const image = '123456789012.dkr.ecr.us-east-2.amazonaws.com/team/tool:1';
    const b = make({}, { ami: 'ami-al2023', default_image: image });
    const req = request({ id: 'al2023', command: 'echo "ran on $(uname -s)"' });
    const job = await submitOk(b, req);
    const st = await settle(b, [job]);
    expect(st.get(job.jobId)).toMatchObject({ state: 'completed', exitCode: 0, final: true });
    const dir = harness.dirOf(job.jobId);
    expect(await harness.read(`${dir}/dnf.calls`)).toBe('dnf -y install docker\n');
    expect(await harness.read(`${dir}/systemctl.calls`)).toBe('systemctl start docker\n');
    // The registry password came from the instance role through a pipe.
    expect(await harness.read(`${dir}/login.args`)).toBe(
      '--username AWS --password-stdin 123456789012.dkr.ecr.us-east-2.amazonaws.com\n',
    );
    expect(await harness.read(`${dir}/login.stdin`)).toBe('ecr-token-of-the-instance-role\n');
    expect(await harness.read(`${dir}/aws.calls`)).toBe('aws ecr get-login-password --region us-east-2\n');
    const log = readFileSync(join(dataDir, 'ec2-logs', req.runId, 'al2023.log'), 'utf8');
    expect(log).toContain('ScriptHut: docker is not installed on this AMI: installing it');
    expect(log).toContain('ran on Linux');
  });

  it('on an AMI without docker the task fails with exit 127 and the reason, and the instance is terminated', async () => {
    fake.amis.set('ami-bare', 'no-docker');
    const b = make({}, { ami: 'ami-bare' });
    const job = await submitOk(b, request({ id: 'bare' }));
    const st = await settle(b, [job]);
    expect(st.get(job.jobId)).toMatchObject({ state: 'failed', exitCode: 127, final: true });
    expect(st.get(job.jobId)?.reason).toMatch(
      /docker is not installed on the AMI and could not be installed/,
    );
    expect(await harness.read(`${harness.dirOf(job.jobId)}/docker.calls`)).toBeNull();
    expect(['shutting-down', 'terminated']).toContain(fake.instances.get(job.jobId)!.State!.Name);
  });

  it('cancels by terminating the instance', async () => {
    const b = make();
    const req = request({ id: 'cancel-me', command: 'echo partial; sleep 60' });
    const job = await submitOk(b, req);
    await fake.start(job.jobId);
    await b.status([job]);
    await b.cancel([job]);
    expect(fake.instances.get(job.jobId)!.State!.Name).toBe('shutting-down');
    const st = await b.status([job]);
    expect(st.get(job.jobId)).toMatchObject({ state: 'cancelled', final: true });
    expect(b.activeInstances()).toEqual([]);
  });
});
