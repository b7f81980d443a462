/**
 * Rerun in place (issue 21): a finished run's failed tasks (or all of its tasks) go back to
 * `pending` under the same run id, and the engine drives them again. Every reset is a recorded
 * transition (`failed → pending` by `rerun`), so a task's history shows each attempt.
 *
 * What a reset keeps and clears:
 * - the submit tag is KEPT: the next submission takes the next attempt number (`<run>-<seq>-<n+1>`),
 *   so it can never be confused with the previous job (adoption by tag, exit-code markers);
 * - job id, exit code, error, times, node, script and usage are cleared; the previous attempt is kept
 *   in `meta.previousAttempts` (job id, state, exit code, error, times, log paths);
 * - default log paths get an attempt suffix (`….try2.out`) so the first attempt's logs stay readable;
 *   log paths the task declares (`output_file`/`error_file`) are kept as they are.
 */
import type { RunRecord, TaskRecord, TaskState } from '../domain.js';
import { ScriptHutError } from '../errors.js';
import type { TaskUpdate } from '../store.js';
import { defaultLogPaths } from './paths.js';

/** Which tasks a rerun in place resets: `failed` every task that did not complete, `all` every task. */
export type InPlaceScope = 'failed' | 'all';

/** One earlier attempt of a task, as kept in `meta.previousAttempts`. */
export interface PreviousAttempt {
  attempt: number;
  state: TaskState;
  jobId: string | null;
  exitCode: number | null;
  error: string | null;
  submittedAt: string | null;
  finishedAt: string | null;
  stdoutPath: string | null;
  stderrPath: string | null;
  /** When the task was reset for the next attempt (ISO 8601 UTC). */
  resetAt: string;
}

/** The earlier attempts recorded on a task (empty for a task never rerun in place). */
export function previousAttemptsOf(t: Pick<TaskRecord, 'meta'>): PreviousAttempt[] {
  const list = t.meta.previousAttempts;
  return Array.isArray(list) ? (list as PreviousAttempt[]) : [];
}

/** Log path of attempt `attempt` (≥ 2) next to the default one: `x.out` → `x.try2.out`. */
function attemptPath(path: string, attempt: number): string {
  return path.replace(/(\.[A-Za-z]+)?$/, (ext) => `.try${attempt}${ext}`);
}

/** The store updates and the reset records of a rerun in place (pure; the engine applies them). */
export interface InPlacePlan {
  updates: TaskUpdate[];
  /** Every task of the run as it is after the reset (reset ones are `pending`). */
  records: TaskRecord[];
  /** The reset tasks with the state they left. */
  reset: { task: TaskRecord; from: TaskState }[];
}

/**
 * Plan the reset of a finished run's tasks. Throws `conflict` when nothing would run again, or when
 * `all` would reset a `generates_source` task whose generated tasks already exist (they would be
 * added twice).
 */
export function planRerunInPlace(
  run: RunRecord,
  tasks: readonly TaskRecord[],
  scope: InPlaceScope,
  at: string,
): InPlacePlan {
  if (scope === 'all' && tasks.some((t) => typeof t.meta.generatedBy === 'string'))
    throw new ScriptHutError(
      'conflict',
      `run ${run.id} has tasks that a generates_source task added: rerunning all of it in place would add them twice; rerun it as a new run, or in place with only the failed tasks`,
    );
  const reason = `rerun in place (${scope === 'all' ? 'all tasks' : 'failed tasks'})`;
  const updates: TaskUpdate[] = [];
  const reset: InPlacePlan['reset'] = [];
  const records = tasks.map((t) => {
    if (scope === 'failed' && t.state === 'completed') return t;
    const earlier = previousAttemptsOf(t);
    const attempt = earlier.length + 1;
    const previous: PreviousAttempt = {
      attempt,
      state: t.state,
      jobId: t.jobId,
      exitCode: t.exitCode,
      error: t.error,
      submittedAt: t.submittedAt,
      finishedAt: t.finishedAt,
      stdoutPath: t.stdoutPath,
      stderrPath: t.stderrPath,
      resetAt: at,
    };
    const logs = defaultLogPaths(run.logDir, run.id, t.spec.id, t.seq);
    const meta: Record<string, unknown> = { previousAttempts: [...earlier, previous] };
    if (typeof t.meta.generatedBy === 'string') meta.generatedBy = t.meta.generatedBy;
    const patch = {
      jobId: null,
      pendingReason: null,
      exitCode: null,
      error: null,
      script: null,
      stdoutPath: t.spec.outputFile ?? attemptPath(logs.out, attempt + 1),
      stderrPath: t.spec.errorFile ?? attemptPath(logs.err, attempt + 1),
      submittedAt: null,
      startedAt: null,
      finishedAt: null,
      node: null,
      usage: null,
      meta,
    } satisfies TaskUpdate['patch'];
    updates.push({ runId: run.id, taskId: t.spec.id, patch, transition: { to: 'pending', at, reason } });
    const record: TaskRecord = { ...t, ...patch, state: 'pending', version: t.version + 1 };
    reset.push({ task: record, from: t.state });
    return record;
  });
  if (reset.length === 0)
    throw new ScriptHutError(
      'conflict',
      `run ${run.id}: every task completed, nothing to rerun in place with only the failed tasks (rerun all of it instead)`,
    );
  return { updates, records, reset };
}
