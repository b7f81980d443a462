/**
 * Workflow discovery for sources. Git sources are cloned on the ScriptHut host under
 * `sources_cache_dir/<name>` and synced on demand; path sources are listed over SSH on their backend.
 * Files are matched against `workflows_glob` (with `**`) locally, so the glob never reaches a shell.
 */
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { GitSourceConfig, PathSourceConfig } from '@scripthut/config';
import { type CommandRunner, type Issue, ScriptHutError, shellQuote, shellQuotePath } from '@scripthut/core';
import picomatch from 'picomatch';
import { gitSshCommand, validateBranchName } from './generator.js';

const run = promisify(execFile);

/** At most this many files are listed in a path source (a guard against pointing at `/`). */
export const MAX_LISTED_FILES = 20_000;

export interface DiscoveredFile {
  /** Path relative to the source root, `/`-separated. */
  file: string;
  /** The document's top-level `title` (git sources; null when absent or not read). */
  title: string | null;
}

export interface DiscoveredSource {
  name: string;
  syncedAt: string;
  /** Commit of the local clone the files were read from (git sources). */
  commit: string | null;
  /** Local clone (git sources). */
  localDir: string | null;
  files: DiscoveredFile[];
  warnings: Issue[];
  error: string | null;
}

function normalizeGlob(glob: string): string {
  return glob.trim().replace(/^(\.\/)+/, '');
}

/**
 * The directory part of `glob` that contains no wildcard (`.hut/workflows` for
 * `.hut/workflows/*.json`, `''` for `**\/*.json`), used to narrow a remote listing. Never contains
 * a `..` segment and never starts with `/`.
 */
export function globBase(glob: string): string {
  const scan = picomatch.scan(normalizeGlob(glob));
  if (scan.negated) return '';
  const base = scan.base.replace(/\/+$/, '');
  if (base.startsWith('/') || base.split('/').includes('..')) return '';
  return base;
}

/**
 * The files (relative, `/`-separated) that `glob` matches, sorted, with `**` matching any depth
 * including none and dot-directories matched (`.hut/…`). Paths that try to leave the root (`..`,
 * absolute) never match.
 */
export function matchWorkflowFiles(files: readonly string[], glob: string): string[] {
  const isMatch = picomatch(normalizeGlob(glob), { dot: true });
  const out = new Set<string>();
  for (const raw of files) {
    const f = raw.trim().replace(/^(\.\/)+/, '');
    if (!f || f.startsWith('/') || f.split('/').includes('..')) continue;
    if (isMatch(f)) out.add(f);
  }
  return [...out].sort();
}

/** The top-level `title` of a task document, or null. Throws when `text` is not JSON. */
export function documentTitle(text: string): string | null {
  const doc = JSON.parse(text) as unknown;
  if (
    doc &&
    typeof doc === 'object' &&
    !Array.isArray(doc) &&
    typeof (doc as { title?: unknown }).title === 'string'
  ) {
    return (doc as { title: string }).title;
  }
  return null;
}

/** The discoveries saved in `file` (invalid or missing file: none). */
function readState(file: string): DiscoveredSource[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
  const list = (doc as { sources?: unknown }).sources;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (d): d is DiscoveredSource =>
      typeof d === 'object' &&
      d !== null &&
      typeof (d as DiscoveredSource).name === 'string' &&
      typeof (d as DiscoveredSource).syncedAt === 'string' &&
      Array.isArray((d as DiscoveredSource).files) &&
      Array.isArray((d as DiscoveredSource).warnings),
  );
}

function walk(dir: string, root: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.git') continue;
    const full = join(dir, entry.name);
    // Symlinks are neither followed nor listed: a workflow file cannot point outside the clone.
    if (entry.isDirectory()) walk(full, root, out);
    else if (entry.isFile()) out.push(relative(root, full).split('\\').join('/'));
  }
}

/**
 * The sources' discovery state. Syncs of one source are serialized (a second caller waits for the
 * running sync and then syncs again), so two requests never run git in the same directory.
 *
 * @example
 * ```ts
 * const catalog = new SourceCatalog('/var/cache/scripthut/sources');
 * const found = await catalog.syncGit(config.sources[0]);
 * console.log(found.commit, found.files.map((f) => f.file));
 * ```
 */
export class SourceCatalog {
  private readonly cache = new Map<string, DiscoveredSource>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly stateFile: string | null;
  private readonly persist: boolean;

  /**
   * @param cacheDir where git sources are cloned
   * @param options.stateFile JSON file the discoveries are kept in across restarts (read at
   *   construction; written after each sync unless `persist` is false, e.g. for read-only use)
   */
  constructor(
    private readonly cacheDir: string,
    options: { stateFile?: string | null; persist?: boolean } = {},
  ) {
    this.stateFile = options.stateFile ?? null;
    this.persist = options.persist ?? true;
    if (this.stateFile) {
      for (const d of readState(this.stateFile)) this.cache.set(d.name, d);
    }
  }

  private remember(d: DiscoveredSource): void {
    this.cache.set(d.name, d);
    if (!this.stateFile || !this.persist) return;
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, `${JSON.stringify({ version: 1, sources: [...this.cache.values()] }, null, 1)}\n`, {
        mode: 0o600,
      });
      renameSync(tmp, this.stateFile);
    } catch {
      rmSync(tmp, { force: true });
      // not fatal: the discovery still serves this process; it is redone by the next sync
    }
  }

  /** The last discovery of a source (undefined before the first sync). */
  get(name: string): DiscoveredSource | undefined {
    return this.cache.get(name);
  }

  private serialize<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    return next;
  }

  private fail(name: string, message: string, localDir: string | null, cause?: unknown): never {
    this.remember({
      name,
      syncedAt: new Date().toISOString(),
      commit: null,
      localDir,
      files: [],
      warnings: [],
      error: message,
    });
    throw new ScriptHutError('workflow_command_failed', message, cause === undefined ? {} : { cause });
  }

  /**
   * Clone or update a git source locally (`<cacheDir>/<name>`, hard reset to the remote branch),
   * then match its workflow files. Files that are not valid JSON are skipped with a warning.
   */
  syncGit(s: GitSourceConfig): Promise<DiscoveredSource> {
    return this.serialize(s.name, () => this.syncGitNow(s));
  }

  private async syncGitNow(s: GitSourceConfig): Promise<DiscoveredSource> {
    validateBranchName(s.branch);
    const dir = join(this.cacheDir, s.name);
    const env = {
      ...process.env,
      GIT_TERMINAL_PROMPT: '0',
      ...(s.deploy_key ? { GIT_SSH_COMMAND: gitSshCommand(s.deploy_key) } : {}),
    };
    const git = (args: string[], cwd?: string) =>
      run('git', args, { cwd, env, timeout: 300_000, maxBuffer: 16 << 20 });
    try {
      mkdirSync(this.cacheDir, { recursive: true });
      let fresh = !existsSync(join(dir, '.git'));
      if (!fresh) {
        try {
          // The URL may have changed since the clone (config reload).
          await git(['remote', 'set-url', 'origin', s.url], dir);
          await git(
            ['fetch', '--quiet', 'origin', `+refs/heads/${s.branch}:refs/remotes/origin/${s.branch}`],
            dir,
          );
          await git(['reset', '--quiet', '--hard', `origin/${s.branch}`], dir);
        } catch (e) {
          // A broken local clone (interrupted, corrupted) is replaced; a remote problem is reported.
          const ok = await git(['rev-parse', '--git-dir'], dir).then(
            () => true,
            () => false,
          );
          if (ok) throw e;
          fresh = true;
        }
      }
      if (fresh) {
        const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
        try {
          await git(['clone', '--quiet', '--branch', s.branch, '--single-branch', '--', s.url, tmp]);
          rmSync(dir, { recursive: true, force: true });
          renameSync(tmp, dir);
        } finally {
          rmSync(tmp, { recursive: true, force: true });
        }
      }
      const commit = (await git(['rev-parse', 'HEAD'], dir)).stdout.trim();
      const all: string[] = [];
      walk(dir, dir, all);
      const warnings: Issue[] = [];
      const files: DiscoveredFile[] = [];
      for (const file of matchWorkflowFiles(all, s.workflows_glob)) {
        try {
          files.push({ file, title: documentTitle(readFileSync(join(dir, file), 'utf8')) });
        } catch (e) {
          warnings.push({
            path: file,
            message: `not valid JSON: ${(e as Error).message}`,
            severity: 'warning',
          });
        }
      }
      const d: DiscoveredSource = {
        name: s.name,
        syncedAt: new Date().toISOString(),
        commit,
        localDir: dir,
        files,
        warnings,
        error: null,
      };
      this.remember(d);
      return d;
    } catch (e) {
      if (ScriptHutError.is(e)) throw e;
      const err = e as Error & { stderr?: string };
      const local = existsSync(dir) && statSync(dir).isDirectory() ? dir : null;
      return this.fail(
        s.name,
        `git sync of ${s.url} (${s.branch}) failed: ${(err.stderr || err.message).trim().slice(-1000)}`,
        local,
        e,
      );
    }
  }

  /**
   * List a path source's files over its backend's runner (one `find` under the glob's fixed
   * directory prefix) and match the glob locally.
   */
  discoverPath(s: PathSourceConfig, runner: CommandRunner): Promise<DiscoveredSource> {
    return this.serialize(s.name, () => this.discoverPathNow(s, runner));
  }

  private async discoverPathNow(s: PathSourceConfig, runner: CommandRunner): Promise<DiscoveredSource> {
    const base = globBase(s.workflows_glob);
    const start = base ? `./${base}` : '.';
    const command =
      `cd ${shellQuotePath(s.path)} || exit 3\n` +
      `[ -d ${shellQuote(start)} ] || exit 0\n` +
      `find ${shellQuote(start)} -type f -not -path '*/.git/*' -print 2>/dev/null | head -n ${MAX_LISTED_FILES}`;
    let result: Awaited<ReturnType<CommandRunner['exec']>>;
    try {
      result = await runner.exec(command, { timeoutMs: 60_000 });
    } catch (e) {
      return this.fail(
        s.name,
        `cannot list ${s.path} on backend ${s.backend}: ${(e as Error).message}`,
        null,
        e,
      );
    }
    if (result.exitCode !== 0) {
      return this.fail(
        s.name,
        `cannot list ${s.path} on backend ${s.backend}: ${result.stderr.trim() || `exit code ${result.exitCode}`}`,
        null,
      );
    }
    const listed = result.stdout.split('\n');
    const warnings: Issue[] = [];
    if (listed.filter(Boolean).length >= MAX_LISTED_FILES) {
      warnings.push({
        path: s.path,
        message: `more than ${MAX_LISTED_FILES} files under ${s.path}; only the first ${MAX_LISTED_FILES} were matched`,
        severity: 'warning',
      });
    }
    const d: DiscoveredSource = {
      name: s.name,
      syncedAt: new Date().toISOString(),
      commit: null,
      localDir: null,
      files: matchWorkflowFiles(listed, s.workflows_glob).map((file) => ({ file, title: null })),
      warnings,
      error: null,
    };
    this.remember(d);
    return d;
  }
}
