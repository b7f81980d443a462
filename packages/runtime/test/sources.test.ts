/** Source discovery: glob matching (pure), git sync with real local git, path listing with bash. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCommandRunner } from '@scripthut/backend-local';
import type { GitSourceConfig, PathSourceConfig } from '@scripthut/config';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { documentTitle, globBase, matchWorkflowFiles, SourceCatalog } from '../src/sources.js';

const FILES = [
  '.hut/workflows/a.json',
  '.hut/workflows/b.json',
  '.hut/workflows/nested/c.json',
  '.hut/workflows/readme.md',
  'root.hut.json',
  'pipelines/x.hut.json',
  'pipelines/deep/er/y.hut.json',
  '.hidden/z.hut.json',
  'pipelines/not-a-workflow.json',
];

describe('matchWorkflowFiles', () => {
  it('the default glob matches only direct JSON children of .hut/workflows', () => {
    expect(matchWorkflowFiles(FILES, '.hut/workflows/*.json')).toEqual([
      '.hut/workflows/a.json',
      '.hut/workflows/b.json',
    ]);
  });

  it('** matches at any depth, including the root and dot-directories', () => {
    expect(matchWorkflowFiles(FILES, '**/*.hut.json')).toEqual([
      '.hidden/z.hut.json',
      'pipelines/deep/er/y.hut.json',
      'pipelines/x.hut.json',
      'root.hut.json',
    ]);
    expect(matchWorkflowFiles(FILES, '.hut/**/*.json')).toEqual([
      '.hut/workflows/a.json',
      '.hut/workflows/b.json',
      '.hut/workflows/nested/c.json',
    ]);
  });

  it('normalizes ./ prefixes, dedupes, sorts, and never matches paths leaving the root', () => {
    expect(
      matchWorkflowFiles(['./b.json', 'a.json', './a.json', '../up.json', '/abs.json'], './*.json'),
    ).toEqual(['a.json', 'b.json']);
    expect(matchWorkflowFiles(['../x/a.json', 'x/../../a.json'], '**/*.json')).toEqual([]);
  });

  it('property: every match satisfies the glob suffix and the result is sorted and unique', () => {
    const seg = fc.stringMatching(/^[a-z.]{1,6}$/).filter((s) => s !== '.' && s !== '..');
    const path = fc.array(seg, { minLength: 1, maxLength: 4 }).map((p) => p.join('/'));
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            path,
            path.map((p) => `${p}.hut.json`),
          ),
          { maxLength: 30 },
        ),
        (files) => {
          const m = matchWorkflowFiles(files, '**/*.hut.json');
          expect([...m].sort()).toEqual(m);
          expect(new Set(m).size).toBe(m.length);
          for (const f of m) expect(f.endsWith('.hut.json')).toBe(true);
          const expected = files.filter(
            (f) => (f.split('/').pop() ?? '').length > '.hut.json'.length && f.endsWith('.hut.json'),
          );
          expect(m).toEqual([...new Set(expected)].sort());
        },
      ),
    );
  });
});

describe('globBase and documentTitle', () => {
  it('globBase is the wildcard-free directory prefix and never escapes the root', () => {
    expect(globBase('.hut/workflows/*.json')).toBe('.hut/workflows');
    expect(globBase('**/*.hut.json')).toBe('');
    expect(globBase('a/b/**/c/*.json')).toBe('a/b');
    expect(globBase('./x/*.json')).toBe('x');
    expect(globBase('../secret/*.json')).toBe('');
    expect(globBase('/etc/*.json')).toBe('');
    expect(globBase('!x/*.json')).toBe('');
  });

  it('documentTitle reads the top-level title and throws on invalid JSON', () => {
    expect(documentTitle('{"title":"Nightly","tasks":[]}')).toBe('Nightly');
    expect(documentTitle('[{"id":"a"}]')).toBeNull();
    expect(documentTitle('{"title":3}')).toBeNull();
    expect(() => documentTitle('{nope')).toThrow();
  });
});

function git(args: string[], cwd?: string): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();
}

function repoWith(files: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), 'sh-src-'));
  const url = join(root, 'repo.git');
  git(['init', '--quiet', '--bare', '--initial-branch=main', url]);
  const work = join(root, 'work');
  git(['init', '--quiet', '--initial-branch=main', work]);
  git(['remote', 'add', 'origin', url], work);
  const push = (f: Record<string, string | null>) => {
    for (const [name, content] of Object.entries(f)) {
      if (content === null) rmSync(join(work, name));
      else {
        mkdirSync(join(work, name, '..'), { recursive: true });
        writeFileSync(join(work, name), content);
      }
    }
    git(['add', '-A'], work);
    git(['commit', '--quiet', '-m', 'c'], work);
    git(['push', '--quiet', 'origin', 'main'], work);
    return git(['rev-parse', 'HEAD'], work);
  };
  const head = push(files);
  return { root, url, head, push };
}

function gitSource(url: string, extra: Partial<GitSourceConfig> = {}): GitSourceConfig {
  return {
    name: 'jobs',
    type: 'git',
    url,
    branch: 'main',
    backend: 'hpc',
    workflows_glob: '**/*.hut.json',
    clone_dir: '~/scripthut-repos',
    ...extra,
  } as GitSourceConfig;
}

describe('SourceCatalog.syncGit (local git)', () => {
  it('clones, matches **, warns on invalid JSON, follows new pushes and URL changes', async () => {
    const repo = repoWith({
      'a.hut.json': '{"title":"A","tasks":[]}',
      'deep/er/b.hut.json': '[]',
      'bad/c.hut.json': '{oops',
      'other.json': '[]',
    });
    const catalog = new SourceCatalog(join(repo.root, 'cache'));
    const first = await catalog.syncGit(gitSource(repo.url));
    expect(first.commit).toBe(repo.head);
    expect(first.files).toEqual([
      { file: 'a.hut.json', title: 'A' },
      { file: 'deep/er/b.hut.json', title: null },
    ]);
    expect(first.warnings).toEqual([
      expect.objectContaining({ path: 'bad/c.hut.json', severity: 'warning' }),
    ]);
    expect(catalog.get('jobs')).toBe(first);

    const next = repo.push({ 'a.hut.json': null, 'new/d.hut.json': '{"title":"D","tasks":[]}' });
    const second = await catalog.syncGit(gitSource(repo.url));
    expect(second.commit).toBe(next);
    expect(second.files.map((f) => f.file)).toEqual(['deep/er/b.hut.json', 'new/d.hut.json']);

    // the URL changed in the config (e.g. moved repository): the existing clone follows it
    const moved = join(repo.root, 'moved.git');
    execFileSync('cp', ['-r', repo.url, moved]);
    const after = repo.push({ 'e.hut.json': '[]' });
    execFileSync('git', [
      '--git-dir',
      moved,
      'fetch',
      '--quiet',
      repo.url,
      '+refs/heads/main:refs/heads/main',
    ]);
    const third = await catalog.syncGit(gitSource(moved));
    expect(third.commit).toBe(after);
  });

  it('concurrent syncs of one source are serialized and both succeed', async () => {
    const repo = repoWith({ 'a.hut.json': '[]' });
    const catalog = new SourceCatalog(join(repo.root, 'cache'));
    const results = await Promise.all([
      catalog.syncGit(gitSource(repo.url)),
      catalog.syncGit(gitSource(repo.url)),
    ]);
    expect(results.map((r) => r.commit)).toEqual([repo.head, repo.head]);
  });

  it('replaces a broken local clone and reports an unreachable remote with the git error', async () => {
    const repo = repoWith({ 'a.hut.json': '[]' });
    const cache = join(repo.root, 'cache');
    mkdirSync(join(cache, 'jobs', '.git'), { recursive: true }); // an interrupted clone
    const catalog = new SourceCatalog(cache);
    expect((await catalog.syncGit(gitSource(repo.url))).files.map((f) => f.file)).toEqual(['a.hut.json']);

    await expect(catalog.syncGit(gitSource(join(repo.root, 'missing.git')))).rejects.toThrow(
      /git sync of .* failed/,
    );
    expect(catalog.get('jobs')?.error).toMatch(/git sync of/);
    await expect(catalog.syncGit(gitSource(repo.url, { branch: '-oops' }))).rejects.toThrow(
      /invalid git branch/,
    );
  });
});

describe('SourceCatalog.discoverPath (bash)', () => {
  it('lists files under the glob base and matches the glob', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sh-path-'));
    for (const f of [
      '.hut/workflows/a.json',
      '.hut/workflows/sub/b.json',
      'x/c.hut.json',
      'd with space.hut.json',
    ]) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), '[]');
    }
    const catalog = new SourceCatalog(join(dir, 'cache'));
    const runner = new LocalCommandRunner();
    const src = (glob: string): PathSourceConfig =>
      ({ name: 'p', type: 'path', path: dir, backend: 'hpc', workflows_glob: glob }) as PathSourceConfig;
    expect(
      (await catalog.discoverPath(src('.hut/workflows/*.json'), runner)).files.map((f) => f.file),
    ).toEqual(['.hut/workflows/a.json']);
    expect((await catalog.discoverPath(src('**/*.hut.json'), runner)).files.map((f) => f.file)).toEqual([
      'd with space.hut.json',
      'x/c.hut.json',
    ]);
    expect((await catalog.discoverPath(src('nowhere/*.json'), runner)).files).toEqual([]);
    await expect(
      catalog.discoverPath({ ...src('*.json'), path: join(dir, 'missing') } as PathSourceConfig, runner),
    ).rejects.toThrow(/cannot list/);
    expect(catalog.get('p')?.error).toMatch(/cannot list/);
  });
});
