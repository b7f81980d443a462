/**
 * The result of a task instance, recorded once when it is known (exit code read, startup failed,
 * instance gone, cancelled): the instance is deleted afterwards, so later polls, log reads and
 * later processes answer from the record (`<dataDir>/ec2-jobs/<run>.jsonl`).
 */
import type { JobStatus } from '@scripthut/core';
import type { Ec2Context, Verdict } from './context.js';

/** Records a verdict: the instance no longer holds a slot. */
export function saveVerdict(ctx: Ec2Context, runId: string, v: Verdict): void {
  ctx.decided.set(v.instanceId, v);
  ctx.active.delete(v.instanceId);
  ctx.verdicts.put(runId, v.instanceId, v);
}

/** The verdict of an instance, from this process or from the record of an earlier one. */
export function loadVerdict(ctx: Ec2Context, instanceId: string, runId: string): Verdict | null {
  const known = ctx.decided.get(instanceId);
  if (known) return known;
  const recorded = ctx.verdicts.get(runId, instanceId);
  if (!recorded || recorded.instanceId !== instanceId) return null;
  ctx.decided.set(instanceId, recorded);
  return recorded;
}

/** The final status a verdict stands for. */
export function statusOf(v: Verdict): JobStatus {
  return {
    jobId: v.instanceId,
    state: v.state,
    exitCode: v.exitCode,
    reason: v.reason,
    finishedAt: v.finishedAt,
    final: true,
    rawState: 'terminated',
  };
}

/** A verdict made now. */
export function verdict(
  ctx: Ec2Context,
  instanceId: string,
  state: Verdict['state'],
  exitCode: number | null,
  reason: string | null,
): Verdict {
  return { instanceId, state, exitCode, reason, finishedAt: new Date(ctx.now()).toISOString() };
}
