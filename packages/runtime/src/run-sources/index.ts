/**
 * Run sources: what a run is created from ({@link RunRef}) and the one dispatcher, {@link prepare},
 * that turns a reference into a {@link PreparedRun} (tasks parsed and checked, git clone made)
 * through the module of its kind. Creating the run, or a dry run, is the same for every kind
 * (`run-launcher.ts`).
 */
import type { RunOrigin } from '@scripthut/core';
import type { RunOptions, WorkflowView } from '../types.js';
import { prepareAdhoc } from './adhoc.js';
import type { PreparedRun, RunRef, RunSourceContext } from './common.js';
import { prepareProject } from './project.js';
import { prepareSource } from './source.js';
import { prepareWorkflow } from './workflow.js';

export type { PreparedRun, RunRef, RunSourceContext } from './common.js';

/**
 * Prepares the run `ref` names with `options` (`--backend`, `--max-concurrent`, `--branch`,
 * `--commit`; an ad-hoc task takes none of them). `options.resume` is carried into the result.
 */
export async function prepare(
  ctx: RunSourceContext,
  ref: RunRef,
  options: RunOptions = {},
): Promise<PreparedRun> {
  switch (ref.kind) {
    case 'workflow':
      return { ...(await prepareWorkflow(ctx, ref.name, options)), resume: options.resume === true };
    case 'source':
      return {
        ...(await prepareSource(ctx, ref.source, ref.file, options)),
        resume: options.resume === true,
      };
    case 'project':
      return {
        ...(await prepareProject(ctx, ref.project, ref.file, options)),
        resume: options.resume === true,
      };
    case 'adhoc':
      return prepareAdhoc(ctx, ref.input);
  }
}

/** The run source a run was created from, or null when it has none to generate again (ad-hoc, demo, rerun). */
export function refOfOrigin(origin: RunOrigin): Exclude<RunRef, { kind: 'adhoc' }> | null {
  return origin.kind === 'workflow' || origin.kind === 'source' || origin.kind === 'project' ? origin : null;
}

/**
 * The run source a listed workflow names: a configured workflow by its name, a source's or a
 * project's workflow file by `<source or project>/<file>`.
 */
export function refOfWorkflowName(kind: WorkflowView['kind'], name: string): RunRef {
  if (kind === 'workflow') return { kind, name };
  const [first, ...rest] = name.split('/');
  const file = rest.join('/');
  return kind === 'source' ? { kind, source: first!, file } : { kind, project: first!, file };
}
