/**
 * Workflow discovery for sources. Git sources are cloned on the ScriptHut host under
 * `sources_cache_dir/<name>` and synced on demand; path sources are listed over SSH on their backend.
 * Files are matched against `workflows_glob` (with `**`) locally, so the glob never reaches a shell.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { GitSourceConfig, PathSourceConfig } from '@scripthut/config';
import { type CommandRunner, type Issue, ScriptHutError, shellQuotePath } from '@scripthut/core';
import picomatch from 'picomatch';

const run = promisify(execFile);

export interface DiscoveredFile {
  /** Path relative to the source root. */
  file: string;
  title: string | null;
}

export interface DiscoveredSource {
  name: string;
  syncedAt: string;
  commit: string | null;
  /** Local clone (git sources). */
  localDir: string | null;
  files: DiscoveredFile[];
  warnings: Issue[];
  error: string | null;
}

function walk(dir: string, root: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.git') continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(full, root, out);
    else if (entry.isFile()) out.push(relative(root, full));
  }
}

function titleOf(text: string): string | null {
  try {
    const doc = JSON.parse(text) as unknown;
    if (doc && typeof doc === 'object' && !Array.isArray(doc) && typeof (doc as { title?: unknown }).title === 'string') {
      return (doc as { title: string }).title;
    }
    return null;
  } catch {
    return null;
  }
}

export class SourceCatalog {
  private readonly cache = new Map<string, DiscoveredSource>();
  constructor(private readonly cacheDir: string) {}

  get(name: string): DiscoveredSource | undefined {
    return this.cache.get(name);
  }

  /** Clone or update a git source locally, then match its workflow files. */
  async syncGit(s: GitSourceConfig): Promise<DiscoveredSource> {
    const dir = join(this.cacheDir, s.name);
    const env = {
      ...process.env,
      GIT_TERMINAL_PROMPT: '0',
      ...(s.deploy_key
        ? { GIT_SSH_COMMAND: `ssh -i '${s.deploy_key.replace(/'/g, `'\\''`)}' -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new` }
        : {}),
    };
    const git = (args: string[], cwd?: string) => run('git', args, { cwd, env, timeout: 300_000, maxBuffer: 16 << 20 });
    try {
      mkdirSync(this.cacheDir, { recursive: true });
      if (existsSync(join(dir, '.git'))) {
        await git(['fetch', '--quiet', 'origin', `+refs/heads/${s.branch}:refs/remotes/origin/${s.branch}`], dir);
        await git(['reset', '--quiet', '--hard', `origin/${s.branch}`], dir);
      } else {
        await git(['clone', '--quiet', '--branch', s.branch, '--single-branch', '--', s.url, dir]);
      }
      const commit = (await git(['rev-parse', 'HEAD'], dir)).stdout.trim();
      const all: string[] = [];
      walk(dir, dir, all);
      const isMatch = picomatch(s.workflows_glob, { dot: true });
      const warnings: Issue[] = [];
      const files: DiscoveredFile[] = [];
      for (const file of all.filter((f) => isMatch(f)).sort()) {
        const text = readFileSync(join(dir, file), 'utf8');
        try {
          JSON.parse(text);
          files.push({ file, title: titleOf(text) });
        } catch (e) {
          warnings.push({ path: file, message: `not valid JSON: ${(e as Error).message}`, severity: 'warning' });
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
      this.cache.set(s.name, d);
      return d;
    } catch (e) {
      const err = e as Error & { stderr?: string };
      const message = `git sync of ${s.url} (${s.branch}) failed: ${(err.stderr || err.message).trim().slice(-1000)}`;
      this.cache.set(s.name, {
        name: s.name,
        syncedAt: new Date().toISOString(),
        commit: null,
        localDir: existsSync(dir) && statSync(dir).isDirectory() ? dir : null,
        files: [],
        warnings: [],
        error: message,
      });
      throw new ScriptHutError('workflow_command_failed', message, { cause: e });
    }
  }

  /** List a path source's files over the backend's runner and match the glob locally. */
  async discoverPath(s: PathSourceConfig, runner: CommandRunner): Promise<DiscoveredSource> {
    const result = await runner.exec(
      `cd ${shellQuotePath(s.path)} && find . -type f -not -path '*/.git/*' -print 2>/dev/null | head -n 20000`,
      { timeoutMs: 60_000 },
    );
    if (result.exitCode !== 0) {
      const message = `cannot list ${s.path} on backend ${s.backend}: ${result.stderr.trim() || `exit ${result.exitCode}`}`;
      this.cache.set(s.name, { name: s.name, syncedAt: new Date().toISOString(), commit: null, localDir: null, files: [], warnings: [], error: message });
      throw new ScriptHutError('workflow_command_failed', message);
    }
    const isMatch = picomatch(s.workflows_glob, { dot: true });
    const files = result.stdout
      .split('\n')
      .map((l) => l.trim().replace(/^\.\//, ''))
      .filter((f) => f && isMatch(f))
      .sort()
      .map((file) => ({ file, title: null }));
    const d: DiscoveredSource = {
      name: s.name,
      syncedAt: new Date().toISOString(),
      commit: null,
      localDir: null,
      files,
      warnings: [],
      error: null,
    };
    this.cache.set(s.name, d);
    return d;
  }
}
