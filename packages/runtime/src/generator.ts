/**
 * Running task generators: a workflow's `command` on the backend's login node (or locally for
 * backends without SSH), git clones on the backend with a completion marker, and deploy keys that
 * never touch a command line.
 */
import { readFile } from 'node:fs/promises';
import {
  type CommandRunner,
  type ExecResult,
  ScriptHutError,
  shellQuote,
  shellQuotePath,
} from '@scripthut/core';

/** Default timeout of a generator command. */
export const GENERATOR_TIMEOUT_MS = 120_000;
/** Default timeout of a clone + postclone. */
export const CLONE_TIMEOUT_MS = 600_000;
/** Marker written inside a clone once clone + checkout + postclone all succeeded. */
export const CLONE_MARKER = '.scripthut-clone-complete';
/** Leftover temporary clone directories older than this many minutes are removed by the next clone. */
export const STALE_CLONE_MINUTES = 24 * 60;

/** The last `max` characters of `text` (trailing whitespace removed), prefixed with `…` when cut. */
export function tail(text: string, max = 2000): string {
  const t = text.trimEnd();
  return t.length > max ? `…${t.slice(-max)}` : t;
}

interface GeneratorOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Names the generator in error messages, e.g. `workflow "nightly"`. */
  label: string;
}

async function execGenerator(
  runner: CommandRunner,
  command: string,
  options: GeneratorOptions,
): Promise<ExecResult> {
  const result = await runner.exec(command, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.env ? { env: options.env } : {}),
    timeoutMs: options.timeoutMs ?? GENERATOR_TIMEOUT_MS,
  });
  if (result.exitCode !== 0) {
    const stderr = tail(result.stderr);
    throw new ScriptHutError(
      'workflow_command_failed',
      `${options.label}: command exited with code ${result.exitCode}${stderr ? `\n--- stderr (tail) ---\n${stderr}` : ' (no stderr output)'}`,
      { details: { exitCode: result.exitCode, stderrTail: stderr, command } },
    );
  }
  return result;
}

/**
 * Run a generator command and return its stdout. A non-zero exit gives one clear
 * `workflow_command_failed` error with the exit code and the tail of stderr.
 *
 * @example
 * ```ts
 * const listing = await runGeneratorCommand(runner, 'ls', { cwd: '~/project', label: 'project discovery' });
 * ```
 */
export async function runGeneratorCommand(
  runner: CommandRunner,
  command: string,
  options: GeneratorOptions,
): Promise<string> {
  return (await execGenerator(runner, command, options)).stdout;
}

/**
 * Run a task generator and parse its stdout with `parse` (e.g. `parseTaskDocument`). Both failure
 * modes give ONE error that names the generator, its exit code and the tail of its stderr:
 * a non-zero exit (`workflow_command_failed`), or output that `parse` rejects (`task_json_invalid`,
 * with the parser's issues and the start of stdout). Nothing else happens on failure, so callers
 * create no run.
 *
 * @example
 * ```ts
 * const { tasks } = await generateTasks(runner, 'python gen.py', { label: 'workflow "ml"' }, (out) =>
 *   parseTaskDocument(out, { knownEnvironments: [], source: 'workflow "ml"' }));
 * ```
 */
export async function generateTasks<T>(
  runner: CommandRunner,
  command: string,
  options: GeneratorOptions,
  parse: (stdout: string) => T,
): Promise<T> {
  const result = await execGenerator(runner, command, options);
  try {
    return parse(result.stdout);
  } catch (e) {
    const err = e as Error;
    const stderr = tail(result.stderr);
    const head =
      result.stdout.trim() === ''
        ? '(stdout was empty)'
        : `stdout starts with: ${JSON.stringify(result.stdout.slice(0, 200))}`;
    throw new ScriptHutError(
      'task_json_invalid',
      `${options.label}: command exited with code ${result.exitCode} but its output is not valid task JSON: ${err.message}\n${head}${stderr ? `\n--- stderr (tail) ---\n${stderr}` : ''}`,
      {
        cause: e,
        issues: ScriptHutError.is(e) ? e.issues : [],
        details: { exitCode: result.exitCode, stderrTail: stderr, command },
      },
    );
  }
}

/** What to clone where on a backend. */
export interface GitCloneSpec {
  repo: string;
  branch: string;
  /** Local path of a private key (uploaded 0600 for the clone only). */
  deployKey: string | null;
  /** Parent directory on the backend; may start with `~`. */
  cloneDir: string;
  postclone: string | null;
  /**
   * Clone exactly this commit instead of resolving `branch` (e.g. the commit a source's workflow
   * file was read from, so the tasks and the clone cannot come from different pushes).
   */
  commit?: string | null;
}

export interface PreparedClone {
  sha: string;
  /** `<clone_dir>/<sha>` on the backend. */
  path: string;
  reused: boolean;
}

/**
 * Reject branch names that git itself would refuse or that could be read as an option. The name is
 * always passed quoted; this only makes the error clear and early.
 */
export function validateBranchName(branch: string): void {
  const bad =
    branch === '' ||
    branch.length > 255 ||
    branch.startsWith('-') ||
    branch.startsWith('/') ||
    branch.endsWith('/') ||
    branch.endsWith('.lock') ||
    branch.endsWith('.') ||
    branch.includes('..') ||
    branch.includes('@{') ||
    branch.includes('//') ||
    /[\x00-\x20\x7f~^:?*[\\]/.test(branch);
  if (bad) throw new ScriptHutError('config_invalid', `invalid git branch name ${JSON.stringify(branch)}`);
}

/** The commit of `refs/heads/<branch>` in `git ls-remote` output, or null. */
export function parseLsRemote(output: string, branch: string): string | null {
  const ref = `refs/heads/${branch}`;
  for (const line of output.split('\n')) {
    const [sha, name] = line.trim().split(/\s+/);
    if (name === ref && sha && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) return sha;
  }
  return null;
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
    throw new ScriptHutError(
      'config_invalid',
      `deploy key ${deployKey} cannot be read: ${(e as Error).message}`,
    );
  }
  if (!runner.withTempFile)
    throw new ScriptHutError('not_implemented', 'this backend cannot receive a deploy key');
  return runner.withTempFile(key, (path) => fn({ ...base, GIT_SSH_COMMAND: gitSshCommand(path) }));
}

/** The `GIT_SSH_COMMAND` that makes git use only `keyPath` (quoted for the shell git hands it to). */
export function gitSshCommand(keyPath: string): string {
  return `ssh -i ${shellQuote(keyPath)} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new`;
}

/** Resolve a branch to its full commit hash with `git ls-remote` where the runner runs. */
export async function resolveCommit(runner: CommandRunner, spec: GitCloneSpec): Promise<string> {
  validateBranchName(spec.branch);
  return withDeployKey(runner, spec.deployKey, async (env) => {
    const out = await runGeneratorCommand(
      runner,
      `git ls-remote -- ${shellQuote(spec.repo)} ${shellQuote(`refs/heads/${spec.branch}`)}`,
      { env, timeoutMs: 60_000, label: `git ls-remote ${spec.repo}` },
    );
    const sha = parseLsRemote(out, spec.branch);
    if (!sha)
      throw new ScriptHutError(
        'workflow_command_failed',
        `branch "${spec.branch}" not found in ${spec.repo}`,
      );
    return sha;
  });
}

/**
 * The bash program of {@link prepareClone} (exported for tests). It resolves the branch (unless a
 * commit is pinned), prints `SCRIPTHUT_SHA=<sha>`, and then either `SCRIPTHUT_REUSED` (the marker
 * exists) or clones into a temporary sibling, renames it to `<clone_dir>/<sha>`, runs `postclone`
 * there, writes the marker last and prints `SCRIPTHUT_CLONED`. A failed clone or postclone leaves
 * no directory behind; concurrent clones of the same commit are serialized with `flock` when the
 * host has it.
 */
export function buildCloneScript(spec: GitCloneSpec): string {
  validateBranchName(spec.branch);
  if (spec.commit && !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(spec.commit)) {
    throw new ScriptHutError('config_invalid', `invalid commit hash ${JSON.stringify(spec.commit)}`);
  }
  const parent = spec.cloneDir.length > 1 ? spec.cloneDir.replace(/\/+$/, '') : spec.cloneDir;
  return [
    'set -eu',
    `repo=${shellQuote(spec.repo)}`,
    `branch=${shellQuote(spec.branch)}`,
    `parent=${shellQuotePath(parent)}`,
    `postclone=${shellQuote(spec.postclone ?? '')}`,
    `sha=${shellQuote(spec.commit ?? '')}`,
    `marker=${CLONE_MARKER}`,
    'if [ -z "$sha" ]; then',
    '  out=$(git ls-remote -- "$repo" "refs/heads/$branch") || { rc=$?; echo "scripthut: git ls-remote $repo failed (exit $rc)" >&2; exit $rc; }',
    `  sha=$(printf '%s\\n' "$out" | awk -v r="refs/heads/$branch" '$2 == r { print $1; exit }')`,
    '  [ -n "$sha" ] || { echo "scripthut: branch $branch not found in $repo" >&2; exit 2; }',
    'fi',
    'echo "SCRIPTHUT_SHA=$sha"',
    'dest="$parent/$sha"',
    'if [ -f "$dest/$marker" ]; then echo SCRIPTHUT_REUSED; exit 0; fi',
    'mkdir -p "$parent"',
    'if command -v flock >/dev/null 2>&1; then',
    '  mkdir -p "$parent/.scripthut-locks"',
    '  exec 9>"$parent/.scripthut-locks/$sha"',
    '  flock -w 900 9 || { echo "scripthut: timed out waiting for another clone of $sha" >&2; exit 75; }',
    '  if [ -f "$dest/$marker" ]; then echo SCRIPTHUT_REUSED; exit 0; fi',
    'fi',
    `find "$parent" -mindepth 1 -maxdepth 1 -name '.clone-*' -mmin +${STALE_CLONE_MINUTES} -exec rm -rf {} + 2>/dev/null || true`,
    'rm -rf "$dest"',
    'tmp=$(mktemp -d "$parent/.clone-$(printf %.12s "$sha")-XXXXXX")',
    'trap \'rm -rf "$tmp"\' EXIT',
    'git clone --quiet --no-checkout --branch "$branch" --single-branch -- "$repo" "$tmp"',
    'if ! git -C "$tmp" checkout --quiet --detach "$sha" 2>/dev/null; then',
    '  git -C "$tmp" fetch --quiet origin "$sha" && git -C "$tmp" checkout --quiet --detach "$sha" ||',
    '    { echo "scripthut: commit $sha is not reachable from $repo" >&2; exit 2; }',
    'fi',
    'mv "$tmp" "$dest"',
    // From here a failure removes the half-prepared clone: it is never reused anyway (no marker).
    'trap \'rm -rf "$dest"\' EXIT',
    'if [ -n "$postclone" ]; then',
    '  (cd "$dest" && bash -c "$postclone" >&2) || { rc=$?; echo "scripthut: postclone failed with exit code $rc" >&2; exit $rc; }',
    'fi',
    'date -u +%Y-%m-%dT%H:%M:%SZ > "$dest/$marker"',
    'trap - EXIT',
    'echo SCRIPTHUT_CLONED',
  ].join('\n');
}

/**
 * Clone `repo` at `branch` (or the pinned `commit`) into `<clone_dir>/<sha>` on the backend and
 * run `postclone` there, in one round trip (plus the deploy key upload and removal).
 *
 * A clone directory is reused only when {@link CLONE_MARKER} proves that a previous clone and
 * postclone completed; a directory without the marker (interrupted clone, failed postclone, or
 * made by something else) is replaced.
 *
 * @example
 * ```ts
 * const clone = await prepareClone(ssh, { repo: 'git@github.com:org/repo.git', branch: 'main',
 *   deployKey: '/home/me/.ssh/deploy', cloneDir: '~/scripthut-repos', postclone: null });
 * // clone.path === '~/scripthut-repos/<40-hex sha>'
 * ```
 */
export async function prepareClone(runner: CommandRunner, spec: GitCloneSpec): Promise<PreparedClone> {
  const script = buildCloneScript(spec);
  const parent = spec.cloneDir.length > 1 ? spec.cloneDir.replace(/\/+$/, '') : spec.cloneDir;
  return withDeployKey(runner, spec.deployKey, async (env) => {
    const result = await runner.exec('bash -s', { stdin: script, env, timeoutMs: CLONE_TIMEOUT_MS });
    const sha = /^SCRIPTHUT_SHA=([0-9a-f]+)$/m.exec(result.stdout)?.[1] ?? null;
    if (result.exitCode !== 0 || !sha) {
      const stderr = tail(result.stderr);
      throw new ScriptHutError(
        'workflow_command_failed',
        `git clone of ${spec.repo} (${spec.commit ? `commit ${spec.commit}` : `branch ${spec.branch}`}) into ${parent}/${sha ?? '<commit>'} failed with exit code ${result.exitCode}${stderr ? `\n--- stderr (tail) ---\n${stderr}` : ''}`,
        { details: { exitCode: result.exitCode, stderrTail: stderr } },
      );
    }
    return { sha, path: `${parent}/${sha}`, reused: /^SCRIPTHUT_REUSED$/m.test(result.stdout) };
  });
}
