/**
 * The backend's instances as EC2 lists them: DescribeInstances (paged, filtered by the backend
 * tag), the count of instances that hold a `max_instances` slot, and the crash-recovery lookup by
 * the submit tag.
 */
import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  type Filter,
  type Instance,
} from '@aws-sdk/client-ec2';
import { chunk } from '@scripthut/aws-common';
import type { Ec2Context } from './context.js';

/** States of an instance that holds a slot. */
export const LIVE_STATES: readonly string[] = ['pending', 'running'];
/** States of an instance that is going or gone. */
export const GONE_STATES: readonly string[] = ['shutting-down', 'terminated', 'stopping', 'stopped'];

/** The value of tag `key` on an instance. */
export function tagValue(inst: Instance, key: string): string | null {
  return inst.Tags?.find((t) => t.Key === key)?.Value ?? null;
}

/** Instances of this backend (the `<prefix>:backend` tag). */
export function backendFilter(ctx: Ec2Context): Filter {
  return { Name: `tag:${ctx.keys.backend}`, Values: [ctx.name] };
}

/** DescribeInstances, all pages; SDK errors are rethrown (the caller decides). */
export async function describeInstances(
  ctx: Ec2Context,
  input: DescribeInstancesCommandInput,
): Promise<Instance[]> {
  const out: Instance[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const res = await ctx.aws.call('DescribeInstances', () =>
      ctx.ec2.send(new DescribeInstancesCommand({ ...input, NextToken: token })),
    );
    for (const r of res.Reservations ?? []) out.push(...(r.Instances ?? []));
    token = res.NextToken;
  } while (token && ++pages < 100);
  return out;
}

/** Re-counts the instances that occupy slots from one DescribeInstances answer. */
export function resync(ctx: Ec2Context, instances: Instance[]): void {
  const seen = new Set<string>();
  for (const inst of instances) {
    const id = inst.InstanceId;
    if (!id) continue;
    seen.add(id);
    const st = inst.State?.Name ?? 'unknown';
    ctx.lastState.set(id, st);
    if (inst.Placement?.AvailabilityZone) ctx.azOf.set(id, inst.Placement.AvailabilityZone);
    if (LIVE_STATES.includes(st) && !ctx.decided.has(id)) ctx.active.add(id);
    else ctx.active.delete(id);
  }
  for (const id of [...ctx.active]) {
    if (seen.has(id) || id.startsWith('launching:')) continue;
    // A fresh launch may be missing from DescribeInstances for a while (eventual consistency).
    const l = ctx.launches.get(id);
    if (!l || ctx.now() - l.launchedAt > ctx.visibilityGraceMs) ctx.active.delete(id);
  }
  ctx.synced = true;
}

/** Tag → instance id of the backend's instances carrying these submit tags (live ones first). */
export async function findByTags(ctx: Ec2Context, tags: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const group of chunk([...new Set(tags)], 200)) {
    let instances: Instance[];
    try {
      instances = await describeInstances(ctx, {
        Filters: [backendFilter(ctx), { Name: `tag:${ctx.keys.tag}`, Values: group }],
      });
    } catch (err) {
      throw ctx.aws.toBackendError(err, 'DescribeInstances (findByTags)');
    }
    // Prefer live instances over terminated ones carrying the same tag.
    instances.sort(
      (a, b) =>
        Number(LIVE_STATES.includes(b.State?.Name ?? '')) - Number(LIVE_STATES.includes(a.State?.Name ?? '')),
    );
    for (const inst of instances) {
      const tag = tagValue(inst, ctx.keys.tag);
      const id = inst.InstanceId;
      if (!tag || !id || out.has(tag)) continue;
      out.set(tag, id);
      if (LIVE_STATES.includes(inst.State?.Name ?? '')) ctx.active.add(id);
      const runId = tagValue(inst, ctx.keys.runId);
      const taskId = tagValue(inst, ctx.keys.taskId);
      if (runId && taskId && inst.LaunchTime && !ctx.launches.has(id)) {
        ctx.launches.set(id, { runId, taskId, tag, launchedAt: new Date(inst.LaunchTime).getTime() });
      }
    }
  }
  return out;
}
