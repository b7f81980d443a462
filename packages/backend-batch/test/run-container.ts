/**
 * A {@link FakeAws.outcome} that RUNS each job's container command with the local bash, in the
 * environment ECS would give the container (the overrides' variables plus the AWS_BATCH_* ones Batch
 * adds, AWS_BATCH_JOB_ARRAY_INDEX for array children), `HOME` a scratch directory: the exit code and
 * the output (stdout, then stderr, as one stream like CloudWatch Logs) are what the command really
 * did. Each attempt runs once.
 */
import { spawnSync } from 'node:child_process';
import type { JobDetail } from '@aws-sdk/client-batch';
import type { FakeAws, JobOutcome } from './fake-aws.js';

export function runContainers(fake: FakeAws, home: string): (job: JobDetail) => JobOutcome {
  const done = new Map<string, JobOutcome>();
  return (job) => {
    const key = `${job.jobId}#${job.attempts?.length ?? 0}`;
    const known = done.get(key);
    if (known) return known;
    const overrides = fake.ecsOverrides(job as Parameters<FakeAws['ecsOverrides']>[0]) as {
      command?: string[];
      environment: { name: string; value: string }[];
    };
    const [program, ...args] = overrides.command ?? ['true'];
    const env: Record<string, string> = { PATH: '/usr/bin:/bin', HOME: home };
    for (const { name, value } of overrides.environment) env[name] = value;
    const r = spawnSync(program!, args, { env, cwd: home, encoding: 'utf8', timeout: 30_000 });
    const lines = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').filter((l) => l !== '');
    const outcome: JobOutcome = { exitCode: r.status ?? 137, logLines: lines };
    done.set(key, outcome);
    return outcome;
  };
}
