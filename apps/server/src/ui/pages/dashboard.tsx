/** @jsxImportSource hono/jsx */
/** The dashboard (`/`): backend cards, active runs and the jobs table, kept live over SSE. */
import type { RunSummary } from '@scripthut/core';
import type { BackendView, JobView, RunCost } from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import { coalesce, liveStream } from '../../sse.js';
import { BackendCards, JobsTable, Layout, type PageContext, RunsTable, Section } from '../components.js';
import { html, type UiApp, type UiContext } from '../context.js';
import { dashboardUsage, UsageHeatmap } from '../usage.js';

export const Dashboard: FC<{
  ctx: PageContext;
  backends: BackendView[];
  jobs: JobView[];
  mine: boolean;
  runs: RunSummary[];
  costs: Map<string, RunCost | null>;
  usage?: ReturnType<typeof dashboardUsage>;
}> = (p) => (
  <Layout title="Dashboard" active="/" ctx={p.ctx}>
    <div data-live={`/live/dashboard${p.mine ? '?mine=1' : ''}`}>
      <h1>Dashboard</h1>
      <div id="backend-cards">
        <BackendCards backends={p.backends} />
      </div>
      <Section title="Active runs" right={<a href="/runs">All runs →</a>}>
        <div id="active-runs">
          <ActiveRuns runs={p.runs} costs={p.costs} ctx={p.ctx} />
        </div>
      </Section>
      {p.usage ? (
        <Section title="CPU-hours">
          <div id="usage-ledger">
            <UsageHeatmap days={p.usage.days} hours={p.usage.hours} />
          </div>
        </Section>
      ) : null}
      <Section
        title="Jobs"
        right={
          <div class="actions">
            <a class={`btn ${p.mine ? 'primary' : ''}`} href={p.mine ? '/' : '/?mine=1'} data-toggle="mine">
              {p.mine ? '✓ My jobs' : 'My jobs'}
            </a>
          </div>
        }
      >
        <div id="jobs-table">
          <JobsTable jobs={p.jobs} ctx={p.ctx} />
        </div>
      </Section>
    </div>
  </Layout>
);

export const ActiveRuns: FC<{ runs: RunSummary[]; costs: Map<string, RunCost | null>; ctx: PageContext }> = (
  p,
) =>
  p.runs.length === 0 ? (
    <div class="panel empty">Nothing running.</div>
  ) : (
    <RunsTable runs={p.runs} costs={p.costs} ctx={p.ctx} />
  );

/** Registers `/` and `/live/dashboard`. */
export function dashboardRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, streams, costsOf, pageContext: ctxOf } = x;
  function activeRuns(): RunSummary[] {
    const running = runtime.listRuns({ status: 'running', limit: 20 }).items;
    const pending = runtime.listRuns({ status: 'pending', limit: 20 }).items;
    return [...running, ...pending];
  }
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
          usage={dashboardUsage(runtime)}
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
            'jobs-table': await html(<JobsTable jobs={runtime.listJobs({ mine })} ctx={ctx} />),
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
}
