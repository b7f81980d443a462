/**
 * The workflow run source: a configured `workflows[]` entry whose command prints task JSON (on the
 * workflow's backend, in a fresh git clone when it has `git`).
 */
import type { GitContext } from '@scripthut/core';
import { generateTasks, prepareClone } from '../generator.js';
import { namedEntry } from '../not-found.js';
import type { RunOptions, WorkflowView } from '../types.js';
import { checkGitOverride, type PreparedRun, parseTasks, type RunSourceContext } from './common.js';

/** The configured workflows as listed (the sources' workflow files are listed by the source module). */
export function configuredWorkflows(ctx: Pick<RunSourceContext, 'config'>): WorkflowView[] {
  return ctx.config().workflows.map((w) => ({
    kind: 'workflow' as const,
    name: w.name,
    backend: w.backend,
    description: w.description ?? '',
    maxConcurrent: w.max_concurrent ?? null,
    git: w.git ? { repo: w.git.repo, branch: w.git.branch } : null,
  }));
}

/** Runs the generator of workflow `name` (after cloning its repository, if any) and parses its tasks. */
export async function prepareWorkflow(
  ctx: RunSourceContext,
  name: string,
  options: RunOptions,
): Promise<PreparedRun> {
  const wf = namedEntry(ctx.config().workflows, name, 'workflow', 'scripthut workflow list');
  const backendName = options.backend ?? wf.backend;
  checkGitOverride(options, wf.git ? null : `workflow "${name}" is not a git workflow`);
  const runner = ctx.backends.require(backendName).commandRunner();
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
  const generatorCwd = cwd ?? (runner.remote ? undefined : (ctx.configDir() ?? undefined));
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
    (stdout) => parseTasks(ctx, stdout, `workflow "${name}"`),
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
