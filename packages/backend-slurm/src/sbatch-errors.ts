/**
 * What sbatch's error messages mean for a task: try again later (transient), give up (permanent),
 * and whether the job may exist although sbatch failed (an answer lost in flight). Texts as printed
 * by Slurm 22.05–26.05 (`src/common/slurm_errno.c`, `src/sbatch/sbatch.c`).
 */

/** The verdict on one sbatch failure. */
export interface SbatchFailure {
  /** Retry later (the task waits, with {@link SbatchFailure.summary} as the reason). */
  transient: boolean;
  /** The controller may have created the job: look its tag up before submitting again. */
  maybeSubmitted: boolean;
  /** One line for the task: what happened, in plain words. */
  summary: string;
}

/**
 * The request may have reached slurmctld and only the answer was lost: `Socket timed out on
 * send/recv operation`, `Zero Bytes were transmitted or received`, `Unable to contact slurm
 * controller (send failure)`/`(receive failure)`, `Message receive failure`, `Connection reset by
 * peer`.
 */
const LOST_ANSWER =
  /Socket timed out|Zero Bytes were transmitted or received|\((?:send|receive) failure\)|Message (?:send|receive) failure|Connection reset by peer|Connection timed out (?:reading|writing)/i;

/** Controller busy or unreachable before it saw the request, queue full, rate limits: wait and retry. */
const BUSY =
  /Unable to contact slurm controller|Connection refused|Resource temporarily unavailable|Slurm temporarily unable|temporarily disabled|slurm_persist_conn|MaxJobCount limit reached|Unable to create job record, try again|job queue full|Rate limit exceeded|System submissions disabled|backup controller in standby mode|Communication connection failure|Connection timed out/i;

/** A submit-count limit named on the line before "Job violates accounting/QOS policy". */
const SUBMIT_LIMIT = /\b(?:QOS|Assoc)\w*Submit\w*Limit\b/;
const POLICY = /Job violates accounting\/QOS policy/i;

/**
 * Classify sbatch's stderr (and stdout) of a failed submission.
 *
 * - `Job violates accounting/QOS policy` is transient only when a submit-count limit is named
 *   (`QOSMaxSubmitJobPerUserLimit`, `AssocMaxSubmitJobLimit`, `AssocGrpSubmitJobsLimit`, …): the
 *   queue drains and the job then fits. Any other limit (`QOSMaxWallDurationPerJobLimit` with
 *   DenyOnLimit, `QOSMaxCpuPerJobLimit`, no reason at all) rejects this job for good.
 * - A full queue (`MaxJobCount limit reached`, Slurm ≥ 25.11's name of the old `Unable to create job
 *   record, try again`; `Slurm job queue full, sleeping and retrying` while sbatch retries), a busy
 *   or unreachable controller, rate limits: transient.
 * - A lost answer ({@link LOST_ANSWER}): transient AND maybe submitted.
 * - Anything else (invalid partition, QOS, account, features, memory…): permanent.
 */
export function classifySbatchFailure(output: string): SbatchFailure {
  const text = output.trim();
  const last =
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? '';
  if (POLICY.test(text)) {
    const limit = SUBMIT_LIMIT.exec(text)?.[0];
    return limit
      ? {
          transient: true,
          maybeSubmitted: false,
          summary: `waiting: the submit limit ${limit} is reached; submission is retried as jobs leave the queue`,
        }
      : {
          transient: false,
          maybeSubmitted: false,
          summary: `Slurm refused the job under its accounting/QOS policy${reasonSuffix(text)}`,
        };
  }
  if (LOST_ANSWER.test(text))
    return {
      transient: true,
      maybeSubmitted: true,
      summary: `the answer of sbatch was lost (${last}); the job may exist: it is looked up by its tag before any new submission`,
    };
  if (BUSY.test(text))
    return {
      transient: true,
      maybeSubmitted: false,
      summary: /MaxJobCount|job record|queue full/i.test(text)
        ? `waiting: the cluster's job queue is full (${last}); submission is retried`
        : `waiting: the Slurm controller is busy or unreachable (${last}); submission is retried`,
    };
  return {
    transient: false,
    maybeSubmitted: false,
    summary: `sbatch refused the job: ${last || 'no message'}`,
  };
}

/** ` (Reason1, Reason2)` for the `sbatch: error: <Reason>` lines before the policy line, or ''. */
function reasonSuffix(text: string): string {
  const reasons = [...text.matchAll(/^sbatch: error: ((?:QOS|Assoc)\w+)\s*$/gm)].map((m) => m[1]);
  return reasons.length ? ` (${reasons.join(', ')})` : '';
}
