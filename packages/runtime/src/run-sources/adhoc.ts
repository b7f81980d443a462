/** The ad-hoc run source: one task given on the command line or in the UI (`scripthut task run`). */
import { parseTaskDocument, ScriptHutError, unicodeProblem } from '@scripthut/core';
import { noDocumentRules } from '../task-env.js';
import type { AdhocTaskInput } from '../types.js';
import { knownEnvironments, type PreparedRun, type RunSourceContext } from './common.js';

/** Validates `input` as task JSON of one task (`tasks[0].field` in errors) and names its run. */
export function prepareAdhoc(ctx: Pick<RunSourceContext, 'config'>, input: AdhocTaskInput): PreparedRun {
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
  const parsed = parseTaskDocument(doc, { knownEnvironments: knownEnvironments(ctx), source: 'task run' });
  return {
    workflowName: input.runName ?? `_adhoc/${id}`,
    backendName: input.backend,
    origin: { kind: 'adhoc' },
    tasks: parsed.tasks,
    maxConcurrent: null,
    baseDir: null,
    git: null,
    warnings: parsed.warnings,
    envRules: noDocumentRules(),
  };
}
