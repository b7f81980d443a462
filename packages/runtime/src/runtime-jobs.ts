/**
 * The jobs table: the tasks of recent runs and the user's other jobs on each scheduler (cached,
 * refreshed by a timer only while someone looks at the table), minus the finished jobs the user
 * chose to forget; cancelling the user's own other jobs.
 */
import type { ScriptHutConfig } from '@scripthut/config';
import {
  type ExternalJob,
  isTerminalJobState,
  type RunStore,
  ScriptHutError,
  TERMINAL_JOB_STATES,
  TERMINAL_TASK_STATES,
  taskUsageFigures,
} from '@scripthut/core';
import {
  forgottenJobStore,
  loadForgottenJobs,
  pruneExpiredForgottenJobs,
  pruneUnlistedForgottenJobs,
} from './forgotten-jobs.js';
import type { RuntimeBackends } from './runtime-backends.js';
import type { JobQuery, JobView } from './types.js';

/** A jobs-list row has ended when its job (JobState) or its task (TaskState) has. */
const ENDED_ROW_STATES: ReadonlySet<string> = new Set<string>([
  ...TERMINAL_JOB_STATES,
  ...TERMINAL_TASK_STATES,
]);

type Log = { warn(msg: string): void; info(msg: string): void; error(msg: string): void };

/** What the jobs table needs from the runtime. */
export interface JobsTableDeps {
  store: RunStore;
  backends: Pick<RuntimeBackends, 'built' | 'entry' | 'require'>;
  /** The live config (`settings.filter_user`). */
  config(): ScriptHutConfig;
  /** A read-only runtime never writes the store (forgotten jobs are not pruned). */
  readOnly: boolean;
  log: Log;
}

/** The unified jobs table of every backend (see {@link JobsTable.list}). */
export class JobsTable {
  private readonly externalJobs = new Map<string, { at: number; jobs: ExternalJob[] }>();
  private lastQueryAt = 0;
  /** Finished jobs hidden from {@link list} (`backend:jobId`), loaded from the store on first use. */
  private forgottenOf: Set<string> | null = null;

  constructor(private readonly deps: JobsTableDeps) {}

  private get forgotten(): Set<string> {
    this.forgottenOf ??= loadForgottenJobs(this.deps.store, this.deps.log);
    return this.forgottenOf;
  }

  /**
   * Lists the jobs ScriptHut did not start on every backend that can (the timer calls it while the
   * jobs table is being looked at), and prunes the forgotten jobs the scheduler no longer lists.
   */
  async refresh(): Promise<void> {
    // Only while someone looked at the jobs table in the last 5 minutes: no idle scheduler load.
    if (Date.now() - this.lastQueryAt > 5 * 60_000) return;
    for (const b of this.deps.backends.built) {
      if (!b.backend?.externalJobs) continue;
      try {
        const startedAt = new Date().toISOString();
        const jobs = await b.backend.externalJobs(this.deps.config().settings.filter_user ?? null);
        this.externalJobs.set(b.config.name, { at: Date.now(), jobs });
        if (!this.deps.readOnly)
          pruneUnlistedForgottenJobs(
            this.deps.store,
            b.config.name,
            jobs,
            startedAt,
            this.forgotten,
            this.deps.log,
          );
      } catch (e) {
        this.deps.log.warn(`backend ${b.config.name}: listing external jobs failed: ${(e as Error).message}`);
      }
    }
  }

  /** Forgets the forgotten jobs older than `days` (the retention sweep; nothing in a read-only runtime). */
  pruneExpired(days: number, nowMs: number): void {
    if (!this.deps.readOnly)
      pruneExpiredForgottenJobs(this.deps.store, days, nowMs, this.forgotten, this.deps.log);
  }

  /** The table's rows from the store and the cache: a read never reaches a scheduler. */
  list(query: JobQuery = {}): JobView[] {
    // It only marks interest, and the external-jobs timer refreshes the cache on its next tick.
    this.lastQueryAt = Date.now();
    const since = Date.now() - (query.recentHours ?? 12) * 3600_000;
    const rows: JobView[] = [];
    const owned = new Set<string>();
    const runs = this.deps.store.listRuns({
      limit: 200,
      ...(query.backend ? { backend: query.backend } : {}),
    }).items;
    for (const summary of runs) {
      const { run } = summary;
      const tasks = this.deps.store.listTasks(run.id, {
        states: ['submitting', 'submitted', 'queued', 'running', 'completed', 'failed', 'cancelled'],
        limit: 5000,
      }).items;
      for (const t of tasks) {
        if (t.finishedAt && Date.parse(t.finishedAt) < since) continue;
        if (t.jobId && this.forgotten.has(`${run.backendName}:${t.jobId}`)) continue;
        if (t.jobId) owned.add(`${run.backendName}:${t.jobId}`);
        rows.push({
          kind: 'task',
          backend: run.backendName,
          jobId: t.jobId,
          name: t.spec.name,
          runId: run.id,
          taskId: t.spec.id,
          workflowName: run.workflowName,
          user: null,
          state: t.state,
          reason: t.pendingReason ?? t.error,
          partition: t.spec.partition,
          cpus: t.spec.cpus,
          memory: t.spec.memory,
          timeLimit: t.spec.timeLimit,
          submittedAt: t.submittedAt,
          startedAt: t.startedAt,
          finishedAt: t.finishedAt,
          ...(t.usage?.status === 'ok'
            ? (({ cpuEfficiency, maxRssBytes }) => ({ cpuEfficiency, maxRssBytes }))(taskUsageFigures(t))
            : {}),
        });
      }
    }
    const filterUser = this.deps.config().settings.filter_user ?? null;
    for (const [backend, cached] of this.externalJobs) {
      if (query.backend && query.backend !== backend) continue;
      const sshConfig = this.deps.backends.built.find((b) => b.config.name === backend)?.config;
      const sshUser = sshConfig && 'ssh' in sshConfig ? sshConfig.ssh.user : null;
      for (const j of cached.jobs) {
        if (owned.has(`${backend}:${j.jobId}`) || this.forgotten.has(`${backend}:${j.jobId}`)) continue;
        if (query.mine && filterUser && j.user !== filterUser) continue;
        rows.push({
          kind: 'external',
          own: sshUser !== null && j.user === sshUser,
          backend,
          jobId: j.jobId,
          name: j.name,
          runId: null,
          taskId: null,
          workflowName: null,
          user: j.user,
          state: j.state,
          reason: j.reason,
          partition: j.partition,
          cpus: j.cpus,
          memory: j.memory,
          timeLimit: null,
          submittedAt: j.submittedAt,
          startedAt: null,
          finishedAt: null,
        });
      }
    }
    return rows;
  }

  /** An external job of the jobs list (not a ScriptHut task) and whether it is the SSH user's own. */
  private externalJob(backendName: string, jobId: string): { job: ExternalJob; own: boolean } {
    const b = this.deps.backends.entry(backendName);
    const job = this.externalJobs.get(backendName)?.jobs.find((j) => j.jobId === jobId);
    if (!job)
      throw new ScriptHutError(
        'not_found',
        `job ${jobId} is not in the jobs list of backend "${backendName}"`,
      );
    if (this.list({ backend: backendName }).some((r) => r.kind === 'task' && r.jobId === jobId))
      throw new ScriptHutError('conflict', `job ${jobId} is a ScriptHut task: cancel its run instead`);
    const me = 'ssh' in b.config ? b.config.ssh.user : null;
    return { job, own: me !== null && job.user === me };
  }

  /** Cancels one of the user's own jobs that ScriptHut did not start (scancel / qdel). */
  async cancelExternal(backendName: string, jobId: string): Promise<void> {
    const { job, own } = this.externalJob(backendName, jobId);
    if (!own) throw new ScriptHutError('conflict', `job ${jobId} belongs to ${job.user}, not to you`);
    if (isTerminalJobState(job.state)) throw new ScriptHutError('conflict', `job ${jobId} has already ended`);
    await this.deps.backends.require(backendName).cancel([
      {
        jobId,
        runId: '',
        taskId: '',
        tag: '',
        stdoutPath: null,
        stderrPath: null,
        submittedAt: null,
        lastState: job.state,
        meta: {},
      },
    ]);
  }

  /**
   * Hides a finished job from the jobs list: a task row (its run stays) or a job ScriptHut did not
   * start. Kept in the store (survives restarts) until pruned, see `forgotten-jobs.ts`.
   */
  forget(backendName: string, jobId: string): void {
    this.deps.backends.entry(backendName);
    const row = this.list({ backend: backendName }).find((r) => r.jobId === jobId);
    if (!row)
      throw new ScriptHutError(
        'not_found',
        `job ${jobId} is not in the jobs list of backend "${backendName}"`,
      );
    if (!ENDED_ROW_STATES.has(row.state))
      throw new ScriptHutError(
        'conflict',
        `job ${jobId} is ${row.state}: only finished jobs can be forgotten`,
      );
    forgottenJobStore(this.deps.store).forgetJob(backendName, jobId, new Date().toISOString());
    this.forgotten.add(`${backendName}:${jobId}`);
  }
}
