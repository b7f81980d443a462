/**
 * Reads of runs and tasks from the store, by full id or unique id prefix, with secret values
 * redacted in everything that leaves the runtime.
 */
import {
  type RunActivity,
  type RunStore,
  type RunSummary,
  runActivity,
  ScriptHutError,
  type TaskOutputStore,
  type TaskRecord,
  type TaskTransition,
} from '@scripthut/core';
import {
  type OutputFileContent,
  type RunSummaryView,
  readTaskOutputFile,
  runSummaryView,
  type TaskOutputsView,
  taskOutputsView,
} from './outputs.js';
import { redactSummary, redactTask } from './redact.js';
import type { RuntimeBackends } from './runtime-backends.js';
import type { RunQuery, TaskQuery } from './types.js';

/** Run and task reads from the store; only reading an output file reaches the run's backend. */
export class RunReads {
  constructor(
    private readonly store: RunStore,
    private readonly backends: Pick<RuntimeBackends, 'orNull'>,
  ) {}

  list(query: RunQuery = {}): { items: RunSummary[]; total: number } {
    const page = this.store.listRuns(query);
    return { ...page, items: page.items.map(redactSummary) };
  }

  /**
   * The full id of the run `ref` names: the id itself, or a unique prefix of one (`1a2b` for
   * `1a2b3c4d`, as `docker` and `git` accept). An unknown id is `not_found`; a prefix that matches
   * several runs is `validation_failed` listing them (`details.candidates`).
   */
  resolveId(ref: string): string {
    if (this.store.getRun(ref)) return ref;
    const prefix = ref.toLowerCase();
    if (/^[0-9a-f]{1,7}$/.test(prefix)) {
      const { items, total } = this.store.listRuns({ idPrefix: prefix, limit: 10 });
      if (total === 1 && items[0]) return items[0].run.id;
      if (total > 1) {
        const shown = items.map(
          (r) => `${r.run.id} (${r.run.workflowName}, ${r.status}, ${r.run.createdAt})`,
        );
        throw new ScriptHutError(
          'validation_failed',
          `run id prefix "${ref}" is ambiguous: it matches ${total} runs: ${shown.join('; ')}${total > items.length ? '; …' : ''}. Give more characters of the id`,
          { details: { candidates: items.map((r) => r.run.id), total } },
        );
      }
    }
    throw new ScriptHutError('not_found', `unknown run "${ref}" (scripthut run list)`);
  }

  get(runId: string): RunSummary {
    return redactSummary(this.summary(runId));
  }

  /** The stored summary, secrets included (internal use only: views go through {@link get}). */
  summary(runId: string): RunSummary {
    const id = this.resolveId(runId);
    const s = this.store.summarizeRun(id);
    if (!s) throw new ScriptHutError('not_found', `unknown run "${runId}" (scripthut run list)`);
    return s;
  }

  tasks(runId: string, query: TaskQuery = {}): { items: TaskRecord[]; total: number } {
    const { run } = this.summary(runId);
    const page = this.store.listTasks(run.id, query);
    return { ...page, items: page.items.map((t) => redactTask(t, run.environments)) };
  }

  task(runId: string, taskId: string): TaskRecord {
    const { run } = this.summary(runId);
    const t = this.store.getTask(run.id, taskId);
    if (!t) throw new ScriptHutError('not_found', `run ${run.id} has no task "${taskId}"`);
    return redactTask(t, run.environments);
  }

  transitions(runId: string, taskId: string): TaskTransition[] {
    const t = this.task(runId, taskId);
    return this.store.transitions(t.runId, taskId);
  }

  activity(runId: string): RunActivity {
    const { run } = this.summary(runId);
    const startTimes = this.store.taskStartTimes?.(run.id);
    const transitions = this.store.activityTransitions?.(run.id) ?? this.store.transitions(run.id);
    return runActivity(transitions, startTimes ? { startTimes } : {});
  }

  private get outputStore(): TaskOutputStore {
    return this.store as unknown as TaskOutputStore;
  }

  /** The recorded outputs of a task (files, task summary), or why there are none. */
  outputs(runId: string, taskId: string): TaskOutputsView {
    const { run } = this.summary(runId);
    const task = this.task(run.id, taskId);
    return taskOutputsView(this.outputStore, run, task, this.backends.orNull(run.backendName));
  }

  /** One recorded output file of a task, read from its backend (only recorded paths). */
  async outputFile(runId: string, taskId: string, path: string): Promise<OutputFileContent> {
    const { run } = this.summary(runId);
    const task = this.task(run.id, taskId);
    return readTaskOutputFile(this.outputStore, run, task, this.backends.orNull(run.backendName), path);
  }

  /** The run's summary page (its tasks' summaries and outputs). */
  summaryView(runId: string): RunSummaryView {
    const { run } = this.summary(runId);
    return runSummaryView(this.outputStore, run, this.backends.orNull(run.backendName));
  }
}
