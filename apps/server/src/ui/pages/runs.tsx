/** @jsxImportSource hono/jsx */
/** The paged list of runs (`/runs`), filtered by status, kept live over SSE. */
import type { RunSummary } from '@scripthut/core';
import type { RunCost } from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import { coalesce, liveStream } from '../../sse.js';
import { Layout, type PageContext, Pager, RunsTable } from '../components.js';
import { html, intParam, type UiApp, type UiContext } from '../context.js';

const RUNS_PAGE = 25;

export const RunsPage: FC<{
  ctx: PageContext;
  runs: RunSummary[];
  total: number;
  page: number;
  pageSize: number;
  status: string | undefined;
  costs: Map<string, RunCost | null>;
}> = (p) => (
  <Layout title="Runs" active="/runs" ctx={p.ctx}>
    <h1>Runs</h1>
    <div class="chips">
      {['all', 'pending', 'running', 'completed', 'failed', 'cancelled'].map((s) => (
        <a
          class={`btn ${(p.status ?? 'all') === s ? 'primary' : ''}`}
          href={s === 'all' ? '/runs' : `/runs?status=${s}`}
        >
          {s}
        </a>
      ))}
    </div>
    <div data-live={`/live/runs?page=${p.page}${p.status ? `&status=${p.status}` : ''}`}>
      <div id="runs-table">
        <RunsTable runs={p.runs} costs={p.costs} ctx={p.ctx} />
        <Pager
          base="/runs"
          params={{ status: p.status }}
          page={p.page}
          pageSize={p.pageSize}
          total={p.total}
        />
      </div>
    </div>
  </Layout>
);

/** Registers `/runs` and `/live/runs`. */
export function runsRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, streams, costsOf, pageContext: ctxOf } = x;
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
}
