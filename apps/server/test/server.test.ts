import { describe, expect, it } from 'vitest';
import { isLoopbackHost, startServer } from '../src/index.js';
import { StubRuntime } from './stub-runtime.js';

describe('startServer', () => {
  it('refuses a non-loopback host without an auth token', async () => {
    const rt = new StubRuntime();
    await expect(startServer(rt, { host: '0.0.0.0', port: 0 })).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringContaining('refusing to bind 0.0.0.0 without settings.auth_token'),
    });
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('192.168.1.10')).toBe(false);
  });
  it('binds a non-loopback host when a token is set, and then requires it', async () => {
    const rt = new StubRuntime();
    const server = await startServer(rt, { host: '0.0.0.0', port: 0, authToken: 'tok-123' });
    try {
      const port = new URL(server.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/health`)).status).toBe(401);
      expect(
        (
          await fetch(`http://127.0.0.1:${port}/api/v1/health`, {
            headers: { authorization: 'Bearer tok-123' },
          })
        ).status,
      ).toBe(200);
    } finally {
      await server.close();
    }
  });
  it('serves over HTTP and closes even with an SSE client connected', async () => {
    const rt = new StubRuntime();
    const logs: string[] = [];
    const server = await startServer(rt, { host: '127.0.0.1', port: 0, log: (m) => logs.push(m) });
    expect(logs[0]).toContain(server.url);
    const res = await fetch(`${server.url}/api/v1/jobs/events`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    expect(rt.listenerCount()).toBeGreaterThan(0);
    // close() resolves only once every connection is gone (the open SSE stream included).
    await server.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(rt.listenerCount()).toBe(0);
    await reader.cancel().catch(() => {});
  });
});
