/**
 * Checks the scheduler tests share (Slurm and PBS job arrays, over a real connection): bounded
 * polling, waiting for a run's end, and every task's stdout and stderr read in one command. No
 * vitest here: a failed wait throws an Error that names what it waited for.
 */
import type { ArraySupport, CommandRunner, SubmitOutcome, SubmitRequest, TrackedJob } from '../backend.js';
import type { RunStatus, TaskRecord } from '../domain.js';
import type { Engine } from '../engine/engine.js';
import { shellQuotePath } from '../shell.js';
import { taskSpec } from './index.js';

/**
 * Call `check` every `everyMs` until it returns a truthy value (returned), at most `timeoutMs`;
 * then throws `timed out waiting for <what>` (`what` may be a function, called then).
 */
export async function pollUntil<T>(
  what: string | (() => string),
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 120_000,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline)
      throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The final status of run `runId` of `engine` (completed, failed or cancelled), polled every 500 ms. */
export function waitForRunEnd(
  engine: Pick<Engine, 'summary'>,
  runId: string,
  timeoutMs: number,
): Promise<RunStatus> {
  return pollUntil(
    () => `run ${runId} to finish (${JSON.stringify(engine.summary(runId)?.counts)})`,
    async () => {
      const s = engine.summary(runId)?.status;
      return s === 'completed' || s === 'failed' || s === 'cancelled' ? s : null;
    },
    timeoutMs,
  );
}

/**
 * Every task's stdout and stderr (the files its record names), read with ONE command through
 * `runner`: task id → `{ out, err }` (a missing file reads as `cat`'s error message).
 */
export async function readTaskLogs(
  runner: Pick<CommandRunner, 'exec'>,
  records: readonly TaskRecord[],
): Promise<Map<string, { out: string; err: string }>> {
  const lines = records.flatMap((t) => [
    `printf '@@%s out\\n' ${shellQuotePath(t.spec.id)}; cat ${shellQuotePath(t.stdoutPath ?? '/dev/null')} 2>&1`,
    `printf '@@%s err\\n' ${shellQuotePath(t.spec.id)}; cat ${shellQuotePath(t.stderrPath ?? '/dev/null')} 2>&1`,
  ]);
  const r = await runner.exec(lines.join('\n'));
  const out = new Map<string, { out: string; err: string }>();
  let cur: { id: string; stream: 'out' | 'err' } | null = null;
  for (const line of r.stdout.split('\n')) {
    const m = /^@@(\S+) (out|err)$/.exec(line);
    if (m) {
      cur = { id: m[1]!, stream: m[2] as 'out' | 'err' };
      if (!out.has(cur.id)) out.set(cur.id, { out: '', err: '' });
      continue;
    }
    if (cur) out.get(cur.id)![cur.stream] += `${line}\n`;
  }
  return out;
}

/**
 * A task of a task JSON document for scheduler tests: small (20M, 5 minutes) unless `extra` says
 * otherwise.
 */
export function testTaskJson(
  id: string,
  command: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { id, name: id, command, memory: '20M', time_limit: '0:05:00', ...extra };
}

/** The job a tracker would keep for `request` once `outcome` accepted it (throws when it did not). */
export function trackedJob(request: SubmitRequest, outcome: SubmitOutcome): TrackedJob {
  if (!outcome.ok) throw new Error(`submission of ${request.taskId} failed: ${outcome.error}`);
  return {
    jobId: outcome.jobId,
    runId: request.runId,
    taskId: request.taskId,
    tag: request.tag,
    stdoutPath: request.stdoutPath,
    stderrPath: request.stderrPath,
    submittedAt: new Date().toISOString(),
    lastState: 'pending',
    meta: outcome.meta ?? {},
  };
}

/**
 * Submit ONE array of `size` elements that each run `command` (20M, 5 minutes) straight through a
 * backend's {@link ArraySupport}, without an engine: element `i` is task `c<i>` with tag
 * `sh<runId>c<i>1` (element 0's tag names the array) and logs `<logDir>/c<i>.out|err`.
 */
export async function submitTestArray(
  arrays: ArraySupport,
  options: { runId: string; logDir: string; size: number; command: string },
): Promise<{ requests: SubmitRequest[]; jobs: TrackedJob[] }> {
  const logDir = options.logDir.replace(/\/+$/, '');
  const tag = (i: number) => `sh${options.runId}c${i}1`;
  const requests = Array.from({ length: options.size }, (_, i): SubmitRequest => {
    const task = taskSpec(`c${i}`, {
      command: options.command,
      memory: '20M',
      memoryMiB: 20,
      timeLimit: '0:05:00',
      timeLimitSeconds: 300,
    });
    return {
      runId: options.runId,
      taskId: task.id,
      tag: tag(i),
      workflowName: 'wf',
      task,
      workingDir: task.workingDir,
      env: { SCRIPTHUT_TASK_ID: task.id },
      extraInit: '',
      stdoutPath: `${logDir}/${task.id}.out`,
      stderrPath: `${logDir}/${task.id}.err`,
      logDir,
      git: null,
      array: { tag: tag(0), index: i, size: options.size },
    };
  });
  const outcomes = await arrays.submitArray(requests, { throttle: null });
  return { requests, jobs: outcomes.map((o, i) => trackedJob(requests[i]!, o)) };
}
