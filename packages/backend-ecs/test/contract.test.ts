/** The backend conformance suite on the ECS backend, against the stateful ECS and CloudWatch Logs fake. */
import { containerRequest } from '@scripthut/aws-common/testing';
import { backendContract } from '@scripthut/core/testing/contract';
import { FakeEcs } from './fake-ecs.js';
import { backendOn, unreachableClients } from './helpers.js';

const fake = new FakeEcs();
// Calls that overlap count as one round trip: a few ms of latency makes concurrent calls overlap.
fake.latencyMs = 5;
const clients = fake.install();

backendContract('ecs (fake ECS + CloudWatch Logs)', () => backendOn(clients), {
  request(job) {
    fake.printOnStart.set(job.tag, [job.stdout, job.stderr]);
    return containerRequest(
      { command: `echo ${job.stdout}; echo ${job.stderr} >&2` },
      { runId: job.runId, taskId: job.taskId, tag: job.tag },
    );
  },
  async finish(job, exitCode) {
    const t = fake.get(job.jobId);
    if (t && t.task.lastStatus !== 'STOPPED') fake.exit(job.jobId, exitCode);
  },
  pollMs: 10,
  timeoutMs: 10_000,
  vanish: async (job) => fake.forget(job.jobId),
  // Fargate has no GPUs: refused before RunTask, for this task only.
  rejectedRequest: (job) =>
    containerRequest({ gres: 'gpu:1' }, { runId: job.runId, taskId: job.taskId, tag: job.tag }),
  unreachable: () => backendOn(unreachableClients()),
  loseNextSubmitAnswer: () => fake.failNext('RunTask', 2, 'apply-then-500'),
  roundTrips: () => fake.roundTrips,
});
