/** @jsxImportSource hono/jsx */
/**
 * The web UI: server-rendered pages (work without JavaScript for reading), POST forms protected by a
 * per-session CSRF token + Origin check, and `/live/*` SSE endpoints that push re-rendered fragments.
 */
import {
  type Issue,
  type RunSummary,
  ScriptHutError,
  TASK_STATES,
  type TaskRecord,
  type TaskState,
} from '@scripthut/core';
import type { ConfigReloadResult, RunCost, ScriptHutRuntime, WorkflowView } from '@scripthut/runtime';
import { type Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import type { z } from 'zod';
import { toErrorBody } from '../errors.js';
import { fileSchema, nameSchema, runIdSchema, taskIdSchema } from '../schemas.js';
import {
  CSRF_COOKIE,
  CSRF_FIELD,
  CSRF_HEADER,
  ensureCsrfToken,
  isSameOrigin,
  isUnsafeMethod,
  safeEqual,
} from '../security.js';
import { coalesce, liveStream, type StreamRegistry } from '../sse.js';
import type { GroupCache } from '../views.js';
import { BackendCards, GroupsPanel, JobsTable, type PageContext, Pager, RunsTable } from './components.js';
import {
  ActiveRuns,
  BackendPage,
  Dashboard,
  DryRunPage,
  ErrorPage,
  ProjectsPage,
  RunDetailPage,
  RunSummaryPanel,
  RunsPage,
  type RunViewParams,
  SettingsPage,
  SourcesPage,
  TaskInfo,
  TaskPage,
  type TaskTab,
  TaskTable,
  Timeline,
  WorkflowsPage,
} from './pages.js';

export interface UiDeps {
  runtime: ScriptHutRuntime;
  version: string;
  streams: StreamRegistry;
  groups: GroupCache;
  authEnabled: boolean;
}

type UiEnv = { Variables: { csrf: string } };

const RUNS_PAGE = 25;
const TASKS_PAGE = 100;

function parseOr400<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new ScriptHutError(
      'validation_failed',
      `invalid ${what}: ${r.error.issues[0]?.message ?? 'bad value'}`,
    );
  return r.data as z.output<T>;
}

function intParam(v: string | undefined, def: number, max = 1_000_000): number {
  const n = v === undefined ? Number.NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) && n >= 1 ? Math.min(n, max) : def;
}

async function html(el: unknown): Promise<string> {
  const s = String(await (el as { toString(): string | Promise<string> }).toString());
  return s.startsWith('<html') ? `<!doctype html>${s}` : s;
}

/** Builds the UI sub-app (mounted at `/`). */
export function createUi({ runtime, version, streams, groups, authEnabled }: UiDeps) {
  const ui = new Hono<UiEnv>();
  const ctxOf = (c: Context<UiEnv>): PageContext => ({ csrf: c.get('csrf'), version, authEnabled });

  // Cost per run, recomputed only when the run's progress changes.
  const costCache = new Map<string, { key: string; cost: RunCost | null }>();
  async function costOf(s: RunSummary): Promise<RunCost | null> {
    const key = `${s.status}:${s.counts.completed}:${s.counts.failed}:${s.counts.running}:${s.total}`;
    const hit = costCache.get(s.run.id);
    if (hit && hit.key === key && s.status !== 'running') return hit.cost;
    let cost: RunCost | null = null;
    try {
      cost = await runtime.runCost(s.run.id);
    } catch {
      cost = null;
    }
    if (costCache.size > 500) costCache.clear();
    costCache.set(s.run.id, { key, cost });
    return cost;
  }
  async function costsOf(runs: RunSummary[]): Promise<Map<string, RunCost | null>> {
    const entries = await Promise.all(runs.map(async (r) => [r.run.id, await costOf(r)] as const));
    return new Map(entries);
  }
  function depStatesOf(runId: string, tasks: TaskRecord[]): Map<string, TaskState> {
    const states = new Map<string, TaskState>();
    for (const t of tasks) states.set(t.spec.id, t.state);
    let lookups = 0;
    for (const t of tasks) {
      if (t.state !== 'pending') continue;
      for (const d of t.spec.deps) {
        if (states.has(d) || lookups > 2000) continue;
        lookups++;
        try {
          states.set(d, runtime.getTask(runId, d).state);
        } catch {
          /* unknown dep: leave it out */
        }
      }
    }
    return states;
  }
  function activeRuns(): RunSummary[] {
    const running = runtime.listRuns({ status: 'running', limit: 20 }).items;
    const pending = runtime.listRuns({ status: 'pending', limit: 20 }).items;
    return [...running, ...pending];
  }
  function runParams(c: Context<UiEnv>): RunViewParams {
    const state = c.req.query('state');
    const prefix = c.req.query('prefix');
    return {
      page: intParam(c.req.query('page'), 1),
      pageSize: TASKS_PAGE,
      state: state && (TASK_STATES as readonly string[]).includes(state) ? (state as TaskState) : undefined,
      prefix: prefix ? prefix.slice(0, 256) : undefined,
      view: c.req.query('view') === 'timeline' ? 'timeline' : 'tasks',
    };
  }
  function runTasks(id: string, params: RunViewParams) {
    return runtime.listTasks(id, {
      limit: params.pageSize,
      offset: (params.page - 1) * params.pageSize,
      ...(params.state ? { states: [params.state] } : {}),
      ...(params.prefix ? { idPrefix: params.prefix } : {}),
    });
  }

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
      await html(<ErrorPage ctx={{ csrf, version, authEnabled }} status={status} message={body.message} />),
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
              ctx={ctxOf(c)}
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

  const formString = async (c: Context<UiEnv>, key: string): Promise<string | undefined> => {
    const body = await c.req.parseBody();
    const v = body[key];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };

  // ------------------------------------------------------------ dashboard
  ui.get('/', async (c) => {
    const mine = c.req.query('mine') === '1';
    const runs = activeRuns();
    return c.html(
      await html(
        <Dashboard
          ctx={ctxOf(c)}
          backends={runtime.listBackends()}
          jobs={runtime.listJobs({ mine })}
          mine={mine}
          runs={runs}
          costs={await costsOf(runs)}
        />,
      ),
    );
  });
  ui.get('/live/dashboard', (c) => {
    const mine = c.req.query('mine') === '1';
    const ctx = ctxOf(c);
    return liveStream(c, streams, (send) => {
      const push = async () => {
        const runs = activeRuns();
        send({
          event: 'swap',
          data: JSON.stringify({
            'backend-cards': await html(<BackendCards backends={runtime.listBackends()} />),
            'active-runs': await html(<ActiveRuns runs={runs} costs={await costsOf(runs)} ctx={ctx} />),
            'jobs-table': await html(<JobsTable jobs={runtime.listJobs({ mine })} />),
          }),
        });
      };
      const tick = coalesce(() => void push().catch(() => {}), 500);
      const on = () => tick.trigger();
      runtime.events.on('task', on).on('poll', on).on('run', on).on('run-created', on).on('run-deleted', on);
      return () => {
        tick.cancel();
        runtime.events
          .off('task', on)
          .off('poll', on)
          .off('run', on)
          .off('run-created', on)
          .off('run-deleted', on);
      };
    });
  });

  ui.get('/backends/:name', async (c) => {
    const name = parseOr400(nameSchema, c.req.param('name'), 'backend name');
    return c.html(await html(<BackendPage ctx={ctxOf(c)} backend={runtime.getBackend(name)} />));
  });

  // ------------------------------------------------------------ workflows / sources / projects
  const backendNames = () => runtime.listBackends().map((b) => b.name);
  ui.get('/workflows', async (c) =>
    c.html(
      await html(
        <WorkflowsPage ctx={ctxOf(c)} workflows={runtime.listWorkflows()} backends={backendNames()} />,
      ),
    ),
  );
  ui.get('/sources', async (c) =>
    c.html(
      await html(<SourcesPage ctx={ctxOf(c)} sources={runtime.listSources()} backends={backendNames()} />),
    ),
  );
  ui.get('/projects', async (c) => {
    const projects = await Promise.all(
      runtime.listProjects().map(async (project) => {
        try {
          return { project, workflows: await runtime.listProjectWorkflows(project.name), error: null };
        } catch (e) {
          return {
            project,
            workflows: [] as WorkflowView[],
            error: e instanceof Error ? e.message : String(e),
          };
        }
      }),
    );
    return c.html(await html(<ProjectsPage ctx={ctxOf(c)} projects={projects} backends={backendNames()} />));
  });
  const runForm = async (c: Context<UiEnv>) => {
    const kind = parseOr400(nameSchema, (await formString(c, 'kind')) ?? 'workflow', 'kind');
    if (kind !== 'workflow' && kind !== 'source' && kind !== 'project')
      throw new ScriptHutError('validation_failed', 'invalid kind');
    const name = parseOr400(nameSchema, await formString(c, 'name'), 'name');
    const fileRaw = await formString(c, 'file');
    const file = fileRaw === undefined ? undefined : parseOr400(fileSchema, fileRaw, 'file');
    const backendRaw = await formString(c, 'backend');
    const backend = backendRaw === undefined ? undefined : parseOr400(nameSchema, backendRaw, 'backend');
    if (kind !== 'workflow' && !file) throw new ScriptHutError('validation_failed', 'file is required');
    return { kind, name, file, backend } as const;
  };
  ui.post('/ui/dry-run', async (c) => {
    const f = await runForm(c);
    const opts = f.backend ? { backend: f.backend } : {};
    const result =
      f.kind === 'workflow'
        ? await runtime.dryRunWorkflow(f.name, opts)
        : f.kind === 'source'
          ? await runtime.dryRunSourceWorkflow(f.name, f.file as string, opts)
          : await runtime.dryRunProjectWorkflow(f.name, f.file as string, opts);
    return c.html(await html(<DryRunPage ctx={ctxOf(c)} result={result} form={f} />));
  });
  ui.post('/ui/run', async (c) => {
    const f = await runForm(c);
    const opts = f.backend ? { backend: f.backend } : {};
    const summary =
      f.kind === 'workflow'
        ? await runtime.runWorkflow(f.name, opts)
        : f.kind === 'source'
          ? await runtime.runSourceWorkflow(f.name, f.file as string, opts)
          : await runtime.runProjectWorkflow(f.name, f.file as string, opts);
    return c.redirect(`/runs/${summary.run.id}`, 303);
  });
  ui.post('/ui/sources/:name/sync', async (c) => {
    const name = parseOr400(nameSchema, c.req.param('name'), 'source name');
    await runtime.syncSource(name);
    return c.redirect('/sources', 303);
  });

  // ------------------------------------------------------------ runs
  ui.get('/runs', async (c) => {
    const page = intParam(c.req.query('page'), 1);
    const statusQ = c.req.query('status');
    const status =
      statusQ && ['pending', 'running', 'completed', 'failed', 'cancelled'].includes(statusQ)
        ? (statusQ as RunSummary['status'])
        : undefined;
    const { items, total } = runtime.listRuns({
      limit: RUNS_PAGE,
      offset: (page - 1) * RUNS_PAGE,
      ...(status ? { status } : {}),
    });
    return c.html(
      await html(
        <RunsPage
          ctx={ctxOf(c)}
          runs={items}
          total={total}
          page={page}
          pageSize={RUNS_PAGE}
          status={status}
          costs={await costsOf(items)}
        />,
      ),
    );
  });
  ui.get('/live/runs', (c) => {
    const page = intParam(c.req.query('page'), 1);
    const statusQ = c.req.query('status');
    const status =
      statusQ && ['pending', 'running', 'completed', 'failed', 'cancelled'].includes(statusQ)
        ? (statusQ as RunSummary['status'])
        : undefined;
    const ctx = ctxOf(c);
    return liveStream(c, streams, (send) => {
      const push = async () => {
        const { items, total } = runtime.listRuns({
          limit: RUNS_PAGE,
          offset: (page - 1) * RUNS_PAGE,
          ...(status ? { status } : {}),
        });
        const costs = await costsOf(items);
        send({
          event: 'swap',
          data: JSON.stringify({
            'runs-table':
              (await html(<RunsTable runs={items} costs={costs} ctx={ctx} />)) +
              (await html(
                <Pager base="/runs" params={{ status }} page={page} pageSize={RUNS_PAGE} total={total} />,
              )),
          }),
        });
      };
      const tick = coalesce(() => void push().catch(() => {}), 500);
      const on = () => tick.trigger();
      runtime.events.on('run', on).on('run-created', on).on('run-deleted', on);
      return () => {
        tick.cancel();
        runtime.events.off('run', on).off('run-created', on).off('run-deleted', on);
      };
    });
  });
  ui.get('/runs/:id', async (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    const summary = runtime.getRun(id);
    const params = runParams(c);
    const { items, total } = runTasks(id, params);
    return c.html(
      await html(
        <RunDetailPage
          ctx={ctxOf(c)}
          summary={summary}
          cost={await costOf(summary)}
          groups={groups.get(runtime, id)}
          tasks={items}
          total={total}
          params={params}
          depStates={depStatesOf(id, items)}
        />,
      ),
    );
  });
  ui.get('/live/runs/:id', (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    runtime.getRun(id);
    const params = runParams(c);
    const ctx = ctxOf(c);
    return liveStream(c, streams, (send, close) => {
      const push = async () => {
        let summary: RunSummary;
        try {
          summary = runtime.getRun(id);
        } catch {
          send({ event: 'gone', data: JSON.stringify({ redirect: '/runs' }) });
          close();
          return;
        }
        const { items, total } = runTasks(id, params);
        send({
          event: 'swap',
          data: JSON.stringify({
            'run-summary': await html(
              <RunSummaryPanel ctx={ctx} summary={summary} cost={await costOf(summary)} params={params} />,
            ),
            'run-groups': await html(
              <GroupsPanel runId={id} groups={groups.get(runtime, id)} prefix={params.prefix} />,
            ),
            'run-tasks': await html(
              params.view === 'timeline' ? (
                <Timeline runId={id} tasks={items} total={total} params={params} />
              ) : (
                <TaskTable
                  runId={id}
                  tasks={items}
                  total={total}
                  params={params}
                  depStates={depStatesOf(id, items)}
                />
              ),
            ),
          }),
        });
      };
      const tick = coalesce(() => void push().catch(() => {}), 300);
      const onTask = (e: { runId: string }) => {
        if (e.runId === id) tick.trigger();
      };
      const onDeleted = (e: { runId: string }) => {
        if (e.runId !== id) return;
        send({ event: 'gone', data: JSON.stringify({ redirect: '/runs' }) });
        close();
      };
      // A timeline of running tasks grows with time: refresh it every few seconds while active.
      const clock = setInterval(() => {
        try {
          const s = runtime.getRun(id);
          if (s.status === 'running' || s.status === 'pending') tick.trigger();
        } catch {
          /* deleted: the event handles it */
        }
      }, 5000);
      runtime.events.on('task', onTask).on('run', onTask).on('run-deleted', onDeleted);
      // The page may have been rendered just before a change: send one fresh snapshot right away.
      void push().catch(() => {});
      return () => {
        tick.cancel();
        clearInterval(clock);
        runtime.events.off('task', onTask).off('run', onTask).off('run-deleted', onDeleted);
      };
    });
  });
  ui.post('/ui/runs/:id/cancel', async (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    await runtime.cancelRun(id);
    return c.redirect(`/runs/${id}`, 303);
  });
  ui.post('/ui/runs/:id/rerun', async (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    const mode = (await formString(c, 'mode')) === 'failed' ? 'failed' : 'all';
    const summary = await runtime.rerunRun(id, mode);
    return c.redirect(`/runs/${summary.run.id}`, 303);
  });
  ui.post('/ui/runs/:id/delete', async (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    runtime.deleteRun(id);
    groups.invalidate(id);
    return c.redirect('/runs', 303);
  });

  // ------------------------------------------------------------ task
  ui.get('/runs/:id/tasks/:taskId', async (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    const taskId = parseOr400(taskIdSchema, c.req.param('taskId'), 'task id');
    const run = runtime.getRun(id);
    const task = runtime.getTask(id, taskId);
    const tabQ = c.req.query('tab');
    const tab: TaskTab =
      tabQ === 'stderr' || tabQ === 'script' || tabQ === 'json' || tabQ === 'history' ? tabQ : 'stdout';
    let log: {
      content: string;
      nextOffset: number;
      missing?: boolean;
      note?: string;
      error?: string;
    } | null = null;
    if (tab === 'stdout' || tab === 'stderr') {
      try {
        const chunk = await runtime.readTaskLog(id, taskId, tab, {
          tailBytes: 64 * 1024,
          maxBytes: 1024 * 1024,
        });
        log = {
          content: chunk.content,
          nextOffset: chunk.nextOffset,
          ...(chunk.missing ? { missing: true } : {}),
          ...(chunk.note ? { note: chunk.note } : {}),
        };
      } catch (e) {
        log = {
          content: '',
          nextOffset: 0,
          error: `could not read the log: ${e instanceof Error ? e.message : String(e)}`,
        };
      }
    }
    const transitions = tab === 'history' ? runtime.taskTransitions(id, taskId) : [];
    const { script: _script, ...rest } = task;
    return c.html(
      await html(
        <TaskPage
          ctx={ctxOf(c)}
          run={run}
          task={task}
          tab={tab}
          depStates={depStatesOf(id, [task])}
          log={log}
          transitions={transitions}
          json={JSON.stringify(rest, null, 2)}
        />,
      ),
    );
  });
  ui.get('/live/runs/:id/tasks/:taskId', (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    const taskId = parseOr400(taskIdSchema, c.req.param('taskId'), 'task id');
    runtime.getTask(id, taskId);
    return liveStream(c, streams, (send, close) => {
      const push = async () => {
        const task = runtime.getTask(id, taskId);
        send({
          event: 'swap',
          data: JSON.stringify({
            'task-info': await html(<TaskInfo task={task} depStates={depStatesOf(id, [task])} />),
          }),
        });
      };
      const tick = coalesce(() => void push().catch(() => close()), 300);
      const onTask = (e: { runId: string; task: TaskRecord }) => {
        if (e.runId === id) tick.trigger(); // the task itself or one of its dependencies
      };
      runtime.events.on('task', onTask);
      void push().catch(() => close());
      return () => {
        tick.cancel();
        runtime.events.off('task', onTask);
      };
    });
  });

  // ------------------------------------------------------------ settings
  const settingsPage = async (
    c: Context<UiEnv>,
    extra: {
      text?: string;
      validation?: { issues: Issue[]; warnings: Issue[] } | null;
      reload?: ConfigReloadResult | null;
      message?: string | null;
      status?: number;
    },
  ) => {
    const view = runtime.configView();
    const text =
      extra.text ?? view.text ?? '# The built-in default configuration is in use (no config file).\n';
    const validation =
      extra.validation !== undefined
        ? extra.validation
        : view.text
          ? runtime.validateConfigText(view.text)
          : null;
    return c.html(
      await html(
        <SettingsPage
          ctx={ctxOf(c)}
          view={view}
          text={text}
          validation={validation}
          reload={extra.reload ?? null}
          message={extra.message ?? null}
        />,
      ),
      (extra.status ?? 200) as 200,
    );
  };
  ui.get('/settings', (c) => settingsPage(c, {}));
  ui.post('/ui/settings/validate', async (c) => {
    const text = (await formString(c, 'text')) ?? '';
    if (text.length > 2_000_000) throw new ScriptHutError('validation_failed', 'config text too large');
    const validation = runtime.validateConfigText(text);
    return settingsPage(c, { text, validation, status: validation.issues.length ? 422 : 200 });
  });
  ui.post('/ui/settings/reload', async (c) => {
    const reload = await runtime.reloadConfig();
    return settingsPage(c, { reload });
  });

  return ui;
}
