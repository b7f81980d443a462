/**
 * The backend conformance suite on the EC2 backend, against the stateful EC2 + EC2 Instance Connect
 * fake (real SDK clients) and its instances' sshd ({@link FakeInstanceSshd}: a real SSH server
 * behind a fake SSM tunnel, accepting only the key pushed with SendSSHPublicKey). Each backend
 * probes, tails and archives over real SSH; an instance prints the contract job's two lines when it
 * starts running (EC2 merges stderr into the task log) and exits when the suite releases it.
 *
 * Round trips are the EC2 API's (RunInstances, DescribeInstances, TerminateInstances), answered in
 * latency rounds: the scheduler of this backend is the EC2 API. The SSH probes and the
 * SendSSHPublicKey before each new connection go to the task instances themselves, one per running
 * instance and `probeConcurrency` at a time, and are not scheduler queries.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { awsNetworkError } from '@scripthut/aws-common/testing';
import { backendContract } from '@scripthut/core/testing/contract';
import { createEc2Backend, type Ec2Backend } from '../src/index.js';
import { FakeAws } from './fake-aws.js';
import { config, request } from './helpers.js';
import { FakeInstanceSshd } from './instance-sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'ec2-contract-'));
const fake = new FakeAws();
// Calls that overlap count as one round trip: a few ms of latency makes concurrent calls overlap.
fake.latencyMs = 5;
const installed = fake.install();
const sshd = new FakeInstanceSshd(fake, join(dir, 'instances'));
await sshd.start();
/** The lines each contract job prints, by its submit tag. */
const lines = new Map<string, string[]>();
fake.onRunning = (inst) => {
  const tag = inst.Tags?.find((t) => t.Key === 'scripthut:tag')?.Value;
  if (tag) sshd.writeLog(inst.InstanceId!, lines.get(tag) ?? []);
};

const make = (ec2: EC2Client = installed.clients.ec2): Ec2Backend =>
  createEc2Backend({
    name: 'aws-ec2',
    // `bogus` names an instance type EC2 refuses: the rejected request.
    config: config({
      max_instances: 100,
      instance_types: { default: 'c5.xlarge', bogus: 'no-such-type' },
    }),
    dataDir: join(dir, 'data'),
    clients: { ec2, instanceConnect: installed.clients.instanceConnect },
    tunnelFactory: sshd.tunnelFactory,
    instancePathPrefix: sshd.prefixOf,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    sleep: async () => {},
    logger: {},
    probeTimeoutMs: 10_000,
    // The fake is consistent at once (consistencyDelay 0): an instance missing from
    // DescribeInstances for more than a second is gone, not late (the vanish case).
    launchVisibilityGraceSeconds: 1,
  });

/**
 * A backend whose EC2 endpoint cannot be reached: every call fails as a refused connection. (A
 * client object of its own: the fake mocks the EC2Client class, so every EC2Client answers.)
 */
function unreachable(): Ec2Backend {
  const down = {
    send: async () => {
      throw awsNetworkError('ECONNREFUSED');
    },
    destroy: () => undefined,
  } as unknown as EC2Client;
  return make(down);
}

backendContract('ec2 (fake EC2 + Instance Connect, instances over real SSH)', () => make(), {
  request(job) {
    lines.set(job.tag, [job.stdout, job.stderr]);
    return request(
      { command: `echo ${job.stdout}; echo ${job.stderr} >&2` },
      { runId: job.runId, taskId: job.taskId, tag: job.tag },
    );
  },
  async finish(job, exitCode) {
    sshd.exit(job.jobId, exitCode);
  },
  pollMs: 10,
  timeoutMs: 20_000,
  vanish: async (job) => {
    fake.instances.delete(job.jobId);
  },
  rejectedRequest: (job) =>
    request({ partition: 'bogus' }, { runId: job.runId, taskId: job.taskId, tag: job.tag }),
  unreachable,
  loseNextSubmitAnswer: () => fake.failNext('RunInstances', 1, 'apply-then-500'),
  roundTrips: () => fake.roundTrips,
  async cleanup() {
    await sshd.stop();
    installed.restore();
    rmSync(dir, { recursive: true, force: true });
  },
});
