/**
 * The JSON API mounted at `/api/v1`. Routes are chained so their types flow into the typed client
 * (`hc<ApiType>`). Handlers stay thin: validate with zod, call the runtime, return JSON.
 */
import { isTerminalTaskState, type RunSummary, ScriptHutError, type TaskRecord } from '@scripthut/core';
import type { NotificationEvent, ScriptHutRuntime } from '@scripthut/runtime';
import { Hono } from 'hono';
import { jsonError } from './errors.js';
import {
  adhocTaskBody,
  estimateBody,
  fileRunBody,
  jobsQuery,
  logFollowQuery,
  loginLinkBody,
  logQuery,
  nameParams,
  outputFileQuery,
  rerunBody,
  runDetailQuery,
  runOptionsBody,
  runParams,
  runsQuery,
  saveConfigBody,
  taskParams,
  tasksQuery,
  validateConfigBody,
  zv,
} from './schemas.js';
import { coalesce, liveStream, type StreamRegistry } from './sse.js';
import { durationOf, type GroupCache, progressOf } from './views.js';

export interface ApiDeps {
  runtime: ScriptHutRuntime;
  version: string;
  streams: StreamRegistry;
  groups: GroupCache;
  /** Mints a one-time sign-in URL (`<baseUrl><path>?login=<code>`). */
  mintLoginUrl(baseUrl: string, path?: string): { url: string; expiresAt: string };
}

/** A run summary plus derived progress and duration, as every run route returns it. */
export function runView(s: RunSummary) {
  return { ...s, progress: progressOf(s), durationMs: durationOf(s) };
}

const LOG_DEFAULT_TAIL = 64 * 1024;

/** Builds the `/api/v1` sub-app. */
export function createApi({ runtime, version, streams, groups, mintLoginUrl }: ApiDeps) {
  const api = new Hono()
    .onError(jsonError)
    .notFound((c) =>
      c.json({ code: 'not_found', message: `no route ${c.req.method} ${c.req.path}`, details: null }, 404),
    )

    // ---- health, backends, jobs -------------------------------------------------------------
    .get('/health', (c) => {
      const backends = runtime.listBackends().map((b) => ({
        name: b.name,
        type: b.type,
        connected: b.health.connected,
        lastPollAt: b.lastPollAt,
        lastError: b.lastError,
      }));
      const degraded = backends.some((b) => !b.connected);
      return c.json({
        status: degraded ? ('degraded' as const) : ('ok' as const),
        version,
        configSource: runtime.configSource,
        backends,
      });
    })
    // A browser sign-in link for whoever holds the token (the CLI: `scripthut open`). Bearer only:
    // a browser session cannot mint links for others.
    .post('/auth/login-link', zv('json', loginLinkBody), (c) => {
      if (!c.req.header('authorization'))
        throw new ScriptHutError(
          'unauthorized',
          'minting a sign-in link needs Authorization: Bearer <token>',
        );
      const { path } = c.req.valid('json');
      return c.json(mintLoginUrl(new URL(c.req.url).origin, path ?? '/'));
    })
    .get('/backends', (c) => c.json({ items: runtime.listBackends() }))
    .get('/backends/:name', zv('param', nameParams), (c) =>
      c.json(runtime.getBackend(c.req.valid('param').name)),
    )
    .get('/jobs', zv('query', jobsQuery), (c) => c.json({ items: runtime.listJobs(c.req.valid('query')) }))
    .get('/jobs/events', zv('query', jobsQuery), (c) => {
      const query = c.req.valid('query');
      return liveStream(c, streams, (send) => {
        const push = () =>
          send({
            event: 'jobs',
            data: JSON.stringify({ items: runtime.listJobs(query), backends: runtime.listBackends() }),
          });
        const tick = coalesce(push, 500);
        const on = () => tick.trigger();
        runtime.events.on('task', on).on('poll', on).on('run-created', on).on('run-deleted', on);
        push();
        return () => {
          tick.cancel();
          runtime.events.off('task', on).off('poll', on).off('run-created', on).off('run-deleted', on);
        };
      });
    })

    // ---- workflows, sources, projects -------------------------------------------------------
    .get('/workflows', (c) => c.json({ items: runtime.listWorkflows() }))
    .post('/workflows/:name/dry-run', zv('param', nameParams), zv('json', runOptionsBody), async (c) =>
      c.json(await runtime.dryRunWorkflow(c.req.valid('param').name, c.req.valid('json'))),
    )
    .post('/workflows/:name/run', zv('param', nameParams), zv('json', runOptionsBody), async (c) =>
      c.json(runView(await runtime.runWorkflow(c.req.valid('param').name, c.req.valid('json'))), 201),
    )
    .get('/sources', (c) => c.json({ items: runtime.listSources() }))
    .post('/sources/:name/sync', zv('param', nameParams), async (c) =>
      c.json(await runtime.syncSource(c.req.valid('param').name)),
    )
    .post('/sources/:name/dry-run', zv('param', nameParams), zv('json', fileRunBody), async (c) => {
      const { file, ...options } = c.req.valid('json');
      return c.json(await runtime.dryRunSourceWorkflow(c.req.valid('param').name, file, options));
    })
    .post('/sources/:name/run', zv('param', nameParams), zv('json', fileRunBody), async (c) => {
      const { file, ...options } = c.req.valid('json');
      return c.json(runView(await runtime.runSourceWorkflow(c.req.valid('param').name, file, options)), 201);
    })
    .get('/projects', (c) => c.json({ items: runtime.listProjects() }))
    .get('/projects/:name/workflows', zv('param', nameParams), async (c) =>
      c.json({ items: await runtime.listProjectWorkflows(c.req.valid('param').name) }),
    )
    .post('/projects/:name/dry-run', zv('param', nameParams), zv('json', fileRunBody), async (c) => {
      const { file, ...options } = c.req.valid('json');
      return c.json(await runtime.dryRunProjectWorkflow(c.req.valid('param').name, file, options));
    })
    .post('/projects/:name/run', zv('param', nameParams), zv('json', fileRunBody), async (c) => {
      const { file, ...options } = c.req.valid('json');
      return c.json(runView(await runtime.runProjectWorkflow(c.req.valid('param').name, file, options)), 201);
    })
    .post('/tasks/run', zv('json', adhocTaskBody), async (c) =>
      c.json(runView(await runtime.runAdhocTask(c.req.valid('json'))), 201),
    )
    .post('/estimate', zv('json', estimateBody), async (c) => {
      const { kind, name, backend } = c.req.valid('json');
      return c.json(await runtime.estimateWorkflow(kind, name, backend ? { backend } : {}));
    })

    // ---- runs ---------------------------------------------------------------------------------
    .get('/runs', zv('query', runsQuery), (c) => {
      const query = c.req.valid('query');
      const limit = query.limit ?? 50;
      const offset = query.offset ?? 0;
      const { items, total } = runtime.listRuns({ ...query, limit, offset });
      return c.json({ items: items.map(runView), total, limit, offset });
    })
    .get('/runs/events', zv('query', runsQuery), (c) => {
      const query = c.req.valid('query');
      return liveStream(c, streams, (send) => {
        const push = () => {
          const { items, total } = runtime.listRuns({ limit: 50, offset: 0, ...query });
          send({ event: 'runs', data: JSON.stringify({ items: items.map(runView), total }) });
        };
        const tick = coalesce(push, 500);
        const on = () => tick.trigger();
        runtime.events.on('run', on).on('run-created', on).on('run-deleted', on);
        push();
        return () => {
          tick.cancel();
          runtime.events.off('run', on).off('run-created', on).off('run-deleted', on);
        };
      });
    })
    .get('/runs/:id', zv('param', runParams), zv('query', runDetailQuery), (c) => {
      const { id } = c.req.valid('param');
      const { taskLimit = 100, taskOffset = 0 } = c.req.valid('query');
      const summary = runtime.getRun(id);
      const tasks =
        taskLimit > 0
          ? runtime.listTasks(id, { limit: taskLimit, offset: taskOffset })
          : { items: [] as TaskRecord[], total: summary.total };
      return c.json({ ...runView(summary), tasks: { ...tasks, limit: taskLimit, offset: taskOffset } });
    })
    .get('/runs/:id/tasks', zv('param', runParams), zv('query', tasksQuery), (c) => {
      const { id } = c.req.valid('param');
      const { limit = 100, offset = 0, state, prefix } = c.req.valid('query');
      runtime.getRun(id); // 404 for unknown runs
      const page = runtime.listTasks(id, {
        limit,
        offset,
        ...(state ? { states: state } : {}),
        ...(prefix ? { idPrefix: prefix } : {}),
      });
      return c.json({ ...page, limit, offset });
    })
    .get('/runs/:id/groups', zv('param', runParams), (c) => {
      const { id } = c.req.valid('param');
      runtime.getRun(id);
      return c.json({ items: groups.get(runtime, id) });
    })
    .get('/runs/:id/cost', zv('param', runParams), async (c) =>
      c.json(await runtime.runCost(c.req.valid('param').id)),
    )
    .get('/runs/:id/events', zv('param', runParams), (c) => {
      const { id } = c.req.valid('param');
      runtime.getRun(id);
      return liveStream(c, streams, (send, close) => {
        const changed = new Map<string, TaskRecord>();
        const push = () => {
          try {
            send({ event: 'run', data: JSON.stringify(runView(runtime.getRun(id))) });
          } catch {
            send({ event: 'deleted', data: JSON.stringify({ runId: id }) });
            close();
            return;
          }
          if (changed.size > 0) {
            send({ event: 'tasks', data: JSON.stringify({ items: [...changed.values()] }) });
            changed.clear();
          }
        };
        const tick = coalesce(push, 250);
        const onTask = (e: { runId: string; task: TaskRecord }) => {
          if (e.runId !== id) return;
          changed.set(e.task.spec.id, e.task);
          tick.trigger();
        };
        const onRun = (e: { runId: string }) => {
          if (e.runId === id) tick.trigger();
        };
        const onDeleted = (e: { runId: string }) => {
          if (e.runId !== id) return;
          send({ event: 'deleted', data: JSON.stringify({ runId: id }) });
          close();
        };
        runtime.events.on('task', onTask).on('run', onRun).on('run-deleted', onDeleted);
        push();
        return () => {
          tick.cancel();
          runtime.events.off('task', onTask).off('run', onRun).off('run-deleted', onDeleted);
        };
      });
    })
    .post('/runs/:id/cancel', zv('param', runParams), async (c) =>
      c.json(runView(await runtime.cancelRun(c.req.valid('param').id))),
    )
    .post('/runs/:id/rerun', zv('param', runParams), zv('json', rerunBody), async (c) => {
      const { mode } = c.req.valid('json');
      const view = runView(await runtime.rerunRun(c.req.valid('param').id, mode));
      // in place: the same run again (200); every other mode creates a run (201)
      return mode.startsWith('in-place') ? c.json(view, 200) : c.json(view, 201);
    })
    .delete('/runs/:id', zv('param', runParams), (c) => {
      const { id } = c.req.valid('param');
      runtime.deleteRun(id);
      groups.invalidate(id);
      return c.json({ deleted: true as const, runId: id });
    })

    // ---- one task -----------------------------------------------------------------------------
    .get('/runs/:id/tasks/:taskId', zv('param', taskParams), (c) => {
      const { id, taskId } = c.req.valid('param');
      return c.json(runtime.getTask(id, taskId));
    })
    .get('/runs/:id/tasks/:taskId/script', zv('param', taskParams), (c) => {
      const { id, taskId } = c.req.valid('param');
      const task = runtime.getTask(id, taskId);
      return c.json({ runId: id, taskId, script: task.script });
    })
    .get('/runs/:id/tasks/:taskId/transitions', zv('param', taskParams), (c) => {
      const { id, taskId } = c.req.valid('param');
      runtime.getTask(id, taskId);
      return c.json({ items: runtime.taskTransitions(id, taskId) });
    })
    .get('/runs/:id/activity', zv('param', runParams), (c) =>
      c.json(runtime.runActivity(c.req.valid('param').id)),
    )
    // ---- task outputs, run summary, notifications ------------------------------------------------
    .get('/runs/:id/summary', zv('param', runParams), (c) =>
      c.json(runtime.runSummary(c.req.valid('param').id)),
    )
    .get('/runs/:id/tasks/:taskId/outputs', zv('param', taskParams), (c) => {
      const { id, taskId } = c.req.valid('param');
      return c.json(runtime.taskOutputs(id, taskId));
    })
    .get(
      '/runs/:id/tasks/:taskId/outputs/file',
      zv('param', taskParams),
      zv('query', outputFileQuery),
      async (c) => {
        const { id, taskId } = c.req.valid('param');
        const { path, download } = c.req.valid('query');
        const file = await runtime.readTaskOutputFile(id, taskId, path);
        const name = path.slice(path.lastIndexOf('/') + 1).replace(/[^\w.-]/g, '_') || 'output';
        const inline = file.kind === 'image' && download !== '1';
        return c.body(new Uint8Array(file.data), 200, {
          'Content-Type': file.contentType,
          'Content-Disposition': `${inline ? 'inline' : 'attachment'}; filename="${name}"`,
          'Content-Security-Policy': "default-src 'none'; sandbox",
          'X-Content-Type-Options': 'nosniff',
          'Cache-Control': 'private, max-age=60',
        });
      },
    )
    .get('/notifications/stats', (c) => c.json(runtime.notificationStats()))
    .get('/notifications/events', (c) =>
      liveStream(c, streams, (send) => {
        const stats = () => send({ event: 'stats', data: JSON.stringify(runtime.notificationStats()) });
        const tick = coalesce(stats, 1000);
        const onNotification = (e: NotificationEvent) =>
          send({ event: 'notification', id: e.id, data: JSON.stringify(e) });
        const onRun = () => tick.trigger();
        runtime.events.on('notification', onNotification).on('run', onRun).on('run-created', onRun);
        stats();
        return () => {
          tick.cancel();
          runtime.events.off('notification', onNotification).off('run', onRun).off('run-created', onRun);
        };
      }),
    )
    .get('/runs/:id/tasks/:taskId/log', zv('param', taskParams), zv('query', logQuery), async (c) => {
      const { id, taskId } = c.req.valid('param');
      const { stream, tail, offset, maxBytes } = c.req.valid('query');
      runtime.getTask(id, taskId);
      const chunk = await runtime.readTaskLog(id, taskId, stream, {
        ...(offset !== undefined ? { offset } : { tailBytes: tail ?? LOG_DEFAULT_TAIL }),
        maxBytes: maxBytes ?? 1024 * 1024,
      });
      return c.json({ runId: id, taskId, stream, ...chunk });
    })
    .get('/runs/:id/tasks/:taskId/log/follow', zv('param', taskParams), zv('query', logFollowQuery), (c) => {
      const { id, taskId } = c.req.valid('param');
      const { stream, offset, tail, intervalMs = 1000 } = c.req.valid('query');
      runtime.getTask(id, taskId);
      return liveStream(c, streams, (send, close) => {
        let next: number | undefined = offset;
        let timer: ReturnType<typeof setTimeout> | null = null;
        let stopped = false;
        let idleAfterEnd = 0;
        const read = async () => {
          timer = null;
          if (stopped) return;
          try {
            const chunk = await runtime.readTaskLog(
              id,
              taskId,
              stream,
              next === undefined
                ? { tailBytes: tail ?? LOG_DEFAULT_TAIL, maxBytes: 1024 * 1024 }
                : { offset: next, maxBytes: 1024 * 1024 },
            );
            if (stopped) return;
            next = chunk.nextOffset;
            if (chunk.content || chunk.note || chunk.missing)
              send({ event: 'chunk', data: JSON.stringify(chunk) });
            const task = runtime.getTask(id, taskId);
            if (isTerminalTaskState(task.state) && !chunk.content) {
              // One more read after the end to catch the final flush, then stop.
              if (++idleAfterEnd >= 2) {
                send({ event: 'end', data: JSON.stringify({ state: task.state, nextOffset: next }) });
                close();
                return;
              }
            }
          } catch (err) {
            send({
              event: 'error',
              data: JSON.stringify({ message: err instanceof Error ? err.message : String(err) }),
            });
          }
          if (!stopped) timer = setTimeout(read, intervalMs);
        };
        void read();
        return () => {
          stopped = true;
          if (timer) clearTimeout(timer);
        };
      });
    })

    // ---- config -------------------------------------------------------------------------------
    .get('/config', (c) => c.json(runtime.configView()))
    .post('/config/validate', zv('json', validateConfigBody), (c) => {
      const result = runtime.validateConfigText(c.req.valid('json').text);
      return c.json({ valid: result.issues.length === 0, ...result });
    })
    .post('/config/reload', async (c) => c.json(await runtime.reloadConfig()))
    .post('/config/save', zv('json', saveConfigBody), async (c) => {
      const { text, baseHash } = c.req.valid('json');
      return c.json(await runtime.saveConfigText(text, baseHash ? { baseHash } : {}));
    });
  return api;
}

/** Type of the API sub-app, for `hc<ApiType>()`. */
export type ApiType = ReturnType<typeof createApi>;
