/**
 * The project run source: an `sflow.json` file in the directory tree of a configured `projects[]`
 * entry on its backend (or in a clone of its repository at `--branch`/`--commit`).
 */
import { posix } from 'node:path';
import type { ProjectConfig } from '@scripthut/config';
import { type GitContext, shellQuote, shellQuotePath } from '@scripthut/core';
import { runGeneratorCommand } from '../generator.js';
import { checkoutProjectOverride } from '../git-override.js';
import { namedEntry, notFound } from '../not-found.js';
import type { ProjectView, RunOptions, WorkflowView } from '../types.js';
import {
  checkGitOverride,
  hasGitOverride,
  type PreparedRun,
  parseTasks,
  type RunSourceContext,
} from './common.js';

/** The workflow file a project's directories hold. */
export const PROJECT_FILE = 'sflow.json';

function projectConfig(ctx: Pick<RunSourceContext, 'config'>, name: string): ProjectConfig {
  return namedEntry(ctx.config().projects, name, 'project', 'scripthut project list');
}

/** The configured projects as listed. */
export function listProjects(ctx: Pick<RunSourceContext, 'config'>): ProjectView[] {
  return ctx.config().projects.map((p) => ({
    name: p.name,
    backend: p.backend,
    path: p.path,
    description: p.description ?? '',
    maxConcurrent: p.max_concurrent ?? null,
  }));
}

/** The `sflow.json` files of project `project`, found on its backend (one `find`). */
export async function listProjectWorkflows(ctx: RunSourceContext, project: string): Promise<WorkflowView[]> {
  const p = projectConfig(ctx, project);
  const runner = ctx.backends.require(p.backend).commandRunner();
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

/**
 * Reads `file` of project `project` (from its working tree, or from a clone at
 * `--branch`/`--commit`) and parses its tasks; the run's base directory is the file's directory.
 */
export async function prepareProject(
  ctx: RunSourceContext,
  project: string,
  file: string,
  options: RunOptions,
): Promise<PreparedRun> {
  const p = projectConfig(ctx, project);
  checkGitOverride(options, null);
  const prepared = (text: string, path: string, git: GitContext | null): PreparedRun => {
    const parsed = parseTasks(ctx, text, `${project}/${file}`);
    const dir = posix.dirname(file);
    return {
      workflowName: dir === '.' ? p.name : `${p.name}/${dir}`,
      backendName: options.backend ?? p.backend,
      origin: { kind: 'project', project, file },
      tasks: parsed.tasks,
      maxConcurrent: options.maxConcurrent ?? p.max_concurrent ?? null,
      baseDir: posix.dirname(path),
      git,
      warnings: parsed.warnings,
      envRules: parsed.envRules,
    };
  };
  if (hasGitOverride(options)) {
    const at = await checkoutProjectOverride(
      ctx.backends.require(p.backend).commandRunner(),
      p,
      file,
      options,
    );
    return prepared(at.text, posix.join(at.clonePath, file), at.git);
  }
  const known = await listProjectWorkflows(ctx, project);
  if (!known.some((w) => w.file === file)) {
    throw notFound(
      'project workflow',
      file,
      known.map((w) => w.file!),
      `scripthut project list`,
    );
  }
  const runner = ctx.backends.require(p.backend).commandRunner();
  const path = posix.join(p.path, file);
  const text = await runGeneratorCommand(runner, `cat ${shellQuotePath(path)}`, {
    label: `project "${project}" ${file}`,
  });
  return prepared(text, path, null);
}
