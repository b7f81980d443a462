/**
 * Status: one DescribeInstances per poll (filtered by the backend tag), then an SSH probe of each
 * running instance for the exit-code sentinel. A finished task's log is archived, its verdict
 * recorded and its instance terminated. Startup is bounded twice by `startup_timeout_seconds`: an
 * instance still `pending`, and a `running` one that never answered a probe (no SSM egress, no
 * instance profile, no EC2 Instance Connect on the AMI, sshd down) fail their task.
 */
import type { Instance } from '@aws-sdk/client-ec2';
import { errorText } from '@scripthut/aws-common';
import { type JobStatus, shellQuotePath, type TrackedJob } from '@scripthut/core';
import type { Ec2Context } from './context.js';
import { backendFilter, describeInstances, GONE_STATES, LIVE_STATES, resync, tagValue } from './fleet.js';
import { mapLimited } from './limited.js';
import { archiveLog } from './logs.js';
import { REASON_PATH, SENTINEL_PATH } from './mapping.js';
import type { SessionPool } from './sessions.js';
import { terminate } from './terminate.js';
import { loadVerdict, saveVerdict, statusOf, verdict } from './verdicts.js';

/** What the sentinel check found. */
interface ProbeAnswer {
  exitCode: number | null;
  reason: string | null;
}

/** One SSH round trip: the sentinel (exit code) and the reason the user-data left, if any. */
async function readSentinel(ctx: Ec2Context, sessions: SessionPool, id: string): Promise<ProbeAnswer> {
  const prefix = ctx.prefixOf(id);
  const res = await sessions
    .get(id)
    .exec(
      [
        `f=${shellQuotePath(`${prefix}${SENTINEL_PATH}`)}`,
        'if [ ! -f "$f" ]; then echo MISSING; exit 0; fi',
        'echo "DONE $(cat -- "$f")"',
        `head -c 2000 -- ${shellQuotePath(`${prefix}${REASON_PATH}`)} 2>/dev/null`,
      ].join('\n'),
      ctx.probeTimeoutMs,
    );
  const [first = '', ...rest] = res.stdout.split('\n');
  const m = /^DONE (-?\d+)\s*$/.exec(first.trim());
  const reason = rest.join('\n').trim() || null;
  return { exitCode: m ? Number.parseInt(m[1]!, 10) : null, reason };
}

/** Sentinel check of a running instance; on completion archive, record and terminate. */
async function probe(
  ctx: Ec2Context,
  sessions: SessionPool,
  job: TrackedJob,
  inst: Instance,
): Promise<JobStatus> {
  const id = job.jobId;
  const startedAt = inst.LaunchTime ? new Date(inst.LaunchTime).toISOString() : null;
  const node = `${id}${inst.Placement?.AvailabilityZone ? ` (${inst.Placement.AvailabilityZone})` : ''}`;
  const running: JobStatus = {
    jobId: id,
    state: 'running',
    startedAt,
    node,
    rawState: 'running',
    final: false,
  };
  if (!ctx.runningSince.has(id)) ctx.runningSince.set(id, ctx.now());
  let answer: ProbeAnswer;
  try {
    answer = await readSentinel(ctx, sessions, id);
    ctx.answered.add(id);
    if (answer.exitCode === null) return running;
    await archiveLog(ctx, sessions, id, job.runId, job.taskId);
  } catch (err) {
    const why = errorText(err).slice(0, 300);
    const since = ctx.runningSince.get(id)!;
    if (!ctx.answered.has(id) && ctx.now() - since > ctx.startupTimeoutMs) {
      // Running, but never reachable: it will not become so by waiting.
      const v = verdict(
        ctx,
        id,
        'failed',
        null,
        `instance ${id} has been running for ${Math.round((ctx.now() - since) / 1000)} s but never answered a probe ` +
          `(startup_timeout_seconds ${ctx.cfg.startup_timeout_seconds}): check that the subnet lets the SSM agent reach AWS ` +
          '(public IP or NAT, or VPC endpoints), that instance_profile_arn grants AmazonSSMManagedInstanceCore, and that ' +
          `the AMI has sshd and the ec2-instance-connect package (last error: ${why})`,
      );
      saveVerdict(ctx, job.runId, v);
      await sessions.drop(id);
      await terminate(ctx, [id]);
      return { ...statusOf(v), startedAt, node };
    }
    // A dead tunnel or SSH hiccup: keep the task running, retry next poll.
    ctx.log.debug?.(`probe of ${id} failed (will retry): ${why}`);
    return { ...running, reason: `probe failed, will retry: ${why}` };
  }
  const exitCode = answer.exitCode;
  const state: JobStatus['state'] = exitCode === 0 ? 'completed' : exitCode === 124 ? 'timeout' : 'failed';
  const reason = state === 'timeout' ? 'docker run exceeded the time limit' : answer.reason;
  const v = verdict(ctx, id, state, exitCode, reason);
  saveVerdict(ctx, job.runId, v);
  await sessions.drop(id);
  await terminate(ctx, [id]);
  return { ...statusOf(v), startedAt, node };
}

/** Status of many tasks: one DescribeInstances, then at most `probeConcurrency` probes at once. */
export async function ec2Status(
  ctx: Ec2Context,
  sessions: SessionPool,
  jobs: TrackedJob[],
): Promise<Map<string, JobStatus>> {
  const result = new Map<string, JobStatus>();
  if (!jobs.length) return result;
  if (ctx.pendingTerminate.size) await terminate(ctx, [...ctx.pendingTerminate]);
  let instances: Instance[];
  try {
    instances = await describeInstances(ctx, { Filters: [backendFilter(ctx)] });
  } catch (err) {
    throw ctx.aws.toBackendError(err, 'DescribeInstances');
  }
  resync(ctx, instances);
  const byId = new Map(instances.filter((i) => i.InstanceId).map((i) => [i.InstanceId!, i]));
  const toProbe: { job: TrackedJob; inst: Instance }[] = [];
  const toTerminate: string[] = [];
  for (const job of jobs) {
    const id = job.jobId;
    const inst = byId.get(id);
    const runId = job.runId || (inst && tagValue(inst, ctx.keys.runId)) || '';
    const taskId = job.taskId || (inst && tagValue(inst, ctx.keys.taskId)) || '';
    const known = loadVerdict(ctx, id, runId);
    if (known) {
      result.set(id, statusOf(known));
      if (inst && LIVE_STATES.includes(inst.State?.Name ?? '') && !ctx.pendingTerminate.has(id))
        toTerminate.push(id);
      continue;
    }
    if (!inst) {
      const l = ctx.launches.get(id);
      if (l && ctx.now() - l.launchedAt <= ctx.visibilityGraceMs) {
        result.set(id, {
          jobId: id,
          state: 'pending',
          reason: 'launching',
          rawState: 'pending',
          final: false,
        });
      } else {
        result.set(id, { jobId: id, state: 'unknown', reason: `instance ${id} not found`, rawState: null });
      }
      continue;
    }
    const st = inst.State?.Name ?? 'unknown';
    if (st === 'pending') {
      const launchedAt =
        ctx.launches.get(id)?.launchedAt ??
        (inst.LaunchTime ? new Date(inst.LaunchTime).getTime() : ctx.now());
      if (ctx.now() - launchedAt > ctx.startupTimeoutMs) {
        const v = verdict(
          ctx,
          id,
          'failed',
          null,
          `instance ${id} did not reach running within ${ctx.cfg.startup_timeout_seconds} s`,
        );
        saveVerdict(ctx, runId, v);
        toTerminate.push(id);
        result.set(id, statusOf(v));
      } else {
        result.set(id, {
          jobId: id,
          state: 'pending',
          reason: 'instance pending',
          rawState: 'pending',
          final: false,
        });
      }
      continue;
    }
    if (st === 'running') {
      toProbe.push({ job: { ...job, runId, taskId }, inst });
      continue;
    }
    if (GONE_STATES.includes(st)) {
      const byUs = ctx.cancelled.has(id);
      const why = inst.StateReason?.Message ?? inst.StateTransitionReason ?? '';
      const v = verdict(
        ctx,
        id,
        byUs ? 'cancelled' : 'node_fail',
        null,
        byUs
          ? 'instance terminated on cancel'
          : `instance ${id} is ${st} and its result was never read${why ? ` (${why})` : ''}`,
      );
      saveVerdict(ctx, runId, v);
      void sessions.drop(id);
      result.set(id, statusOf(v));
      continue;
    }
    result.set(id, { jobId: id, state: 'unknown', rawState: st, reason: st });
  }
  if (toTerminate.length) await terminate(ctx, toTerminate);
  await mapLimited(toProbe, ctx.probeConcurrency, async ({ job, inst }) => {
    result.set(job.jobId, await probe(ctx, sessions, job, inst));
  });
  return result;
}
