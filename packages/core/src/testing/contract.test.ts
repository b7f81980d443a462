/**
 * The conformance suite against the core FakeBackend. The fake is the scheduler itself, so the
 * "fresh instance after a crash" is the same object: it keeps no control-plane memory anyway.
 */
import { BackendError } from '../errors.js';
import { backendContract, contractRequest } from './contract.js';
import { FakeBackend } from './index.js';

const fake = new FakeBackend({ name: 'fake', maxConcurrent: 100 });

backendContract('FakeBackend', () => fake, {
  request(job) {
    const request = contractRequest(job, { command: 'held by the fake', logDir: '/fake/logs' });
    fake.script(job.taskId, { kind: 'hold' });
    fake.logs.set(request.stdoutPath, `${job.stdout}\n`);
    fake.logs.set(request.stderrPath, `${job.stderr}\n`);
    return request;
  },
  rejectedRequest(job) {
    fake.script(job.taskId, { kind: 'reject', error: 'invalid partition specified: nope' });
    return contractRequest(job, { command: 'true', logDir: '/fake/logs', spec: { partition: 'nope' } });
  },
  async finish(job, exitCode) {
    fake.complete(job.jobId, exitCode);
  },
  async vanish(job) {
    fake.forget(job.jobId);
  },
  unreachable() {
    const down = new FakeBackend({ name: 'fake' });
    down.unreachable = new BackendError('connect ECONNREFUSED 127.0.0.1:22', { transient: true });
    return down;
  },
  loseNextSubmitAnswer(b) {
    b.loseNextSubmitAnswer();
  },
  roundTrips: (b) => b.roundTrips,
  timeoutMs: 5_000,
  pollMs: 5,
});
