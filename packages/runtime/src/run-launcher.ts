/**
 * Creating a prepared run, or showing it as a dry run: the one path every run source goes through
 * after preparation (`run-sources/`). Applies the backend's partition_map and the env rules of the
 * server, the backend and the task file (`task-env.ts`), then hands the tasks to the engine or, for
 * a dry run, renders the scripts the backend would submit, with secrets shown as `***`.
 */
import type { EnvironmentConfig, ScriptHutConfig } from '@scripthut/config';
import {
  type Backend,
  type Engine,
  planReuse,
  previewRun,
  type RunRecord,
  type RunStore,
  ScriptHutError,
  type TaskSpec,
} from '@scripthut/core';
import { arrayModeInput, runArrayMode } from './array-mode.js';
import { redactSpecAndScript } from './redact.js';
import type { PreparedRun } from './run-sources/index.js';
import type { RuntimeBackends } from './runtime-backends.js';
import { prepareRunTasks } from './task-env.js';
import type { CostEstimate, DryRunResult } from './types.js';

/** What the launcher needs from the runtime. */
export interface RunLauncherDeps {
  /** The live config (a reload replaces it). */
  config(): ScriptHutConfig;
  backends: Pick<RuntimeBackends, 'entry' | 'require'>;
  engine: Pick<Engine, 'createRun'>;
  /** Read by a `--resume` dry run (earlier runs' cache keys). */
  store: RunStore;
  log: { warn(msg: string): void };
  /** The cost upper bound shown by a dry run. */
  estimate(tasks: TaskSpec[]): Promise<CostEstimate>;
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

/** Creates prepared runs and dry runs, the same way for every run source. */
export class RunLauncher {
  constructor(private readonly deps: RunLauncherDeps) {}

  /** Creates the run in the engine (submission follows on the backend's loop); returns its id. */
  create(p: PreparedRun): string {
    const backend = this.deps.backends.entry(p.backendName);
    if (!backend.backend)
      throw new ScriptHutError(
        'backend_unavailable',
        `backend "${p.backendName}" is unavailable: ${backend.error}`,
      );
    const ready = this.readyTasks(p);
    for (const w of ready.warnings) this.deps.log.warn(`${p.workflowName}: ${w.path}: ${w.message}`);
    const run = this.deps.engine.createRun({
      ...this.runFields(p, ready),
      tasks: ready.tasks,
      ...(p.resume ? { resume: true } : {}),
      ...arrayModeInput(this.deps.config(), p.origin),
    });
    return run.id;
  }

  /** What creating the run would submit (scripts, environments, `--resume` reuse, cost), submitting nothing. */
  async dryRun(p: PreparedRun): Promise<DryRunResult> {
    const backend = this.deps.backends.require(p.backendName);
    const ready = this.readyTasks(p);
    const fields = this.runFields(p, ready);
    const arrayMode = backend.arrays ? runArrayMode(this.deps.config(), p.backendName, p.origin) : null;
    const preview = previewRun(
      backend,
      { ...fields, tasks: ready.tasks },
      arrayMode?.mode === 'auto' ? await this.dryRunArrays(backend, p.backendName) : null,
    );
    // --resume: which tasks would be reused (one input-hashing and one output-check command)
    const plans = p.resume
      ? await planReuse(
          backend,
          this.deps.store,
          {
            ...fields,
            id: 'dryrun00',
            createdAt: new Date().toISOString(),
            logDir: preview.logDir,
            cancelRequestedAt: null,
            resume: true,
          },
          ready.tasks,
        )
      : null;
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
      estimate: await this.deps.estimate(ready.tasks),
    };
  }

  /** The run's tasks with partition_map and env rules applied (see task-env.ts). */
  private readyTasks(p: PreparedRun) {
    const config = this.deps.config();
    const ready = prepareRunTasks(p.tasks, {
      backend: this.deps.backends.entry(p.backendName).config,
      server: config,
      document: p.envRules,
      environments: environmentsSnapshot(config.environments),
      workflowName: p.workflowName,
      git: p.git,
    });
    return { ...ready, warnings: [...p.warnings, ...ready.warnings] };
  }

  /** The fields of the run record a prepared run gives (the engine adds id, log dir, dates). */
  private runFields(p: PreparedRun, ready: ReturnType<RunLauncher['readyTasks']>) {
    return {
      workflowName: p.workflowName,
      backendName: p.backendName,
      origin: p.origin,
      maxConcurrent: p.maxConcurrent,
      baseDir: p.baseDir,
      git: p.git,
      environments: ready.environments,
    };
  }

  /** Array grouping of a dry run: null when the backend has no arrays or the run's mode is `off`. */
  private async dryRunArrays(
    backend: Backend,
    backendName: string,
  ): Promise<{ minSize: number; maxSize: number } | null> {
    const config = this.deps.config().backends.find((b) => b.name === backendName);
    if (!backend.arrays || !config || !('array' in config)) return null;
    try {
      return { minSize: config.array_min_size, maxSize: await backend.arrays.maxSize() };
    } catch (e) {
      this.deps.log.warn(
        `dry run: cannot read the array limit of backend ${backendName}: ${(e as Error).message}`,
      );
      return null;
    }
  }
}
