/**
 * The job script of one request on a scheduler over SSH (Slurm, PBS): the scheduler's directive
 * lines above the body every backend shares (`buildJobScript` of `@scripthut/core`: exports,
 * `extra_init`, checked `cd`, the command, the exit-code marker, the outputs).
 */
import { buildJobScript, resolveOutputPaths, type SubmitRequest } from '@scripthut/core';

/** Options of {@link renderSchedulerScript}. */
export interface SchedulerScriptOptions {
  /** Exit-code marker file (`<markerDir>/<tag>.rc`); null for none. */
  exitMarkerPath?: string | null;
  /** Resolves `~`/relative output paths. */
  resolvePath?: (path: string) => string;
  /** `#!/bin/bash -l` instead of `#!/bin/bash`. */
  loginShell?: boolean;
}

/**
 * The complete job script of `request` under `directives` (`#SBATCH …`, `#PBS …`). A request that
 * cannot be rendered throws `fail(message)` (the backend's own error class).
 *
 * @example
 * ```ts
 * renderSchedulerScript(request, ['#SBATCH --mem=1G'], { exitMarkerPath }, (m) => new ScriptRenderError(m));
 * ```
 */
export function renderSchedulerScript(
  request: SubmitRequest,
  directives: string[],
  options: SchedulerScriptOptions,
  fail: (message: string) => Error,
): string {
  try {
    return buildJobScript({
      taskId: request.taskId,
      taskName: request.task.name,
      command: request.task.command,
      workingDir: request.workingDir,
      env: request.env,
      secretEnvNames: request.secretEnvNames,
      extraInit: request.extraInit,
      exitMarkerPath: options.exitMarkerPath ?? null,
      outputs: resolveOutputPaths(request.outputs, options.resolvePath ?? ((p: string) => p)),
      loginShell: options.loginShell ?? false,
      directives,
    });
  } catch (e) {
    throw fail(e instanceof Error ? e.message : String(e));
  }
}
