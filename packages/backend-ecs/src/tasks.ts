/**
 * Submission, status, lookup by tag and cancellation of ECS tasks. Every call goes through the AWS
 * caller (retries, health); status is one DescribeTasks per 100 tasks; findByTags lists the
 * backend's own tasks (one `startedBy` filter) whatever the number of tags.
 */
import {
  DescribeTasksCommand,
  ListTasksCommand,
  type ListTasksCommandInput,
  RunTaskCommand,
  type RunTaskCommandInput,
  type RunTaskCommandOutput,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { chunk, errorText, isAmbiguous } from '@scripthut/aws-common';
import {
  BackendError,
  type JobStatus,
  type SubmitOutcome,
  type SubmitRequest,
  type TrackedJob,
} from '@scripthut/core';
import type { EcsContext } from './context.js';
import { buildOverrides, CANCEL_REASON, groupOf, mapTask, tagOfGroup, taskIdOf } from './mapping.js';
import type { ResolvedDefinition, TaskDefinitions } from './task-definitions.js';

/** DescribeTasks takes at most 100 tasks. */
const DESCRIBE_CHUNK = 100;
/** RunTask failure reasons that mean "no capacity now" (EC2 launch type): try again later. */
const CAPACITY_REASON = /^(RESOURCE:|AGENT|ATTRIBUTE)/;

/** DescribeTasks of many task ids (chunks of 100, concurrently): the tasks ECS still knows. */
export async function describeTasks(ctx: EcsContext, ids: readonly string[]): Promise<Task[]> {
  const pages = await Promise.all(
    chunk([...ids], DESCRIBE_CHUNK).map(async (part) => {
      try {
        const res = await ctx.aws.call('DescribeTasks', () =>
          ctx.ecs.send(new DescribeTasksCommand({ cluster: ctx.cluster, tasks: part })),
        );
        return res.tasks ?? [];
      } catch (err) {
        throw ctx.aws.toBackendError(err, 'DescribeTasks');
      }
    }),
  );
  return pages.flat();
}

/** The task ARNs of this backend with a desired status (all pages). */
async function listTasks(ctx: EcsContext, desiredStatus: 'RUNNING' | 'STOPPED'): Promise<string[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const input: ListTasksCommandInput = {
      cluster: ctx.cluster,
      startedBy: ctx.startedBy,
      desiredStatus,
      maxResults: 100,
      ...(nextToken ? { nextToken } : {}),
    };
    try {
      const res = await ctx.aws.call('ListTasks', () => ctx.ecs.send(new ListTasksCommand(input)));
      arns.push(...(res.taskArns ?? []));
      nextToken = res.nextToken;
    } catch (err) {
      throw ctx.aws.toBackendError(err, 'ListTasks');
    }
  } while (nextToken);
  return arns;
}

/** Tag → task of this backend's tasks carrying one of `tags` (live, and stopped as long as ECS lists them). */
export async function tasksByTag(ctx: EcsContext, tags: readonly string[]): Promise<Map<string, Task>> {
  const wanted = new Set(tags);
  const out = new Map<string, Task>();
  if (wanted.size === 0) return out;
  const [running, stopped] = await Promise.all([listTasks(ctx, 'RUNNING'), listTasks(ctx, 'STOPPED')]);
  const arns = [...new Set([...running, ...stopped])];
  for (const task of arns.length ? await describeTasks(ctx, arns) : []) {
    const tag = tagOfGroup(task.group);
    if (tag && wanted.has(tag) && !out.has(tag)) out.set(tag, task);
  }
  return out;
}

/** Records the verdict and log stream of a stopped task (DescribeTasks forgets it about an hour later). */
export function recordStopped(
  ctx: EcsContext,
  runId: string,
  status: JobStatus,
  meta: Record<string, unknown>,
): void {
  if (status.final !== true || ctx.finished.get(runId, status.jobId)) return;
  ctx.finished.put(runId, status.jobId, {
    status,
    logGroup: typeof meta.logGroup === 'string' ? meta.logGroup : null,
    logStream: typeof meta.logStream === 'string' ? meta.logStream : null,
  });
}

/** Status of many tasks: recorded verdicts first, then DescribeTasks for the rest. */
export async function ecsStatus(
  ctx: EcsContext,
  jobs: readonly TrackedJob[],
): Promise<Map<string, JobStatus>> {
  const out = new Map<string, JobStatus>();
  const ask: TrackedJob[] = [];
  for (const job of jobs) {
    const recorded = ctx.finished.get(job.runId, job.jobId);
    if (recorded) out.set(job.jobId, recorded.status);
    else ask.push(job);
  }
  if (ask.length === 0) return out;
  const byId = new Map(ask.map((j) => [j.jobId, j]));
  for (const task of await describeTasks(ctx, [...byId.keys()])) {
    const jobId = taskIdOf(task.taskArn ?? '');
    const job = byId.get(jobId);
    if (!job) continue;
    const container = typeof job.meta.container === 'string' ? job.meta.container : null;
    const status = mapTask(task, container);
    out.set(jobId, status);
    recordStopped(ctx, job.runId, status, job.meta);
  }
  for (const job of ask)
    if (!out.has(job.jobId))
      out.set(job.jobId, {
        jobId: job.jobId,
        state: 'unknown',
        reason: 'ECS does not know the task (any more)',
      });
  return out;
}

/** `meta` of a submitted task: its container and log stream (for logs after ECS forgot it). */
function metaOf(def: ResolvedDefinition, taskId: string): Record<string, unknown> {
  return {
    container: def.containerName,
    taskDefinition: def.arn,
    ...(def.logs
      ? { logGroup: def.logs.group, logStream: `${def.logs.prefix}/${def.containerName}/${taskId}` }
      : {}),
  };
}

/** Submits one request with RunTask; a problem of this task is an outcome, never a throw. */
export async function submitOne(
  ctx: EcsContext,
  definitions: TaskDefinitions,
  request: SubmitRequest,
  script: string,
): Promise<SubmitOutcome> {
  const fail = (
    error: string,
    transient: boolean,
    extra: { maybeSubmitted?: boolean } = {},
  ): SubmitOutcome => ({
    taskId: request.taskId,
    ok: false,
    error,
    transient,
    script,
    ...extra,
  });
  let def: ResolvedDefinition;
  try {
    def = await definitions.forRequest(request);
  } catch (err) {
    return fail(err instanceof BackendError ? err.message : errorText(err), BackendError.isTransient(err));
  }
  let overrides: RunTaskCommandInput['overrides'];
  try {
    overrides = buildOverrides(request, {
      containerName: def.containerName,
      launchType: ctx.cfg.launch_type,
    }).overrides;
  } catch (err) {
    return fail((err as Error).message, false);
  }
  const { cfg } = ctx;
  const input: RunTaskCommandInput = {
    cluster: ctx.cluster,
    taskDefinition: def.arn,
    launchType: cfg.launch_type,
    count: 1,
    startedBy: ctx.startedBy,
    group: groupOf(request.tag),
    overrides,
    ...(cfg.subnets.length > 0
      ? {
          networkConfiguration: {
            awsvpcConfiguration: {
              subnets: cfg.subnets,
              ...(cfg.security_groups.length ? { securityGroups: cfg.security_groups } : {}),
              assignPublicIp: cfg.assign_public_ip ? 'ENABLED' : 'DISABLED',
            },
          },
        }
      : {}),
    tags: [
      { key: 'scripthut:run', value: request.runId },
      { key: 'scripthut:task', value: request.taskId.slice(0, 256) },
      { key: 'scripthut:tag', value: request.tag },
    ],
  };
  let res: RunTaskCommandOutput;
  try {
    res = await ctx.aws.call('RunTask', () => ctx.ecs.send(new RunTaskCommand(input)), {
      before: () => ctx.bucket.take(),
      // RunTask has no idempotency token: after a lost answer, look for the task before repeating it.
      recover: async () => {
        const found = (await tasksByTag(ctx, [request.tag])).get(request.tag);
        return found ? ({ tasks: [found], failures: [], $metadata: {} } as RunTaskCommandOutput) : undefined;
      },
    });
  } catch (err) {
    const kind = ctx.aws.classify(err);
    const text = `RunTask failed: ${errorText(err)}`;
    if (isAmbiguous(kind)) return fail(text, true, { maybeSubmitted: true });
    return fail(text, kind !== 'client');
  }
  const task = res.tasks?.[0];
  if (task?.taskArn) {
    const jobId = taskIdOf(task.taskArn);
    return { taskId: request.taskId, ok: true, jobId, script, meta: metaOf(def, jobId) };
  }
  const reason =
    res.failures?.map((f) => [f.reason, f.detail].filter(Boolean).join(' ')).join('; ') || 'no task started';
  return fail(`RunTask started no task: ${reason}`, CAPACITY_REASON.test(res.failures?.[0]?.reason ?? ''));
}

/** StopTask for every task (concurrently, paced); stopped or unknown tasks are not an error. */
export async function cancelTasks(ctx: EcsContext, jobs: readonly TrackedJob[]): Promise<void> {
  const ids = [...new Set(jobs.map((j) => j.jobId).filter(Boolean))];
  const errors: BackendError[] = [];
  await Promise.all(
    ids.map(async (task) => {
      try {
        await ctx.aws.call(
          'StopTask',
          () => ctx.ecs.send(new StopTaskCommand({ cluster: ctx.cluster, task, reason: CANCEL_REASON })),
          { before: () => ctx.bucket.take() },
        );
      } catch (err) {
        const e = ctx.aws.toBackendError(err, `StopTask ${task}`);
        if (e.transient) errors.push(e);
        else ctx.log.warn?.(e.message, { task });
      }
    }),
  );
  if (errors.length > 0) throw errors[0];
}
