import { describe, expect, it } from 'vitest';
import { app, expectError, json, rt, useStubApp } from './api-app.js';

useStubApp();

describe('workflows, sources, projects', () => {
  it('lists and dry-runs a workflow without creating a run', async () => {
    const list = (await (await app.request('/api/v1/workflows')).json()) as { items: { name: string }[] };
    expect(list.items[0]?.name).toBe('demo');
    const dry = await app.request('/api/v1/workflows/demo/dry-run', json({}));
    expect(dry.status).toBe(200);
    const body = (await dry.json()) as { tasks: { script: string }[] };
    expect(body.tasks).toHaveLength(3);
    expect(body.tasks[0]?.script).toContain('#!/bin/bash');
    expect(rt.runs.size).toBe(0);
  });
  it('runs a workflow (201) and rejects bad bodies without creating anything', async () => {
    const res = await app.request('/api/v1/workflows/demo/run', json({}));
    expect(res.status).toBe(201);
    const run = (await res.json()) as {
      run: { id: string };
      status: string;
      progress: { done: number; total: number };
    };
    expect(run.progress).toEqual({ done: 0, total: 3, percent: 0 });
    const before = rt.calls.length;
    await expectError(
      await app.request('/api/v1/workflows/demo/run', json({ maxConcurrent: 0 })),
      400,
      'validation_failed',
    );
    await expectError(
      await app.request('/api/v1/workflows/demo/run', json({ unknown: 1 })),
      400,
      'validation_failed',
    );
    await expectError(
      await app.request('/api/v1/workflows/demo/run', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{oops',
      }),
      400,
      'validation_failed',
    );
    await expectError(await app.request('/api/v1/workflows/nope/run', json({})), 404, 'not_found');
    expect(rt.calls.length).toBe(before);
  });
  it('maps runtime errors to statuses', async () => {
    const { ScriptHutError, BackendError } = await import('@scripthut/core');
    rt.failNext = new ScriptHutError('workflow_command_failed', 'generator exited 1', {
      details: { stderr: 'boom' },
    });
    const b = await expectError(
      await app.request('/api/v1/workflows/demo/run', json({})),
      422,
      'workflow_command_failed',
    );
    expect(b.details).toEqual({ stderr: 'boom' });
    rt.failNext = new ScriptHutError('task_json_invalid', 'bad json', {
      issues: [{ path: 'tasks[0].id', message: 'required' }],
    });
    const t = await expectError(
      await app.request('/api/v1/workflows/demo/run', json({})),
      422,
      'task_json_invalid',
    );
    expect(t.details).toEqual({ issues: [{ path: 'tasks[0].id', message: 'required' }] });
    rt.failNext = new BackendError('ssh down', { transient: true });
    await expectError(await app.request('/api/v1/workflows/demo/run', json({})), 503, 'backend_transient');
    rt.failNext = new BackendError('sbatch rejected', { transient: false });
    await expectError(await app.request('/api/v1/workflows/demo/run', json({})), 502, 'backend_permanent');
    rt.failNext = new Error('secret internal detail');
    const i = await expectError(await app.request('/api/v1/workflows/demo/run', json({})), 500, 'internal');
    expect(i.message).not.toContain('secret');
  });
  it('sources: list, sync, dry-run and run a file; rejects traversal', async () => {
    expect(
      ((await (await app.request('/api/v1/sources')).json()) as { items: unknown[] }).items,
    ).toHaveLength(1);
    expect((await app.request('/api/v1/sources/repo/sync', { method: 'POST' })).status).toBe(200);
    await expectError(await app.request('/api/v1/sources/nope/sync', { method: 'POST' }), 404, 'not_found');
    expect((await app.request('/api/v1/sources/repo/dry-run', json({ file: 'flows/a.json' }))).status).toBe(
      200,
    );
    expect((await app.request('/api/v1/sources/repo/run', json({ file: 'flows/a.json' }))).status).toBe(201);
    const n = rt.runs.size;
    await expectError(
      await app.request('/api/v1/sources/repo/run', json({ file: '../../etc/passwd' })),
      400,
      'validation_failed',
    );
    await expectError(
      await app.request('/api/v1/sources/repo/run', json({ file: '/etc/passwd' })),
      400,
      'validation_failed',
    );
    await expectError(await app.request('/api/v1/sources/repo/run', json({})), 400, 'validation_failed');
    expect(rt.runs.size).toBe(n);
  });
  it('projects: list, workflows, dry-run, run', async () => {
    expect(
      ((await (await app.request('/api/v1/projects')).json()) as { items: unknown[] }).items,
    ).toHaveLength(1);
    expect(
      ((await (await app.request('/api/v1/projects/proj/workflows')).json()) as { items: unknown[] }).items,
    ).toHaveLength(1);
    await expectError(await app.request('/api/v1/projects/nope/workflows'), 404, 'not_found');
    expect((await app.request('/api/v1/projects/proj/dry-run', json({ file: 'sflow.json' }))).status).toBe(
      200,
    );
    expect((await app.request('/api/v1/projects/proj/run', json({ file: 'sflow.json' }))).status).toBe(201);
  });
  it('ad-hoc task and estimates', async () => {
    const res = await app.request(
      '/api/v1/tasks/run',
      json({ command: 'hostname', backend: 'local', id: 'h' }),
    );
    expect(res.status).toBe(201);
    await expectError(
      await app.request('/api/v1/tasks/run', json({ backend: 'local' })),
      400,
      'validation_failed',
    );
    await expectError(
      await app.request(
        '/api/v1/tasks/run',
        json({ command: 'x', backend: 'local', env: { 'BAD-NAME': 'x' } }),
      ),
      400,
      'validation_failed',
    );
    const est = (await (await app.request('/api/v1/estimate', json({ name: 'demo' }))).json()) as {
      upperBound: number;
    };
    expect(est.upperBound).toBe(0.5);
    await expectError(await app.request('/api/v1/estimate', json({})), 400, 'validation_failed');
    await expectError(
      await app.request('/api/v1/estimate', json({ name: 'demo', kind: 'bogus' })),
      400,
      'validation_failed',
    );
  });
  it('estimate runs a generator, so it is a POST: a GET (e.g. an <img> on any page) runs nothing', async () => {
    await expectError(await app.request('/api/v1/estimate?name=demo'), 404, 'not_found');
    expect(rt.calls.filter((c) => c.startsWith('estimate:'))).toEqual([]);
    expect((await app.request('/api/v1/estimate', json({ name: 'demo' }))).status).toBe(200);
    expect(rt.calls.filter((c) => c.startsWith('estimate:'))).toEqual(['estimate:demo']);
  });
});
