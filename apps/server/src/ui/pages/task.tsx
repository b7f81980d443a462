/** @jsxImportSource hono/jsx */
/** One task (`/runs/:id/tasks/:taskId`): live info, and tabs for logs, script, JSON and history. */
import type { RunSummary, TaskRecord, TaskState, TaskTransition } from '@scripthut/core';
import type { TaskOutputsView } from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import { runIdSchema, taskIdSchema } from '../../schemas.js';
import { coalesce, liveStream } from '../../sse.js';
import { formatDuration, pendingExplanation } from '../../views.js';
import {
  fmtTime,
  Layout,
  MaybeLink,
  type PageContext,
  Pill,
  taskDuration,
  taskHref,
  uriComponent,
} from '../components.js';
import { html, parseOr400, type UiApp, type UiContext } from '../context.js';
import { TaskUsageRows } from '../usage.js';
import { type HandsOn, handsOnOf, TaskHandsOn } from './debug.js';
import { inlineMarkdown, TaskOutputsTab } from './outputs.js';

export type TaskTab = 'stdout' | 'stderr' | 'script' | 'json' | 'history' | 'outputs';

export const TaskInfo: FC<{ task: TaskRecord; depStates: Map<string, TaskState> }> = ({
  task,
  depStates,
}) => {
  const why = pendingExplanation(task, depStates);
  return (
    <div class="panel">
      <div class="actions" style="margin-bottom:8px">
        <Pill state={task.state} /> <span data-task-state={task.state}>{why ?? ''}</span>
      </div>
      {task.error ? <div class="notice bad">{task.error}</div> : null}
      <dl class="kv">
        <dt>Name</dt>
        <dd>{task.spec.name}</dd>
        <dt>Job id</dt>
        <dd class="mono">{task.jobId ?? '—'}</dd>
        <dt>Node</dt>
        <dd>{task.node ?? '—'}</dd>
        <dt>Exit code</dt>
        <dd>{task.exitCode ?? '—'}</dd>
        <dt>Submitted</dt>
        <dd>{fmtTime(task.submittedAt)}</dd>
        <dt>Started</dt>
        <dd>{fmtTime(task.startedAt)}</dd>
        <dt>Finished</dt>
        <dd>{fmtTime(task.finishedAt)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(taskDuration(task))}</dd>
        <TaskUsageRows task={task} />
        <dt>Resources</dt>
        <dd>{`${task.spec.cpus} cpu · ${task.spec.memory} · ${task.spec.timeLimit} · ${task.spec.partition ?? 'default partition'}${task.spec.gres ? ` · ${task.spec.gres}` : ''}`}</dd>
        <dt>Dependencies</dt>
        <dd>
          {task.spec.deps.length === 0
            ? '—'
            : task.spec.deps.map((d) => (
                <span style="margin-right:8px">
                  <MaybeLink class="mono" href={taskHref(task.runId, d)}>
                    {d}
                  </MaybeLink>{' '}
                  {depStates.get(d) ? <Pill state={depStates.get(d) as string} /> : null}
                </span>
              ))}
        </dd>
      </dl>
    </div>
  );
};

export const TaskPage: FC<{
  ctx: PageContext;
  run: RunSummary;
  task: TaskRecord;
  tab: TaskTab;
  depStates: Map<string, TaskState>;
  log: { content: string; nextOffset: number; missing?: boolean; note?: string; error?: string } | null;
  transitions: TaskTransition[];
  json: string;
  outputs?: { view: TaskOutputsView; markdown: Awaited<ReturnType<typeof inlineMarkdown>> } | null;
  /** Terminal and debug actions (SSH backends only). */
  handsOn?: HandsOn | null;
}> = (p) => {
  // Task pages are only reachable for ids a URL can carry (see uriComponent).
  const id = uriComponent(p.task.spec.id) ?? '';
  const base = `/runs/${p.run.run.id}/tasks/${id}`;
  const apiBase = `/api/v1/runs/${p.run.run.id}/tasks/${id}`;
  const tabs: [TaskTab, string][] = [
    ['stdout', 'Output'],
    ['stderr', 'Error'],
    ['script', 'Script'],
    ['json', 'JSON'],
    ['history', 'History'],
    ['outputs', 'Outputs'],
  ];
  return (
    <Layout title={`${p.task.spec.id} · ${p.run.run.id}`} active="/runs" ctx={p.ctx}>
      <h1>
        <a href={`/runs/${p.run.run.id}`}>{p.run.run.workflowName}</a> <span class="muted">/</span>{' '}
        <span class="mono">{p.task.spec.id}</span>
      </h1>
      <div data-live={`/live/runs/${p.run.run.id}/tasks/${id}`}>
        <div id="task-info">
          <TaskInfo task={p.task} depStates={p.depStates} />
        </div>
      </div>
      {p.handsOn ? <TaskHandsOn ctx={p.ctx} h={p.handsOn} /> : null}
      <div class="tabs">
        {tabs.map(([t, label]) => (
          <a class={p.tab === t ? 'active' : ''} href={`${base}?tab=${t}`}>
            {label}
          </a>
        ))}
      </div>
      {p.tab === 'stdout' || p.tab === 'stderr' ? (
        <>
          <div class="toolbar">
            <span id="log-status" class="muted small">
              {p.log?.error ?? p.log?.note ?? (p.log?.missing ? 'no log file yet' : '')}
            </span>
            <a class="small" href={`${apiBase}/log?stream=${p.tab}`}>
              raw JSON
            </a>
          </div>
          <pre
            id="log"
            data-follow={`${apiBase}/log/follow?stream=${p.tab}&offset=${p.log?.nextOffset ?? 0}`}
            data-status="log-status"
            data-empty={p.log?.content ? '0' : '1'}
          >
            {p.log?.content || (p.log?.missing ? '(no output yet)' : '(empty)')}
          </pre>
        </>
      ) : null}
      {p.tab === 'script' ? <pre>{p.task.script ?? '(the script is generated at submission)'}</pre> : null}
      {p.tab === 'json' ? <pre class="light">{p.json}</pre> : null}
      {p.tab === 'outputs' && p.outputs ? (
        <TaskOutputsTab view={p.outputs.view} markdown={p.outputs.markdown} />
      ) : null}
      {p.tab === 'history' ? (
        <table>
          <thead>
            <tr>
              <th>At</th>
              <th>From</th>
              <th>To</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {p.transitions.map((t) => (
              <tr>
                <td class="small">{fmtTime(t.at)}</td>
                <td>{t.from ? <Pill state={t.from} /> : '—'}</td>
                <td>
                  <Pill state={t.to} />
                </td>
                <td class="small">{t.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Layout>
  );
};

/** Registers `/runs/:id/tasks/:taskId` and its live endpoint. */
export function taskRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, streams, depStatesOf, pageContext: ctxOf } = x;
  ui.get('/runs/:id/tasks/:taskId', async (c) => {
    const id = parseOr400(runIdSchema, c.req.param('id'), 'run id');
    const taskId = parseOr400(taskIdSchema, c.req.param('taskId'), 'task id');
    const run = runtime.getRun(id);
    const task = runtime.getTask(id, taskId);
    const tabQ = c.req.query('tab');
    const tab: TaskTab =
      tabQ === 'stderr' || tabQ === 'script' || tabQ === 'json' || tabQ === 'history' || tabQ === 'outputs'
        ? tabQ
        : 'stdout';
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
    const outputsView = tab === 'outputs' ? runtime.taskOutputs(id, taskId) : null;
    const outputs = outputsView
      ? { view: outputsView, markdown: await inlineMarkdown(runtime, outputsView) }
      : null;
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
          outputs={outputs}
          handsOn={await handsOnOf(runtime, run, task)}
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
}
