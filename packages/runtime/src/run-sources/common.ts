/**
 * What every run source shares: the reference to one ({@link RunRef}), what preparing it yields
 * ({@link PreparedRun}), the few runtime parts a preparation needs ({@link RunSourceContext}), and
 * the checks and parsing all of them apply.
 */
import type { ScriptHutConfig } from '@scripthut/config';
import { type GitContext, type Issue, type RunOrigin, ScriptHutError, type TaskSpec } from '@scripthut/core';
import type { RuntimeBackends } from '../runtime-backends.js';
import type { SourceCatalog } from '../sources.js';
import { type DocumentEnvRules, parseTaskDocumentWithEnv } from '../task-env.js';
import type { AdhocTaskInput, RunOptions } from '../types.js';

/**
 * What a run is created from: a configured workflow, a workflow file of a source, a `sflow.json` of
 * a project, or one ad-hoc task. The first three have the shape of the run's `origin`.
 */
export type RunRef =
  | { kind: 'workflow'; name: string }
  | { kind: 'source'; source: string; file: string }
  | { kind: 'project'; project: string; file: string }
  | { kind: 'adhoc'; input: AdhocTaskInput };

/** A prepared run: everything needed to create it (or show it in a dry run). */
export interface PreparedRun {
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

/** The parts of the runtime a run source reads while preparing a run. */
export interface RunSourceContext {
  /** The live config (a reload replaces it). */
  config(): ScriptHutConfig;
  backends: Pick<RuntimeBackends, 'entry' | 'require'>;
  /** Synced sources (git clones in the cache, path sources' file lists). */
  sources: SourceCatalog;
  /** Directory of the config file (null for the embedded default). */
  configDir(): string | null;
}

/** Task JSON `text` checked against the configured environments; `label` names it in issues. */
export function parseTasks(
  ctx: Pick<RunSourceContext, 'config'>,
  text: string,
  label: string,
): { tasks: TaskSpec[]; warnings: Issue[]; envRules: DocumentEnvRules } {
  return parseTaskDocumentWithEnv(text, { knownEnvironments: knownEnvironments(ctx), source: label });
}

/** Names of the configured environments. */
export function knownEnvironments(ctx: Pick<RunSourceContext, 'config'>): string[] {
  return ctx.config().environments.map((e) => e.name);
}

/**
 * Check `--branch`/`--commit` (git workflows, git sources, projects): a branch name git would accept that
 * cannot read as an option, a full commit hash. `notGit`: why the target cannot take them, or null.
 */
export function checkGitOverride(options: RunOptions, notGit: string | null): void {
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

/** A branch/commit override was given (`--branch` or `--commit`). */
export function hasGitOverride(options: RunOptions): boolean {
  return options.branch !== undefined || options.commit !== undefined;
}
