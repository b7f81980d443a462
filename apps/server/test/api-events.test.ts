import { describe, expect, it } from 'vitest';
import { openStreamCount } from '../src/index.js';
import { app, json, rt, useStubApp } from './api-app.js';

useStubApp();

describe('server-sent events', () => {
  async function readUntil(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    needle: string,
    timeoutMs = 3000,
  ): Promise<string> {
    const dec = new TextDecoder();
    let buf = '';
    const deadline = Date.now() + timeoutMs;
    while (!buf.includes(needle)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${needle}; got ${buf}`);
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value);
    }
    return buf;
  }
  it('run events stream task changes live and stop (unsubscribe) when the client disconnects', async () => {
    const base = rt.listenerCount();
    const res = await app.request('/api/v1/workflows/demo/run', json({}));
    const id = ((await res.json()) as { run: { id: string } }).run.id;
    const ac = new AbortController();
    const stream = await app.request(`/api/v1/runs/${id}/events`, { signal: ac.signal });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    await readUntil(reader, 'event: run');
    expect(rt.listenerCount()).toBeGreaterThan(base);
    expect(openStreamCount(app.app)).toBe(1);
    rt.setState(id, 'prep', 'running');
    const text = await readUntil(reader, 'event: tasks');
    expect(text).toContain('"state":"running"');
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(openStreamCount(app.app)).toBe(0);
    expect(rt.listenerCount()).toBe(base);
  });
  it('log follow streams new output and ends when the task is finished', async () => {
    const res = await app.request('/api/v1/workflows/demo/run', json({}));
    const id = ((await res.json()) as { run: { id: string } }).run.id;
    rt.setState(id, 'prep', 'running');
    rt.logs.set(`${id}/prep/stdout`, 'line 1\n');
    const stream = await app.request(`/api/v1/runs/${id}/tasks/prep/log/follow?intervalMs=200`);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    await readUntil(reader, 'line 1');
    rt.logs.set(`${id}/prep/stdout`, 'line 1\nline 2\n');
    rt.setState(id, 'prep', 'completed');
    const rest = await readUntil(reader, 'event: end');
    expect(rest).toContain('line 2');
    expect(rest).not.toContain('line 1');
    await new Promise((r) => setTimeout(r, 20));
    expect(openStreamCount(app.app)).toBe(0);
  });
  it('jobs and runs events send an initial snapshot', async () => {
    for (const path of ['/api/v1/jobs/events', '/api/v1/runs/events', '/live/dashboard', '/live/runs']) {
      const ac = new AbortController();
      const res = await app.request(path, { signal: ac.signal });
      expect(res.status, path).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      if (path.startsWith('/api')) await readUntil(reader, 'event: ');
      await reader.cancel();
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(openStreamCount(app.app)).toBe(0);
  });
});
