/**
 * API of a task's debug jobs (see `@scripthut/runtime` debug-jobs): list, start, release.
 *
 * - `GET  /api/v1/runs/:id/tasks/:taskId/debug` → `{ items: DebugSessionView[] }`
 * - `POST /api/v1/runs/:id/tasks/:taskId/debug` → 201 `DebugSessionView`
 * - `POST /api/v1/runs/:id/tasks/:taskId/debug/:session/release` → `DebugSessionView`
 */
import { ScriptHutError } from '@scripthut/core';
import type { ScriptHutRuntime } from '@scripthut/runtime';
import type { Context, Hono } from 'hono';
import { runIdSchema, taskIdSchema } from './schemas.js';

const SESSION_RE = /^[a-z0-9]{1,64}$/;

function ids(c: Context): { runId: string; taskId: string } {
  const runId = runIdSchema.safeParse(c.req.param('id'));
  const taskId = taskIdSchema.safeParse(c.req.param('taskId'));
  if (!runId.success) throw new ScriptHutError('validation_failed', 'id: not a run id');
  if (!taskId.success) throw new ScriptHutError('validation_failed', 'taskId: not a task id');
  return { runId: runId.data, taskId: taskId.data };
}

function capable(
  runtime: ScriptHutRuntime,
): Required<Pick<ScriptHutRuntime, 'debugTask' | 'debugSessions' | 'releaseDebug'>> {
  const { debugTask, debugSessions, releaseDebug } = runtime;
  if (!debugTask || !debugSessions || !releaseDebug)
    throw new ScriptHutError('not_implemented', 'this server has no debug sessions');
  return {
    debugTask: debugTask.bind(runtime),
    debugSessions: debugSessions.bind(runtime),
    releaseDebug: releaseDebug.bind(runtime),
  };
}

/** Adds the debug routes to `app` (after authentication and CSRF middleware). */
export function debugRoutes(app: Hono, runtime: ScriptHutRuntime): void {
  const base = '/api/v1/runs/:id/tasks/:taskId/debug';
  app.get(base, async (c) => {
    const { runId, taskId } = ids(c);
    return c.json({ items: await capable(runtime).debugSessions(runId, taskId) });
  });
  app.post(base, async (c) => {
    const { runId, taskId } = ids(c);
    return c.json(await capable(runtime).debugTask(runId, taskId), 201);
  });
  app.post(`${base}/:session/release`, async (c) => {
    const { runId, taskId } = ids(c);
    const session = c.req.param('session');
    if (!SESSION_RE.test(session))
      throw new ScriptHutError('validation_failed', 'session: not a debug session name');
    return c.json(await capable(runtime).releaseDebug(runId, taskId, session));
  });
}
