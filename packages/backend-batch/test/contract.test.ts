/** The backend conformance suite on the Batch backend, against the stateful Batch + CloudWatch Logs fake. */

import { BatchClient } from '@aws-sdk/client-batch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { awsNetworkError, containerRequest } from '@scripthut/aws-common/testing';
import { backendContract } from '@scripthut/core/testing/contract';
import { mockClient } from 'aws-sdk-client-mock';
import { createBatchBackend } from '../src/index.js';
import { FakeAws, REGION } from './fake-aws.js';
import { baseConfig } from './helpers.js';

const fake = new FakeAws();
fake.addComputeEnvironment('ce', 256);
fake.addQueue('default-q', ['ce']);
// Calls that overlap count as one round trip: a few ms of latency makes concurrent calls overlap.
fake.latencyMs = 5;
const clients = fake.install();
/** Exit codes of released jobs, by job id; the lines each job prints, by tag (its job name). */
const released = new Map<string, number>();
const lines = new Map<string, string[]>();
fake.outcome = (job) => {
  const code = released.get(job.jobId!);
  return code === undefined
    ? { exitCode: 0, hold: true, logLines: lines.get(job.jobName!) ?? [] }
    : { exitCode: code };
};
// The fake's jobs move one lifecycle step per tick, as AWS moves them while ScriptHut polls.
const ticker = setInterval(() => fake.tick(), 2);

const create = (batch = clients.batch, logs = clients.logs) =>
  createBatchBackend({
    name: 'aws-batch',
    config: baseConfig,
    clients: { batch, logs },
    submitRatePerSecond: 100_000,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    sleep: async () => {},
    logger: {},
    now: () => fake.now,
  });

function unreachable() {
  const credentials = { accessKeyId: 'AKIAFAKE', secretAccessKey: 'fake' };
  const batch = new BatchClient({ region: REGION, credentials });
  const logs = new CloudWatchLogsClient({ region: REGION, credentials });
  const down = async () => {
    throw awsNetworkError('ECONNREFUSED');
  };
  mockClient(batch).onAnyCommand().callsFake(down);
  mockClient(logs).onAnyCommand().callsFake(down);
  return create(batch, logs);
}

backendContract('batch (fake Batch + CloudWatch Logs)', () => create(), {
  request(job) {
    lines.set(job.tag, [job.stdout, job.stderr]);
    return containerRequest(
      { command: `echo ${job.stdout}; echo ${job.stderr} >&2` },
      { runId: job.runId, taskId: job.taskId, tag: job.tag },
    );
  },
  async finish(job, exitCode) {
    if (!released.has(job.jobId)) released.set(job.jobId, exitCode);
  },
  pollMs: 10,
  timeoutMs: 20_000,
  vanish: async (job) => {
    fake.jobs.delete(job.jobId);
  },
  // A queue that does not exist: refused for this task only.
  rejectedRequest: (job) =>
    containerRequest({ partition: 'no-such-queue' }, { runId: job.runId, taskId: job.taskId, tag: job.tag }),
  unreachable,
  loseNextSubmitAnswer: () => fake.failNext('SubmitJob', 2, 'apply-then-500'),
  roundTrips: () => fake.roundTrips,
  cleanup: async () => clearInterval(ticker),
});
