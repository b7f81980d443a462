/**
 * Browser terminals: a WebSocket per terminal, bridged to a PTY channel on the backend's SSH
 * connection (`runtime.openTerminal`).
 *
 * `GET /api/v1/backends/:name/terminal?kind=login|task|debug&run=&task=&cols=&rows=` (WebSocket
 * upgrade). The upgrade passes the same checks as every request (Host allow-list, token or session
 * cookie, throttling) and must carry an `Origin` naming this very server.
 *
 * Protocol: the server sends PTY output as binary frames (raw bytes; the browser's terminal decodes
 * UTF-8 across frames) and control messages as JSON text frames (`ready`, `exit`, `error`); the
 * browser sends JSON text frames `{type:'input',data}` and `{type:'resize',cols,rows}`.
 *
 * Flow control: when the socket's send buffer passes {@link HIGH_WATER} bytes the SSH channel is
 * paused (the server then stops sending once the SSH window is full) until it drains below
 * {@link LOW_WATER}. Sessions end when the tab closes (socket closed), the shell exits, the session
 * is closed from the list, or nothing moved in either direction for the idle timeout.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { createNodeWebSocket } from '@hono/node-ws';
import { ScriptHutError } from '@scripthut/core';
import type { OpenedTerminal, ScriptHutRuntime, TerminalTarget } from '@scripthut/runtime';
import type { Context, Hono } from 'hono';
import type { WSContext } from 'hono/ws';
import type { WebSocket } from 'ws';
import { toErrorBody } from './errors.js';
import { nameSchema } from './schemas.js';
import { isSameOrigin } from './security.js';

/** Pause the SSH channel when this many bytes wait in the socket's send buffer. */
export const HIGH_WATER = 256 * 1024;
/** Resume it below this. */
export const LOW_WATER = 64 * 1024;
/** Default idle timeout of a terminal (no input and no output). */
export const DEFAULT_TERMINAL_IDLE_MS = 30 * 60 * 1000;
/** Largest input message accepted from the browser (bytes of the JSON frame). */
const MAX_INPUT_FRAME = 64 * 1024;

/** One open terminal, as listed by `GET /api/v1/terminals`. */
export interface TerminalSessionView {
  id: string;
  backend: string;
  kind: TerminalTarget['kind'];
  description: string;
  startedAt: string;
  lastActivityAt: string;
}

interface Session extends TerminalSessionView {
  close(reason: string): void;
}

/** The open terminals of a server. */
export class TerminalSessions {
  private readonly sessions = new Map<string, Session>();

  list(): TerminalSessionView[] {
    return [...this.sessions.values()].map(({ close: _c, ...view }) => ({ ...view }));
  }

  get size(): number {
    return this.sessions.size;
  }

  add(session: Session): void {
    this.sessions.set(session.id, session);
  }

  remove(id: string): void {
    this.sessions.delete(id);
  }

  /** Ends session `id`; false when there is none. */
  close(id: string, reason = 'closed from the session list'): boolean {
    const s = this.sessions.get(id);
    if (!s) return false;
    s.close(reason);
    return true;
  }

  closeAll(reason: string): void {
    for (const s of [...this.sessions.values()]) s.close(reason);
  }
}

const ID_RE = /^[A-Za-z0-9_-]{1,200}$/;

/** Reads the terminal target and size from the upgrade request's query; throws `validation_failed`. */
export function parseTerminalQuery(q: (name: string) => string | undefined): {
  target: TerminalTarget;
  cols: number;
  rows: number;
} {
  const size = (name: 'cols' | 'rows', def: number) => {
    const raw = q(name);
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!/^[0-9]{1,4}$/.test(raw) || n < 1 || n > 1000)
      throw new ScriptHutError(
        'validation_failed',
        `${name}: an integer from 1 to 1000, got ${JSON.stringify(raw)}`,
      );
    return n;
  };
  const kind = q('kind') ?? 'login';
  const cols = size('cols', 80);
  const rows = size('rows', 24);
  if (kind === 'login') return { target: { kind }, cols, rows };
  if (kind !== 'task' && kind !== 'debug')
    throw new ScriptHutError(
      'validation_failed',
      `kind: one of login, task, debug; got ${JSON.stringify(kind)}`,
    );
  const runId = q('run');
  const taskId = q('task');
  if (!runId || !ID_RE.test(runId))
    throw new ScriptHutError('validation_failed', 'run: a run id is required');
  if (!taskId || !ID_RE.test(taskId))
    throw new ScriptHutError('validation_failed', 'task: a task id is required');
  return { target: { kind, runId, taskId }, cols, rows };
}

/** An Origin header that names this server (WebSockets are not covered by CORS, so it is required). */
function webSocketOriginOk(c: Context): boolean {
  return c.req.header('origin') !== undefined && isSameOrigin(c);
}

export interface TerminalRoutesOptions {
  runtime: ScriptHutRuntime;
  sessions: TerminalSessions;
  idleMs?: number;
}

/**
 * Adds the terminal routes to `app` (call after authentication middleware, before the API
 * sub-app) and returns `inject(server)` to attach the WebSocket upgrade handler to a node server.
 */
export function terminalRoutes(app: Hono, options: TerminalRoutesOptions): { inject(server: Server): void } {
  const { runtime, sessions } = options;
  const idleMs = options.idleMs ?? DEFAULT_TERMINAL_IDLE_MS;
  const ws = createNodeWebSocket({ app });

  app.get('/api/v1/terminals', (c) => c.json({ items: sessions.list() }));
  app.delete('/api/v1/terminals/:id', (c) => {
    if (!sessions.close(c.req.param('id')))
      return c.json(
        { code: 'not_found', message: `no terminal session ${c.req.param('id')}`, details: null },
        404,
      );
    return c.body(null, 204);
  });

  app.get(
    '/api/v1/backends/:name/terminal',
    async (c, next) => {
      if (!webSocketOriginOk(c))
        return c.json({ code: 'forbidden', message: 'cross-site WebSocket refused', details: null }, 403);
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket')
        return c.json(
          { code: 'upgrade_required', message: 'open this URL as a WebSocket', details: null },
          426,
        );
      if (!runtime.openTerminal)
        return c.json(
          { code: 'not_implemented', message: 'this server has no terminals', details: null },
          501,
        );
      try {
        const name = nameSchema.parse(c.req.param('name'));
        parseTerminalQuery((k) => c.req.query(k));
        runtime.getBackend(name);
      } catch (e) {
        const { status, body } = toErrorBody(e);
        return c.json(body, status);
      }
      return next();
    },
    ws.upgradeWebSocket((c) => {
      const backend = c.req.param('name') as string;
      const request = parseTerminalQuery((k) => c.req.query(k));
      let opened: OpenedTerminal | null = null;
      let session: Session | null = null;
      let ended = false;
      let latestSize = { cols: request.cols, rows: request.rows };
      const pendingInput: string[] = [];
      let idleTimer: NodeJS.Timeout | null = null;
      let raw: WebSocket | null = null;

      const touch = () => {
        if (session) session.lastActivityAt = new Date().toISOString();
        if (idleTimer) idleTimer.refresh();
      };
      const sendControl = (msg: Record<string, unknown>) => {
        if (raw && raw.readyState === raw.OPEN) raw.send(JSON.stringify(msg));
      };
      const finish = (code: number, reason: string) => {
        if (ended) return;
        ended = true;
        if (idleTimer) clearTimeout(idleTimer);
        if (session) sessions.remove(session.id);
        opened?.channel.close();
        if (raw && (raw.readyState === raw.OPEN || raw.readyState === raw.CONNECTING))
          raw.close(code, reason.slice(0, 120));
      };

      return {
        onOpen(_evt, wsc: WSContext) {
          raw = wsc.raw as WebSocket;
          const socket = raw;
          idleTimer = setTimeout(() => {
            sendControl({
              type: 'error',
              message: `terminal closed after ${Math.round(idleMs / 1000)} s without activity`,
            });
            finish(4408, 'idle timeout');
          }, idleMs);
          idleTimer.unref();
          runtime.openTerminal!(backend, request).then(
            (t) => {
              opened = t;
              if (ended) {
                t.channel.close();
                return;
              }
              const now = new Date().toISOString();
              session = {
                id: randomBytes(8).toString('hex'),
                backend,
                kind: request.target.kind,
                description: t.description,
                startedAt: now,
                lastActivityAt: now,
                close: (reason) => {
                  sendControl({ type: 'error', message: reason });
                  finish(4000, reason);
                },
              };
              sessions.add(session);
              let paused = false;
              t.channel.onData((chunk) => {
                touch();
                if (socket.readyState !== socket.OPEN) return;
                socket.send(chunk, { binary: true }, () => {
                  if (paused && socket.bufferedAmount < LOW_WATER) {
                    paused = false;
                    t.channel.resume();
                  }
                });
                if (!paused && socket.bufferedAmount > HIGH_WATER) {
                  paused = true;
                  t.channel.pause();
                }
              });
              t.channel.ended.then((exit) => {
                sendControl({ type: 'exit', exitCode: exit.exitCode, signal: exit.signal });
                finish(1000, 'terminal ended');
              });
              if (latestSize.cols !== request.cols || latestSize.rows !== request.rows)
                t.channel.resize(latestSize.cols, latestSize.rows);
              for (const data of pendingInput.splice(0)) t.channel.write(data);
              sendControl({ type: 'ready', id: session.id, description: t.description });
            },
            (err: unknown) => {
              const { body } = toErrorBody(err);
              sendControl({ type: 'error', message: body.message });
              finish(4500, 'cannot open terminal');
            },
          );
        },
        onMessage(evt) {
          if (ended) return;
          const data = evt.data;
          if (typeof data !== 'string' || data.length > MAX_INPUT_FRAME) {
            sendControl({ type: 'error', message: 'send JSON text messages of at most 64 KiB' });
            return;
          }
          let msg: { type?: unknown; data?: unknown; cols?: unknown; rows?: unknown };
          try {
            msg = JSON.parse(data);
          } catch {
            return;
          }
          touch();
          if (msg.type === 'input' && typeof msg.data === 'string') {
            if (opened) opened.channel.write(msg.data);
            else pendingInput.push(msg.data);
          } else if (msg.type === 'resize') {
            const { cols, rows } = msg;
            if (
              typeof cols === 'number' &&
              typeof rows === 'number' &&
              Number.isInteger(cols) &&
              Number.isInteger(rows) &&
              cols >= 1 &&
              rows >= 1 &&
              cols <= 1000 &&
              rows <= 1000
            ) {
              latestSize = { cols, rows };
              opened?.channel.resize(cols, rows);
            }
          }
        },
        onClose() {
          finish(1000, 'socket closed');
        },
        onError() {
          finish(1011, 'socket error');
        },
      };
    }),
  );

  return { inject: (server) => ws.injectWebSocket(server) };
}
