/**
 * The task state machine: every state change a task may make, and who may cause it. The engine's
 * ledger checks each change against {@link TASK_TRANSITIONS} before writing it; `docs/architecture.md`
 * shows the same table (a test keeps the two identical).
 */
import { type TaskState, TERMINAL_TASK_STATES } from '../domain.js';
import { ScriptHutError } from '../errors.js';

/** Who causes a transition. */
export type TransitionCause =
  | 'create'
  | 'submit'
  | 'adopt'
  | 'scheduler'
  | 'marker'
  | 'generator'
  | 'user'
  | 'dependency'
  | 'cache'
  | 'rerun';

/** What each cause is, in the engine's terms. */
export const TRANSITION_CAUSES: Readonly<Record<TransitionCause, string>> = {
  create: '`createRun`, `rerun`, or a `generates_source` task adding tasks',
  submit: 'the submission step of a backend tick (`backend.submit`, one call per tick)',
  adopt: 'the reconcile step of a tick: `backend.findByTags` for tasks left in `submitting`',
  scheduler: 'the poll step of a tick: `backend.status`, one call for every tracked job of the backend',
  marker: 'the marker check between ticks: `backend.quickStatus` (exit-code files, no scheduler command)',
  generator: 'reading the `generates_source` file of a task whose job completed',
  user: 'the user cancelling the run (`cancelRun`; the scheduler cancel is retried each tick until it succeeds)',
  dependency: 'failure propagation when a task becomes failed, dep_failed or cancelled',
  cache:
    'the cache step at the start of a submission step (`resolveCache`, runs created with `resume`; see docs/resume.md)',
  rerun: '`rerunInPlace`: the user reruns a finished run in place (same run id; see docs/resume.md)',
};

/** One allowed state change. `from: null` is a task's first state. */
export interface TransitionRule {
  from: TaskState | null;
  to: TaskState;
  by: TransitionCause;
  /** When it happens. */
  when: string;
}

const TRACKED = ['submitted', 'queued', 'running'] as const;

function fromEach(
  froms: readonly TaskState[],
  to: TaskState,
  by: TransitionCause,
  when: string,
): TransitionRule[] {
  return froms.map((from) => ({ from, to, by, when }));
}

/** Every allowed task state change. Anything else is an engine bug. */
export const TASK_TRANSITIONS: readonly TransitionRule[] = [
  { from: null, to: 'pending', by: 'create', when: 'a new task (new run, rerun, generated task)' },
  {
    from: null,
    to: 'completed',
    by: 'create',
    when: '`rerun(id, "failed")` keeps a completed task with its job id and logs',
  },
  {
    from: 'pending',
    to: 'submitting',
    by: 'submit',
    when: 'deps completed and a slot is free: the intent and a new tag are stored before `submit()`',
  },
  {
    from: 'pending',
    to: 'failed',
    by: 'submit',
    when: 'the submit request cannot be built (unknown environment, task sequence out of range)',
  },
  { from: 'pending', to: 'cancelled', by: 'user', when: 'the run is cancelled' },
  {
    from: 'pending',
    to: 'completed',
    by: 'cache',
    when: '`--resume`: the cache key matches a task completed earlier (same backend and workflow) and its declared outputs exist: reused, no job (`meta.cached`)',
  },
  {
    from: 'pending',
    to: 'dep_failed',
    by: 'dependency',
    when: 'a dependency (or a dependency of one) failed, was cancelled or is dep_failed',
  },
  { from: 'submitting', to: 'submitted', by: 'submit', when: '`submit()` returned a job id' },
  {
    from: 'submitting',
    to: 'pending',
    by: 'submit',
    when: '`submit()` returned a transient error for the task: retried with backoff and a new tag',
  },
  {
    from: 'submitting',
    to: 'failed',
    by: 'submit',
    when: '`submit()` rejected the task, or threw a permanent error for the whole batch',
  },
  {
    from: 'submitting',
    to: 'submitted',
    by: 'adopt',
    when: 'the job of an ambiguous or interrupted submission was found by its tag',
  },
  {
    from: 'submitting',
    to: 'pending',
    by: 'adopt',
    when: 'no job with the tag, and `submitRetryWindowMs` has passed: submitted again with a new tag',
  },
  {
    from: 'submitting',
    to: 'cancelled',
    by: 'adopt',
    when: 'no job with the tag after `submitRetryWindowMs`, and the run was cancelled',
  },
  { from: 'submitted', to: 'queued', by: 'scheduler', when: 'the job waits in the queue (reason kept)' },
  ...fromEach(['submitted', 'queued'], 'running', 'scheduler', 'the job runs (node kept)'),
  ...fromEach(TRACKED, 'completed', 'scheduler', 'final verdict: exit code 0'),
  ...fromEach(
    TRACKED,
    'failed',
    'scheduler',
    'final verdict: non-zero exit, timeout, out of memory, node failure; or unknown to the scheduler for longer than `lostJobGraceMs`',
  ),
  ...fromEach(TRACKED, 'cancelled', 'scheduler', 'cancelled at the scheduler'),
  ...fromEach(TRACKED, 'completed', 'marker', 'the job wrote exit code 0'),
  ...fromEach(TRACKED, 'failed', 'marker', 'the job wrote a non-zero exit code'),
  ...fromEach(TRACKED, 'cancelled', 'marker', 'the marker says the job was cancelled'),
  ...fromEach(TRACKED, 'completed', 'generator', 'the generated tasks were read, checked and appended'),
  ...fromEach(TRACKED, 'failed', 'generator', 'the generated file cannot be read or is invalid'),
  ...fromEach(TRACKED, 'cancelled', 'user', 'the run is cancelled and `backend.cancel()` succeeded'),
  ...fromEach(
    TERMINAL_TASK_STATES,
    'pending',
    'rerun',
    'rerun in place of a finished run: its failed tasks (or all) run again under the same run id; the previous attempt is kept in `meta.previousAttempts`',
  ),
];

const ALLOWED = new Set(TASK_TRANSITIONS.map((r) => `${r.from}>${r.to}>${r.by}`));

/** True when `from → to` caused by `by` is in {@link TASK_TRANSITIONS}. */
export function isAllowedTransition(from: TaskState | null, to: TaskState, by: TransitionCause): boolean {
  return ALLOWED.has(`${from}>${to}>${by}`);
}

/** A task state change outside {@link TASK_TRANSITIONS}: an engine bug. */
export class IllegalTransitionError extends ScriptHutError {
  constructor(
    readonly from: TaskState | null,
    readonly to: TaskState,
    readonly by: TransitionCause,
    where: string,
  ) {
    super('internal', `illegal task transition ${from ?? '(new)'} → ${to} by ${by} (${where})`, {
      details: { from, to, by, where },
    });
  }
}

/**
 * The state diagram (Mermaid) and the table of {@link TASK_TRANSITIONS}, as written in
 * `docs/architecture.md` between the `transitions:begin`/`transitions:end` markers.
 */
export function renderTransitionDocs(): string {
  const edges = new Map<string, TransitionCause[]>();
  for (const r of TASK_TRANSITIONS) {
    const k = `${r.from ?? '[*]'} --> ${r.to}`;
    const causes = edges.get(k) ?? [];
    if (!causes.includes(r.by)) causes.push(r.by);
    edges.set(k, causes);
  }
  const lines = ['```mermaid', 'stateDiagram-v2'];
  for (const [edge, causes] of edges) lines.push(`  ${edge} : ${causes.join(', ')}`);
  lines.push('```', '', '| from | to | by | when |', '| --- | --- | --- | --- |');
  // Rules that differ only by their `from` state share a row.
  const rows = new Map<string, { froms: string[]; rule: TransitionRule }>();
  for (const r of TASK_TRANSITIONS) {
    const k = `${r.to}>${r.by}>${r.when}`;
    const row = rows.get(k) ?? { froms: [], rule: r };
    row.froms.push(r.from ?? '(new)');
    rows.set(k, row);
  }
  for (const { froms, rule } of rows.values())
    lines.push(`| ${froms.join(', ')} | ${rule.to} | ${rule.by} | ${rule.when.replace(/\|/g, '\\|')} |`);
  lines.push('', '| by | who |', '| --- | --- |');
  for (const [by, who] of Object.entries(TRANSITION_CAUSES)) lines.push(`| ${by} | ${who} |`);
  return lines.join('\n');
}
