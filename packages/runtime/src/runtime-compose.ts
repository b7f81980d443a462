/**
 * Composition of a runtime (`createRuntime`): the config (or the embedded default), the data
 * directory and its engine lock, the SQLite store at `<data_dir>/scripthut.db`, one backend per
 * config entry, the engine with one poll loop per backend, the sources cache and pricing.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_CONFIG_YAML, formatIssue, loadConfig } from '@scripthut/config';
import { Engine, type RunStore, ScriptHutError } from '@scripthut/core';
import { createPriceBook, type PriceBook } from '@scripthut/pricing';
import { openSqliteStore } from '@scripthut/store';
import { adaptBackend } from './backend-adapter.js';
import { type BuiltBackend, buildBackends } from './backends.js';
import { EngineLock, type EngineRole } from './lock.js';
import { RunLauncher } from './run-launcher.js';
import type { RunSourceContext } from './run-sources/index.js';
import { RuntimeBackends } from './runtime-backends.js';
import { LiveConfig } from './runtime-config.js';
import { CostCalculator } from './runtime-cost.js';
import { InteractiveAccess } from './runtime-debug.js';
import { JobsTable } from './runtime-jobs.js';
import { RunReads } from './runtime-runs.js';
import { SourceCatalog } from './sources.js';
import type { ServerEnvRules } from './task-env.js';
import type { ScriptHutRuntime } from './types.js';

/** `SCRIPTHUT_PLUGINS`: comma-separated modules that add backend types. */
function pluginsFromEnv(): string[] {
  return (process.env.SCRIPTHUT_PLUGINS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Options of `createRuntime`. */
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

/** What {@link composeRuntime} builds: the parts a `Runtime` is made of, each with one concern. */
export interface RuntimeParts {
  config: LiveConfig;
  dataDir: string;
  store: RunStore;
  engine: Engine;
  /** Null with `lock: false` or `readOnly`. */
  lock: EngineLock | null;
  log: NonNullable<CreateRuntimeOptions['logger']>;
  /** True with `readOnly` (no engine, store opened read-only). */
  readOnly: boolean;
  backends: RuntimeBackends;
  /** What the run sources read (`run-sources/`). */
  sourceContext: RunSourceContext;
  launcher: RunLauncher;
  runs: RunReads;
  jobs: JobsTable;
  cost: CostCalculator;
  interactive: InteractiveAccess;
}

/** The parts of a runtime built from the config; {@link wireParts} adds those made of them. */
type BaseParts = Pick<
  RuntimeParts,
  'config' | 'dataDir' | 'store' | 'engine' | 'lock' | 'log' | 'readOnly'
> & {
  built: BuiltBackend[];
  sources: SourceCatalog;
  priceBook: PriceBook | null;
};

function wireParts(base: BaseParts): RuntimeParts {
  const { built, sources, priceBook, ...common } = base;
  const { store, engine, log, readOnly } = base;
  const config = () => base.config.current;
  const backends = new RuntimeBackends(built, engine);
  const cost = new CostCalculator(priceBook, store);
  const runs = new RunReads(store, backends);
  return {
    ...common,
    backends,
    sourceContext: { config, backends, sources, configDir: () => base.config.dir() },
    launcher: new RunLauncher({
      config,
      backends,
      engine,
      store,
      log,
      estimate: (tasks) => cost.estimateTasks(tasks),
    }),
    runs,
    jobs: new JobsTable({ store, backends, config, readOnly, log }),
    cost,
    interactive: new InteractiveAccess(base.dataDir, backends, runs, store),
  };
}

/**
 * Loads the config and builds every part of a runtime (nothing is started). The engine lock, when
 * taken, is released again if a later part fails.
 */
export async function composeRuntime(options: CreateRuntimeOptions = {}): Promise<RuntimeParts> {
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
    return wireParts({
      config: new LiveConfig(config, source, text, loaded.backends, plugins, serverRules),
      dataDir,
      store,
      built,
      engine,
      lock,
      sources,
      priceBook,
      log,
      readOnly,
    });
  } catch (e) {
    lock?.release();
    throw e;
  }
}
