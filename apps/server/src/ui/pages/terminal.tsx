/** @jsxImportSource hono/jsx */
/**
 * Terminals (`/backends/:name/terminal`, `/terminals`): an xterm.js terminal over a WebSocket to a
 * PTY channel on the backend's SSH connection, and the list of open terminals (closable).
 */
import type { FC } from 'hono/jsx';
import { nameSchema } from '../../schemas.js';
import { parseTerminalQuery, type TerminalSessionView } from '../../terminals.js';
import { Form, fmtTime, Layout, type PageContext, Section } from '../components.js';
import { html, parseOr400, type UiApp, type UiContext } from '../context.js';

const TERMINAL_STYLE =
  '#terminal{height:70vh;min-height:240px;background:#000;padding:4px;border-radius:6px}' +
  '#terminal-status[data-state=error]{color:#b00020}';

export const TerminalList: FC<{ ctx: PageContext; sessions: TerminalSessionView[] }> = ({ ctx, sessions }) =>
  sessions.length === 0 ? (
    <div class="panel empty">No open terminals.</div>
  ) : (
    <table id="terminal-sessions">
      <thead>
        <tr>
          <th>Backend</th>
          <th>Session</th>
          <th>Started</th>
          <th>Last activity</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {sessions.map((s) => (
          <tr data-terminal-session={s.id}>
            <td>
              <a href={`/backends/${encodeURIComponent(s.backend)}`}>{s.backend}</a>
            </td>
            <td>{s.description}</td>
            <td class="small">{fmtTime(s.startedAt)}</td>
            <td class="small">{fmtTime(s.lastActivityAt)}</td>
            <td>
              <Form action={`/terminals/${s.id}/close`} ctx={ctx} confirm="Close this terminal?">
                <button type="submit">Close</button>
              </Form>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );

export const TerminalPage: FC<{
  ctx: PageContext;
  backend: string;
  wsPath: string;
  title: string;
  sessions: TerminalSessionView[];
}> = ({ ctx, backend, wsPath, title, sessions }) => (
  <Layout title={`Terminal · ${backend}`} active="/" ctx={ctx}>
    <link rel="stylesheet" href="/assets/xterm.css" />
    <style dangerouslySetInnerHTML={{ __html: TERMINAL_STYLE }} />
    <h1>
      {title} <span class="muted small">on backend </span>
      <a href={`/backends/${encodeURIComponent(backend)}`}>{backend}</a>
    </h1>
    <p id="terminal-status" class="small muted" data-state="static">
      This page needs JavaScript.
    </p>
    <div id="terminal" data-ws={wsPath} />
    <Section title="Open terminals">
      <TerminalList ctx={ctx} sessions={sessions} />
    </Section>
    <script src="/assets/xterm.js" defer />
    <script src="/assets/addon-fit.js" defer />
    <script src="/assets/terminal.js" defer />
  </Layout>
);

/** Registers `/backends/:name/terminal`, `/terminals` and `POST /terminals/:id/close`. */
export function terminalPageRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, pageContext: ctxOf } = x;
  const sessions = () => x.terminals?.list() ?? [];
  ui.get('/backends/:name/terminal', async (c) => {
    const name = parseOr400(nameSchema, c.req.param('name'), 'backend name');
    runtime.getBackend(name); // 404 for an unknown backend
    const { target } = parseTerminalQuery((k) => c.req.query(k));
    const query = new URLSearchParams({ kind: target.kind });
    let title = 'Login shell';
    if (target.kind !== 'login') {
      query.set('run', target.runId);
      query.set('task', target.taskId);
      title = `${target.kind === 'debug' ? 'Debug session of' : 'Shell in'} task ${target.taskId} of run ${target.runId}`;
    }
    const wsPath = `/api/v1/backends/${encodeURIComponent(name)}/terminal?${query}`;
    return c.html(
      await html(
        <TerminalPage ctx={ctxOf(c)} backend={name} wsPath={wsPath} title={title} sessions={sessions()} />,
      ),
    );
  });
  ui.get('/terminals', async (c) =>
    c.html(
      await html(
        <Layout title="Terminals" active="/" ctx={ctxOf(c)}>
          <h1>Open terminals</h1>
          <TerminalList ctx={ctxOf(c)} sessions={sessions()} />
        </Layout>,
      ),
    ),
  );
  ui.post('/terminals/:id/close', (c) => {
    x.terminals?.close(c.req.param('id'));
    return c.redirect('/terminals', 303);
  });
}
