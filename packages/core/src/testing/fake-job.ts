/**
 * The scripted life of a {@link FakeBackend} job: the behaviours a test gives a task and how each
 * status poll moves a job through pending, running and its end.
 */
import type { JobState, JobStatus, SubmitRequest } from '../backend.js';

/** Scripted behaviour of a task (keyed by task id, for every run). */
export type FakeBehaviour =
  /** Runs, then ends with this exit code (non-zero → `failed`). */
  | { kind: 'fail'; exitCode: number; reason?: string }
  /** Rejected at submission (permanent per-task failure). */
  | { kind: 'reject'; error: string }
  /** Transient per-task submission failure for the first `times` attempts. */
  | { kind: 'transient'; times: number; error?: string }
  /** Stays pending in the queue with this reason until {@link FakeBackend.complete} / {@link FakeBackend.release}. */
  | { kind: 'pending'; reason: string }
  /** Runs until {@link FakeBackend.complete} is called. */
  | { kind: 'hold' }
  /** Ends with `timeout`. */
  | { kind: 'timeout' }
  /** Ends with `out_of_memory`. */
  | { kind: 'oom' }
  /** Ends with `node_fail`. */
  | { kind: 'node_fail' }
  /** Cancelled by the scheduler (not by the user). */
  | { kind: 'scheduler_cancel' }
  /** The scheduler forgets the job right after submission (`unknown` forever). */
  | { kind: 'vanish' }
  /** Reports `completed` but not final for `polls` polls, then the final state `state`. */
  | { kind: 'provisional'; polls: number; finalState: JobState; exitCode?: number }
  /**
   * The first submission of the task gets an ambiguous answer (`ok: false, maybeSubmitted: true`).
   * `job`: whether the scheduler created the job anyway — `now`, `later` (hidden from status and
   * findByTags until {@link FakeBackend.reveal}) or `never`. Later attempts are submitted normally.
   */
  | { kind: 'ambiguous'; job: 'now' | 'later' | 'never'; error?: string };

/** A job of the fake scheduler. */
export interface FakeJob {
  jobId: string;
  runId: string;
  taskId: string;
  tag: string;
  state: JobState;
  polls: number;
  exitCode: number | null;
  reason: string | null;
  request: SubmitRequest | null;
  final: boolean;
  /** Created but not visible yet (an ambiguous submission whose job appears later). */
  hidden?: boolean;
}

/** How fast scripted jobs move (the `instant` and `pollsToComplete` options of a FakeBackend). */
export interface FakePace {
  /** Jobs complete on their first status poll. */
  instant: boolean;
  /** Status polls a job stays pending/running before it ends. */
  pollsToComplete: number;
}

/**
 * Advances one job by one status poll according to its task's scripted behaviour (`undefined`:
 * completes normally) and returns its status; `ended` is true when the poll ended the job.
 */
export function advanceFakeJob(
  j: FakeJob,
  b: FakeBehaviour | undefined,
  pace: FakePace,
): { status: JobStatus; ended: boolean } {
  let ended = false;
  const alive = j.state === 'pending' || j.state === 'running';
  if (alive) {
    j.polls++;
    if (b?.kind === 'pending') {
      j.reason = b.reason;
    } else if (b?.kind === 'hold') {
      j.state = 'running';
    } else if (pace.instant || j.polls >= pace.pollsToComplete) {
      switch (b?.kind) {
        case 'fail':
          j.state = 'failed';
          j.exitCode = b.exitCode;
          j.reason = b.reason ?? null;
          break;
        case 'timeout':
          j.state = 'timeout';
          break;
        case 'oom':
          j.state = 'out_of_memory';
          break;
        case 'node_fail':
          j.state = 'node_fail';
          break;
        case 'scheduler_cancel':
          j.state = 'cancelled';
          break;
        case 'provisional':
          j.state = 'completed';
          j.final = false;
          j.exitCode = 0;
          break;
        default:
          j.state = 'completed';
          j.exitCode = 0;
      }
      ended = true;
    } else {
      j.state =
        j.polls >= 1 && pace.pollsToComplete > 1 && j.polls >= pace.pollsToComplete - 1
          ? 'running'
          : 'pending';
      if (j.state === 'running') j.reason = null;
    }
  } else if (b?.kind === 'provisional' && !j.final) {
    j.polls++;
    if (j.polls > pace.pollsToComplete + b.polls) {
      j.final = true;
      j.state = b.finalState;
      j.exitCode = b.exitCode ?? (b.finalState === 'completed' ? 0 : 1);
    }
  }
  const st: JobStatus = { jobId: j.jobId, state: j.state, final: j.final };
  if (j.reason) st.reason = j.reason;
  if (j.exitCode !== null) st.exitCode = j.exitCode;
  if (j.state === 'running') st.node = 'fake-node-1';
  return { status: st, ended };
}
