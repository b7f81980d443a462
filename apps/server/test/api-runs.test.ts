import { describe, expect, it } from 'vitest';
import { app, expectError, json, rt, useStubApp } from './api-app.js';

useStubApp();

describe('runs and tasks', () => {
  async function newRun(): Promise<string> {
    const res = await app.request('/api/v1/workflows/demo/run', json({}));
    return ((await res.json()) as { run: { id: string } }).run.id;
  }
  it('lists runs with paging and filters', async () => {
    const a = await newRun();
    await newRun();
    rt.completeAll(a);
    const page = (await (await app.request('/api/v1/runs?limit=1&offset=0')).json()) as {
      items: unknown[];
      total: number;
      limit: number;
    };
    expect(page).toMatchObject({ total: 2, limit: 1 });
    expect(page.items).toHaveLength(1);
    const done = (await (await app.request('/api/v1/runs?status=completed')).json()) as {
      items: { run: { id: string } }[];
    };
    expect(done.items.map((r) => r.run.id)).toEqual([a]);
    await expectError(await app.request('/api/v1/runs?status=weird'), 400, 'validation_failed');
    await expectError(await app.request('/api/v1/runs?limit=0'), 400, 'validation_failed');
    await expectError(await app.request('/api/v1/runs?limit=abc'), 400, 'validation_failed');
  });
  it('run detail pages its tasks; tasks filter by state and prefix; groups count', async () => {
    const id = await newRun();
    rt.setState(id, 'prep', 'running');
    const detail = (await (await app.request(`/api/v1/runs/${id}?taskLimit=2`)).json()) as {
      tasks: { items: unknown[]; total: number };
      status: string;
    };
    expect(detail.status).toBe('running');
    expect(detail.tasks.items).toHaveLength(2);
    expect(detail.tasks.total).toBe(3);
    const running = (await (await app.request(`/api/v1/runs/${id}/tasks?state=running`)).json()) as {
      items: { spec: { id: string } }[];
    };
    expect(running.items.map((t) => t.spec.id)).toEqual(['prep']);
    const work = (await (
      await app.request(`/api/v1/runs/${id}/tasks?prefix=work.&state=pending,running`)
    ).json()) as { total: number };
    expect(work.total).toBe(2);
    await expectError(await app.request(`/api/v1/runs/${id}/tasks?state=nonsense`), 400, 'validation_failed');
    const groups = (await (await app.request(`/api/v1/runs/${id}/groups`)).json()) as {
      items: { prefix: string; total: number }[];
    };
    expect(groups.items).toEqual([
      expect.objectContaining({ prefix: '', total: 1 }),
      expect.objectContaining({ prefix: 'work', total: 2 }),
    ]);
    rt.completeAll(id);
    const after = (await (await app.request(`/api/v1/runs/${id}/groups`)).json()) as {
      items: { prefix: string; counts: { completed: number } }[];
    };
    expect(after.items.map((g) => g.counts.completed)).toEqual([1, 2]); // not a stale cache
    expect((await app.request(`/api/v1/runs/${id}/cost`)).status).toBe(200);
  });
  it('rejects traversal and junk in ids with 400', async () => {
    const id = await newRun();
    for (const path of [
      '/api/v1/runs/...',
      '/api/v1/runs/..%2F..%2Fetc',
      '/api/v1/runs/a%2Fb',
      '/api/v1/runs/a.b',
      `/api/v1/runs/${id}/tasks/..%2F..%2Fsecret`,
      `/api/v1/runs/${id}/tasks/a..b`,
      `/api/v1/runs/${id}/tasks/a%5Cb/log`,
    ]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(400);
    }
    await expectError(await app.request('/api/v1/runs/zzzz0000'), 404, 'not_found');
  });
  it('task detail, script, transitions, log tail and offset', async () => {
    const id = await newRun();
    rt.completeAll(id);
    const task = (await (await app.request(`/api/v1/runs/${id}/tasks/work.a`)).json()) as { state: string };
    expect(task.state).toBe('completed');
    const script = (await (await app.request(`/api/v1/runs/${id}/tasks/work.a/script`)).json()) as {
      script: string;
    };
    expect(script.script).toContain('echo work.a');
    const tr = (await (await app.request(`/api/v1/runs/${id}/tasks/work.a/transitions`)).json()) as {
      items: { to: string }[];
    };
    expect(tr.items.map((t) => t.to)).toEqual(['running', 'completed']);
    const log = (await (await app.request(`/api/v1/runs/${id}/tasks/work.a/log`)).json()) as {
      content: string;
      nextOffset: number;
    };
    expect(log.content).toBe('work.a says hello\n');
    const tail = (await (await app.request(`/api/v1/runs/${id}/tasks/work.a/log?tail=6`)).json()) as {
      content: string;
    };
    expect(tail.content).toBe('hello\n');
    const rest = (await (
      await app.request(`/api/v1/runs/${id}/tasks/work.a/log?offset=${log.nextOffset}`)
    ).json()) as { content: string };
    expect(rest.content).toBe('');
    await expectError(
      await app.request(`/api/v1/runs/${id}/tasks/work.a/log?stream=both`),
      400,
      'validation_failed',
    );
    await expectError(
      await app.request(`/api/v1/runs/${id}/tasks/work.a/log?path=/etc/passwd&tail=x`),
      400,
      'validation_failed',
    );
    await expectError(await app.request(`/api/v1/runs/${id}/tasks/nope`), 404, 'not_found');
  });
  it('cancel, rerun (all / failed-only) and delete', async () => {
    const id = await newRun();
    await expectError(await app.request(`/api/v1/runs/${id}`, { method: 'DELETE' }), 409, 'conflict');
    const cancelled = (await (await app.request(`/api/v1/runs/${id}/cancel`, { method: 'POST' })).json()) as {
      status: string;
    };
    expect(cancelled.status).toBe('cancelled');
    const rerun = await app.request(`/api/v1/runs/${id}/rerun`, json({ mode: 'failed' }));
    expect(rerun.status).toBe(201);
    const r = (await rerun.json()) as { run: { id: string; origin: unknown }; total: number };
    expect(r.run.origin).toEqual({ kind: 'rerun', fromRunId: id, mode: 'failed' });
    await expectError(
      await app.request(`/api/v1/runs/${id}/rerun`, json({ mode: 'sideways' })),
      400,
      'validation_failed',
    );
    const all = await app.request(`/api/v1/runs/${id}/rerun`, { method: 'POST' });
    expect(all.status).toBe(201);
    const del = await app.request(`/api/v1/runs/${id}`, { method: 'DELETE' });
    expect(await del.json()).toEqual({ deleted: true, runId: id });
    await expectError(await app.request(`/api/v1/runs/${id}`), 404, 'not_found');
  });
});
