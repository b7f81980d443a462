/**
 * Debug sessions of tasks (see `debug-jobs.ts`): submitting a debug job, reading the sessions'
 * scheduler states, releasing one; and opening a terminal on an SSH backend (see `terminals.ts`):
 * a login shell, a shell in a running task's job, or in a task's debug session.
 */
import { type RunStore, ScriptHutError } from '@scripthut/core';
import {
  type DebugSession,
  DebugSessionStore,
  type DebugSessionView,
  debugTrackedJob,
  releaseCommand,
  submitDebugJob,
} from './debug-jobs.js';
import type { RuntimeBackends } from './runtime-backends.js';
import type { RunReads } from './runtime-runs.js';
import {
  attachCommand,
  debugAttachCommand,
  type OpenedTerminal,
  type TerminalRequest,
  taskAttachProblem,
  terminalRunner,
} from './terminals.js';

/** Debug sessions and terminals, for the runs read through `runs`. */
export class InteractiveAccess {
  private storeOf: DebugSessionStore | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly backends: Pick<RuntimeBackends, 'require'>,
    private readonly runs: Pick<RunReads, 'summary' | 'get' | 'task'>,
    /** The stored task, secrets included: a debug job needs its real environment. */
    private readonly tasks: Pick<RunStore, 'getTask'>,
  ) {}

  private get store(): DebugSessionStore {
    this.storeOf ??= new DebugSessionStore(this.dataDir);
    return this.storeOf;
  }

  /** Submits a debug job of a task; it is linked to the task, not part of the run. */
  async debugTask(runId: string, taskId: string): Promise<DebugSessionView> {
    const { run } = this.runs.summary(runId);
    const task = this.tasks.getTask(run.id, taskId);
    if (!task) throw new ScriptHutError('not_found', `run ${run.id} has no task "${taskId}"`);
    const session = await submitDebugJob(this.backends.require(run.backendName), run, task);
    this.store.save(session);
    return { ...session, state: 'pending', node: null, exitCode: null };
  }

  /**
   * The debug jobs of a task with their scheduler state: one batched status query for all of them
   * (made only when asked, e.g. by the task page).
   */
  async debugSessions(runId: string, taskId: string): Promise<DebugSessionView[]> {
    const { run } = this.runs.summary(runId);
    const list = this.store.forTask(run.id, taskId);
    if (list.length === 0) return [];
    let statuses = new Map<string, { state: string; node?: string | null; exitCode?: number | null }>();
    try {
      statuses = await this.backends.require(run.backendName).status(list.map(debugTrackedJob));
    } catch {
      /* unreachable scheduler: states unknown */
    }
    return list.map((s) => {
      const st = statuses.get(s.jobId);
      return { ...s, state: st?.state ?? 'unknown', node: st?.node ?? null, exitCode: st?.exitCode ?? null };
    });
  }

  /** Ends a debug job's wait (its tmux server); a job that has not started yet is cancelled. */
  async releaseDebug(runId: string, taskId: string, session: string): Promise<DebugSessionView> {
    const views = await this.debugSessions(runId, taskId);
    const view = views.find((v) => v.session === session);
    if (!view) throw new ScriptHutError('not_found', `task ${taskId} has no debug session "${session}"`);
    const backend = this.backends.require(view.backend);
    if (view.state === 'running') {
      if (backend.type !== 'slurm' && backend.type !== 'pbs')
        throw new ScriptHutError('conflict', `backend "${view.backend}" has no debug sessions`);
      const command = releaseCommand(view);
      const r = await backend.commandRunner().exec(command, { timeoutMs: 60_000 });
      if (r.exitCode !== 0)
        throw new ScriptHutError(
          'backend_transient',
          `releasing debug session ${session} failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`,
        );
    } else if (view.state === 'pending' || view.state === 'unknown') {
      await backend.cancel([debugTrackedJob(view)]);
    }
    const released: DebugSession = {
      session: view.session,
      runId: view.runId,
      taskId: view.taskId,
      backend: view.backend,
      jobId: view.jobId,
      stdoutPath: view.stdoutPath,
      submittedAt: view.submittedAt,
      releasedAt: new Date().toISOString(),
    };
    this.store.save(released);
    return { ...view, releasedAt: released.releasedAt };
  }

  /**
   * Opens a terminal on SSH backend `backendName` (see `terminals.ts` for the kinds). Only where
   * ScriptHut already runs commands: Slurm and PBS backends over the built-in SSH connection.
   */
  async openTerminal(backendName: string, request: TerminalRequest): Promise<OpenedTerminal> {
    const backend = this.backends.require(backendName);
    const runner = terminalRunner(backend);
    if (!runner || (backend.type !== 'slurm' && backend.type !== 'pbs'))
      throw new ScriptHutError(
        'conflict',
        `backend "${backendName}" (${backend.type}) has no terminal: only Slurm and PBS backends do`,
      );
    const size = { cols: request.cols, rows: request.rows };
    const target = request.target;
    if (target.kind === 'login') {
      const channel = await runner.openShell({ ...size, logAs: 'terminal: login shell' });
      return { channel, description: 'login shell' };
    }
    const { run } = this.runs.get(target.runId);
    if (run.backendName !== backendName)
      throw new ScriptHutError(
        'conflict',
        `run ${run.id} ran on backend "${run.backendName}", not "${backendName}"`,
      );
    const task = this.runs.task(run.id, target.taskId);
    if (target.kind === 'debug') {
      const views = await this.debugSessions(run.id, task.spec.id);
      const live = views.find((v) => !v.releasedAt && v.state === 'running');
      if (!live)
        throw new ScriptHutError(
          'conflict',
          views.some((v) => !v.releasedAt && (v.state === 'pending' || v.state === 'submitted'))
            ? `the debug job of task ${task.spec.id} is not running yet; try again when it starts`
            : `task ${task.spec.id} has no running debug job (start one with Debug)`,
        );
      const command = debugAttachCommand(backend.type, { jobId: live.jobId, node: live.node }, live.session);
      const description = `debug session of task ${task.spec.id} of run ${run.id} (job ${live.jobId})`;
      const channel = await runner.openShell({
        ...size,
        command,
        logAs: `terminal: ${description}: ${command}`,
      });
      return { channel, description };
    }
    const problem = taskAttachProblem(task);
    if (problem) throw new ScriptHutError('conflict', problem);
    const job = { jobId: task.jobId as string, node: task.node };
    const command = attachCommand(backend.type, job);
    const description = `task ${task.spec.id} of run ${run.id} (job ${job.jobId}${job.node ? ` on ${job.node}` : ''})`;
    const channel = await runner.openShell({
      ...size,
      command,
      logAs: `terminal: ${description}: ${command}`,
    });
    return { channel, description };
  }
}
