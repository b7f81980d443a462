/**
 * Terminating instances, including right after launch: EC2 is eventually consistent, so a fresh
 * instance can be unknown to TerminateInstances (`InvalidInstanceID.NotFound`) while it boots, and
 * one unknown id fails the whole call. Such ids are retried one by one, kept pending (retried on
 * every poll) during the launch visibility grace, and dropped only when DescribeInstances confirms
 * that EC2 does not know them. Also: cancel.
 */
import { TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { chunk, errorText } from '@scripthut/aws-common';
import type { TrackedJob } from '@scripthut/core';
import type { Ec2Context } from './context.js';
import { describeInstances, LIVE_STATES } from './fleet.js';
import { archiveLog } from './logs.js';
import type { SessionPool } from './sessions.js';
import { saveVerdict, verdict } from './verdicts.js';

/** EC2's error for an instance id it does not know (or not yet). */
export const INSTANCE_NOT_FOUND = 'InvalidInstanceID.NotFound';

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; Code?: string };
  return (
    e?.name === INSTANCE_NOT_FOUND ||
    e?.Code === INSTANCE_NOT_FOUND ||
    errorText(err).includes(INSTANCE_NOT_FOUND)
  );
}

async function terminateCall(ctx: Ec2Context, ids: string[]): Promise<void> {
  await ctx.aws.call('TerminateInstances', () =>
    ctx.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids })),
  );
}

/**
 * Terminates instances (1000 per call); what does not go through stays pending and is retried on
 * every poll. Resolves to the error of a call that failed for another reason than EC2 not knowing
 * an id (no answer, throttled past the retries, refused), or null when every call went through.
 */
export async function terminate(ctx: Ec2Context, ids: string[]): Promise<unknown> {
  let failure: unknown = null;
  for (const group of chunk([...new Set(ids)], 1000)) {
    for (const id of group) ctx.pendingTerminate.add(id);
    try {
      await terminateCall(ctx, group);
      for (const id of group) ctx.pendingTerminate.delete(id);
    } catch (err) {
      if (!isNotFound(err)) {
        ctx.log.warn?.(`TerminateInstances ${group.join(',')} failed (will retry): ${errorText(err)}`);
        failure ??= err;
        continue;
      }
      // One id EC2 does not know (yet) fails the whole call: the others must not wait for it.
      for (const id of group) {
        const failed = await terminateOne(ctx, id);
        failure ??= failed;
      }
    }
  }
  return failure;
}

/** One id of a group EC2 refused: terminated, kept pending, or dropped; resolves to a failure as {@link terminate}. */
async function terminateOne(ctx: Ec2Context, id: string): Promise<unknown> {
  try {
    await terminateCall(ctx, [id]);
    ctx.pendingTerminate.delete(id);
    return null;
  } catch (err) {
    if (!isNotFound(err)) {
      ctx.log.warn?.(`TerminateInstances ${id} failed (will retry): ${errorText(err)}`);
      return err;
    }
  }
  const launchedAt = ctx.launches.get(id)?.launchedAt;
  if (launchedAt !== undefined && ctx.now() - launchedAt <= ctx.visibilityGraceMs) {
    ctx.log.debug?.(`instance ${id} is not visible to TerminateInstances yet: retrying on the next poll`);
    return null;
  }
  // Past the grace (or launched by another process): does EC2 know the instance at all?
  try {
    const [inst] = await describeInstances(ctx, { InstanceIds: [id] });
    if (inst && LIVE_STATES.includes(inst.State?.Name ?? '')) return null; // still there: retried next poll
    ctx.pendingTerminate.delete(id);
  } catch (err) {
    if (!isNotFound(err)) return null; // no answer: retried next poll
    ctx.pendingTerminate.delete(id);
    ctx.log.warn?.(`instance ${id} is unknown to EC2 (${INSTANCE_NOT_FOUND}): nothing to terminate`);
  }
  return null;
}

/**
 * Cancels tasks: keeps what the task printed so far (best effort, 5 s), terminates, records. When
 * TerminateInstances does not go through (no answer, throttled, refused), nothing is recorded and
 * the cancel throws (transient unless refused): the engine retries it, and the instance is not
 * reported cancelled while it still runs.
 */
export async function cancelJobs(ctx: Ec2Context, sessions: SessionPool, jobs: TrackedJob[]): Promise<void> {
  const todo = jobs.filter((j) => j.jobId && !ctx.decided.has(j.jobId));
  if (!todo.length) return;
  for (const job of todo) {
    ctx.cancelled.add(job.jobId);
    if (sessions.has(job.jobId)) {
      await Promise.race([
        archiveLog(ctx, sessions, job.jobId, job.runId, job.taskId).catch(() => undefined),
        new Promise((r) => setTimeout(r, 5000).unref()),
      ]);
    }
  }
  const failure = await terminate(
    ctx,
    todo.map((j) => j.jobId),
  );
  if (failure !== null) throw ctx.aws.toBackendError(failure, 'TerminateInstances (cancel)');
  for (const job of todo) {
    saveVerdict(ctx, job.runId, verdict(ctx, job.jobId, 'cancelled', null, 'instance terminated on cancel'));
    await sessions.drop(job.jobId);
  }
}
