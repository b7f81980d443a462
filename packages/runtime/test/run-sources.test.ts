/**
 * The run-source dispatch (`run-sources/index.ts`): which module a `RunRef` reaches, how a run's
 * origin and a listed workflow name map back to a `RunRef`, and the checks made before any backend
 * is asked (unknown names, `--branch`/`--commit` where they cannot apply). End-to-end preparation of
 * each kind is covered by runtime.test.ts, the *-local tests and test/cluster/workflows.test.ts.
 */
import type { ScriptHutConfig } from '@scripthut/config';
import { ScriptHutError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { prepare, type RunSourceContext, refOfOrigin, refOfWorkflowName } from '../src/run-sources/index.js';
import type { SourceCatalog } from '../src/sources.js';

/** A context whose backends and sources fail the test when asked: these checks must come first. */
function context(config: Partial<ScriptHutConfig>): RunSourceContext {
  const untouchable = () => {
    throw new Error('a backend was asked before the checks');
  };
  return {
    config: () =>
      ({ environments: [], workflows: [], sources: [], projects: [], ...config }) as ScriptHutConfig,
    backends: { entry: untouchable, require: untouchable },
    sources: {} as SourceCatalog,
    configDir: () => null,
  };
}

async function failure(p: Promise<unknown>): Promise<ScriptHutError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(ScriptHutError.is(e)).toBe(true);
  return e as ScriptHutError;
}

describe('prepare(ref)', () => {
  it('an ad-hoc task: one validated task, its run name, no resume even when asked', async () => {
    const p = await prepare(
      context({}),
      { kind: 'adhoc', input: { command: 'echo hi', backend: 'local', id: 'one', cpus: 2 } },
      { resume: true },
    );
    expect(p.workflowName).toBe('_adhoc/one');
    expect(p.backendName).toBe('local');
    expect(p.origin).toEqual({ kind: 'adhoc' });
    expect(p.tasks.map((t) => [t.id, t.command, t.cpus])).toEqual([['one', 'echo hi', 2]]);
    expect(p.resume).toBeUndefined();
  });

  it('an ad-hoc task with a bad field names it (tasks[0].field), a bad run name names runName', async () => {
    const bad = await failure(
      prepare(context({}), {
        kind: 'adhoc',
        input: { command: 'true', backend: 'local', id: 'one', cpus: -1 },
      }),
    );
    expect(bad.code).toBe('task_json_invalid');
    expect(bad.issues?.map((i) => i.path)).toEqual(['tasks[0] (id "one").cpus']);
    const name = await failure(
      prepare(context({}), {
        kind: 'adhoc',
        input: { command: 'true', backend: 'local', runName: 'a\uD800' },
      }),
    );
    expect([name.code, name.issues?.[0]?.path]).toEqual(['validation_failed', 'runName']);
  });

  it('an unknown workflow, source or project is not_found naming the known ones', async () => {
    const ctx = context({
      workflows: [{ name: 'demo' } as ScriptHutConfig['workflows'][number]],
      sources: [{ name: 'repo' } as ScriptHutConfig['sources'][number]],
      projects: [{ name: 'proj' } as ScriptHutConfig['projects'][number]],
    });
    const wf = await failure(prepare(ctx, { kind: 'workflow', name: 'nope' }));
    expect([wf.code, wf.message]).toEqual([
      'not_found',
      'unknown workflow "nope"; known workflows: demo (scripthut workflow list)',
    ]);
    const src = await failure(prepare(ctx, { kind: 'source', source: 'nope', file: 'a.json' }));
    expect(src.message).toContain('known sources: repo');
    const proj = await failure(prepare(ctx, { kind: 'project', project: 'nope', file: 'sflow.json' }));
    expect(proj.message).toContain('known projects: proj');
  });

  it('--branch on a workflow without git, or an option-like branch, fails before any backend call', async () => {
    const ctx = context({
      workflows: [
        { name: 'plain', backend: 'local', command: 'true' } as ScriptHutConfig['workflows'][number],
        {
          name: 'cloned',
          backend: 'local',
          command: 'true',
          git: { repo: 'https://example.com/r.git', branch: 'main' },
        } as ScriptHutConfig['workflows'][number],
      ],
    });
    const notGit = await failure(prepare(ctx, { kind: 'workflow', name: 'plain' }, { branch: 'dev' }));
    expect(notGit.message).toBe('--branch/--commit: workflow "plain" is not a git workflow');
    const option = await failure(prepare(ctx, { kind: 'workflow', name: 'cloned' }, { branch: '-x' }));
    expect(option.message).toBe('branch: invalid branch name "-x"');
    const commit = await failure(prepare(ctx, { kind: 'workflow', name: 'cloned' }, { commit: 'abc' }));
    expect(commit.message).toContain('commit: must be a full commit hash');
  });
});

describe('RunRef mappings', () => {
  it("a run's origin: workflow, source and project map to themselves; others have nothing to generate", () => {
    expect(refOfOrigin({ kind: 'workflow', name: 'w' })).toEqual({ kind: 'workflow', name: 'w' });
    expect(refOfOrigin({ kind: 'source', source: 's', file: 'a/b.json' })).toEqual({
      kind: 'source',
      source: 's',
      file: 'a/b.json',
    });
    expect(refOfOrigin({ kind: 'project', project: 'p', file: 'x/sflow.json' })).toEqual({
      kind: 'project',
      project: 'p',
      file: 'x/sflow.json',
    });
    expect(refOfOrigin({ kind: 'adhoc' })).toBeNull();
    expect(refOfOrigin({ kind: 'demo' })).toBeNull();
    expect(refOfOrigin({ kind: 'rerun', fromRunId: 'abcdef12', mode: 'all' })).toBeNull();
  });

  it('a listed name: <source or project>/<file, possibly nested>', () => {
    expect(refOfWorkflowName('workflow', 'a/b')).toEqual({ kind: 'workflow', name: 'a/b' });
    expect(refOfWorkflowName('source', 'repo/dir/wf.json')).toEqual({
      kind: 'source',
      source: 'repo',
      file: 'dir/wf.json',
    });
    expect(refOfWorkflowName('project', 'proj/sub/sflow.json')).toEqual({
      kind: 'project',
      project: 'proj',
      file: 'sub/sflow.json',
    });
  });
});
