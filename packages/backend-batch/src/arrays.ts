/**
 * Job arrays on AWS Batch ({@link ArraySupport}): ONE SubmitJob with `arrayProperties.size = K`
 * whose command dispatches on `AWS_BATCH_JOB_ARRAY_INDEX` (see `array-script.ts`); element `i` is
 * the child job `<array job id>:<i>` everywhere (DescribeJobs, logs, CancelJob/TerminateJob). The
 * array job's name is its tag (element 0's tag), so `findByTags` finds it after a crash.
 *
 * Size: every child gets the array's `containerOverrides`, and ECS refuses overrides over 8192
 * characters when a child is placed, so the whole dispatch (compressed when needed) must fit in
 * `CONTAINER_OVERRIDES_BUDGET`. A group that does not fit is not submitted: its tasks get a
 * transient outcome, the largest array that would have fitted becomes this backend's
 * {@link ArraySupport.maxSize} from then on (the engine regroups them into smaller arrays at the
 * next tick), and tasks of which not even two fit are submitted one job per task from then on.
 * Nothing is submitted before the outcome, so the engine's crash safety is untouched.
 */
import { errorText } from '@scripthut/aws-common';
import {
  type ArraySupport,
  BackendError,
  MAX_ARRAY_ELEMENTS,
  type SubmitOutcome,
  type SubmitRequest,
} from '@scripthut/core';
import { batchArrayKey, renderBatchArrayScript } from './array-script.js';
import type { BatchContext } from './context.js';
import type { JobDefinitionResolver } from './job-definitions.js';
import { CONTAINER_OVERRIDES_BUDGET } from './overrides.js';
import type { QueueDirectory } from './queues.js';
import { type PreparedJob, prepareJob, sendJob } from './submit.js';

/** AWS Batch's largest array job (`arrayProperties.size` is 2 … 10,000). */
export const BATCH_MAX_ARRAY_SIZE = 10_000;

/** Most task ids remembered as "too large for any array" (oldest forgotten first). */
const MAX_SOLO_TASKS = 10_000;

const ARRAY_JOB_ID = /^[A-Za-z0-9-]+$/;

/** `<array job id>` + 7 → `<array job id>:7` (the child job's id). */
export function batchElementJobId(arrayJobId: string, index: number): string {
  if (
    !ARRAY_JOB_ID.test(arrayJobId) ||
    !Number.isInteger(index) ||
    index < 0 ||
    index >= BATCH_MAX_ARRAY_SIZE
  )
    throw new Error(`not an AWS Batch array job id and index: ${JSON.stringify(arrayJobId)} ${index}`);
  return `${arrayJobId}:${index}`;
}

/** The array job id and index of a child job id (`abc:7` → `['abc', 7]`), null for other ids. */
export function parseBatchElementJobId(jobId: string): { arrayJobId: string; index: number } | null {
  const m = /^([A-Za-z0-9-]+):(\d{1,4})$/.exec(jobId);
  return m ? { arrayJobId: m[1]!, index: Number(m[2]) } : null;
}

/** The {@link ArraySupport} of a Batch backend. */
export function createBatchArrays(
  ctx: BatchContext,
  resolver: JobDefinitionResolver,
  queues: QueueDirectory,
): ArraySupport {
  /**
   * The largest array known to fit (lowered when a group did not fit). It starts at
   * `MAX_ARRAY_ELEMENTS` (1,000), not Batch's 10,000: even bodies that compress to ~28 bytes (a
   * typical sweep) fill the overrides at ~250 elements, and a smaller start bounds the work of
   * measuring a group that does not fit.
   */
  let limit = Math.min(BATCH_MAX_ARRAY_SIZE, MAX_ARRAY_ELEMENTS);
  /** Tasks of which not even a two-element array fits: always one job per task. */
  const solo = new Set<string>();
  const soloKey = (r: SubmitRequest) => `${r.runId}\0${r.taskId}`;

  /** The prepared array job of `requests`; throws like {@link prepareJob}. */
  async function prepare(requests: readonly SubmitRequest[], tag: string) {
    const rendered = renderBatchArrayScript(requests, tag);
    const job = await prepareJob(ctx, resolver, queues, requests[0]!, rendered.script, rendered.environment, {
      label: `array ${tag} (${requests.length} tasks)`,
      nameTag: tag,
    });
    return { rendered, job };
  }

  /** The largest prefix of `requests` (≥ 2) whose array fits, 0 when none does. */
  async function largestFit(requests: readonly SubmitRequest[], tag: string): Promise<number> {
    let lo = 1;
    let hi = requests.length - 1; // the whole group did not fit
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      try {
        await prepare(requests.slice(0, mid), tag);
        lo = mid;
      } catch {
        hi = mid - 1;
      }
    }
    return lo >= 2 ? lo : 0;
  }

  async function submitArray(requests: SubmitRequest[]): Promise<SubmitOutcome[]> {
    if (!requests.length) return [];
    const tag = requests[0]!.array?.tag ?? requests[0]!.tag;
    const fail = (error: string, transient: boolean, scripts?: string[]): SubmitOutcome[] =>
      requests.map((r, i) => ({
        taskId: r.taskId,
        ok: false,
        transient,
        error,
        ...(scripts ? { script: scripts[i] } : {}),
      }));
    let prepared: { rendered: ReturnType<typeof renderBatchArrayScript>; job: PreparedJob };
    try {
      requests.forEach((r, i) => {
        if (r.array?.tag !== tag || r.array.index !== i || r.array.size !== requests.length)
          throw new BackendError(`request ${i} (${r.taskId}) is not element ${i} of array ${tag}`, {
            transient: false,
          });
      });
      prepared = await prepare(requests, tag);
    } catch (err) {
      if (err instanceof BackendError) return fail(err.message, err.transient);
      const why = errorText(err);
      if (!/container overrides/i.test(why)) return fail(`cannot build the array job: ${why}`, false);
      // Too large for one set of container overrides: nothing was submitted; regroup smaller.
      const fits = await largestFit(requests, tag);
      if (fits >= 2) limit = Math.min(limit, fits);
      else
        for (const r of requests) {
          if (solo.size >= MAX_SOLO_TASKS) solo.delete(solo.values().next().value!);
          solo.add(soloKey(r));
        }
      const next =
        fits >= 2
          ? `arrays on backend ${ctx.name} hold at most ${fits} of these tasks from now on`
          : 'these tasks are submitted one job per task';
      return fail(
        `the array of ${requests.length} tasks does not fit in AWS Batch's container overrides (${CONTAINER_OVERRIDES_BUDGET} bytes even compressed); nothing was submitted, ${next}`,
        true,
      );
    }
    const { rendered, job } = prepared;
    job.input.arrayProperties = { size: requests.length };
    const sent = await sendJob(ctx, job);
    if (!sent.ok) {
      const outcomes = fail(sent.error, sent.transient, rendered.elementScripts);
      if (sent.maybeSubmitted) for (const o of outcomes) if (!o.ok) o.maybeSubmitted = true;
      return outcomes;
    }
    return requests.map((r, i) => ({
      taskId: r.taskId,
      ok: true,
      jobId: batchElementJobId(sent.jobId, i),
      script: rendered.elementScripts[i]!,
      meta: { ...job.meta, arrayJobId: sent.jobId, arrayIndex: i, arraySize: requests.length },
    }));
  }

  return {
    maxSize: async () => limit,
    key: (request) => (solo.has(soloKey(request)) ? null : batchArrayKey(request)),
    submitArray,
    elementJobId: batchElementJobId,
  };
}
