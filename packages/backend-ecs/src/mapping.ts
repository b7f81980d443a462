/**
 * How a ScriptHut task maps onto an ECS task, and an ECS task back onto a job status: the size of
 * a Fargate task, the container overrides (script, environment, resources), the time limit, the
 * verdict of a stopped task. Pure functions.
 */
import type { ContainerOverride, KeyValuePair, Task, TaskOverride } from '@aws-sdk/client-ecs';
import {
  compressedCommand,
  containerEnvAndDir,
  FARGATE_SIZES,
  gpuCount,
  renderContainerScript,
} from '@scripthut/aws-common';
import type { JobState, JobStatus, SubmitRequest, TaskSpec } from '@scripthut/core';

/** ECS's limit on the JSON of a task's overrides (bytes). */
export const ECS_OVERRIDES_LIMIT = 8192;
/** The reason StopTask is given when ScriptHut cancels a task (shown by ECS as stoppedReason). */
export const CANCEL_REASON = 'ScriptHut: cancelled by the user';
/** Exit code of `timeout` when the time limit killed the command. */
export const TIMEOUT_EXIT_CODE = 124;
/** Seconds between `timeout`'s TERM and KILL. */
const KILL_AFTER_SECONDS = 30;

/** `group` of a task: carries its ScriptHut tag, read back by DescribeTasks (findByTags). */
export function groupOf(tag: string): string {
  return `scripthut:${tag}`;
}
/** The tag of a task's `group`, or null for a task ScriptHut did not start. */
export function tagOfGroup(group: string | undefined): string | null {
  return group?.startsWith('scripthut:') ? group.slice('scripthut:'.length) : null;
}

/**
 * `startedBy` of this backend's tasks (≤ 128 of `[A-Za-z0-9_/-]`): ListTasks finds every task of
 * the backend with one filter, whatever the number of tags looked up.
 */
export function startedByOf(backendName: string): string {
  const safe = backendName.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 100);
  return `scripthut/${safe}`;
}

/** The task id of a task ARN (`arn:aws:ecs:region:acct:task/cluster/<id>`). */
export function taskIdOf(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

/** Task-level CPU units and memory (MiB) of a Fargate task: the smallest valid combination. */
export function fargateSize(task: Pick<TaskSpec, 'id' | 'cpus' | 'memoryMiB' | 'gres'>): {
  cpu: string;
  memory: string;
} {
  if (gpuCount(task.gres) > 0)
    throw new Error(`task "${task.id}" asks for GPUs (${task.gres}), which ECS on Fargate does not offer`);
  const cpus = task.cpus > 0 ? task.cpus : 1;
  const memory = task.memoryMiB > 0 ? task.memoryMiB : 2048;
  for (const size of FARGATE_SIZES) {
    if (size.vcpu < cpus) continue;
    const mem = size.memory.find((m) => m >= memory);
    if (mem !== undefined) return { cpu: String(size.vcpu * 1024), memory: String(mem) };
  }
  throw new Error(
    `task "${task.id}" asks for ${cpus} vCPU and ${memory} MiB, more than ECS on Fargate offers (16 vCPU, 122880 MiB)`,
  );
}

/** The command of the container: the script under `timeout` (its time limit), plain or compressed. */
function commandOf(script: string, timeLimitSeconds: number, compressed: boolean): string[] {
  const body = compressed ? compressedCommand(script) : ['bash', '-c', script];
  const limit = Math.floor(timeLimitSeconds);
  if (!Number.isFinite(limit) || limit <= 0) return body;
  return ['timeout', '-k', String(KILL_AFTER_SECONDS), String(limit), ...body];
}

/** The overrides of a task, and whether the script had to be compressed to fit. */
export interface BuiltOverrides {
  overrides: TaskOverride;
  compressed: boolean;
  size: number;
}

/**
 * RunTask's `overrides` for a request: the container runs the script (environment values out of
 * band, names in a comment), with the task's resources — task level on Fargate, container level on
 * EC2 — and its time limit. The script is compressed when the overrides would pass ECS's 8 KiB
 * limit.
 *
 * @throws Error naming the task when it does not fit even compressed, or asks what the launch type
 *   cannot give (GPUs or more than 16 vCPU on Fargate).
 */
export function buildOverrides(
  request: SubmitRequest,
  o: { containerName: string; launchType: 'FARGATE' | 'EC2' },
): BuiltOverrides {
  const { env } = containerEnvAndDir(request);
  const environment: KeyValuePair[] = Object.entries(env).map(([name, value]) => ({ name, value }));
  const script = renderContainerScript(request);
  const task = request.task;
  const make = (compressed: boolean): TaskOverride => {
    const container: ContainerOverride = {
      name: o.containerName,
      command: commandOf(script, task.timeLimitSeconds, compressed),
      environment,
    };
    if (o.launchType === 'FARGATE') {
      const size = fargateSize(task);
      return { cpu: size.cpu, memory: size.memory, containerOverrides: [container] };
    }
    container.cpu = Math.max(128, Math.round((task.cpus || 1) * 1024));
    container.memory = Math.max(6, Math.round(task.memoryMiB || 2048));
    const gpus = gpuCount(task.gres);
    if (gpus > 0) container.resourceRequirements = [{ type: 'GPU', value: String(gpus) }];
    return { containerOverrides: [container] };
  };
  const size = (v: TaskOverride) => Buffer.byteLength(JSON.stringify(v), 'utf8');
  const plain = make(false);
  if (size(plain) <= ECS_OVERRIDES_LIMIT) return { overrides: plain, compressed: false, size: size(plain) };
  const packed = make(true);
  if (size(packed) <= ECS_OVERRIDES_LIMIT) return { overrides: packed, compressed: true, size: size(packed) };
  const largest = environment
    .map((e) => ({ name: e.name ?? '', bytes: Buffer.byteLength(e.value ?? '') }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3)
    .map((e) => `${e.name} (${e.bytes} bytes)`)
    .join(', ');
  throw new Error(
    `task "${task.id}": its overrides take ${size(packed)} bytes even with the script compressed, over ECS's limit of ${ECS_OVERRIDES_LIMIT}; the largest environment variables: ${largest || 'none'}`,
  );
}

const PENDING = new Set(['PROVISIONING', 'PENDING', 'ACTIVATING']);
const ENDING = new Set(['DEACTIVATING', 'STOPPING', 'DEPROVISIONING']);

/**
 * The job status of an ECS task. STOPPED is final: exit 0 → completed; the time limit's exit
 * code → timeout; killed for memory → out_of_memory; stopped by ScriptHut → cancelled; anything
 * else → failed with ECS's reason.
 */
export function mapTask(task: Task, containerName: string | null): JobStatus {
  const jobId = taskIdOf(task.taskArn ?? '');
  const last = task.lastStatus ?? 'PENDING';
  const container =
    task.containers?.find((c) => containerName === null || c.name === containerName) ?? task.containers?.[0];
  const base: JobStatus = {
    jobId,
    state: 'pending',
    rawState: last,
    startedAt: task.startedAt ? task.startedAt.toISOString() : null,
    finishedAt: task.stoppedAt ? task.stoppedAt.toISOString() : null,
    node: task.containerInstanceArn ? taskIdOf(task.containerInstanceArn) : null,
  };
  if (PENDING.has(last)) return { ...base, state: 'pending', reason: last };
  if (last === 'RUNNING') return { ...base, state: 'running' };
  if (ENDING.has(last)) return { ...base, state: 'completing' };
  if (last !== 'STOPPED') return { ...base, state: 'unknown', reason: last };
  const exitCode = container?.exitCode ?? null;
  const why = [task.stoppedReason, container?.reason].filter(Boolean).join(': ') || null;
  let state: JobState;
  if (task.stopCode === 'UserInitiated' && (task.stoppedReason ?? '').startsWith(CANCEL_REASON))
    state = 'cancelled';
  else if (/OutOfMemory/i.test(container?.reason ?? '')) state = 'out_of_memory';
  else if (exitCode === 0) state = 'completed';
  else if (exitCode === TIMEOUT_EXIT_CODE) state = 'timeout';
  else state = 'failed';
  return {
    ...base,
    state,
    exitCode,
    reason: state === 'completed' ? null : why,
    final: true,
  };
}
