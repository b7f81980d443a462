/**
 * `--branch`/`--commit` for one run of a git source's workflow file or of a project (issue 21).
 *
 * The configured state is left alone: a source's control-plane clone (its discovery) stays on its
 * configured branch, and a project's working tree is never checked out. The run's code comes from a
 * clone of the other branch or commit on the run's backend (`<clone_dir>/<sha>`, prepared and reused
 * like a git workflow's), and the workflow file is read from that clone. Branch and commit are
 * checked by the runtime's `checkGitOverride` first; the clone program validates the branch again
 * and never lets a value reach git's option position (`git clone … -- <repo>`).
 */
import { posix } from 'node:path';
import type { GitSourceConfig, ProjectConfig } from '@scripthut/config';
import type { CommandRunner, GitContext } from '@scripthut/core';
import { ScriptHutError, shellQuotePath } from '@scripthut/core';
import { DEFAULT_BACKEND_CLONE_DIR } from '@scripthut/core/config-fields';
import { prepareClone, runGeneratorCommand } from './generator.js';

/** A workflow file read from a clone at the overridden branch or commit. */
export interface OverriddenCheckout {
  /** The task document's text. */
  text: string;
  git: GitContext;
  /** The clone on the backend (`<clone_dir>/<sha>`). */
  clonePath: string;
}

/** A relative path inside the repository: no `..`, not absolute, not an option. */
function checkRelativeFile(file: string, what: string): void {
  if (!file || file.startsWith('/') || file.startsWith('-') || file.split('/').includes('..'))
    throw new ScriptHutError(
      'validation_failed',
      `file: ${what} must be a path relative to the repository, got ${JSON.stringify(file)}`,
    );
}

async function readFromClone(
  runner: CommandRunner,
  clonePath: string,
  file: string,
  label: string,
): Promise<string> {
  return runGeneratorCommand(runner, `cat ${shellQuotePath(posix.join(clonePath, file))}`, { label });
}

/**
 * A git source's workflow file at another branch or commit: cloned on the run's backend (the
 * source's `clone_dir`, deploy key and postclone), the file read from the clone.
 */
export async function checkoutSourceOverride(
  runner: CommandRunner,
  s: GitSourceConfig,
  file: string,
  override: { branch?: string; commit?: string },
): Promise<OverriddenCheckout> {
  checkRelativeFile(file, 'a source workflow file');
  const branch = override.branch ?? s.branch;
  const clone = await prepareClone(runner, {
    repo: s.url,
    branch,
    deployKey: s.deploy_key ?? null,
    cloneDir: s.clone_dir,
    postclone: s.postclone ?? null,
    ...(override.commit ? { commit: override.commit } : {}),
  });
  const text = await readFromClone(
    runner,
    clone.path,
    file,
    `source "${s.name}" file ${file} at ${override.commit ?? `branch ${branch}`}`,
  );
  return {
    text,
    git: { repo: s.url, branch, sha: clone.sha, cloneDir: clone.path },
    clonePath: clone.path,
  };
}

/**
 * A project's `sflow.json` at another branch or commit of the project's repository (its `path`
 * on the backend): cloned into `~/scripthut-repos/<sha>` on that backend, read from the clone. The
 * branch defaults to the branch the project's working tree has checked out.
 */
export async function checkoutProjectOverride(
  runner: CommandRunner,
  p: ProjectConfig,
  file: string,
  override: { branch?: string; commit?: string },
): Promise<OverriddenCheckout> {
  checkRelativeFile(file, 'a project workflow file');
  // The clone program quotes the repository: `~` must be resolved first.
  const repo = p.path.startsWith('~')
    ? `${(await runGeneratorCommand(runner, 'printf %s "$HOME"', { label: 'home directory' })).trim()}${p.path.slice(1)}`
    : p.path;
  const branch =
    override.branch ??
    (
      await runGeneratorCommand(runner, `git -C ${shellQuotePath(p.path)} rev-parse --abbrev-ref HEAD`, {
        label: `project "${p.name}" current branch`,
      })
    ).trim();
  const clone = await prepareClone(runner, {
    repo,
    branch,
    deployKey: null,
    cloneDir: DEFAULT_BACKEND_CLONE_DIR,
    postclone: null,
    ...(override.commit ? { commit: override.commit } : {}),
  });
  const text = await readFromClone(
    runner,
    clone.path,
    file,
    `project "${p.name}" ${file} at ${override.commit ?? `branch ${branch}`}`,
  );
  return { text, git: { repo, branch, sha: clone.sha, cloneDir: clone.path }, clonePath: clone.path };
}
