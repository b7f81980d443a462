/**
 * The source run source: a workflow file (task JSON) of a configured `sources[]` entry, a git
 * repository synced into the local cache or a directory on the source's backend. Also the sources'
 * views (their synced state and workflow files).
 */
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { SourceConfig } from '@scripthut/config';
import { type GitContext, shellQuotePath } from '@scripthut/core';
import { prepareClone, runGeneratorCommand } from '../generator.js';
import { checkoutSourceOverride } from '../git-override.js';
import { namedEntry, notFound } from '../not-found.js';
import type { DiscoveredSource } from '../sources.js';
import type { RunOptions, SourceView } from '../types.js';
import {
  checkGitOverride,
  hasGitOverride,
  type PreparedRun,
  parseTasks,
  type RunSourceContext,
} from './common.js';

/** The configured source `name` (`not_found` naming the known ones). */
export function sourceConfig(ctx: Pick<RunSourceContext, 'config'>, name: string): SourceConfig {
  return namedEntry(ctx.config().sources, name, 'source', 'scripthut source list');
}

/** Source `name` as listed, with what its last sync found. */
export function sourceView(
  ctx: Pick<RunSourceContext, 'config'>,
  name: string,
  discovered: DiscoveredSource | undefined,
): SourceView {
  const s = sourceConfig(ctx, name);
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

/** Every configured source as last synced (no sync). */
export function listSources(ctx: Pick<RunSourceContext, 'config' | 'sources'>): SourceView[] {
  return ctx.config().sources.map((s) => sourceView(ctx, s.name, ctx.sources.get(s.name)));
}

/** Syncs source `name` now: fetches a git source, lists a path source's files on its backend. */
export async function syncSource(ctx: RunSourceContext, name: string): Promise<SourceView> {
  return sourceView(ctx, name, await discover(ctx, sourceConfig(ctx, name)));
}

function discover(ctx: RunSourceContext, s: SourceConfig): Promise<DiscoveredSource> {
  return s.type === 'git'
    ? ctx.sources.syncGit(s)
    : ctx.sources.discoverPath(s, ctx.backends.require(s.backend).commandRunner());
}

/**
 * Reads workflow `file` of source `source` (at `--branch`/`--commit` of a git source when given,
 * else after a sync) and parses its tasks; a git source's run gets a clone of the commit read.
 */
export async function prepareSource(
  ctx: RunSourceContext,
  source: string,
  file: string,
  options: RunOptions,
): Promise<PreparedRun> {
  const s = sourceConfig(ctx, source);
  checkGitOverride(options, s.type === 'git' ? null : `source "${source}" is a path source, not git`);
  const backendName = options.backend ?? s.backend;
  const runner = ctx.backends.require(backendName).commandRunner();
  const parse = (text: string) => parseTasks(ctx, text, `${source}/${file}`);
  const prepared = (
    parsed: ReturnType<typeof parse>,
    baseDir: string,
    git: GitContext | null,
  ): PreparedRun => {
    const stem =
      file
        .replace(/\.json$/, '')
        .split('/')
        .pop() ?? file;
    return {
      workflowName: `${source}/${stem}`,
      backendName,
      origin: { kind: 'source', source, file },
      tasks: parsed.tasks,
      maxConcurrent: options.maxConcurrent ?? null,
      baseDir,
      git,
      warnings: parsed.warnings,
      envRules: parsed.envRules,
    };
  };
  if (s.type === 'git' && hasGitOverride(options)) {
    const at = await checkoutSourceOverride(runner, s, file, options);
    return prepared(parse(at.text), at.clonePath, at.git);
  }
  const discovered = await discover(ctx, s);
  if (!discovered.files.some((f) => f.file === file)) {
    throw notFound(
      'workflow file',
      file,
      discovered.files.map((f) => f.file),
      `scripthut source sync ${source}`,
    );
  }
  if (s.type === 'git') {
    // parsed before cloning: a file with errors leaves no clone behind
    const parsed = parse(await readFile(join(discovered.localDir!, file), 'utf8'));
    const clone = await prepareClone(runner, {
      repo: s.url,
      branch: s.branch,
      deployKey: s.deploy_key ?? null,
      cloneDir: s.clone_dir,
      postclone: s.postclone ?? null,
      // Clone exactly the commit the workflow file was read from.
      commit: discovered.commit,
    });
    return prepared(parsed, clone.path, {
      repo: s.url,
      branch: s.branch,
      sha: clone.sha,
      cloneDir: clone.path,
    });
  }
  // The file lives on the source's own backend, whichever backend the run goes to.
  const sourceRunner = ctx.backends.require(s.backend).commandRunner();
  const text = await runGeneratorCommand(sourceRunner, `cat ${shellQuotePath(posix.join(s.path, file))}`, {
    label: `source "${source}" file ${file}`,
  });
  return prepared(parse(text), s.path, null);
}
