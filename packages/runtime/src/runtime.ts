/**
 * `createRuntime()` composes one ScriptHut control plane: the config (or the embedded default), the
 * SQLite store at `<data_dir>/scripthut.db`, one backend per config entry, the engine with one poll
 * loop per backend, workflow generators (commands, git clones, sources, projects) and pricing.
 *
 * Reads (runs, tasks, jobs, backends) come from the store and the poller's caches; only explicit
 * user actions (run, cancel, log follow, sync) reach a backend.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import {
  type BackendConfig,
  DEFAULT_CONFIG_YAML,
  diffConfigs,
  type EnvironmentConfig,
  formatIssue,
  loadConfig,
  redactConfig,
  redactConfigText,
  type ScriptHutConfig,
  validateConfigText,
} from '@scripthut/config';
import {
  type Backend,
  type BackendRegistry,
  Engine,
  type ExternalJob,
  type GitContext,
  type Issue,
  isTerminalJobState,
  type LogChunk,
  type LogReadOptions,
  parseTaskDocument,
  planReuse,
  previewRun,
  type RunActivity,
  type RunNotificationOutbox,
  type RunOrigin,
  type RunRecord,
  type RunStore,
  type RunSummary,
  runActivity,
  ScriptHutError,
  shellQuote,
  shellQuotePath,
  type TaskOutputStore,
  type TaskRecord,
  type TaskSpec,
  type TaskTransition,
  taskUsageFigures,
  type UsageBucket,
  unicodeProblem,
} from '@scripthut/core';
import { createPriceBook, type PriceBook } from '@scripthut/pricing';
import { openSqliteStore } from '@scripthut/store';
import { arrayModeInput, runArrayMode } from './array-mode.js';
import { adaptBackend } from './backend-adapter.js';
import { type BuiltBackend, buildBackends } from './backends.js';
import { configTextHash, restoreRedactedLines, writeConfigFileAtomically } from './config-file.js';
import {
  type DebugSession,
  DebugSessionStore,
  type DebugSessionView,
  debugTrackedJob,
  releaseCommand,
  submitDebugJob,
} from './debug-jobs.js';
import {
  forgottenJobStore,
  loadForgottenJobs,
  pruneExpiredForgottenJobs,
  pruneUnlistedForgottenJobs,
} from './forgotten-jobs.js';
import { generateTasks, prepareClone, runGeneratorCommand } from './generator.js';
import { checkoutProjectOverride, checkoutSourceOverride } from './git-override.js';
import { EngineLock, type EngineRole } from './lock.js';
import { NotificationHub, type NotificationStats, statsOf, WebhookNotifier } from './notifications.js';
import {
  type OutputFileContent,
  type RunSummaryView,
  readTaskOutputFile,
  runSummaryView,
  type TaskOutputsView,
  taskOutputsView,
} from './outputs.js';
import { redactRun, redactSpecAndScript, redactSummary, redactTask } from './redact.js';
import { sweepRetention } from './retention.js';

/** How often finished runs are checked against `settings.retention_days`. */
const RETENTION_INTERVAL_MS = 3_600_000;

import { type DiscoveredSource, SourceCatalog } from './sources.js';
import {
  type DocumentEnvRules,
  noDocumentRules,
  parseTaskDocumentWithEnv,
  prepareRunTasks,
  type ServerEnvRules,
} from './task-env.js';
import {
  attachCommand,
  debugAttachCommand,
  type OpenedTerminal,
  type TerminalRequest,
  taskAttachProblem,
  terminalRunner,
} from './terminals.js';
import type {
  AdhocTaskInput,
  BackendDetail,
  BackendView,
  ConfigReloadResult,
  ConfigSaveResult,
  CostEstimate,
  DryRunResult,
  JobQuery,
  JobView,
  ProjectView,
  RunCost,
  RunOptions,
  RunQuery,
  RunRerunMode,
  RuntimeEvents,
  ScriptHutRuntime,
  SourceView,
  TaskQuery,
  WorkflowView,
} from './types.js';

/** `SCRIPTHUT_PLUGINS`: comma-separated modules that add backend types. */
function pluginsFromEnv(): string[] {
  return (process.env.SCRIPTHUT_PLUGINS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export interface CreateRuntimeOptions {
  /** Explicit config file (must exist). Otherwise ./scripthut.yaml, ./scripthut.yml, else the embedded default. */
  configPath?: string;
  cwd?: string;
  /**
   * Modules that add backend types (package names resolved from the config file's directory, or
   * paths; see `loadBackendPlugins` in @scripthut/config). Default: `SCRIPTHUT_PLUGINS`
   * (comma-separated).
   */
  plugins?: readonly string[];
  /** Overrides `settings.data_dir` (also `SCRIPTHUT_DATA_DIR`). */
  dataDir?: string;
  /** Overrides `settings.poll_interval` (ms), for tests. */
  pollIntervalMs?: number;
  /** Grace for declared outputs to appear after a job exited 0 (engine default 30 s), for tests. */
  outputsGraceMs?: number;
  /** Take the data dir's engine lock (default true; ignored with `readOnly`). */
  lock?: boolean;
  /** Recorded in the engine lock: who runs this engine (default `embedded`). */
  role?: EngineRole;
  /**
   * Open the store read-only and never start the engine: for reading runs, tasks and logs while
   * another process holds the engine lock (SQLite in WAL mode allows concurrent readers). No lock
   * is taken; a data dir without a database reads as empty. Writes fail.
   */
  readOnly?: boolean;
  logger?: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

/** A prepared run: everything needed to create it (or show it in a dry run). */
interface PreparedRun {
  workflowName: string;
  backendName: string;
  origin: RunOrigin;
  tasks: TaskSpec[];
  maxConcurrent: number | null;
  baseDir: string | null;
  git: GitContext | null;
  warnings: Issue[];
  /** The task file's env rules (applied with the config's when the run is created). */
  envRules: DocumentEnvRules;
  /** `--resume` (docs/resume.md). */
  resume?: boolean;
}

const PROJECT_FILE = 'sflow.json';

/** How long {@link Runtime.close} lets in-flight work finish before it closes the backends. */
export const CLOSE_GRACE_MS = 1000;

/**
 * Check `--branch`/`--commit` (git workflows, git sources, projects): a branch name git would accept that
 * cannot read as an option, a full commit hash. `notGit`: why the target cannot take them, or null.
 */
function checkGitOverride(options: RunOptions, notGit: string | null): void {
  if (options.branch === undefined && options.commit === undefined) return;
  if (notGit) throw new ScriptHutError('validation_failed', `--branch/--commit: ${notGit}`);
  const b = options.branch;
  if (
    b !== undefined &&
    (!/^[A-Za-z0-9._/-]{1,255}$/.test(b) ||
      b.startsWith('-') ||
      b.startsWith('/') ||
      b.endsWith('/') ||
      b.endsWith('.lock') ||
      b.includes('..') ||
      b.includes('//'))
  )
    throw new ScriptHutError('validation_failed', `branch: invalid branch name ${JSON.stringify(b)}`);
  if (options.commit !== undefined && !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(options.commit))
    throw new ScriptHutError(
      'validation_failed',
      `commit: must be a full commit hash (40 or 64 lowercase hex), got ${JSON.stringify(options.commit)}`,
    );
}

function notFound(what: string, name: string, known: string[], hint: string): ScriptHutError {
  return new ScriptHutError(
    'not_found',
    `unknown ${what} "${name}"; ${known.length ? `known ${what}s: ${known.join(', ')}` : `no ${what}s are configured`} (${hint})`,
    { details: { known } },
  );
}

function firstReason(reasons: Record<string, number> | undefined): string | null {
  const entries = Object.entries(reasons ?? {});
  return entries.length ? entries.map(([r, n]) => `${r} (${n})`).join('; ') : null;
}

function environmentsSnapshot(envs: EnvironmentConfig[]): RunRecord['environments'] {
  return Object.fromEntries(
    envs.map((e) => [
      e.name,
      {
        variables: { ...(e.variables ?? {}) },
        extraInit: e.extra_init ?? '',
        secretNames: [...(e.secret_variables ?? [])],
      },
    ]),
  );
}

export class Runtime implements ScriptHutRuntime {
  readonly events: RuntimeEvents;
  private readonly emitter = new EventEmitter();
  private readonly externalJobs = new Map<string, { at: number; jobs: ExternalJob[] }>();
  private externalTimer: NodeJS.Timeout | null = null;
  private lastJobsQueryAt = 0;
  private started = false;
  /** Backend types the config was validated with (installed + `SCRIPTHUT_PLUGINS` and the `plugins` option). */
  private backendTypes: BackendRegistry | undefined;
  /** Modules of third-party backend types (reloads load them again). */
  private plugins: readonly string[] = [];

  private constructor(
    private config: ScriptHutConfig,
    readonly configSource: ScriptHutRuntime['configSource'],
    private configText: string | null,
    readonly dataDir: string,
    readonly store: RunStore,
    private readonly built: BuiltBackend[],
    readonly engine: Engine,
    private readonly lock: EngineLock | null,
    private readonly sources: SourceCatalog,
    private priceBook: PriceBook | null,
    private readonly log: NonNullable<CreateRuntimeOptions['logger']>,
    /** True for a runtime created with `readOnly` (no engine, store opened read-only). */
    readonly readOnly: boolean,
    /** Server-level env rules as the backends' submissions see them (updated on reload). */
    private readonly serverRules: { current: ServerEnvRules },
  ) {
    this.events = this.emitter as unknown as RuntimeEvents;
    for (const event of ['task', 'run', 'poll', 'run-created', 'run-deleted'] as const) {
      (this.engine.events as unknown as EventEmitter).on(event, (payload: unknown) =>
        this.emitter.emit(event, this.redactEvent(event, payload)),
      );
    }
    this.emitter.setMaxListeners(1000);
    this.hub = new NotificationHub((e) => this.emitter.emit('notification', e));
    this.engine.events.on('task', (e) => {
      if (e.task.state === 'failed') this.hub.onTask(e, this.store.getRun(e.runId)?.workflowName ?? e.runId);
    });
    this.engine.events.on('run', (e) => {
      this.hub.onRun(e.summary);
      if (e.summary.status !== 'running' && e.summary.status !== 'pending') this.webhook?.kick();
    });
  }

  /** UI notifications (run finished, task failed). */
  private readonly hub: NotificationHub;
  /** The `settings.notify_url` webhook (only while the engine runs). */
  private webhook: WebhookNotifier | null = null;

  /** Environment snapshots of recent runs, for redacting task events without a store read each. */
  private readonly runEnvironments = new Map<string, RunRecord['environments']>();

  private environmentsOf(runId: string): RunRecord['environments'] {
    const cached = this.runEnvironments.get(runId);
    if (cached) return cached;
    const envs = this.store.getRun(runId)?.environments;
    if (!envs) return {}; // not stored (yet): never cache a guess
    if (this.runEnvironments.size >= 1000) this.runEnvironments.clear();
    this.runEnvironments.set(runId, envs);
    return envs;
  }

  /** Event payloads leave the runtime with secret values redacted, like every other view. */
  private redactEvent(event: string, payload: unknown): unknown {
    switch (event) {
      case 'task': {
        const p = payload as { runId: string; task: TaskRecord };
        return { ...p, task: redactTask(p.task, this.environmentsOf(p.runId)) };
      }
      case 'run': {
        const p = payload as { summary: RunSummary };
        return { ...p, summary: redactSummary(p.summary) };
      }
      case 'run-created': {
        const p = payload as { run: RunRecord };
        this.runEnvironments.set(p.run.id, p.run.environments);
        return { ...p, run: redactRun(p.run) };
      }
      case 'run-deleted':
        this.runEnvironments.delete((payload as { runId: string }).runId);
        return payload;
      default:
        return payload;
    }
  }

  /** Build a runtime (does not start polling; call {@link start}). */
  static async create(options: CreateRuntimeOptions = {}): Promise<Runtime> {
    const log = options.logger ?? {
      info: (m: string) => process.stderr.write(`[scripthut] ${m}\n`),
      warn: (m: string) => process.stderr.write(`[scripthut] warning: ${m}\n`),
      error: (m: string) => process.stderr.write(`[scripthut] error: ${m}\n`),
    };
    const plugins = options.plugins ?? pluginsFromEnv();
    const loaded = await loadConfig({
      ...(options.configPath ? { path: options.configPath } : {}),
      cwd: options.cwd ?? process.cwd(),
      plugins,
    });
    for (const w of loaded.warnings) log.warn(formatIssue(w));
    const config = loaded.config;
    const dataDir = options.dataDir ?? process.env.SCRIPTHUT_DATA_DIR ?? config.settings.data_dir;
    const readOnly = options.readOnly === true;
    try {
      // 0700 when created: runs, logs paths and the auth token are nobody else's business
      if (!readOnly) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new ScriptHutError(
        'store_error',
        `cannot create data directory ${dataDir}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const configPath = loaded.source === 'file' ? loaded.path : null;
    const lock =
      options.lock === false || readOnly
        ? null
        : new EngineLock(dataDir, { role: options.role ?? 'embedded', configPath });
    lock?.acquire();
    try {
      const dbPath = join(dataDir, 'scripthut.db');
      const store = readOnly
        ? openSqliteStore(
            existsSync(dbPath) ? dbPath : ':memory:',
            existsSync(dbPath) ? { readonly: true } : {},
          )
        : openSqliteStore(dbPath);
      const serverRules = { current: config as ServerEnvRules };
      // partition_map and env rules for tasks that did not get them at run creation (generates_source)
      const built = (
        await buildBackends(config.backends, {
          dataDir,
          warn: (m) => log.warn(m),
          secretEnvNames: [...new Set(config.environments.flatMap((e) => e.secret_variables))],
          registry: loaded.backends,
        })
      ).map((b) =>
        b.backend ? { ...b, backend: adaptBackend(b.backend, b.config, () => serverRules.current) } : b,
      );
      const pollIntervalMs = options.pollIntervalMs ?? config.settings.poll_interval * 1000;
      const engine = new Engine({
        store,
        backends: built.flatMap((b) => (b.backend ? [b.backend] : [])),
        pollIntervalMs,
        ...(options.outputsGraceMs !== undefined ? { outputsGraceMs: options.outputsGraceMs } : {}),
        outputStore: store,
        arrays: Object.fromEntries(
          config.backends.flatMap((b) =>
            'array' in b ? [[b.name, { mode: b.array, minSize: b.array_min_size }] as const] : [],
          ),
        ),
        logger: {
          info: (m: string) => log.info(m),
          warn: (m: string) => log.warn(m),
          error: (m: string) => log.error(m),
        },
      });
      const sourcesCacheDir =
        options.dataDir || process.env.SCRIPTHUT_DATA_DIR
          ? join(dataDir, 'sources')
          : config.settings.sources_cache_dir;
      const sources = new SourceCatalog(sourcesCacheDir, {
        stateFile: join(dataDir, 'sources.json'),
        persist: !readOnly,
      });
      const priceBook = config.pricing
        ? createPriceBook({
            region: config.pricing.region,
            priceType: config.pricing.price_type,
            partitions: config.pricing.partitions,
            ...(config.pricing.price_source ? { source: config.pricing.price_source } : {}),
            cacheDir: dataDir,
            cacheHours: config.pricing.cache_hours,
          })
        : null;
      const source: ScriptHutRuntime['configSource'] =
        loaded.source === 'file' ? { kind: 'file', path: loaded.path } : { kind: 'default' };
      const text = loaded.source === 'file' ? await readFile(loaded.path, 'utf8') : DEFAULT_CONFIG_YAML;
      const runtime = new Runtime(
        config,
        source,
        text,
        dataDir,
        store,
        built,
        engine,
        lock,
        sources,
        priceBook,
        log,
        readOnly,
        serverRules,
      );
      runtime.backendTypes = loaded.backends;
      runtime.plugins = plugins;
      return runtime;
    } catch (e) {
      lock?.release();
      throw e;
    }
  }

  /** Directory of the config file (null for the embedded default). */
  private configDir(): string | null {
    return this.configSource.kind === 'file' ? dirname(this.configSource.path) : null;
  }

  get settings(): ScriptHutRuntime['settings'] {
    const s = this.config.settings;
    return {
      server_host: s.server_host,
      server_port: s.server_port,
      poll_interval: s.poll_interval,
      filter_user: s.filter_user ?? null,
      auth_token: s.auth_token ?? null,
      data_dir: this.dataDir,
      allowed_hosts: s.allowed_hosts ?? [],
      tls_cert: s.tls_cert ?? null,
      tls_key: s.tls_key ?? null,
    };
  }

  /** Record the URL the server listens on (lets CLIs find it through the engine lock). */
  setServerUrl(url: string): void {
    this.lock?.setServerUrl(url);
  }

  async start(): Promise<void> {
    if (this.started) return;
    if (this.readOnly) {
      throw new ScriptHutError('conflict', 'a read-only runtime cannot start an engine');
    }
    if (this.closing) throw new ScriptHutError('conflict', 'the runtime is closed');
    this.started = true;
    await this.engine.start();
    void this.loadPrices().then((r) => {
      // Logged for the server's log only; cost views show the reason where a cost is shown.
      if (!r.ok && this.priceBook) this.log.info(`pricing unavailable: ${r.reason}`);
    });
    const interval = Math.max(this.config.settings.poll_interval * 1000 * 2, 10_000);
    this.externalTimer = setInterval(() => void this.refreshExternalJobs(), interval);
    this.externalTimer.unref();
    this.webhook = new WebhookNotifier({
      outbox: this.store as unknown as RunNotificationOutbox,
      url: () => this.config.settings.notify_url ?? null,
      summary: (runId) => this.store.summarizeRun(runId),
      log: this.log,
    });
    this.webhook.start();
    // Retention: once at start, then hourly (reads the setting each time: it reloads live).
    this.runRetention();
    this.retentionTimer = setInterval(() => this.runRetention(), RETENTION_INTERVAL_MS);
    this.retentionTimer.unref();
  }

  private retentionTimer: NodeJS.Timeout | null = null;

  /** Delete finished runs older than `settings.retention_days` (see retention.ts). */
  runRetention(nowMs: number = Date.now()): string[] {
    if (!this.readOnly)
      pruneExpiredForgottenJobs(
        this.store,
        this.config.settings.retention_days ?? 30,
        nowMs,
        this.forgottenJobs,
        this.log,
      );
    try {
      return sweepRetention(
        {
          store: this.store,
          deleteRun: (id) => this.engine.deleteRun(id),
          backendType: (name) => this.built.find((b) => b.config.name === name)?.config.type ?? null,
          log: this.log,
          now: () => nowMs,
        },
        this.config.settings.retention_days ?? 30,
      );
    } catch (e) {
      this.log.warn(`retention sweep failed: ${(e as Error).message}`);
      return [];
    }
  }

  private closing: Promise<void> | null = null;

  /**
   * Stop the engine and release everything. Prompt even when a backend is unreachable: in-flight
   * work gets {@link CLOSE_GRACE_MS} to finish on its own, then the backends are closed, which
   * aborts their pending network waits (an SSH connect or backoff, a scheduler call), so the
   * engine's in-flight calls end at once; a submission cut short this way is adopted by its tag on
   * the next start. Safe to call twice (the second call waits for the first).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.externalTimer) clearInterval(this.externalTimer);
      if (this.retentionTimer) clearInterval(this.retentionTimer);
      const webhookStopped = this.webhook?.stop();
      const stopped = this.engine.stop();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        stopped,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
      await Promise.all(this.built.map((b) => b.backend?.close().catch(() => undefined)));
      await stopped;
      await webhookStopped;
      this.store.close();
      this.lock?.release();
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- backends

  private builtBackend(name: string): BuiltBackend {
    const b = this.built.find((x) => x.config.name === name);
    if (!b)
      throw notFound(
        'backend',
        name,
        this.built.map((x) => x.config.name),
        'scripthut backend list',
      );
    return b;
  }

  private backend(name: string): Backend {
    const b = this.builtBackend(name);
    if (!b.backend)
      throw new ScriptHutError('backend_unavailable', `backend "${name}" is unavailable: ${b.error}`);
    return b.backend;
  }

  private view(b: BuiltBackend): BackendView {
    const state = b.backend ? this.engine.backendState(b.config.name) : null;
    return {
      name: b.config.name,
      type: b.config.type,
      maxConcurrent:
        b.backend?.maxConcurrent ?? ('max_concurrent' in b.config ? (b.config.max_concurrent ?? 0) : 0),
      health: b.backend
        ? b.backend.health()
        : { connected: false, lastError: b.error, endpoint: b.config.type },
      lastPollAt: state?.lastPollAt ?? null,
      lastPollDurationMs: state?.lastPollDurationMs ?? null,
      lastError: state?.lastError ?? b.error,
      inFlight: state?.inFlight ?? 0,
      clusterInfo: state?.clusterInfo ?? null,
      clusterInfoAt: state?.clusterInfoAt ?? null,
    };
  }

  listBackends(): BackendView[] {
    return this.built.map((b) => this.view(b));
  }

  getBackend(name: string): BackendDetail {
    const b = this.builtBackend(name);
    return { ...this.view(b), commandLog: b.backend?.commandLog?.() ?? [] };
  }

  // ---------------------------------------------------------------- terminals

  /**
   * Opens a terminal on SSH backend `backendName` (see `terminals.ts` for the kinds). Only where
   * ScriptHut already runs commands: Slurm and PBS backends over the built-in SSH connection.
   */
  async openTerminal(backendName: string, request: TerminalRequest): Promise<OpenedTerminal> {
    const backend = this.backend(backendName);
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
    const { run } = this.getRun(target.runId);
    if (run.backendName !== backendName)
      throw new ScriptHutError(
        'conflict',
        `run ${run.id} ran on backend "${run.backendName}", not "${backendName}"`,
      );
    const task = this.getTask(run.id, target.taskId);
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

  // ---------------------------------------------------------------- the user's other jobs

  /** Finished jobs hidden from {@link listJobs} (`backend:jobId`), loaded from the store on first use. */
  private forgottenJobsOf: Set<string> | null = null;
  private get forgottenJobs(): Set<string> {
    this.forgottenJobsOf ??= loadForgottenJobs(this.store, this.log);
    return this.forgottenJobsOf;
  }

  /** An external job of the jobs list (not a ScriptHut task) and whether it is the SSH user's own. */
  private externalJob(backendName: string, jobId: string): { job: ExternalJob; own: boolean } {
    const b = this.builtBackend(backendName);
    const job = this.externalJobs.get(backendName)?.jobs.find((j) => j.jobId === jobId);
    if (!job)
      throw new ScriptHutError(
        'not_found',
        `job ${jobId} is not in the jobs list of backend "${backendName}"`,
      );
    if (this.listJobs({ backend: backendName }).some((r) => r.kind === 'task' && r.jobId === jobId))
      throw new ScriptHutError('conflict', `job ${jobId} is a ScriptHut task: cancel its run instead`);
    const me = 'ssh' in b.config ? b.config.ssh.user : null;
    return { job, own: me !== null && job.user === me };
  }

  /** Cancels one of the user's own jobs that ScriptHut did not start (scancel / qdel). */
  async cancelExternalJob(backendName: string, jobId: string): Promise<void> {
    const { job, own } = this.externalJob(backendName, jobId);
    if (!own) throw new ScriptHutError('conflict', `job ${jobId} belongs to ${job.user}, not to you`);
    if (isTerminalJobState(job.state)) throw new ScriptHutError('conflict', `job ${jobId} has already ended`);
    await this.backend(backendName).cancel([
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
  forgetJob(backendName: string, jobId: string): void {
    this.builtBackend(backendName);
    const row = this.listJobs({ backend: backendName }).find((r) => r.jobId === jobId);
    if (!row)
      throw new ScriptHutError(
        'not_found',
        `job ${jobId} is not in the jobs list of backend "${backendName}"`,
      );
    const ended = ['completed', 'failed', 'cancelled', 'dep_failed', 'timeout', 'out_of_memory', 'node_fail'];
    if (!ended.includes(row.state))
      throw new ScriptHutError(
        'conflict',
        `job ${jobId} is ${row.state}: only finished jobs can be forgotten`,
      );
    forgottenJobStore(this.store).forgetJob(backendName, jobId, new Date().toISOString());
    this.forgottenJobs.add(`${backendName}:${jobId}`);
  }

  // ---------------------------------------------------------------- debug sessions

  private debugStoreOf: DebugSessionStore | null = null;
  private get debugStore(): DebugSessionStore {
    this.debugStoreOf ??= new DebugSessionStore(this.dataDir);
    return this.debugStoreOf;
  }

  /** Submits a debug job of a task (see `debug-jobs.ts`); it is linked to the task, not part of the run. */
  async debugTask(runId: string, taskId: string): Promise<DebugSessionView> {
    const { run } = this.summary(runId);
    const task = this.store.getTask(run.id, taskId);
    if (!task) throw new ScriptHutError('not_found', `run ${run.id} has no task "${taskId}"`);
    const session = await submitDebugJob(this.backend(run.backendName), run, task);
    this.debugStore.save(session);
    return { ...session, state: 'pending', node: null, exitCode: null };
  }

  /**
   * The debug jobs of a task with their scheduler state: one batched status query for all of them
   * (made only when asked, e.g. by the task page).
   */
  async debugSessions(runId: string, taskId: string): Promise<DebugSessionView[]> {
    const { run } = this.summary(runId);
    const list = this.debugStore.forTask(run.id, taskId);
    if (list.length === 0) return [];
    let statuses = new Map<string, { state: string; node?: string | null; exitCode?: number | null }>();
    try {
      statuses = await this.backend(run.backendName).status(list.map(debugTrackedJob));
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
    const backend = this.backend(view.backend);
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
    this.debugStore.save(released);
    return { ...view, releasedAt: released.releasedAt };
  }

  // ---------------------------------------------------------------- workflows

  /** Configured workflows, then the workflow files of every synced source (`<source>/<file>`). */
  listWorkflows(): WorkflowView[] {
    const configured = this.config.workflows.map((w) => ({
      kind: 'workflow' as const,
      name: w.name,
      backend: w.backend,
      description: w.description ?? '',
      maxConcurrent: w.max_concurrent ?? null,
      git: w.git ? { repo: w.git.repo, branch: w.git.branch } : null,
    }));
    return [...configured, ...this.listSources().flatMap((s) => s.workflows)];
  }

  private knownEnvironments(): string[] {
    return this.config.environments.map((e) => e.name);
  }

  private parseTasks(
    text: string,
    label: string,
  ): { tasks: TaskSpec[]; warnings: Issue[]; envRules: DocumentEnvRules } {
    return parseTaskDocumentWithEnv(text, { knownEnvironments: this.knownEnvironments(), source: label });
  }

  /** The run's tasks with partition_map and env rules applied (see task-env.ts). */
  private readyTasks(p: PreparedRun) {
    const environments = environmentsSnapshot(this.config.environments);
    const ready = prepareRunTasks(p.tasks, {
      backend: this.builtBackend(p.backendName).config,
      server: this.config,
      document: p.envRules,
      environments,
      workflowName: p.workflowName,
      git: p.git,
    });
    return { ...ready, warnings: [...p.warnings, ...ready.warnings] };
  }

  private async prepareWorkflow(name: string, options: RunOptions): Promise<PreparedRun> {
    const wf = this.config.workflows.find((w) => w.name === name);
    if (!wf)
      throw notFound(
        'workflow',
        name,
        this.config.workflows.map((w) => w.name),
        'scripthut workflow list',
      );
    const backendName = options.backend ?? wf.backend;
    checkGitOverride(options, wf.git ? null : `workflow "${name}" is not a git workflow`);
    const runner = this.backend(backendName).commandRunner();
    let cwd: string | undefined;
    let git: GitContext | null = null;
    if (wf.git) {
      const clone = await prepareClone(runner, {
        repo: wf.git.repo,
        branch: options.branch ?? wf.git.branch,
        deployKey: wf.git.deploy_key ?? null,
        cloneDir: wf.git.clone_dir,
        postclone: wf.git.postclone ?? null,
        ...(options.commit ? { commit: options.commit } : {}),
      });
      cwd = clone.path;
      git = {
        repo: wf.git.repo,
        branch: options.branch ?? wf.git.branch,
        sha: clone.sha,
        cloneDir: clone.path,
      };
    }
    // A local generator runs next to its config file (`command: python gen.py` finds gen.py),
    // whatever directory the control plane was started from.
    // (Tasks' working directories are not affected: they default to the clone, else $HOME.)
    const generatorCwd = cwd ?? (runner.remote ? undefined : (this.configDir() ?? undefined));
    const parsed = await generateTasks(
      runner,
      wf.command,
      {
        ...(generatorCwd ? { cwd: generatorCwd } : {}),
        ...(git
          ? {
              env: {
                SCRIPTHUT_GIT_REPO: git.repo,
                SCRIPTHUT_GIT_BRANCH: git.branch,
                SCRIPTHUT_GIT_SHA: git.sha,
              },
            }
          : {}),
        label: `workflow "${name}"`,
      },
      (stdout) => this.parseTasks(stdout, `workflow "${name}"`),
    );
    return {
      workflowName: wf.name,
      backendName,
      origin: { kind: 'workflow', name: wf.name },
      tasks: parsed.tasks,
      maxConcurrent: options.maxConcurrent ?? wf.max_concurrent ?? null,
      baseDir: cwd ?? null,
      git,
      warnings: parsed.warnings,
      envRules: parsed.envRules,
    };
  }

  private async createFromPrepared(p: PreparedRun): Promise<RunSummary> {
    const backend = this.builtBackend(p.backendName);
    if (!backend.backend)
      throw new ScriptHutError(
        'backend_unavailable',
        `backend "${p.backendName}" is unavailable: ${backend.error}`,
      );
    const ready = this.readyTasks(p);
    for (const w of ready.warnings) this.log.warn(`${p.workflowName}: ${w.path}: ${w.message}`);
    const run = this.engine.createRun({
      workflowName: p.workflowName,
      backendName: p.backendName,
      origin: p.origin,
      tasks: ready.tasks,
      maxConcurrent: p.maxConcurrent,
      baseDir: p.baseDir,
      git: p.git,
      environments: ready.environments,
      ...(p.resume ? { resume: true } : {}),
      ...arrayModeInput(this.config, p.origin),
    });
    return this.getRun(run.id);
  }

  private async dryRunFrom(p: PreparedRun): Promise<DryRunResult> {
    const backend = this.backend(p.backendName);
    const ready = this.readyTasks(p);
    const preview = previewRun(
      backend,
      {
        workflowName: p.workflowName,
        backendName: p.backendName,
        origin: p.origin,
        tasks: ready.tasks,
        maxConcurrent: p.maxConcurrent,
        baseDir: p.baseDir,
        git: p.git,
        environments: ready.environments,
      },
      await this.dryRunArrays(backend, p.backendName, p.origin),
    );
    // --resume: which tasks would be reused (one input-hashing and one output-check command)
    const plans = p.resume
      ? await planReuse(
          backend,
          this.store,
          {
            id: 'dryrun00',
            workflowName: p.workflowName,
            backendName: p.backendName,
            origin: p.origin,
            createdAt: new Date().toISOString(),
            maxConcurrent: p.maxConcurrent,
            logDir: preview.logDir,
            baseDir: p.baseDir,
            git: p.git,
            cancelRequestedAt: null,
            environments: ready.environments,
            resume: true,
          },
          ready.tasks,
        )
      : null;
    const arrayMode = backend.arrays ? runArrayMode(this.config, p.backendName, p.origin) : null;
    return {
      workflowName: p.workflowName,
      backendName: p.backendName,
      git: p.git,
      logDir: preview.logDir,
      ...(arrayMode ? { arrays: arrayMode } : {}),
      // the scripts a run would submit, with secret values shown as ***
      tasks: preview.tasks.map((t, i) => {
        const { spec, script } = redactSpecAndScript(t.task, t.script, ready.environments);
        return {
          ...t,
          task: spec,
          script,
          environment: ready.views[i]!,
          ...(plans ? { cache: plans[i]! } : {}),
        };
      }),
      warnings: ready.warnings,
      estimate: await this.estimateTasks(ready.tasks),
    };
  }

  /** Array grouping of a dry run: null when the backend has no arrays or the run's mode is `off`. */
  private async dryRunArrays(
    backend: Backend,
    backendName: string,
    origin: RunOrigin,
  ): Promise<{ minSize: number; maxSize: number } | null> {
    const config = this.config.backends.find((b) => b.name === backendName);
    if (!backend.arrays || !config || !('array' in config)) return null;
    if (runArrayMode(this.config, backendName, origin)?.mode !== 'auto') return null;
    try {
      return { minSize: config.array_min_size, maxSize: await backend.arrays.maxSize() };
    } catch (e) {
      this.log.warn(
        `dry run: cannot read the array limit of backend ${backendName}: ${(e as Error).message}`,
      );
      return null;
    }
  }

  async dryRunWorkflow(name: string, options: RunOptions = {}): Promise<DryRunResult> {
    return this.dryRunFrom({
      ...(await this.prepareWorkflow(name, options)),
      resume: options.resume === true,
    });
  }

  async runWorkflow(name: string, options: RunOptions = {}): Promise<RunSummary> {
    return this.createFromPrepared({
      ...(await this.prepareWorkflow(name, options)),
      resume: options.resume === true,
    });
  }

  // ---------------------------------------------------------------- sources

  private sourceConfig(name: string) {
    const s = this.config.sources.find((x) => x.name === name);
    if (!s)
      throw notFound(
        'source',
        name,
        this.config.sources.map((x) => x.name),
        'scripthut source list',
      );
    return s;
  }

  private sourceView(name: string, discovered: DiscoveredSource | undefined): SourceView {
    const s = this.sourceConfig(name);
    return {
      name: s.name,
      type: s.type,
      backend: s.backend,
      location: s.type === 'git' ? s.url : s.path,
      branch: s.type === 'git' ? s.branch : null,
      lastSyncAt: discovered?.syncedAt ?? null,
      commit: discovered?.commit ?? null,
      error: discovered?.error ?? null,
      warnings: discovered?.warnings ?? [],
      workflows: (discovered?.files ?? []).map((f) => ({
        kind: 'source' as const,
        name: `${s.name}/${f.file}`,
        backend: s.backend,
        description: f.title ?? '',
        maxConcurrent: null,
        git: s.type === 'git' ? { repo: s.url, branch: s.branch } : null,
        source: s.name,
        file: f.file,
      })),
    };
  }

  listSources(): SourceView[] {
    return this.config.sources.map((s) => this.sourceView(s.name, this.sources.get(s.name)));
  }

  async syncSource(name: string): Promise<SourceView> {
    const s = this.sourceConfig(name);
    const discovered =
      s.type === 'git'
        ? await this.sources.syncGit(s)
        : await this.sources.discoverPath(s, this.backend(s.backend).commandRunner());
    return this.sourceView(name, discovered);
  }

  private async prepareSource(source: string, file: string, options: RunOptions): Promise<PreparedRun> {
    const s = this.sourceConfig(source);
    checkGitOverride(options, s.type === 'git' ? null : `source "${source}" is a path source, not git`);
    const backendName = options.backend ?? s.backend;
    const runner = this.backend(backendName).commandRunner();
    if (s.type === 'git' && (options.branch !== undefined || options.commit !== undefined)) {
      const at = await checkoutSourceOverride(runner, s, file, options);
      const parsed = this.parseTasks(at.text, `${source}/${file}`);
      return {
        workflowName: `${source}/${
          file
            .replace(/\.json$/, '')
            .split('/')
            .pop() ?? file
        }`,
        backendName,
        origin: { kind: 'source', source, file },
        tasks: parsed.tasks,
        maxConcurrent: options.maxConcurrent ?? null,
        baseDir: at.clonePath,
        git: at.git,
        warnings: parsed.warnings,
        envRules: parsed.envRules,
      };
    }
    const discovered =
      s.type === 'git'
        ? await this.sources.syncGit(s)
        : await this.sources.discoverPath(s, this.backend(s.backend).commandRunner());
    const entry = discovered.files.find((f) => f.file === file);
    if (!entry) {
      throw notFound(
        'workflow file',
        file,
        discovered.files.map((f) => f.file),
        `scripthut source sync ${source}`,
      );
    }
    const stem =
      file
        .replace(/\.json$/, '')
        .split('/')
        .pop() ?? file;
    if (s.type === 'git') {
      const text = await readFile(join(discovered.localDir!, file), 'utf8');
      const parsed = this.parseTasks(text, `${source}/${file}`);
      const clone = await prepareClone(runner, {
        repo: s.url,
        branch: s.branch,
        deployKey: s.deploy_key ?? null,
        cloneDir: s.clone_dir,
        postclone: s.postclone ?? null,
        // Clone exactly the commit the workflow file was read from.
        commit: discovered.commit,
      });
      return {
        workflowName: `${source}/${stem}`,
        backendName,
        origin: { kind: 'source', source, file },
        tasks: parsed.tasks,
        maxConcurrent: options.maxConcurrent ?? null,
        baseDir: clone.path,
        git: { repo: s.url, branch: s.branch, sha: clone.sha, cloneDir: clone.path },
        warnings: parsed.warnings,
        envRules: parsed.envRules,
      };
    }
    // The file lives on the source's own backend, whichever backend the run goes to.
    const sourceRunner = this.backend(s.backend).commandRunner();
    const text = await runGeneratorCommand(sourceRunner, `cat ${shellQuotePath(posix.join(s.path, file))}`, {
      label: `source "${source}" file ${file}`,
    });
    const parsed = this.parseTasks(text, `${source}/${file}`);
    return {
      workflowName: `${source}/${stem}`,
      backendName,
      origin: { kind: 'source', source, file },
      tasks: parsed.tasks,
      maxConcurrent: options.maxConcurrent ?? null,
      baseDir: s.path,
      git: null,
      warnings: parsed.warnings,
      envRules: parsed.envRules,
    };
  }

  async dryRunSourceWorkflow(source: string, file: string, options: RunOptions = {}): Promise<DryRunResult> {
    return this.dryRunFrom({
      ...(await this.prepareSource(source, file, options)),
      resume: options.resume === true,
    });
  }

  async runSourceWorkflow(source: string, file: string, options: RunOptions = {}): Promise<RunSummary> {
    return this.createFromPrepared({
      ...(await this.prepareSource(source, file, options)),
      resume: options.resume === true,
    });
  }

  // ---------------------------------------------------------------- projects

  private projectConfig(name: string) {
    const p = this.config.projects.find((x) => x.name === name);
    if (!p)
      throw notFound(
        'project',
        name,
        this.config.projects.map((x) => x.name),
        'scripthut project list',
      );
    return p;
  }

  listProjects(): ProjectView[] {
    return this.config.projects.map((p) => ({
      name: p.name,
      backend: p.backend,
      path: p.path,
      description: p.description ?? '',
      maxConcurrent: p.max_concurrent ?? null,
    }));
  }

  async listProjectWorkflows(project: string): Promise<WorkflowView[]> {
    const p = this.projectConfig(project);
    const runner = this.backend(p.backend).commandRunner();
    const out = await runGeneratorCommand(
      runner,
      `cd ${shellQuotePath(p.path)} && find . -name ${shellQuote(PROJECT_FILE)} -type f -not -path '*/.git/*' | LC_ALL=C sort`,
      { label: `project "${project}" discovery` },
    );
    return out
      .split('\n')
      .map((l) => l.trim().replace(/^\.\//, ''))
      .filter(Boolean)
      .map((file) => ({
        kind: 'project' as const,
        name: `${p.name}/${file}`,
        backend: p.backend,
        description: p.description ?? '',
        maxConcurrent: p.max_concurrent ?? null,
        git: null,
        project: p.name,
        file,
      }));
  }

  private async prepareProject(project: string, file: string, options: RunOptions): Promise<PreparedRun> {
    const p = this.projectConfig(project);
    checkGitOverride(options, null);
    if (options.branch !== undefined || options.commit !== undefined) {
      const at = await checkoutProjectOverride(this.backend(p.backend).commandRunner(), p, file, options);
      const parsed = this.parseTasks(at.text, `${project}/${file}`);
      const dir = posix.dirname(file);
      return {
        workflowName: dir === '.' ? p.name : `${p.name}/${dir}`,
        backendName: options.backend ?? p.backend,
        origin: { kind: 'project', project, file },
        tasks: parsed.tasks,
        maxConcurrent: options.maxConcurrent ?? p.max_concurrent ?? null,
        baseDir: posix.dirname(posix.join(at.clonePath, file)),
        git: at.git,
        warnings: parsed.warnings,
        envRules: parsed.envRules,
      };
    }
    const known = await this.listProjectWorkflows(project);
    if (!known.some((w) => w.file === file)) {
      throw notFound(
        'project workflow',
        file,
        known.map((w) => w.file!),
        `scripthut project list`,
      );
    }
    const runner = this.backend(p.backend).commandRunner();
    const path = posix.join(p.path, file);
    const text = await runGeneratorCommand(runner, `cat ${shellQuotePath(path)}`, {
      label: `project "${project}" ${file}`,
    });
    const parsed = this.parseTasks(text, `${project}/${file}`);
    const dir = posix.dirname(file);
    return {
      workflowName: dir === '.' ? p.name : `${p.name}/${dir}`,
      backendName: options.backend ?? p.backend,
      origin: { kind: 'project', project, file },
      tasks: parsed.tasks,
      maxConcurrent: options.maxConcurrent ?? p.max_concurrent ?? null,
      baseDir: posix.dirname(path),
      git: null,
      warnings: parsed.warnings,
      envRules: parsed.envRules,
    };
  }

  async dryRunProjectWorkflow(
    project: string,
    file: string,
    options: RunOptions = {},
  ): Promise<DryRunResult> {
    return this.dryRunFrom({
      ...(await this.prepareProject(project, file, options)),
      resume: options.resume === true,
    });
  }

  async runProjectWorkflow(project: string, file: string, options: RunOptions = {}): Promise<RunSummary> {
    return this.createFromPrepared({
      ...(await this.prepareProject(project, file, options)),
      resume: options.resume === true,
    });
  }

  // ---------------------------------------------------------------- ad-hoc

  async runAdhocTask(input: AdhocTaskInput): Promise<RunSummary> {
    // The run name is shown and put in URLs like a task id: it must be valid Unicode text.
    const runNameProblem = input.runName === undefined ? null : unicodeProblem(input.runName);
    if (runNameProblem)
      throw new ScriptHutError('validation_failed', `runName ${runNameProblem}`, {
        issues: [{ path: 'runName', message: runNameProblem, severity: 'error' }],
      });
    const id = input.id ?? `adhoc-${Math.random().toString(16).slice(2, 10)}`;
    const doc = {
      tasks: [
        {
          id,
          name: input.name ?? id,
          command: input.command,
          ...(input.cpus !== undefined ? { cpus: input.cpus } : {}),
          ...(input.memory ? { memory: input.memory } : {}),
          ...(input.timeLimit ? { time_limit: input.timeLimit } : {}),
          ...(input.partition ? { partition: input.partition } : {}),
          ...(input.gres ? { gres: input.gres } : {}),
          ...(input.workingDir ? { working_dir: input.workingDir } : {}),
          ...(input.image ? { image: input.image } : {}),
          ...(input.env ? { env_vars: input.env } : {}),
        },
      ],
    };
    const parsed = parseTaskDocument(doc, {
      knownEnvironments: this.knownEnvironments(),
      source: 'task run',
    });
    this.builtBackend(input.backend);
    return this.createFromPrepared({
      workflowName: input.runName ?? `_adhoc/${id}`,
      backendName: input.backend,
      origin: { kind: 'adhoc' },
      tasks: parsed.tasks,
      maxConcurrent: null,
      baseDir: null,
      git: null,
      warnings: parsed.warnings,
      envRules: noDocumentRules(),
    });
  }

  // ---------------------------------------------------------------- runs & tasks

  listRuns(query: RunQuery = {}): { items: RunSummary[]; total: number } {
    const page = this.store.listRuns(query);
    return { ...page, items: page.items.map(redactSummary) };
  }

  /**
   * The full id of the run `ref` names: the id itself, or a unique prefix of one (`1a2b` for
   * `1a2b3c4d`, as `docker` and `git` accept). An unknown id is `not_found`; a prefix that matches
   * several runs is `validation_failed` listing them (`details.candidates`).
   */
  resolveRunId(ref: string): string {
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

  getRun(runId: string): RunSummary {
    return redactSummary(this.summary(runId));
  }

  /** The stored summary, secrets included (internal use only: views go through {@link getRun}). */
  private summary(runId: string): RunSummary {
    const id = this.resolveRunId(runId);
    const s = this.store.summarizeRun(id);
    if (!s) throw new ScriptHutError('not_found', `unknown run "${runId}" (scripthut run list)`);
    return s;
  }

  listTasks(runId: string, query: TaskQuery = {}): { items: TaskRecord[]; total: number } {
    const { run } = this.summary(runId);
    const page = this.store.listTasks(run.id, query);
    return { ...page, items: page.items.map((t) => redactTask(t, run.environments)) };
  }

  getTask(runId: string, taskId: string): TaskRecord {
    const { run } = this.summary(runId);
    const t = this.store.getTask(run.id, taskId);
    if (!t) throw new ScriptHutError('not_found', `run ${run.id} has no task "${taskId}"`);
    return redactTask(t, run.environments);
  }

  taskTransitions(runId: string, taskId: string): TaskTransition[] {
    const t = this.getTask(runId, taskId);
    return this.store.transitions(t.runId, taskId);
  }

  runActivity(runId: string): RunActivity {
    const { run } = this.summary(runId);
    const startTimes = this.store.taskStartTimes?.(run.id);
    const transitions = this.store.activityTransitions?.(run.id) ?? this.store.transitions(run.id);
    return runActivity(transitions, startTimes ? { startTimes } : {});
  }

  async cancelRun(runId: string): Promise<RunSummary> {
    return redactSummary(await this.engine.cancelRun(this.resolveRunId(runId)));
  }

  async rerunRun(runId: string, mode: RunRerunMode): Promise<RunSummary> {
    if (mode === 'new') return this.rerunAsNew(this.resolveRunId(runId));
    if (mode === 'in-place-all' || mode === 'in-place-failed') {
      const id = this.resolveRunId(runId);
      this.engine.rerunInPlace(id, mode === 'in-place-all' ? 'all' : 'failed');
      return this.getRun(id);
    }
    const run = this.engine.rerun(this.resolveRunId(runId), mode);
    return this.getRun(run.id);
  }

  /** `rerunRun(id, 'new')`: the generator again (at the run's commit for git workflows), a new run. */
  private async rerunAsNew(runId: string): Promise<RunSummary> {
    let run = this.store.getRun(runId);
    for (let hops = 0; run && run.origin.kind === 'rerun' && hops < 1000; hops++)
      run = this.store.getRun(run.origin.fromRunId);
    if (!run) throw new ScriptHutError('not_found', `the run ${runId} was rerun from no longer exists`);
    const base = { backend: run.backendName, maxConcurrent: run.maxConcurrent };
    const o = run.origin;
    if (o.kind === 'workflow')
      return this.runWorkflow(
        o.name,
        run.git ? { ...base, branch: run.git.branch, commit: run.git.sha } : base,
      );
    if (o.kind === 'source')
      return this.runSourceWorkflow(
        o.source,
        o.file,
        run.git ? { ...base, branch: run.git.branch, commit: run.git.sha } : base,
      );
    if (o.kind === 'project')
      return this.runProjectWorkflow(
        o.project,
        o.file,
        run.git ? { ...base, branch: run.git.branch, commit: run.git.sha } : base,
      );
    throw new ScriptHutError(
      'conflict',
      `run ${runId} was not created from a workflow, source or project (${o.kind}): nothing to generate again; use rerun all`,
    );
  }

  /** Delete a run (exact id only: no prefixes for deletion). */
  deleteRun(runId: string): void {
    if (!this.store.getRun(runId)) {
      throw new ScriptHutError('not_found', `unknown run "${runId}" (scripthut run list)`);
    }
    this.engine.deleteRun(runId);
  }

  async readTaskLog(
    runId: string,
    taskId: string,
    stream: 'stdout' | 'stderr',
    options: LogReadOptions = {},
  ): Promise<LogChunk> {
    const t = this.getTask(runId, taskId);
    return this.engine.readTaskLog(t.runId, taskId, stream, options);
  }

  // ---------------------------------------------------------------- outputs, notifications

  private get outputStore(): TaskOutputStore {
    return this.store as unknown as TaskOutputStore;
  }

  taskOutputs(runId: string, taskId: string): TaskOutputsView {
    const { run } = this.summary(runId);
    const task = this.getTask(run.id, taskId);
    return taskOutputsView(this.outputStore, run, task, this.builtBackendOrNull(run.backendName));
  }

  async readTaskOutputFile(runId: string, taskId: string, path: string): Promise<OutputFileContent> {
    const { run } = this.summary(runId);
    const task = this.getTask(run.id, taskId);
    return readTaskOutputFile(this.outputStore, run, task, this.builtBackendOrNull(run.backendName), path);
  }

  runSummary(runId: string): RunSummaryView {
    const { run } = this.summary(runId);
    return runSummaryView(this.outputStore, run, this.builtBackendOrNull(run.backendName));
  }

  notificationStats(): NotificationStats {
    return statsOf(
      this.engine.activeRunIds().flatMap((id) => {
        const s = this.engine.summary(id);
        return s ? [s] : [];
      }),
    );
  }

  private builtBackendOrNull(name: string): Backend | null {
    return this.built.find((b) => b.config.name === name)?.backend ?? null;
  }

  // ---------------------------------------------------------------- jobs

  /**
   * Lists the jobs ScriptHut did not start on every backend that can (the timer calls it while the
   * jobs table is being looked at), and prunes the forgotten jobs the scheduler no longer lists.
   */
  async refreshExternalJobs(): Promise<void> {
    // Only while someone looked at the jobs table in the last 5 minutes: no idle scheduler load.
    if (Date.now() - this.lastJobsQueryAt > 5 * 60_000) return;
    for (const b of this.built) {
      if (!b.backend?.externalJobs) continue;
      try {
        const startedAt = new Date().toISOString();
        const jobs = await b.backend.externalJobs(this.config.settings.filter_user ?? null);
        this.externalJobs.set(b.config.name, { at: Date.now(), jobs });
        if (!this.readOnly)
          pruneUnlistedForgottenJobs(
            this.store,
            b.config.name,
            jobs,
            startedAt,
            this.forgottenJobs,
            this.log,
          );
      } catch (e) {
        this.log.warn(`backend ${b.config.name}: listing external jobs failed: ${(e as Error).message}`);
      }
    }
  }

  usageBuckets(unit: 'day' | 'hour', sinceIso: string): UsageBucket[] {
    return this.store.usageBuckets(unit, sinceIso);
  }

  listJobs(query: JobQuery = {}): JobView[] {
    // A read never reaches a scheduler: it only marks interest, and the external-jobs timer
    // refreshes the cache on its next tick.
    this.lastJobsQueryAt = Date.now();
    const since = Date.now() - (query.recentHours ?? 12) * 3600_000;
    const rows: JobView[] = [];
    const owned = new Set<string>();
    const runs = this.store.listRuns({
      limit: 200,
      ...(query.backend ? { backend: query.backend } : {}),
    }).items;
    for (const summary of runs) {
      const { run } = summary;
      const tasks = this.store.listTasks(run.id, {
        states: ['submitting', 'submitted', 'queued', 'running', 'completed', 'failed', 'cancelled'],
        limit: 5000,
      }).items;
      for (const t of tasks) {
        if (t.finishedAt && Date.parse(t.finishedAt) < since) continue;
        if (t.jobId && this.forgottenJobs.has(`${run.backendName}:${t.jobId}`)) continue;
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
    const filterUser = this.config.settings.filter_user ?? null;
    for (const [backend, cached] of this.externalJobs) {
      if (query.backend && query.backend !== backend) continue;
      const sshConfig = this.built.find((b) => b.config.name === backend)?.config;
      const sshUser = sshConfig && 'ssh' in sshConfig ? sshConfig.ssh.user : null;
      for (const j of cached.jobs) {
        if (owned.has(`${backend}:${j.jobId}`) || this.forgottenJobs.has(`${backend}:${j.jobId}`)) continue;
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

  // ---------------------------------------------------------------- cost

  private pricesLoad: { at: number; result: ReturnType<PriceBook['load']> } | null = null;

  /**
   * Load price data at most once (a failure is retried after 10 minutes), so dry runs and cost
   * views do not re-read or re-fetch instances.json, or wait for a network timeout, every time.
   */
  private loadPrices(): ReturnType<PriceBook['load']> {
    if (!this.priceBook) return Promise.resolve({ ok: false, reason: 'pricing is not configured' });
    const stale = this.pricesLoad && Date.now() - this.pricesLoad.at > 10 * 60_000;
    if (!this.pricesLoad || stale) {
      const result = this.priceBook.load();
      this.pricesLoad = { at: Date.now(), result };
      void result.then((r) => {
        if (r.ok) this.pricesLoad = { at: Number.POSITIVE_INFINITY, result };
      });
    }
    return this.pricesLoad.result;
  }

  private async estimateTasks(tasks: TaskSpec[]): Promise<CostEstimate> {
    if (!this.priceBook) {
      return {
        available: false,
        reason: 'pricing is not configured',
        upperBound: null,
        costedTasks: 0,
        uncostedTasks: tasks.length,
        currency: 'USD',
      };
    }
    await this.loadPrices();
    const e = this.priceBook.estimate(
      tasks.map((t) => ({
        cpus: t.cpus,
        memoryMiB: t.memoryMiB,
        timeLimitSeconds: t.timeLimitSeconds,
        partition: t.partition,
      })),
    );
    const status = this.priceBook.status();
    return {
      available: e.upperBound !== null,
      reason:
        e.upperBound === null ? (status.reason ?? firstReason(e.reasons) ?? 'no task could be priced') : null,
      upperBound: e.upperBound,
      costedTasks: e.costedTasks,
      uncostedTasks: e.uncostedTasks,
      currency: 'USD',
    };
  }

  async runCost(runId: string): Promise<RunCost> {
    const summary = this.getRun(runId);
    runId = summary.run.id;
    if (!this.priceBook) {
      return {
        available: false,
        reason: 'pricing is not configured',
        total: null,
        costedTasks: 0,
        uncostedTasks: summary.total,
        currency: 'USD',
      };
    }
    const loaded = await this.loadPrices();
    if (!loaded.ok) {
      return {
        available: false,
        reason: loaded.reason,
        total: null,
        costedTasks: 0,
        uncostedTasks: summary.total,
        currency: 'USD',
      };
    }
    const tasks = this.store.allTasks(runId);
    const r = this.priceBook.runCost(
      tasks.map((t) => ({
        cpus: t.spec.cpus,
        memoryMiB: t.spec.memoryMiB,
        partition: t.spec.partition,
        runtimeSeconds:
          t.startedAt && t.finishedAt
            ? Math.max(0, (Date.parse(t.finishedAt) - Date.parse(t.startedAt)) / 1000)
            : null,
        ...(typeof t.meta.instanceType === 'string' ? { instanceType: t.meta.instanceType } : {}),
      })),
    );
    return {
      available: r.totalCost !== null,
      reason: r.totalCost === null ? (firstReason(r.reasons) ?? 'no task could be priced') : null,
      total: r.totalCost,
      costedTasks: r.costedTasks,
      uncostedTasks: r.uncostedTasks,
      currency: 'USD',
    };
  }

  async estimateWorkflow(
    kind: WorkflowView['kind'],
    name: string,
    options: RunOptions = {},
  ): Promise<CostEstimate> {
    const dry =
      kind === 'workflow'
        ? await this.dryRunWorkflow(name, options)
        : kind === 'source'
          ? await this.dryRunSourceWorkflow(name.split('/')[0]!, name.split('/').slice(1).join('/'), options)
          : await this.dryRunProjectWorkflow(
              name.split('/')[0]!,
              name.split('/').slice(1).join('/'),
              options,
            );
    return dry.estimate;
  }

  // ---------------------------------------------------------------- config

  configView(): { source: string; text: string | null; config: unknown } {
    return {
      source:
        this.configSource.kind === 'file'
          ? this.configSource.path
          : 'embedded default (no scripthut.yaml found)',
      text: this.configText === null ? null : redactConfigText(this.configText, this.config),
      config: redactConfig(this.config),
    };
  }

  validateConfigText(text: string): { issues: Issue[]; warnings: Issue[] } {
    const r = validateConfigText(
      text,
      this.configSource.kind === 'file' ? this.configSource.path : 'scripthut.yaml',
      this.backendTypes ? { backends: this.backendTypes } : {},
    );
    return { issues: r.issues, warnings: r.warnings };
  }

  async reloadConfig(): Promise<ConfigReloadResult> {
    if (this.configSource.kind !== 'file') {
      return {
        applied: false,
        live: [],
        restart: [],
        issues: [{ path: '', message: 'running on the embedded default; there is no file to reload' }],
      };
    }
    let loaded: Awaited<ReturnType<typeof loadConfig>>;
    try {
      loaded = await loadConfig({ path: this.configSource.path, plugins: this.plugins });
    } catch (e) {
      if (ScriptHutError.is(e)) return { applied: false, live: [], restart: [], issues: e.issues };
      throw e;
    }
    const diff = diffConfigs(this.config, loaded.config);
    // Apply what can be applied live; keep backends/pricing/poll interval until restart.
    this.config = {
      ...loaded.config,
      backends: this.config.backends,
      pricing: this.config.pricing,
      settings: { ...loaded.config.settings, poll_interval: this.config.settings.poll_interval },
    };
    this.serverRules.current = this.config;
    this.configText = await readFile(this.configSource.path, 'utf8');
    return { applied: true, live: diff.live, restart: diff.restart, issues: [] };
  }

  async saveConfigText(
    text: string,
    options: { baseHash?: string; dryRun?: boolean } = {},
  ): Promise<ConfigSaveResult> {
    if (this.configSource.kind !== 'file')
      throw new ScriptHutError(
        'config_not_found',
        'running on the embedded default: there is no config file to save; start with a file (save the text as scripthut.yaml in the directory you start ScriptHut from, or pass --config PATH)',
      );
    const path = this.configSource.path;
    const onDisk = await readFile(path, 'utf8');
    const shown = redactConfigText(onDisk, this.config);
    if (options.baseHash !== undefined && configTextHash(shown) !== options.baseHash)
      throw new ScriptHutError(
        'conflict',
        `${path} changed on disk since this text was loaded; reload the page to edit the current file`,
      );
    let full: string;
    try {
      full = restoreRedactedLines(text, onDisk, shown);
    } catch (e) {
      throw new ScriptHutError('validation_failed', `cannot save ${path}: ${(e as Error).message}`);
    }
    const { issues, warnings } = this.validateConfigText(full);
    if (issues.length > 0 || options.dryRun)
      return { saved: false, issues, warnings, backupPath: null, reload: null };
    const backupPath = await writeConfigFileAtomically(path, full);
    const reload = await this.reloadConfig();
    return { saved: true, issues: [], warnings, backupPath, reload };
  }

  /** Backend configs (for tools such as `setup-aws-ec2`). */
  backendConfigs(): BackendConfig[] {
    return this.config.backends;
  }
}

/**
 * Create a runtime from the config found by the documented lookup (or the embedded default).
 *
 * @example
 * ```ts
 * const runtime = await createRuntime({ cwd: process.cwd() });
 * await runtime.start();
 * const run = await runtime.runWorkflow('demo');
 * ```
 */
export function createRuntime(options: CreateRuntimeOptions = {}): Promise<Runtime> {
  return Runtime.create(options);
}
