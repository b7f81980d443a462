/**
 * Running task generators: a workflow's `command` on the backend's login node (or locally for
 * backends without SSH), git clones on the backend with a completion marker, and deploy keys that
 * never touch a command line.
 */
import { readFile } from 'node:fs/promises';
import { type CommandRunner, ScriptHutError, shellQuote, shellQuotePath } from '@scripthut/core';

/** Default timeout of a generator command. */
export const GENERATOR_TIMEOUT_MS = 120_000;
/** Default timeout of a clone + postclone. */
export const CLONE_TIMEOUT_MS = 600_000;
/** Marker written inside a clone once clone + checkout + postclone all succeeded. */
export const CLONE_MARKER = '.scripthut-clone-complete';

function tail(text: string, max = 2000): string {
  const t = text.trimEnd();
  return t.length > max ? `…${t.slice(-max)}` : t;
}

/**
 * Run a generator command and return its stdout. A non-zero exit gives one clear error with the exit
 * code and the tail of stderr.
 */
export async function runGeneratorCommand(
  runner: CommandRunner,
  command: string,
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number; label: string },
): Promise<string> {
  const result = await runner.exec(command, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.env ? { env: options.env } : {}),
    timeoutMs: options.timeoutMs ?? GENERATOR_TIMEOUT_MS,
  });
  if (result.exitCode !== 0) {
    throw new ScriptHutError(
      'workflow_command_failed',
      `${options.label}: command exited with code ${result.exitCode}${result.stderr.trim() ? `\n--- stderr (tail) ---\n${tail(result.stderr)}` : ''}`,
      { details: { exitCode: result.exitCode, stderrTail: tail(result.stderr), command } },
    );
  }
  return result.stdout;
}

export interface GitCloneSpec {
  repo: string;
  branch: string;
  deployKey: string | null;
  cloneDir: string;
  postclone: string | null;
}

export interface PreparedClone {
  sha: string;
  /** `<clone_dir>/<sha>` on the backend. */
  path: string;
  reused: boolean;
}

/** Runs `fn` with GIT_SSH_COMMAND pointing at an uploaded copy of the deploy key (0600, always removed). */
async function withDeployKey<T>(
  runner: CommandRunner,
  deployKey: string | null,
  fn: (env: Record<string, string>) => Promise<T>,
): Promise<T> {
  const base: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  if (!deployKey) return fn(base);
  let key: Buffer;
  try {
    key = await readFile(deployKey);
  } catch (e) {
    throw new ScriptHutError('config_invalid', `deploy key ${deployKey} cannot be read: ${(e as Error).message}`);
  }
  if (!runner.withTempFile) throw new ScriptHutError('not_implemented', 'this backend cannot receive a deploy key');
  return runner.withTempFile(key, (path) =>
    fn({
      ...base,
      GIT_SSH_COMMAND: `ssh -i ${shellQuote(path)} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new`,
    }),
  );
}

/** Resolve a branch to its full commit hash with `git ls-remote` where the runner runs. */
export async function resolveCommit(runner: CommandRunner, spec: GitCloneSpec): Promise<string> {
  return withDeployKey(runner, spec.deployKey, async (env) => {
    const out = await runGeneratorCommand(
      runner,
      `git ls-remote ${shellQuote(spec.repo)} ${shellQuote(`refs/heads/${spec.branch}`)}`,
      { env, timeoutMs: 60_000, label: `git ls-remote ${spec.repo}` },
    );
    const sha = out.trim().split(/\s+/)[0] ?? '';
    if (!/^[0-9a-f]{40}$/.test(sha)) {
      throw new ScriptHutError('workflow_command_failed', `branch "${spec.branch}" not found in ${spec.repo}`);
    }
    return sha;
  });
}

/**
 * Clone `repo` at `branch` into `<clone_dir>/<sha>` on the backend and run `postclone` there.
 *
 * A clone directory is reused only when {@link CLONE_MARKER} proves that a previous clone and
 * postclone completed. The work happens in a temporary sibling directory that is renamed into place
 * after the marker is written, so an interrupted clone is never mistaken for a complete one.
 */
export async function prepareClone(runner: CommandRunner, spec: GitCloneSpec): Promise<PreparedClone> {
  const sha = await resolveCommit(runner, spec);
  const path = `${spec.cloneDir.replace(/\/+$/, '')}/${sha}`;
  const qPath = shellQuotePath(path);
  const qParent = shellQuotePath(spec.cloneDir);
  const script = [
    'set -eu',
    `if [ -f ${qPath}/${CLONE_MARKER} ]; then echo SCRIPTHUT_REUSED; exit 0; fi`,
    `mkdir -p ${qParent}`,
    `rm -rf ${qPath}`,
    `tmp=$(mktemp -d ${qParent}/.clone-${sha.slice(0, 12)}-XXXXXX)`,
    `trap 'rm -rf "$tmp"' EXIT`,
    `git clone --quiet --branch ${shellQuote(spec.branch)} --single-branch ${shellQuote(spec.repo)} "$tmp"`,
    `git -C "$tmp" checkout --quiet ${shellQuote(sha)}`,
    ...(spec.postclone ? [`(cd "$tmp" && bash -c ${shellQuote(spec.postclone)})`] : []),
    `date -u +%Y-%m-%dT%H:%M:%SZ > "$tmp"/${CLONE_MARKER}`,
    `mv "$tmp" ${qPath}`,
    'trap - EXIT',
    'echo SCRIPTHUT_CLONED',
  ].join('\n');
  return withDeployKey(runner, spec.deployKey, async (env) => {
    const result = await runner.exec('bash -s', { stdin: script, env, timeoutMs: CLONE_TIMEOUT_MS });
    if (result.exitCode !== 0) {
      throw new ScriptHutError(
        'workflow_command_failed',
        `git clone of ${spec.repo}@${spec.branch} into ${path} failed (exit ${result.exitCode})\n${tail(result.stderr)}`,
        { details: { exitCode: result.exitCode, stderrTail: tail(result.stderr) } },
      );
    }
    return { sha, path, reused: result.stdout.includes('SCRIPTHUT_REUSED') };
  });
}
