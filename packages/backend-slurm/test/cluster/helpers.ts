/** Shared setup of the Slurm backend's cluster tests (real sshd + Slurm from the global setup). */
import { randomBytes } from 'node:crypto';
import {
  isTerminalJobState,
  type JobStatus,
  type SubmitOutcome,
  type SubmitRequest,
  type TrackedJob,
} from '@scripthut/core';
import { SshConnection } from '@scripthut/ssh';
import { createSlurmBackend } from '../../src/backend.js';

export function clusterEnv(key: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${key}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${key} is not set: the cluster global setup did not run`);
  return v;
}

export function connect(): SshConnection {
  return new SshConnection({
    host: clusterEnv('SSH_HOST'),
    port: Number(clusterEnv('SSH_PORT')),
    user: clusterEnv('SSH_USER'),
    keyPath: clusterEnv('SSH_KEY'),
    knownHostsPath: clusterEnv('SSH_KNOWN_HOSTS'),
  });
}

/** A run id unique to this test process (8 hex characters, as the engine's run ids). */
export const RUN = randomBytes(4).toString('hex');

export function makeBackend(ssh: SshConnection, maxConcurrent = 10, options: { arrays?: boolean } = {}) {
  return createSlurmBackend({
    name: 'local',
    ssh,
    maxConcurrent,
    arrays: options.arrays ?? false,
    cloneDir: '~/scripthut-repos',
    markerDir: `~/.cache/scripthut/markers-test`,
    user: clusterEnv('SSH_USER'),
  });
}

export function tracked(req: SubmitRequest, outcome: SubmitOutcome): TrackedJob {
  if (!outcome.ok) throw new Error(`submission of ${req.taskId} failed: ${outcome.error}`);
  return {
    jobId: outcome.jobId,
    runId: req.runId,
    taskId: req.taskId,
    tag: req.tag,
    stdoutPath: req.stdoutPath,
    stderrPath: req.stderrPath,
    submittedAt: new Date(Date.now() - 5_000).toISOString(),
    lastState: null,
    meta: outcome.meta ?? {},
  };
}

/** Poll `status` until every job has a final terminal verdict (or the deadline passes). */
export async function waitFinal(
  backend: ReturnType<typeof makeBackend>,
  jobs: TrackedJob[],
  timeoutMs = 120_000,
  intervalMs = 1000,
): Promise<Map<string, JobStatus>> {
  const deadline = Date.now() + timeoutMs;
  let last = new Map<string, JobStatus>();
  while (Date.now() < deadline) {
    last = await backend.status(jobs);
    if (
      jobs.every((j) => isTerminalJobState(last.get(j.jobId)?.state ?? 'unknown') && last.get(j.jobId)?.final)
    )
      return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`jobs not final after ${timeoutMs} ms: ${JSON.stringify([...last.values()])}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
