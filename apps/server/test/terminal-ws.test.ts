/**
 * The terminal WebSocket over a real socket, with a runtime whose terminals are an in-memory PTY:
 * authentication and Origin on the upgrade, input/resize/exit, flow control, idle timeout, closing.
 * (The real PTY on the real sshd is covered by the e2e test `test/e2e/terminal.test.ts`.)
 */

import type { OpenedTerminal, TerminalRequest } from '@scripthut/runtime';
import type { ShellChannel, ShellExit } from '@scripthut/ssh';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startServer } from '../src/index.js';
import { STUB_TOKEN, StubRuntime } from './stub-runtime.js';

/** A PTY that echoes input and records what the server did to it. */
class FakePty implements ShellChannel {
  handler: ((b: Buffer) => void) | null = null;
  input = '';
  sizes: [number, number][] = [];
  paused = 0;
  resumed = 0;
  closed = false;
  private finish!: (e: ShellExit) => void;
  readonly ended = new Promise<ShellExit>((r) => {
    this.finish = r;
  });
  onData(h: (b: Buffer) => void) {
    this.handler = h;
  }
  write(d: Buffer | string) {
    this.input += d.toString();
    this.handler?.(Buffer.from(`echo:${d.toString()}`));
    return true;
  }
  resize(c: number, r: number) {
    this.sizes.push([c, r]);
  }
  pause() {
    this.paused++;
  }
  resume() {
    this.resumed++;
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.finish({ exitCode: null, signal: 'HUP' });
  }
  exit(code: number) {
    this.closed = true;
    this.finish({ exitCode: code, signal: null });
  }
}

class TerminalRuntime extends StubRuntime {
  ptys: FakePty[] = [];
  requests: TerminalRequest[] = [];
  async openTerminal(_backend: string, request: TerminalRequest): Promise<OpenedTerminal> {
    this.requests.push(request);
    const channel = new FakePty();
    this.ptys.push(channel);
    return { channel, description: 'login shell' };
  }
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function serve(options: { terminalIdleMs?: number } = {}) {
  const rt = new TerminalRuntime();
  const server = await startServer(rt, {
    host: '127.0.0.1',
    port: 0,
    env: {},
    authToken: STUB_TOKEN,
    ...options,
  });
  cleanup.push(() => server.close());
  const backend = rt.listBackends()[0]!.name;
  const url = `${server.url.replace(/^http/, 'ws')}/api/v1/backends/${backend}/terminal?cols=90&rows=30`;
  return { rt, server, url };
}

interface Client {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  bytes: string[];
  closed: Promise<number>;
}

function connect(url: string, headers: Record<string, string>): Promise<Client | { status: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    const client: Client = {
      ws,
      messages: [],
      bytes: [],
      closed: new Promise((r) => ws.once('close', (code) => r(code))),
    };
    ws.on('message', (data, isBinary) => {
      if (isBinary) client.bytes.push(data.toString());
      else client.messages.push(JSON.parse(data.toString()));
    });
    ws.once('open', () => resolve(client));
    ws.on('error', () => {}); // the refused handshake below is reported as an error too
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
  });
}

async function until<T>(fn: () => T | null | undefined | false, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const auth = (origin: string) => ({ Authorization: `Bearer ${STUB_TOKEN}`, Origin: origin });

describe('terminal WebSocket', () => {
  it('refuses an upgrade without a credential, with a foreign or missing Origin, or a bad size', async () => {
    const { server, url, rt } = await serve();
    expect(await connect(url, { Origin: server.url })).toEqual({ status: 401 });
    expect(await connect(url, { Origin: server.url, Authorization: 'Bearer wrong' })).toEqual({
      status: 401,
    });
    expect(await connect(url, auth('http://evil.example'))).toEqual({ status: 403 });
    expect(await connect(url, { Authorization: `Bearer ${STUB_TOKEN}` })).toEqual({ status: 403 });
    expect(await connect(url, { ...auth(server.url), Host: 'evil.example' })).toEqual({ status: 403 });
    expect(await connect(url.replace('cols=90', 'cols=0'), auth(server.url))).toEqual({ status: 400 });
    expect(await connect(url.replace('/backends/', '/backends/nope'), auth(server.url))).toEqual({
      status: 404,
    });
    expect(rt.ptys).toHaveLength(0);
  });

  it('bridges input, output (UTF-8 bytes), resize and exit; lists the session while open', async () => {
    const { server, url, rt } = await serve();
    const c = (await connect(url, auth(server.url))) as Client;
    await until(() => c.messages.find((m) => m.type === 'ready'), 'ready');
    expect(rt.requests[0]).toEqual({ target: { kind: 'login' }, cols: 90, rows: 30 });
    c.ws.send(JSON.stringify({ type: 'input', data: 'é☃\r' }));
    await until(() => c.bytes.join('').includes('echo:é☃\r'), 'echo');
    expect(rt.ptys[0]!.input).toBe('é☃\r');
    c.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    c.ws.send(JSON.stringify({ type: 'resize', cols: 0, rows: 40 })); // ignored
    await until(() => rt.ptys[0]!.sizes.length === 1, 'resize');
    expect(rt.ptys[0]!.sizes).toEqual([[120, 40]]);
    const list = (await (
      await fetch(`${server.url}/api/v1/terminals`, { headers: { Authorization: `Bearer ${STUB_TOKEN}` } })
    ).json()) as { items: { kind: string }[] };
    expect(list.items).toEqual([expect.objectContaining({ kind: 'login', description: 'login shell' })]);
    rt.ptys[0]!.exit(7);
    expect(await c.closed).toBe(1000);
    expect(c.messages).toContainEqual({ type: 'exit', exitCode: 7, signal: null });
  });

  it('closing the socket ends the channel and the session', async () => {
    const { server, url, rt } = await serve();
    const c = (await connect(url, auth(server.url))) as Client;
    await until(() => c.messages.find((m) => m.type === 'ready'), 'ready');
    c.ws.close();
    await until(() => rt.ptys[0]!.closed, 'channel closed');
    const list = await fetch(`${server.url}/api/v1/terminals`, {
      headers: { Authorization: `Bearer ${STUB_TOKEN}` },
    });
    expect(((await list.json()) as { items: unknown[] }).items).toEqual([]);
  });

  it('DELETE /api/v1/terminals/:id closes a session', async () => {
    const { server, url, rt } = await serve();
    const c = (await connect(url, auth(server.url))) as Client;
    const ready = await until(() => c.messages.find((m) => m.type === 'ready'), 'ready');
    const res = await fetch(`${server.url}/api/v1/terminals/${ready.id as string}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${STUB_TOKEN}` },
    });
    expect(res.status).toBe(204);
    expect(await c.closed).toBe(4000);
    expect(rt.ptys[0]!.closed).toBe(true);
  });

  it('pauses the channel while the browser does not read, and resumes when it does', async () => {
    const { server, url, rt } = await serve();
    const c = (await connect(url, auth(server.url))) as Client;
    await until(() => c.messages.find((m) => m.type === 'ready'), 'ready');
    const pty = rt.ptys[0]!;
    // The browser stops reading: its socket is paused, so the server's send buffer fills.
    const socket = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    while (pty.paused === 0 && sent < 256) {
      pty.handler!(chunk);
      sent++;
      if (sent % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(pty.paused).toBe(1);
    expect(pty.resumed).toBe(0);
    socket.resume();
    await until(() => pty.resumed === 1, 'resume');
  });

  it('closes an idle terminal', async () => {
    const { server, url, rt } = await serve({ terminalIdleMs: 300 });
    const c = (await connect(url, auth(server.url))) as Client;
    await until(() => c.messages.find((m) => m.type === 'ready'), 'ready');
    expect(await c.closed).toBe(4408);
    expect(rt.ptys[0]!.closed).toBe(true);
    expect(c.messages.some((m) => m.type === 'error' && String(m.message).includes('without activity'))).toBe(
      true,
    );
  });
});
