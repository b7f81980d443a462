/**
 * What a dry run says about job arrays, shown the same way by the CLI and the web UI: the run's
 * mode when it is `off`, else each array the run would start with (its task ids) and how many tasks
 * go one job each.
 */

/** What the summary reads of a dry run (the runtime's `DryRunResult` fits). */
export interface DryRunArrayInput {
  /** The run's array mode and what set it; absent on backends without arrays. */
  arrays?: { mode: 'auto' | 'off'; setBy: 'workflow' | 'backend' } | undefined;
  /** The tasks in order; `array` is set on the tasks that would be array elements. */
  tasks: readonly { task: { id: string }; array?: { group: number } | undefined }[];
}

/** One array a dry run would submit: its group number and its tasks' ids, in element order. */
export interface DryRunArray {
  group: number;
  taskIds: string[];
}

/** {@link dryRunArraySummary}'s answer. */
export type DryRunArraySummary =
  | { kind: 'off'; setBy: 'workflow' | 'backend' }
  | { kind: 'arrays'; arrays: DryRunArray[]; alone: number };

/**
 * The job arrays of a dry run: `off` (and who set it) when the run's mode is off; the arrays and
 * the count of tasks submitted alone when at least one task would be in an array; null otherwise
 * (a backend without arrays, or no group large enough).
 */
export function dryRunArraySummary(d: DryRunArrayInput): DryRunArraySummary | null {
  if (d.arrays?.mode === 'off') return { kind: 'off', setBy: d.arrays.setBy };
  const groups = new Map<number, string[]>();
  for (const t of d.tasks) {
    if (!t.array) continue;
    const list = groups.get(t.array.group);
    if (list) list.push(t.task.id);
    else groups.set(t.array.group, [t.task.id]);
  }
  if (!groups.size) return null;
  const arrays = [...groups].map(([group, taskIds]) => ({ group, taskIds }));
  const inArrays = arrays.reduce((n, a) => n + a.taskIds.length, 0);
  return { kind: 'arrays', arrays, alone: d.tasks.length - inArrays };
}
