/**
 * Plain-words explanations of Slurm pending reasons (the `%r` column of squeue), for the UI.
 */

const EXACT: Record<string, string> = {
  None: 'Waiting to be scheduled.',
  Resources: 'Waiting for free resources (CPUs, memory or GPUs) on the requested partition.',
  Priority: 'Other jobs with higher priority are ahead in the queue.',
  Dependency: 'Waiting for the jobs it depends on to finish.',
  DependencyNeverSatisfied: 'A job it depends on failed, so it will never start; cancel it.',
  PartitionTimeLimit: "Its time limit is above the partition's maximum; it will never start there.",
  PartitionNodeLimit: 'It asks for more nodes than the partition allows.',
  PartitionDown: 'The partition is down.',
  PartitionInactive: 'The partition is inactive.',
  PartitionConfig: "The request does not fit the partition's configuration.",
  ReqNodeNotAvail: 'A requested node is not available (down, drained or reserved).',
  NodeDown: 'A node it needs is down.',
  BeginTime: 'Its earliest start time has not been reached.',
  JobHeldUser: 'Held by the user (release it with `scontrol release`).',
  JobHeldAdmin: 'Held by an administrator.',
  Reservation: 'Waiting for its advance reservation to become usable.',
  Licenses: 'Waiting for a license.',
  BadConstraints: 'Its constraints cannot be satisfied.',
  InvalidAccount: 'The account is not valid for this job.',
  InvalidQOS: 'The QOS is not valid for this job.',
  Cleaning: 'Being requeued; the previous run is still being cleaned up.',
  launch_failed_requeued_held: 'Launch failed; requeued and held.',
  JobArrayTaskLimit: 'The array task limit (%N) has been reached.',
  FrontEndDown: 'No front-end node is available.',
  NodeNotAvail: 'A node it needs is not available.',
  Prolog: 'The prolog is running.',
  SystemFailure: 'Slurm or a file system failed.',
  TimeLimit: 'The time limit is being enforced.',
  InactiveLimit: 'The job reached the inactivity limit.',
  OutOfMemory: 'Out of memory.',
};

const LIMIT_WORDS: [RegExp, string][] = [
  [/MaxJobsPerUser|MaxJobs\b|GrpJobs/, 'the number of running jobs allowed'],
  [/MaxSubmit|GrpSubmit/, 'the number of submitted jobs allowed'],
  [/Cpu/i, 'the CPUs allowed'],
  [/Mem/i, 'the memory allowed'],
  [/Gres|GRES|Tres|TRES/, 'the GPUs or other resources allowed'],
  [/Node/i, 'the nodes allowed'],
  [/Wall|Time/i, 'the run time allowed'],
  [/Billing/i, 'the billing units allowed'],
];

/**
 * Explain a Slurm pending reason in plain words. Unknown reasons are returned with a generic
 * sentence that still names them. Parentheses (`(Resources)`, as in `%R`) are accepted.
 *
 * @example
 * ```ts
 * explainPendingReason('Resources') // => 'Waiting for free resources (CPUs, memory or GPUs) on the requested partition.'
 * explainPendingReason('QOSMaxJobsPerUserLimit') // => 'A QOS limit is reached: the number of running jobs allowed.'
 * ```
 */
export function explainPendingReason(reason: string | null | undefined): string {
  const r = (reason ?? '').trim().replace(/^\((.*)\)$/, '$1');
  if (!r) return EXACT.None!;
  const exact = EXACT[r];
  if (exact) return exact;
  const family = /^QOS/.test(r) ? 'A QOS limit' : /^Assoc/.test(r) ? 'An account (association) limit' : null;
  if (family) {
    const what = LIMIT_WORDS.find(([re]) => re.test(r))?.[1];
    return `${family} is reached${what ? `: ${what}` : ''} (${r}).`;
  }
  if (/^ReqNodeNotAvail/.test(r)) return EXACT.ReqNodeNotAvail!;
  return `Waiting: ${r}.`;
}
