/** @jsxImportSource hono/jsx */
/**
 * One run (`/runs/:id`): summary with actions, groups, and the task table or timeline, kept live over
 * SSE; the cancel / rerun / delete actions.
 */
import {
  type RunActivity,
  type RunSummary,
  type RunUsageSummary,
  TASK_STATES,
  type TaskRecord,
  type TaskState,
} from '@scripthut/core';
import { RUN_RERUN_MODES, type RunCost, type RunSummaryView } from '@scripthut/runtime';
import type { Context } from 'hono';
import type { FC } from 'hono/jsx';
import { runIdSchema } from '../../schemas.js';
import { coalesce, liveStream } from '../../sse.js';
import { durationOf, formatDuration, progressOf, type TaskGroup } from '../../views.js';
import { ACTIVITY_CHART_MIN_TASKS, ActivityChart } from '../activity-chart.js';
import {
  Form,
  fmtTime,
  GroupsPanel,
  Layout,
  type PageContext,
  Pill,
  runCostText,
  Section,
  StateBar,
} from '../components.js';
import {
  formString,
  html,
  intParam,
  parseOr400,
  type UiApp,
  type UiContext,
  type UiEnv,
} from '../context.js';
import { type RunViewParams, runQueryString, TaskTable, Timeline } from '../run-tasks.js';
import { RunUsagePanel, runUsageOf } from '../usage.js';
import { RunOutputSummary } from './outputs.js';

const TASKS_PAGE = 100;
/** How long the activity series of an active run is reused (see `activityOf`). */
const ACTIVITY_REFRESH_MS = 5000;

export const RunSummaryPanel: FC<{
  ctx: PageContext;
  summary: RunSummary;
  cost: RunCost | null;
  params: RunViewParams;
}> = ({ ctx, summary, cost, params }) => {
  const r = summary.run;
  const p = progressOf(summary);
  const active = summary.status === 'running' || summary.status === 'pending';
  const failed = summary.counts.failed + summary.counts.dep_failed + summary.counts.cancelled;
  return (
    <div class="panel" data-title={`${p.percent}% · ${r.workflowName} · ScriptHut`}>
      <div class="toolbar">
        <div class="actions">
          <Pill state={summary.status} />
          <span data-run-status={summary.status} class="muted">
            {p.done} of {p.total} tasks done ({p.percent}%)
          </span>
        </div>
        <div class="actions">
          {active ? (
            <Form
              action={`/ui/runs/${r.id}/cancel`}
              ctx={ctx}
              confirm="Cancel this run? Running jobs will be cancelled."
            >
              <button type="submit" class="danger">
                Cancel run
              </button>
            </Form>
          ) : null}
          <Form action={`/ui/runs/${r.id}/rerun`} ctx={ctx}>
            <input type="hidden" name="mode" value="all" />
            <button type="submit" title="A new run of the same stored tasks: every task runs again">
              Rerun all as a new run
            </button>
          </Form>
          {!active && failed > 0 ? (
            <Form action={`/ui/runs/${r.id}/rerun`} ctx={ctx}>
              <input type="hidden" name="mode" value="failed" />
              <button
                type="submit"
                title="A new run of the same stored tasks: completed tasks are kept, the others run again"
              >
                Rerun failed as a new run
              </button>
            </Form>
          ) : null}
          {!active ? (
            <Form action={`/ui/runs/${r.id}/rerun`} ctx={ctx}>
              <input type="hidden" name="mode" value="resume" />
              <button
                type="submit"
                title="New run of the same tasks: tasks whose cache key and declared outputs still match an earlier completed task are reused (cached), the others run"
              >
                Resume
              </button>
            </Form>
          ) : null}
          {!active && failed > 0 ? (
            <Form action={`/ui/runs/${r.id}/rerun`} ctx={ctx}>
              <input type="hidden" name="mode" value="in-place-failed" />
              <button
                type="submit"
                title="This same run again (same run id): the failed, dep_failed and cancelled tasks go back to pending and run again; every attempt stays in the task history"
              >
                Rerun failed in place
              </button>
            </Form>
          ) : null}
          {!active ? (
            <Form
              action={`/ui/runs/${r.id}/rerun`}
              ctx={ctx}
              confirm="Run every task of this run again under the same run id? Completed tasks run again too."
            >
              <input type="hidden" name="mode" value="in-place-all" />
              <button
                type="submit"
                title="This same run again (same run id): every task, completed ones too, goes back to pending and runs again"
              >
                Rerun all in place
              </button>
            </Form>
          ) : null}
          {!active && r.origin.kind !== 'adhoc' && r.origin.kind !== 'demo' ? (
            <Form action={`/ui/runs/${r.id}/rerun`} ctx={ctx}>
              <input type="hidden" name="mode" value="new" />
              <button
                type="submit"
                title="Run the generator again (git: at this run's commit and branch) and start a new run from its fresh tasks"
              >
                Rerun new from the generator
              </button>
            </Form>
          ) : null}
          {!active ? (
            <Form action={`/ui/runs/${r.id}/delete`} ctx={ctx} confirm="Delete this run and its history?">
              <button type="submit" class="danger">
                Delete
              </button>
            </Form>
          ) : null}
        </div>
      </div>
      <StateBar counts={summary.counts} total={summary.total} />
      <div class="chips">
        {TASK_STATES.filter((s) => summary.counts[s] > 0).map((s) => (
          <a
            href={`/runs/${r.id}${runQueryString({ ...params, page: 1, state: params.state === s ? undefined : s })}`}
            title={`show ${s} tasks`}
          >
            <Pill state={s} /> <span>{summary.counts[s]}</span>
          </a>
        ))}
      </div>
      <dl class="kv">
        <dt>Backend</dt>
        <dd>{r.backendName}</dd>
        <dt>Created</dt>
        <dd>{fmtTime(r.createdAt)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(durationOf(summary))}</dd>
        <dt>Cost</dt>
        <dd>{cost ? (cost.available ? runCostText(cost) : (cost.reason ?? '—')) : '—'}</dd>
        <dt>Max concurrent</dt>
        <dd>{r.maxConcurrent ?? 'backend limit'}</dd>
        {r.git ? (
          <>
            <dt>Git</dt>
            <dd class="mono small">{`${r.git.repo}@${r.git.branch} ${r.git.sha.slice(0, 12)}`}</dd>
          </>
        ) : null}
        {r.resume ? (
          <>
            <dt>Resume</dt>
            <dd>on: tasks whose cache key and outputs match an earlier run are reused (cached)</dd>
          </>
        ) : null}
        <dt>Log directory</dt>
        <dd class="mono small">{r.logDir}</dd>
        <dt>Origin</dt>
        <dd>
          {r.origin.kind === 'rerun' ? (
            <a href={`/runs/${r.origin.fromRunId}`}>{`rerun (${r.origin.mode}) of ${r.origin.fromRunId}`}</a>
          ) : (
            r.origin.kind
          )}
        </dd>
      </dl>
    </div>
  );
};

/** The timeline tab: one row per task, or for a large run (`activity` given) the activity chart. */
const TimelineOrActivity: FC<{
  runId: string;
  tasks: TaskRecord[];
  total: number;
  params: RunViewParams;
  activity: RunActivity | null;
}> = ({ runId, tasks, total, params, activity }) =>
  activity ? (
    <ActivityChart activity={activity} id="run-activity" />
  ) : (
    <Timeline runId={runId} tasks={tasks} total={total} params={params} />
  );

export const RunDetailPage: FC<{
  ctx: PageContext;
  summary: RunSummary;
  cost: RunCost | null;
  groups: TaskGroup[];
  tasks: TaskRecord[];
  total: number;
  params: RunViewParams;
  depStates: Map<string, TaskState>;
  usage?: RunUsageSummary;
  outputSummary?: RunSummaryView | null;
  /** Given for a large run's timeline tab: the activity chart replaces the per-task rows. */
  activity?: RunActivity | null;
}> = (p) => {
  const id = p.summary.run.id;
  return (
    <Layout title={`Run ${id}`} active="/runs" ctx={p.ctx}>
      <h1>
        {p.summary.run.workflowName} <span class="muted mono">· {id}</span>
      </h1>
      <div data-live={`/live/runs/${id}${runQueryString(p.params)}`}>
        <div id="run-summary">
          <RunSummaryPanel ctx={p.ctx} summary={p.summary} cost={p.cost} params={p.params} />
        </div>
        {p.usage ? (
          <Section title="Usage">
            <div id="run-usage">
              <RunUsagePanel usage={p.usage} />
            </div>
          </Section>
        ) : null}
        <RunOutputSummary view={p.outputSummary ?? null} />
        <Section title="Groups">
          <div id="run-groups">
            <GroupsPanel runId={id} groups={p.groups} prefix={p.params.prefix} />
          </div>
        </Section>
        <div class="tabs">
          <a
            class={p.params.view === 'tasks' ? 'active' : ''}
            href={`/runs/${id}${runQueryString({ ...p.params, view: 'tasks' })}`}
          >
            Tasks
          </a>
          <a
            class={p.params.view === 'timeline' ? 'active' : ''}
            href={`/runs/${id}${runQueryString({ ...p.params, view: 'timeline' })}`}
          >
            Timeline
          </a>
          {p.params.state || p.params.prefix ? (
            <a
              href={`/runs/${id}${runQueryString({ ...p.params, state: undefined, prefix: undefined, page: 1 })}`}
            >
              ✕ clear filter{p.params.state ? ` state=${p.params.state}` : ''}
              {p.params.prefix ? ` prefix=${p.params.prefix}` : ''}
            </a>
          ) : null}
        </div>
        <div id="run-tasks">
          {p.params.view === 'timeline' ? (
            <TimelineOrActivity
              runId={id}
              tasks={p.tasks}
              total={p.total}
              params={p.params}
              activity={p.activity ?? null}
            />
          ) : (
            <TaskTable runId={id} tasks={p.tasks} total={p.total} params={p.params} depStates={p.depStates} />
          )}
        </div>
      </div>
    </Layout>
  );
};

/** Registers `/runs/:id`, `/live/runs/:id` and the cancel / rerun / delete actions. */
export function runRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, streams, groups, costOf, depStatesOf, pageContext: ctxOf } = x;
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
  /**
   * The activity series reads every transition of the run: while the run is active, one computation
   * serves every page and live stream for {@link ACTIVITY_REFRESH_MS}.
   */
  const activityCache = new Map<string, { value: RunActivity; at: number }>();
  /** The activity series when the timeline tab of a large run is shown (in place of its rows), else null. */
  function activityOf(summary: RunSummary, params: RunViewParams): RunActivity | null {
    if (params.view !== 'timeline' || summary.total <= ACTIVITY_CHART_MIN_TASKS) return null;
    const id = summary.run.id;
    const active = summary.status === 'running' || summary.status === 'pending';
    const hit = activityCache.get(id);
    if (active && hit && Date.now() - hit.at < ACTIVITY_REFRESH_MS) return hit.value;
    const value = runtime.runActivity(id);
    activityCache.delete(id);
    if (active) {
      if (activityCache.size >= 32) activityCache.clear();
      activityCache.set(id, { value, at: Date.now() });
    }
    return value;
  }
  function runTasks(id: string, params: RunViewParams) {
    return runtime.listTasks(id, {
      limit: params.pageSize,
      offset: (params.page - 1) * params.pageSize,
      ...(params.state ? { states: [params.state] } : {}),
      ...(params.prefix ? { idPrefix: params.prefix } : {}),
    });
  }

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
          usage={runUsageOf(runtime, id)}
          outputSummary={runtime.runSummary(id)}
          activity={activityOf(summary, params)}
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
            'run-usage': await html(<RunUsagePanel usage={runUsageOf(runtime, id)} />),
            'run-groups': await html(
              <GroupsPanel runId={id} groups={groups.get(runtime, id)} prefix={params.prefix} />,
            ),
            'run-tasks': await html(
              params.view === 'timeline' ? (
                <TimelineOrActivity
                  runId={id}
                  tasks={items}
                  total={total}
                  params={params}
                  activity={activityOf(summary, params)}
                />
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
    const asked = await formString(c, 'mode');
    const mode = RUN_RERUN_MODES.find((m) => m === asked) ?? 'all';
    const summary = await runtime.rerunRun(id, mode);
    return c.redirect(`/runs/${summary.run.id}`, 303);
  });
  ui.post('/ui/runs/:id/delete', async (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    runtime.deleteRun(id);
    groups.invalidate(id);
    return c.redirect('/runs', 303);
  });
}
