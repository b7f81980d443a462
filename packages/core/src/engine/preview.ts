/**
 * Building the submit request of a task, shared by the engine and by dry runs, so that a dry run
 * shows exactly the script that a real run would submit.
 */
import type { Backend, SubmitRequest } from '../backend.js';
import type { RunRecord, TaskRecord, TaskSpec } from '../domain.js';
import { injectedEnvironment, resolveTaskEnvironment } from '../environment.js';
import { taskOutputPaths } from '../outputs.js';
import { type PreviewArray, previewArrayGroups } from './arrays.js';
import { defaultLogDir, defaultLogPaths, resolveWorkingDir } from './paths.js';
import type { CreateRunInput } from './types.js';

type ResolvedEnvironment = ReturnType<typeof resolveTaskEnvironment>;

/**
 * The resolved environment of the tasks of a run that set no env vars of their own, by environment
 * name (null: none): the same for each of them, so it is resolved once per run and shared, frozen
 * (no consumer of a request writes into its env; they copy it).
 */
const sharedEnvironments = new WeakMap<RunRecord, Map<string | null, ResolvedEnvironment>>();

function resolveEnvironmentOf(run: RunRecord, spec: TaskSpec): ResolvedEnvironment {
  const envName = spec.environment;
  const def = envName === null ? null : run.environments[envName];
  if (envName !== null && !def) throw new Error(`unknown environment ${JSON.stringify(envName)}`);
  const resolve = () =>
    resolveTaskEnvironment({
      injected: injectedEnvironment({
        workflowName: run.workflowName,
        runId: run.id,
        createdAt: run.createdAt,
        git: run.git,
      }),
      environment: def ?? null,
      envVars: spec.envVars,
    });
  if (spec.envVars && Object.keys(spec.envVars).length > 0) return resolve();
  let byName = sharedEnvironments.get(run);
  if (!byName) {
    byName = new Map();
    sharedEnvironments.set(run, byName);
  }
  let shared = byName.get(envName);
  if (!shared) {
    const r = resolve();
    shared = Object.freeze({
      env: Object.freeze(r.env) as Record<string, string>,
      extraInit: r.extraInit,
      secretNames: Object.freeze(r.secretNames) as string[],
    });
    byName.set(envName, shared);
  }
  return shared;
}

/** The submit request of one task of a run. */
export function buildSubmitRequest(
  run: RunRecord,
  task: Pick<TaskRecord, 'spec' | 'seq' | 'stdoutPath' | 'stderrPath'>,
  tag: string,
): SubmitRequest {
  const spec = task.spec;
  const resolved = resolveEnvironmentOf(run, spec);
  // The default log paths are built only for a task that has neither its own nor stored ones.
  const out = task.stdoutPath ?? spec.outputFile;
  const err = task.stderrPath ?? spec.errorFile;
  const logs = out != null && err != null ? null : defaultLogPaths(run.logDir, run.id, spec.id, task.seq);
  return {
    runId: run.id,
    taskId: spec.id,
    tag,
    workflowName: run.workflowName,
    task: spec,
    workingDir: resolveWorkingDir(spec.workingDir, run.baseDir),
    env: resolved.env,
    secretEnvNames: resolved.secretNames,
    extraInit: resolved.extraInit,
    stdoutPath: out ?? logs!.out,
    stderrPath: err ?? logs!.err,
    logDir: run.logDir,
    git: run.git,
    outputs: taskOutputPaths(run.logDir, run.id, spec.id, task.seq),
  };
}

export interface RunPreview {
  logDir: string;
  tasks: {
    task: TaskSpec;
    workingDir: string;
    script: string;
    stdoutPath: string;
    stderrPath: string;
    /** The job array the task would be part of (with `arrays`), absent when it goes alone. */
    array?: PreviewArray;
  }[];
}

/**
 * Render every task of a prospective run without creating it (dry run). Run id shown as `dryrun00`.
 * With `arrays` (the backend's array limit and the minimum group size), also how tasks would be
 * grouped into job arrays ({@link previewArrayGroups}), within the run's and the backend's caps.
 */
export function previewRun(
  backend: Backend,
  input: CreateRunInput,
  arrays: { minSize: number; maxSize: number } | null = null,
): RunPreview {
  const run: RunRecord = {
    id: 'dryrun00',
    workflowName: input.workflowName,
    backendName: input.backendName,
    origin: input.origin,
    createdAt: new Date().toISOString(),
    maxConcurrent: input.maxConcurrent,
    logDir: input.logDir ?? defaultLogDir(input.workflowName),
    baseDir: input.baseDir ?? null,
    git: input.git ?? null,
    cancelRequestedAt: null,
    environments: input.environments ?? {},
  };
  const requests = input.tasks.map((spec, seq) =>
    buildSubmitRequest(run, { spec, seq, stdoutPath: null, stderrPath: null }, `shdryrun${seq.toString(36)}`),
  );
  const cap = Math.min(backend.maxConcurrent, input.maxConcurrent ?? Number.POSITIVE_INFINITY);
  const groups = arrays
    ? previewArrayGroups(
        backend,
        requests.map((request) => ({ request, deps: request.task.deps })),
        arrays.minSize,
        arrays.maxSize,
        cap,
      )
    : [];
  return {
    logDir: run.logDir,
    tasks: requests.map((request, seq) => {
      const array = groups[seq];
      return {
        task: input.tasks[seq]!,
        workingDir: request.workingDir,
        script: backend.renderScript(request),
        stdoutPath: request.stdoutPath,
        stderrPath: request.stderrPath,
        ...(array ? { array } : {}),
      };
    }),
  };
}
