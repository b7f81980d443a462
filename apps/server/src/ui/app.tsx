/** @jsxImportSource hono/jsx */
/**
 * The web UI: server-rendered pages (work without JavaScript for reading), POST forms protected by a
 * per-session CSRF token + Origin check, and `/live/*` SSE endpoints that push re-rendered fragments.
 * Each page lives in `pages/<name>.tsx` with its routes; this file only adds what every page shares.
 */
import { ScriptHutError } from '@scripthut/core';
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { toErrorBody } from '../errors.js';
import {
  CSRF_COOKIE,
  CSRF_FIELD,
  CSRF_HEADER,
  ensureCsrfToken,
  isSameOrigin,
  isUnsafeMethod,
  safeEqual,
} from '../security.js';
import { ErrorPage } from './components.js';
import { createUiContext, html, type UiDeps, type UiEnv } from './context.js';
import { backendRoutes } from './pages/backend.js';
import { dashboardRoutes } from './pages/dashboard.js';
import { debugPageRoutes } from './pages/debug.js';
import { dryRunRoutes } from './pages/dry-run.js';
import { jobActionPageRoutes } from './pages/job-actions.js';
import { projectsRoutes } from './pages/projects.js';
import { runRoutes } from './pages/run.js';
import { runsRoutes } from './pages/runs.js';
import { settingsRoutes } from './pages/settings.js';
import { sourcesRoutes } from './pages/sources.js';
import { taskRoutes } from './pages/task.js';
import { terminalPageRoutes } from './pages/terminal.js';
import { workflowsRoutes } from './pages/workflows.js';

export type { UiDeps } from './context.js';

/** Builds the UI sub-app (mounted at `/`). */
export function createUi(deps: UiDeps) {
  const { version } = deps;
  const ui = new Hono<UiEnv>();
  const x = createUiContext(deps);

  ui.onError(async (err, c) => {
    const { status, body } = toErrorBody(err);
    if (status >= 500 && !ScriptHutError.is(err)) console.error('[scripthut-server]', err);
    if (c.req.path.startsWith('/live/')) return c.json(body, status);
    let csrf = '';
    try {
      csrf = c.get('csrf') ?? '';
    } catch {
      /* no token yet */
    }
    return c.html(
      await html(<ErrorPage ctx={{ csrf, version }} status={status} message={body.message} />),
      status,
    );
  });

  // Every UI request gets a CSRF token; every state-changing one must echo it and come from this origin.
  ui.use('*', async (c, next) => {
    c.set('csrf', ensureCsrfToken(c));
    if (isUnsafeMethod(c.req.method)) {
      const cookie = getCookie(c, CSRF_COOKIE);
      let sent = c.req.header(CSRF_HEADER);
      if (!sent) {
        const ct = c.req.header('content-type') ?? '';
        if (ct.includes('form')) {
          const body = await c.req.parseBody();
          const v = body[CSRF_FIELD];
          sent = typeof v === 'string' ? v : undefined;
        }
      }
      if (!cookie || !sent || !safeEqual(cookie, sent) || !isSameOrigin(c)) {
        return c.html(
          await html(
            <ErrorPage
              ctx={x.pageContext(c)}
              status={403}
              message="This form has expired or came from another site (CSRF check failed). Reload the page and try again."
            />,
          ),
          403,
        );
      }
    }
    return next();
  });

  dashboardRoutes(ui, x);
  backendRoutes(ui, x);
  workflowsRoutes(ui, x);
  sourcesRoutes(ui, x);
  projectsRoutes(ui, x);
  dryRunRoutes(ui, x);
  runsRoutes(ui, x);
  runRoutes(ui, x);
  taskRoutes(ui, x);
  settingsRoutes(ui, x);
  terminalPageRoutes(ui, x);
  debugPageRoutes(ui, x);
  jobActionPageRoutes(ui, x);
  return ui;
}
